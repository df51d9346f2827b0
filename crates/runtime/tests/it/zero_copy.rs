//! A batch decoded into the server's buffer reaches ONNX Runtime without a copy, and each
//! request gets its own rows back.

use loadpart_codec::{BatchAssembler, DecodeLimits, EncodeOptions, Encoder, Precision};
use loadpart_engine::{EngineKind, TensorRef, probe};
use loadpart_runtime::{NamedTensors, split_rows, views};

use crate::{inputs, rel_err, runtime};

#[test]
fn onnx_runtime_reads_the_batch_buffer_itself() {
    let rt = runtime(EngineKind::Ort, "chain", usize::MAX);
    let prepared = rt.prepared().clone();
    let dag = prepared.stages.dag();
    let space = prepared.stages.cut_space(10_000);
    let cut = space.boundaries()[space.boundaries().len() / 2].cut.clone();
    assert_eq!(cut.tensors.len(), 1);
    let id = cut.id(dag);
    let name = id.names().remove(0);
    let (head, tail) = (rt.head(&id).unwrap(), rt.tail(&id).unwrap());

    // Three requests of 1, 2 and 1 rows, encoded as devices send them (lossless, so the batched
    // result can be compared tightly with unbatched runs on the same values).
    let rows = [1, 2, 1];
    let mut encoder = Encoder::new(EncodeOptions {
        precision: Precision::F32,
        ..Default::default()
    })
    .unwrap();
    let mut sent = Vec::new();
    for (i, &n) in rows.iter().enumerate() {
        let x = inputs(&prepared.model, n, i as u32);
        let out = head.run(&views(&x)).unwrap().outputs;
        let t = out[0].1.clone();
        sent.push((
            t.clone(),
            encoder.encode(t.as_f32().unwrap(), &t.shape).unwrap(),
        ));
    }
    let row_shape = sent[0].0.shape[1..].to_vec();
    let mut batch = BatchAssembler::new(&row_shape, 8).unwrap();
    for (_, encoded) in &sent {
        batch
            .push(&encoded.validate(&DecodeLimits::default()).unwrap())
            .unwrap();
    }
    let shape = batch.shape();
    let input = TensorRef::f32(&shape, batch.data()).unwrap();
    let out = tail.run(&[(name.as_str(), input)]).unwrap().outputs;
    assert_eq!(
        probe::last_input_addresses(),
        vec![batch.data().as_ptr() as usize],
        "ONNX Runtime must read the assembler's buffer, not a copy"
    );

    // Each request's rows equal its own unbatched tail run.
    let per_request = split_rows(out, &rows).unwrap();
    for ((tensor, _), got) in sent.iter().zip(&per_request) {
        let alone: NamedTensors = tail.run(&[(name.as_str(), tensor.view())]).unwrap().outputs;
        let err = rel_err(&alone, got);
        assert!(err <= 1e-5, "batched differs from unbatched: {err}");
    }
}

#[test]
fn a_copy_is_detected() {
    // The probe is not vacuous: a copied input has another address.
    let rt = runtime(EngineKind::Ort, "chain", usize::MAX);
    let x = inputs(&rt.prepared().model, 1, 3);
    let full = rt.full().unwrap();
    let copy = x[0].1.clone();
    full.run(&[(x[0].0.as_str(), copy.view())]).unwrap();
    let seen = probe::last_input_addresses();
    assert_eq!(seen, vec![copy.as_f32().unwrap().as_ptr() as usize]);
    assert_ne!(seen[0], x[0].1.as_f32().unwrap().as_ptr() as usize);
}
