//! Head + tail equals the whole model, on every engine, for every candidate cut.

use loadpart_exec::{
    CheckOptions, Prepared, check_split, check_split_batches, compare_outputs, reference_input,
};
use loadpart_graph::{tensor_f32, zoo};

use crate::{engines, randomized_light};

#[test]
fn generated_models_split_exactly_at_every_cut() {
    let _serial = crate::exclusive();
    for engine in engines() {
        for name in zoo::MODELS {
            let prepared = Prepared::new(&zoo::generate(name).unwrap()).unwrap();
            // The 224x224 MobileNet-style model has 46 cuts: a sample keeps the test short
            // (check-split checks all of them).
            let opts = CheckOptions {
                sample: (*name == "mobilenet").then_some(8),
                ..CheckOptions::default()
            };
            // Each cut loaded once and run at both sizes.
            let reports =
                check_split_batches(engine.as_ref(), &prepared, &[1, 3], &opts, &mut |_, _| {})
                    .unwrap();
            assert_eq!(reports.iter().map(|r| r.batch).collect::<Vec<_>>(), [1, 3]);
            for r in reports {
                let batch = r.batch;
                assert!(
                    r.passed(),
                    "{name} on {} batch {batch}: {:?}",
                    r.engine,
                    r.failures
                );
                if opts.sample.is_none() {
                    assert_eq!(r.cuts_checked, r.cuts_total);
                }
                assert!(r.max_rel_err <= 1e-4, "{name}: {}", r.max_rel_err);
                assert!(
                    r.input_sensitivity > 1e-3,
                    "{name}: outputs do not depend on the input"
                );
            }
        }
    }
}

#[test]
fn batch_size_zero_is_an_error() {
    let _serial = crate::exclusive();
    let engine = loadpart_engine::engine(loadpart_engine::EngineKind::Tract).unwrap();
    let prepared = Prepared::new(&zoo::generate("chain").unwrap()).unwrap();
    for batches in [&[][..], &[1, 0][..]] {
        let r = check_split_batches(
            engine.as_ref(),
            &prepared,
            batches,
            &CheckOptions::default(),
            &mut |_, _| {},
        );
        assert!(r.is_err(), "{batches:?}");
    }
}

#[test]
fn light_models_split_exactly_on_sampled_cuts() {
    let _serial = crate::exclusive();
    // CI keeps to a sample of cuts per model; `loadpart check-split MODEL` checks them all.
    for engine in engines() {
        for name in [
            "squeezenet",
            "inception_v1",
            "resnet50",
            "shufflenet",
            "densenet121",
        ] {
            let prepared = randomized_light(name);
            let opts = CheckOptions {
                batch: 2,
                sample: Some(4),
                ..Default::default()
            };
            let r = check_split(engine.as_ref(), &prepared, &opts, &mut |_, _| {}).unwrap();
            assert!(r.passed(), "{name} on {}: {:?}", r.engine, r.failures);
            assert!(
                r.input_sensitivity > 1e-3,
                "{name}: outputs do not depend on the input ({})",
                r.input_sensitivity
            );
        }
    }
}

#[test]
fn batch_rewrite_keeps_the_reference_output() {
    let _serial = crate::exclusive();
    // The dynamic-batch rewrite must not change what the model computes: the rewritten AlexNet
    // and ShuffleNet (both hard-code batch 1 in a Reshape) still match the shipped reference.
    for engine in engines() {
        for name in ["bvlc_alexnet", "shufflenet"] {
            let model = zoo::load_light(name).unwrap();
            let prepared = Prepared::new(&model).unwrap();
            let input = reference_input(&prepared.model).unwrap();
            let loaded = engine
                .load(&prepared.model.to_bytes(), &Default::default())
                .unwrap();
            let views: Vec<_> = input.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
            let got = loaded.run(&views).unwrap().outputs;
            let bytes = std::fs::read(zoo::light_reference_path(name).unwrap()).unwrap();
            let (dims, data) = tensor_f32(&bytes).unwrap();
            let reference = vec![(
                got[0].0.clone(),
                loadpart_engine::Tensor::f32(dims, data).unwrap(),
            )];
            let (_, rel) = compare_outputs(&reference, &got).unwrap();
            assert!(rel <= 1e-4, "{name} on {:?}: {rel}", engine.kind());
        }
    }
}
