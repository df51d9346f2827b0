//! Any batch size on a dynamic-batch model, checked against the hand computation.

use loadpart_engine::{Dim, EngineKind, LoadOptions, Model, RunOutput, TensorRef};

use crate::small_net::{self, C_IN, C_OUT, CLASSES, HW, SmallNet};
use crate::support::{TOL, engine, max_rel_err};

pub fn load(kind: EngineKind, net: &SmallNet) -> std::sync::Arc<dyn Model> {
    engine(kind)
        .load(&net.onnx(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// Runs `batch` with inputs seeded by `seed`, giving inputs in reverse model order.
pub fn run(model: &dyn Model, batch: usize, seed: u64) -> RunOutput {
    let (x, s) = small_net::inputs(batch, seed);
    let (xs, ss) = ([batch, C_IN, HW, HW], [batch, CLASSES]);
    let inputs = [
        ("s", TensorRef::f32(&ss, &s).unwrap()),
        ("x", TensorRef::f32(&xs, &x).unwrap()),
    ];
    model
        .run(&inputs)
        .unwrap_or_else(|e| panic!("batch {batch}: {e}"))
}

/// The run's `(y, h)` must match the hand computation.
pub fn check(net: &SmallNet, out: &RunOutput, batch: usize, seed: u64) {
    let (x, s) = small_net::inputs(batch, seed);
    let (y, h) = net.reference(batch, &x, &s);
    let names: Vec<&str> = out.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["y", "h"], "outputs in model order");
    assert_eq!(out.outputs[0].1.shape, [batch, CLASSES]);
    assert_eq!(out.outputs[1].1.shape, [batch, C_OUT, HW, HW]);
    for ((name, t), want) in out.outputs.iter().zip([&y, &h]) {
        let err = max_rel_err(t.as_f32().unwrap(), want);
        assert!(
            err <= TOL,
            "batch {batch} output {name}: max_rel_err {err:e}"
        );
    }
}

pub fn batches(kind: EngineKind) {
    let net = SmallNet::new(7);
    let model = load(kind, &net);
    let inputs: Vec<(&str, &[Dim])> = model
        .inputs()
        .iter()
        .map(|i| (i.name.as_str(), &i.shape[..]))
        .collect();
    assert_eq!(inputs[0].0, "x");
    assert_eq!(inputs[1].0, "s");
    assert_eq!(
        inputs[0].1[0],
        Dim::Dynamic("N".into()),
        "{kind}: {inputs:?}"
    );
    assert_eq!(inputs[0].1[1], Dim::Fixed(C_IN));
    for batch in [1, 3, 8, 1] {
        let out = run(&*model, batch, batch as u64);
        check(&net, &out, batch, batch as u64);
        println!(
            "RESULT {kind} small_net batch {batch}: ok, {:?}",
            out.elapsed
        );
    }
}

/// Both engines give the same outputs for the same batch.
pub fn engines_agree() {
    let net = SmallNet::new(11);
    let outs: Vec<RunOutput> = EngineKind::ALL
        .iter()
        .map(|&k| run(&*load(k, &net), 5, 99))
        .collect();
    for ((name, a), (_, b)) in outs[0].outputs.iter().zip(&outs[1].outputs) {
        assert_eq!(a.shape, b.shape, "{name}");
        let err = max_rel_err(a.as_f32().unwrap(), b.as_f32().unwrap());
        assert!(err <= TOL, "{name}: ort vs tract max_rel_err {err:e}");
    }
}
