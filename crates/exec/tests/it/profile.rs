//! Profiles have the right structure and their predictions track measured times.

use loadpart_engine::EngineKind;
use loadpart_exec::{Prepared, ProfileOptions, profile_model};
use loadpart_graph::zoo;

#[test]
fn profile_covers_every_stage_and_tensor() {
    let _serial = crate::exclusive();
    let engine = loadpart_engine::engine(EngineKind::Ort).unwrap();
    let prepared = Prepared::new(&zoo::generate("inception").unwrap()).unwrap();
    let opts = ProfileOptions {
        batch_sizes: vec![1, 4],
        runs: 5,
        warmup: 2,
        anchors: 2,
        validate_cuts: 3,
        ..Default::default()
    };
    let p = profile_model(engine.as_ref(), &prepared, "test", &opts, &mut |_, _, _| {}).unwrap();
    let dag = prepared.stages.dag();
    assert_eq!(p.nodes.len(), dag.node_count());
    assert_eq!(p.tensors.len(), dag.tensors().len());
    assert_eq!(p.model_hash, prepared.model.hash());
    assert!(
        p.nodes
            .iter()
            .all(|n| n.time_us.len() == 2 && n.time_us.iter().all(|t| t.is_finite() && *t >= 0.0))
    );
    let whole = |b: usize| p.nodes.iter().map(|n| n.time_us[b]).sum::<f64>();
    assert!(whole(1) > whole(0), "batch 4 takes longer than batch 1");
    assert!(
        p.tensors.iter().all(|t| t.codec.is_some()),
        "every activation has codec costs"
    );
    // Head and tail calibrations: both sum to the whole model's time (within timing noise
    // they need not be equal, but both are positive).
    assert!(p.nodes.iter().all(|n| {
        n.tail_time_us
            .as_ref()
            .is_some_and(|t| t.len() == 2 && t.iter().all(|x| x.is_finite() && *x >= 0.0))
    }));
    let whole_tail = |b: usize| {
        p.nodes
            .iter()
            .map(|n| n.tail_time_us.as_ref().unwrap()[b])
            .sum::<f64>()
    };
    assert!(whole_tail(0) > 0.0 && whole_tail(1) > whole_tail(0));
    let v = p.validation.as_ref().unwrap();
    assert_eq!(v.samples.len(), 3 * 2 * 2);
    // Predictions must track measurements. The bounds are loose (5 timed runs of a model that
    // runs in about a millisecond, on a shared 2-core machine; a full profile of ResNet-50 is at
    // 1-2% mean), but they fail a profile whose calibration is broken.
    assert!(
        v.split_mean_error_pct < 40.0,
        "head+tail mean error {:.1}%",
        v.split_mean_error_pct
    );
    assert!(v.split_max_error_pct >= v.split_mean_error_pct);
    assert!(
        v.mean_error_pct < 60.0,
        "part mean error {:.1}%",
        v.mean_error_pct
    );
    // The profile records its role; the planner takes it as the device's and refuses it as the
    // server's.
    assert_eq!(p.role, Some(loadpart_plan::ProfileRole::Device));
    assert!(p.threads.is_some());
    assert!(loadpart_plan::Planner::new(dag.clone(), &p, &p, Default::default()).is_err());
    let server = loadpart_plan::ModelProfile {
        role: Some(loadpart_plan::ProfileRole::Server),
        ..p.clone()
    };
    loadpart_plan::Planner::new(dag.clone(), &p, &server, Default::default()).unwrap();
    // Bad options are an error, not a panic.
    let bad = ProfileOptions {
        batch_sizes: vec![4, 1],
        ..Default::default()
    };
    assert!(profile_model(engine.as_ref(), &prepared, "test", &bad, &mut |_, _, _| {}).is_err());
}

#[test]
fn allowed_code_widths_are_measured_as_tighter_levels() {
    let _serial = crate::exclusive();
    let engine = loadpart_engine::engine(EngineKind::Ort).unwrap();
    let prepared = Prepared::new(&zoo::generate("chain").unwrap()).unwrap();
    let opts = ProfileOptions {
        runs: 1,
        warmup: 0,
        anchors: 0,
        validate_cuts: 0,
        codec_bits: vec![5, 8],
        ..Default::default()
    };
    let p = profile_model(engine.as_ref(), &prepared, "test", &opts, &mut |_, _, _| {}).unwrap();
    let mut largest = None::<(u64, &loadpart_plan::TensorCodec)>;
    for t in &p.tensors {
        let c = t.codec.as_ref().unwrap();
        let levels: Vec<(u8, i32)> = c.tighter.iter().map(|l| (l.bits, l.zstd_level)).collect();
        assert_eq!(levels, [(8, 9), (5, 1), (5, 9)], "{}", t.name);
        if largest.is_none_or(|(n, _)| t.elements_per_sample > n) {
            largest = Some((t.elements_per_sample, c));
        }
    }
    // On a real activation, 5-bit codes compress further than 8-bit ones.
    let (_, c) = largest.unwrap();
    assert!(c.tighter[1].ratio > c.ratio, "{c:?}");
    // A width the codec cannot send is a caller error, before any timing.
    let bad = ProfileOptions {
        codec_bits: vec![9],
        ..opts
    };
    let err = profile_model(engine.as_ref(), &prepared, "test", &bad, &mut |_, _, _| {});
    assert!(
        matches!(err, Err(loadpart_exec::ExecError::CodecBits(9))),
        "{err:?}"
    );
}
