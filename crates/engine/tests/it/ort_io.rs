//! ONNX Runtime only: outputs are handed over in the memory ONNX Runtime wrote them to, and
//! every thread-pool setting (spinning or not, shared or own pool) gives the same results.

use loadpart_engine::{EngineKind, LoadOptions, Spinning, TensorData};

use crate::dynamic::{check, run};
use crate::small_net::SmallNet;
use crate::support::engine;

/// Outputs are ONNX Runtime's own memory (no copy), outlive the model that made them, and can
/// be written in place; a clone is an ordinary `Vec` with the same elements.
pub fn outputs_handed_over() {
    let net = SmallNet::new(5);
    let model = engine(EngineKind::Ort)
        .load(&net.onnx(), &LoadOptions::default())
        .unwrap();
    let mut out = run(&*model, 3, 1);
    drop(model);
    check(&net, &out, 3, 1);
    for (name, t) in &out.outputs {
        let TensorData::F32(data) = &t.data else {
            panic!("{name}: f32 expected");
        };
        assert!(
            data.is_engine_memory(),
            "{name}: copied out of ONNX Runtime"
        );
        let copy = t.clone();
        assert_eq!(&copy, t);
        assert!(matches!(&copy.data, TensorData::F32(d) if !d.is_engine_memory()));
    }
    let TensorData::F32(data) = &mut out.outputs[0].1.data else {
        unreachable!()
    };
    data[0] = 42.0;
    assert_eq!(out.outputs[0].1.as_f32().unwrap()[0], 42.0);
    assert_eq!(out.outputs[0].1.clone().into_f32().unwrap()[0], 42.0);
}

/// Spinning on and off, on the shared pool and on a pool of the session's own.
pub fn pool_settings_agree() {
    let net = SmallNet::new(9);
    for spinning in [Spinning::Off, Spinning::On] {
        for intra_threads in [0, 2] {
            let opts = LoadOptions {
                intra_threads,
                spinning,
                ..Default::default()
            };
            let model = engine(EngineKind::Ort).load(&net.onnx(), &opts).unwrap();
            for batch in [1, 4] {
                check(&net, &run(&*model, batch, 3), batch, 3);
            }
        }
    }
}
