//! The split check must fail when a part is wrong: a comparison that cannot fail proves nothing.

use loadpart_engine::Engine;
use loadpart_exec::{NamedTensors, Prepared, Split, compare_outputs, random_inputs};
use loadpart_graph::{BatchDim, zoo};

use crate::{engines, randomized_light};

fn run_tail(engine: &dyn Engine, tail: &loadpart_graph::Part, cut: &NamedTensors) -> NamedTensors {
    let loaded = engine.load(&tail.to_bytes(), &Default::default()).unwrap();
    let views: Vec<_> = cut
        .iter()
        .filter(|(n, _)| tail.inputs.contains(n))
        .map(|(n, t)| (n.as_str(), t.view()))
        .collect();
    loaded.run(&views).unwrap().outputs
}

/// Splits `model` at its middle candidate cut and returns (reference outputs, head outputs, tail part).
fn split_middle(
    engine: &dyn Engine,
    prepared: &Prepared,
) -> (NamedTensors, NamedTensors, loadpart_graph::Part) {
    let space = prepared.stages.cut_space(1000);
    let cuts: Vec<_> = space.all_candidate_cuts().collect();
    let id = cuts[cuts.len() / 2].cut.id(prepared.stages.dag());
    let cut = id.names();
    let inputs = random_inputs(&prepared.model, 2, 3).unwrap();
    let full = engine
        .load(&prepared.model.to_bytes(), &Default::default())
        .unwrap();
    let views: Vec<_> = inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let reference = full.run(&views).unwrap().outputs;
    let runner = Split::load(engine, prepared, &id, &Default::default()).unwrap();
    let head_out = runner.run_head(&inputs).unwrap().outputs;
    let tail = prepared.model.tail(&cut, BatchDim::Dynamic).unwrap();
    // The honest split matches.
    let (_, rel) = compare_outputs(&reference, &run_tail(engine, &tail, &head_out)).unwrap();
    assert!(rel <= 1e-4, "honest split differs: {rel}");
    (reference, head_out, tail)
}

#[test]
fn a_tail_missing_one_activation_is_caught() {
    let _serial = crate::exclusive();
    for engine in engines() {
        for prepared in [
            Prepared::new(&zoo::generate("inception").unwrap()).unwrap(),
            randomized_light("resnet50"),
        ] {
            let (reference, head_out, mut tail) = split_middle(engine.as_ref(), &prepared);
            // Break the extraction: bypass the tail's first Relu (feed its input to its consumers).
            let g = tail.model.graph.as_mut().unwrap();
            let pos = g
                .node
                .iter()
                .position(|n| n.op_type() == "Relu")
                .expect("tail has a Relu");
            let relu = g.node.remove(pos);
            for n in g.node.iter_mut() {
                for i in n.input.iter_mut() {
                    if *i == relu.output[0] {
                        *i = relu.input[0].clone();
                    }
                }
            }
            let (_, rel) =
                compare_outputs(&reference, &run_tail(engine.as_ref(), &tail, &head_out)).unwrap();
            assert!(
                rel > 1e-3,
                "{:?}: a tail without its Relu went unnoticed (rel {rel})",
                engine.kind()
            );
        }
    }
}

#[test]
fn a_head_with_one_wrong_weight_is_caught() {
    let _serial = crate::exclusive();
    for engine in engines() {
        let prepared = randomized_light("resnet50");
        let (reference, mut head_out, tail) = split_middle(engine.as_ref(), &prepared);
        // A head with one wrong weight: every 100th value of one cut tensor is off by the
        // tensor's largest magnitude (a wrong filter shifts many values at once).
        let data = match &mut head_out[0].1.data {
            loadpart_engine::TensorData::F32(d) => d,
            _ => unreachable!("f32 activations"),
        };
        let scale = data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for v in data.iter_mut().step_by(100) {
            *v += scale;
        }
        let (_, rel) =
            compare_outputs(&reference, &run_tail(engine.as_ref(), &tail, &head_out)).unwrap();
        assert!(
            rel > 1e-4,
            "a perturbed cut tensor went unnoticed (rel {rel})"
        );
    }
}
