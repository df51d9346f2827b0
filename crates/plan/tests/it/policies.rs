//! Each policy's contract, profile validation and sanitizing.

use crate::fixtures::{planner, profiles};
use loadpart_plan::synth;
use loadpart_plan::{
    Estimate, Hysteresis, ModelProfile, OffloadRisk, PerCut, PlanError, Planner, PlannerOptions,
    PolicyKind, QueueOutlook,
};

#[test]
fn local_and_server_are_the_two_extremes() {
    let p = planner(synth::resnet50_like(), true);
    let e = Estimate::idle(1e6).into();
    let local = PolicyKind::Local.build(p.clone()).unwrap().decide(&e);
    assert!(local.cut.is_full_local());
    assert_eq!(local.predicted.total(), local.predicted.device);
    assert_eq!(
        local.position.candidate_index,
        Some(p.candidates().count() - 1)
    );
    let server = PolicyKind::Server.build(p.clone()).unwrap().decide(&e);
    assert!(server.cut.is_full_offload());
    assert_eq!(server.predicted.device, 0.0);
    assert!(server.predicted.upload > 0.0 && server.predicted.download > 0.0);
    assert_eq!(server.position.candidate_index, Some(0));
    assert_eq!(server.cut.id(p.dag()), "input");
}

#[test]
fn fixed_cut_by_id_and_rejection_of_non_cuts() {
    let p = planner(synth::resnet50_like(), false);
    let name = "add_7:0".to_string();
    assert!(
        p.space()
            .articulation_tensors()
            .contains(&p.dag().tensor_by_name(&name).unwrap())
    );
    let e = Estimate::idle(1e6);
    let d = PolicyKind::Fixed(name.clone())
        .build(p.clone())
        .unwrap()
        .decide(&e.into());
    assert_eq!(d.cut.id(p.dag()), name);
    assert_eq!(d.predicted, p.predict(&d.cut.head, &e));
    // The main path alone leaves the skip connection uncut.
    let main_only = "conv0_3:0".to_string();
    let err = PolicyKind::Fixed(main_only).build(p.clone()).unwrap_err();
    assert!(matches!(err, PlanError::BadFixedCut { .. }), "{err}");
    assert!(err.to_string().contains("->"), "{err}");
    assert!(PolicyKind::Fixed("nope".into()).build(p).is_err());
}

#[test]
fn loadpart_original_adds_the_queue_only_against_local() {
    let p = planner(synth::resnet50_like(), false);
    let orig = PolicyKind::LoadpartOriginal.build(p.clone()).unwrap();
    let e = Estimate {
        uplink_bytes_per_s: 1e8,
        rtt_us: 50_000.0,
        ..Estimate::idle(1e8)
    };
    let d = orig.decide(&e.into());
    // It ignores RTT and download: its belief has neither.
    assert_eq!(d.predicted.rtt, 0.0);
    assert_eq!(d.predicted.download, 0.0);
    assert!(!d.cut.is_full_local());
    // The queue wait does not move the offload cut, it only flips to local.
    let w = Estimate {
        queue_us: 1_000.0,
        ..e
    };
    let dw = orig.decide(&w.into());
    assert_eq!(dw.cut, d.cut);
    assert_eq!(dw.predicted.queue, 1_000.0);
    assert!((dw.objective_us - d.objective_us - 1_000.0).abs() < 1e-6);
    let busy = Estimate { queue_us: 1e9, ..e };
    assert!(orig.decide(&busy.into()).cut.is_full_local());
    // It reads the server at batch size 1 whatever the batch being formed.
    let batched = Estimate {
        server_batch: 8.0,
        ..e
    };
    assert_eq!(orig.decide(&batched.into()).predicted, d.predicted);
}

#[test]
fn garbage_conditions_fall_back_to_local_without_nan() {
    let p = planner(synth::inception_v1_like(), true);
    let e = Estimate {
        uplink_bytes_per_s: f64::NAN,
        downlink_bytes_per_s: -1.0,
        rtt_us: f64::INFINITY,
        queue_us: f64::NAN,
        server_slowdown: f64::NAN,
        server_batch: f64::NAN,
        device_slowdown: f64::NAN,
    };
    for k in PolicyKind::SEARCHING {
        let d = k.build(p.clone()).unwrap().decide(&e.into());
        assert!(
            d.predicted.total().is_finite() && d.objective_us.is_finite(),
            "{k}"
        );
        if k != PolicyKind::Server {
            assert!(d.cut.is_full_local(), "{k}");
        }
    }
}

#[test]
fn profiles_round_trip_through_json() {
    let (d, _) = profiles(&synth::resnet50_like(), true);
    let json = serde_json::to_string(&d).unwrap();
    let back: ModelProfile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
    // Optional fields may be absent.
    let minimal = r#"{"model_hash":"h","engine":"ort","host":"x","batch_sizes":[1],
        "nodes":[{"name":"n","time_us":[1.5]}],
        "tensors":[{"name":"t","bytes_per_sample":8,"elements_per_sample":2}]}"#;
    let p: ModelProfile = serde_json::from_str(minimal).unwrap();
    assert!(p.tensors[0].codec.is_none() && p.validation.is_none());
}

#[test]
fn bad_profiles_are_rejected_with_the_reason() {
    let dag = synth::resnet50_like();
    let (d, s) = profiles(&dag, true);
    let build = |d: &ModelProfile, s: &ModelProfile| {
        Planner::new(dag.clone(), d, s, PlannerOptions::default()).unwrap_err()
    };
    let mut other = s.clone();
    other.model_hash = "other".into();
    assert!(matches!(build(&d, &other), PlanError::ModelMismatch { .. }));
    let mut sizes = s.clone();
    sizes.batch_sizes = vec![4, 2];
    assert!(matches!(
        build(&d, &sizes),
        PlanError::BadBatchSizes {
            profile: "server",
            ..
        }
    ));
    let mut missing = d.clone();
    missing.nodes.pop();
    assert!(matches!(
        build(&missing, &s),
        PlanError::MissingNode {
            profile: "device",
            ..
        }
    ));
    let mut nan = s.clone();
    nan.nodes[3].time_us[1] = f64::NAN;
    let err = build(&d, &nan);
    assert!(
        matches!(err, PlanError::BadValue { .. }) && err.to_string().contains("NaN"),
        "{err}"
    );
    let mut no_tensor = d.clone();
    no_tensor.tensors.remove(5);
    assert!(matches!(
        build(&no_tensor, &s),
        PlanError::MissingTensor { .. }
    ));
    let mut ratio = d.clone();
    ratio.tensors[0].codec.as_mut().unwrap().ratio = 0.0;
    assert!(matches!(build(&ratio, &s), PlanError::BadValue { .. }));
}

#[test]
fn report_and_ranking_agree_with_the_decision() {
    let p = planner(synth::inception_v1_like(), true);
    let e = Estimate {
        rtt_us: 1_000.0,
        ..Estimate::idle(3e6)
    };
    let d = p.decide(&e);
    let r = d.report(p.dag());
    assert_eq!(r.cut_id, d.cut.id(p.dag()));
    assert!((r.predicted_ms - d.predicted.total() / 1e3).abs() < 1e-12);
    assert!((r.breakdown.total() - r.predicted_ms).abs() < 1e-9);
    assert!(r.sent.iter().all(|s| r.cut.contains(s)));
    let json = serde_json::to_value(&r).unwrap();
    for key in ["cut", "predicted_ms", "breakdown", "decision_us"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let ranked = p.ranked_candidates(&e);
    assert_eq!(ranked.len(), p.candidates().count());
    assert!(
        ranked
            .windows(2)
            .all(|w| w[0].predicted.total() <= w[1].predicted.total())
    );
    // The solver's optimum is at least as good as the best listed candidate (equal when listed).
    assert!(d.predicted.total() <= ranked[0].predicted.total() + 1e-9);
    if let Some(i) = d.position.candidate_index {
        assert!((ranked[0].predicted.total() - d.predicted.total()).abs() < 1e-6);
        assert!(ranked.iter().any(|c| c.index == i));
    }
}

#[test]
fn block_searches_report_pruning_and_min_cut() {
    use loadpart_cuts::{BlockCuts, CutCount};
    use loadpart_plan::BlockSearchKind;
    for dag in [
        synth::resnet50_like(),
        synth::inception_v1_like(),
        synth::densenet121_like(),
        synth::densenet121_all_concat_like(),
    ] {
        let (d, s) = profiles(&dag, true);
        let p = Planner::new(dag.clone(), &d, &s, PlannerOptions::default()).unwrap();
        let (mut listed, mut kept) = (0, 0);
        for (b, kind) in p.space().blocks().iter().zip(p.block_searches()) {
            let (BlockCuts::Enumerated(c), BlockSearchKind::Scan { kept: k }) = (&b.cuts, kind)
            else {
                panic!("default cap lists every block of these shapes");
            };
            assert!(k <= c.len() && (k > 0 || c.is_empty()));
            listed += c.len();
            kept += k;
        }
        println!(
            "{} listed inner cuts, {kept} kept after dominance pruning",
            listed
        );
        let tiny = PlannerOptions {
            max_cuts_per_block: 1,
            ..PlannerOptions::default()
        };
        let p = Planner::new(dag, &d, &s, tiny).unwrap();
        for (b, kind) in p.space().blocks().iter().zip(p.block_searches()) {
            if let CutCount::AtLeast(_) = b.cut_count() {
                assert_eq!(kind, BlockSearchKind::MinCut);
            }
        }
    }
}

#[test]
fn per_cut_batches_move_loadpart_off_a_cut_whose_batches_are_large() {
    let p = planner(synth::resnet50_like(), false);
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    // A fast link and an idle server: an offload.
    let e = Estimate {
        rtt_us: 2_000.0,
        ..Estimate::idle(1e8)
    };
    let plain = lp.decide(&e.into());
    assert!(!plain.cut.is_full_local(), "{}", plain.cut.id(p.dag()));
    // Without per-cut batch sizes nothing changes.
    let same = lp.decide_per_cut(&e.into(), &PerCut::NONE);
    assert_eq!(same.cut, plain.cut);
    assert_eq!(same.predicted, plain.predicted);
    // Requests at that cut run in batches of 8, others alone: loadpart moves to another cut,
    // and its prediction is priced at that cut's batch (1), so it beats the first cut priced
    // at 8.
    let chosen = plain.cut.id(p.dag());
    let batch_of = |c: &loadpart_cuts::CutId| (*c == chosen).then_some(8.0);
    let per_cut = PerCut {
        batch_of: &batch_of,
        ..PerCut::NONE
    };
    let moved = lp.decide_per_cut(&e.into(), &per_cut);
    assert_ne!(moved.cut, plain.cut);
    let first_at_8 = p.predict(
        &plain.cut.head,
        &Estimate {
            server_batch: 8.0,
            ..e
        },
    );
    assert!(moved.predicted.total() < first_at_8.total());
    // Load-unaware policies ignore batch sizes.
    let ns = PolicyKind::Neurosurgeon.build(p.clone()).unwrap();
    assert_eq!(
        ns.decide_per_cut(&e.into(), &per_cut).cut,
        ns.decide(&e.into()).cut
    );
}

#[test]
fn per_cut_waits_move_loadpart_off_a_cut_that_queues_behind_every_batch() {
    let p = planner(synth::resnet50_like(), false);
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    let e = Estimate {
        rtt_us: 2_000.0,
        queue_us: 30_000.0,
        ..Estimate::idle(1e8)
    };
    let plain = lp.decide(&e.into());
    assert!(!plain.cut.is_full_local(), "{}", plain.cut.id(p.dag()));
    // The server-wide mean wait is 30 ms, but a request at the chosen cut (nobody else's)
    // queues behind every batch: 400 ms on average. Every other cut finds 30 ms.
    let chosen = plain.cut.id(p.dag());
    let wait_of = |c: &loadpart_cuts::CutId| Some(if *c == chosen { 400_000.0 } else { 30_000.0 });
    let q = QueueOutlook {
        now_us: 30_000.0,
        mean_us: 30_000.0,
        memory_us: 1.0,
    };
    let per_cut = PerCut {
        queue: Some(q),
        wait_of: &wait_of,
        ..PerCut::NONE
    };
    let moved = lp.decide_per_cut(&e.into(), &per_cut);
    assert_ne!(moved.cut, plain.cut);
    assert!(
        moved.cut.is_full_local() || (moved.predicted.queue - 30_000.0).abs() < 1.0,
        "its prediction holds its own cut's wait: {:?}",
        moved.predicted
    );
    // A fixed cut is priced with its own wait, at arrival (its lead is far beyond the 1 µs
    // memory, so the mean).
    let fixed = PolicyKind::Fixed(chosen.to_string())
        .build(p.clone())
        .unwrap();
    let priced = fixed.decide_per_cut(&e.into(), &per_cut);
    assert!(
        (priced.predicted.queue - 400_000.0).abs() < 1.0,
        "{:?}",
        priced.predicted
    );
    // Without an outlook the cut's wait replaces the estimate's.
    let no_outlook = PerCut {
        wait_of: &wait_of,
        ..PerCut::NONE
    };
    let priced = fixed.decide_per_cut(&e.into(), &no_outlook);
    assert!((priced.predicted.queue - 400_000.0).abs() < 1.0);
    // A wait that is not a finite, non-negative number is ignored.
    let bad = PerCut {
        wait_of: &|_| Some(f64::NAN),
        ..PerCut::NONE
    };
    assert_eq!(
        fixed.decide_per_cut(&e.into(), &bad).predicted.queue,
        e.queue_us
    );
    // Load-unaware policies ignore waits.
    let ns = PolicyKind::Neurosurgeon.build(p.clone()).unwrap();
    assert_eq!(
        ns.decide_per_cut(&e.into(), &per_cut).cut,
        ns.decide(&e.into()).cut
    );
}

#[test]
fn a_cut_that_joins_forming_batches_waits_only_its_share_of_the_backlog() {
    let p = planner(synth::resnet50_like(), false);
    // A fast link: full offload reaches the server at once and meets the backlog as it
    // stands, 300 ms of it.
    let e = Estimate {
        rtt_us: 2_000.0,
        queue_us: 300_000.0,
        ..Estimate::idle(1e9)
    };
    let q = QueueOutlook {
        now_us: 300_000.0,
        mean_us: 300_000.0,
        memory_us: 1e12,
    };
    let server = PolicyKind::Server.build(p.clone()).unwrap();
    let whole = PerCut {
        queue: Some(q),
        ..PerCut::NONE
    };
    let all_of_it = server.decide_per_cut(&e.into(), &whole).predicted.queue;
    assert!((all_of_it - 300_000.0).abs() < 1_000.0, "{all_of_it}");
    // Its requests join batches already forming: they wait 40% of the backlog.
    let share = |_: &loadpart_cuts::CutId| Some(0.4);
    let shared = PerCut {
        backlog_share_of: &share,
        ..whole
    };
    let part = server.decide_per_cut(&e.into(), &shared).predicted.queue;
    assert!((part - 120_000.0).abs() < 1_000.0, "{part}");
    // A share above 1 is clamped; one that is not a number counts as all of it.
    for odd in [3.0, f64::NAN] {
        let f = move |_: &loadpart_cuts::CutId| Some(odd);
        let pc = PerCut {
            backlog_share_of: &f,
            ..whole
        };
        let got = server.decide_per_cut(&e.into(), &pc).predicted.queue;
        assert!((got - all_of_it).abs() < 1.0, "{odd}: {got} vs {all_of_it}");
    }
}

#[test]
fn the_queue_is_priced_at_the_time_a_request_reaches_the_server() {
    let p = planner(synth::resnet50_like(), false);
    // A slow link: full offload spends a long time uploading, so the queue it meets is mostly
    // the usual one; the deep queue of now has drained by then.
    let e = Estimate {
        rtt_us: 2_000.0,
        queue_us: 400_000.0,
        ..Estimate::idle(1e6)
    };
    let q = QueueOutlook {
        now_us: 400_000.0,
        mean_us: 20_000.0,
        memory_us: 100_000.0,
    };
    let per_cut = PerCut {
        queue: Some(q),
        ..PerCut::NONE
    };
    let server = PolicyKind::Server.build(p.clone()).unwrap();
    let d = server.decide_per_cut(&e.into(), &per_cut);
    let b = d.predicted;
    let lead = b.device + b.encode + b.upload + b.rtt / 2.0;
    assert!(lead > 100_000.0, "a slow upload: {lead}");
    assert!(
        (b.queue - q.at(lead)).abs() < 1e-6,
        "{} vs {}",
        b.queue,
        q.at(lead)
    );
    assert!(b.queue < 0.5 * e.queue_us);
    // Full local meets no queue whatever the outlook.
    let local = PolicyKind::Local.build(p.clone()).unwrap();
    assert_eq!(
        local.decide_per_cut(&e.into(), &per_cut).predicted.queue,
        0.0
    );
    // Loadpart prices its choice the same way: its prediction is its cut's, at arrival.
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    let d = lp.decide_per_cut(&e.into(), &per_cut);
    if !d.cut.is_full_local() {
        let b = d.predicted;
        let lead = b.device + b.encode + b.upload + b.rtt / 2.0;
        assert!((b.queue - q.at(lead)).abs() < 1e-6);
    }
}

/// Loadpart's pick as the queue grows: the first queue (µs, in steps of 1 ms) at which the
/// pick changes, and the picks on either side.
fn first_switch(p: &std::sync::Arc<Planner>, e: Estimate) -> (f64, String, String) {
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    let pick = |q: f64| {
        lp.decide(&Estimate { queue_us: q, ..e }.into())
            .cut
            .id(p.dag())
            .to_string()
    };
    let first = pick(0.0);
    (1..10_000)
        .map(|ms| ms as f64 * 1e3)
        .find_map(|q| {
            let now = pick(q);
            (now != first).then(|| (q, first.clone(), now))
        })
        .expect("a long enough queue moves loadpart off the server")
}

#[test]
fn hysteresis_keeps_the_previous_cut_within_its_margin_only() {
    let p = planner(synth::resnet50_like(), true);
    let e = Estimate::idle(2e6);
    let (switch_us, before, after) = first_switch(&p, e);
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    let at = |q: f64| -> loadpart_plan::Conditions { Estimate { queue_us: q, ..e }.into() };
    let id = |d: &loadpart_plan::Decision| d.cut.id(p.dag()).to_string();
    let with = |h: &Hysteresis, q: f64| {
        h.choose("loadpart", lp.decide(&at(q)), |cut| {
            p.price(cut, &at(q).estimate, &PerCut::NONE)
        })
    };

    // No margin: exactly the policy's pick, every time.
    let plain = Hysteresis::new(0.0);
    assert_eq!(id(&with(&plain, 0.0)), before);
    assert_eq!(id(&with(&plain, switch_us)), after);

    // A 5% margin: just past the switch, the previous cut is kept, priced at the new
    // conditions and within 5% of the best.
    let sticky = Hysteresis::new(0.05);
    assert_eq!(id(&with(&sticky, 0.0)), before);
    let kept = with(&sticky, switch_us);
    assert_eq!(id(&kept), before, "kept within the margin");
    let best = lp.decide(&at(switch_us));
    assert!(kept.predicted.total() >= best.predicted.total());
    assert!(kept.predicted.total() <= best.predicted.total() * 1.05);
    assert_eq!(
        kept.predicted,
        PolicyKind::Fixed(before.clone())
            .build(p.clone())
            .unwrap()
            .decide(&at(switch_us))
            .predicted,
        "the kept cut is priced at the new conditions"
    );
    // Far past the switch the previous cut is more than 5% worse: it moves, and stays there
    // when conditions come back just short of the switch (the hysteresis works both ways).
    assert_eq!(id(&with(&sticky, switch_us * 4.0)), after);
    assert_eq!(id(&with(&sticky, switch_us - 1e3)), after);
    // Each policy has its own history: another policy's pick does not move loadpart's.
    let other = sticky.choose("oracle", lp.decide(&at(0.0)), |_| {
        unreachable!("new policy")
    });
    assert_eq!(id(&other), before);
    assert_eq!(id(&with(&sticky, switch_us - 1e3)), after);
}

#[test]
fn hysteresis_margins_are_drawn_per_device_and_bad_ones_are_off() {
    assert_eq!(Hysteresis::drawn(0.1, 0.5).margin(), 0.05);
    assert_eq!(Hysteresis::drawn(0.1, 7.0).margin(), 0.1);
    assert_eq!(Hysteresis::new(f64::NAN).margin(), 0.0);
    assert_eq!(Hysteresis::new(-1.0).margin(), 0.0);
    assert_eq!(Hysteresis::default().margin(), 0.0);
}

#[test]
fn the_risk_of_a_miss_is_priced_into_offloads_and_never_into_local() {
    let p = planner(synth::resnet50_like(), true);
    let e = Estimate::idle(2e6);
    // Just short of the queue at which loadpart goes local: an offload that wins narrowly.
    let (switch_us, offload, local) = first_switch(&p, e);
    let c: loadpart_plan::Conditions = Estimate {
        queue_us: switch_us - 2e3,
        ..e
    }
    .into();
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    let id = |d: &loadpart_plan::Decision| d.cut.id(p.dag()).to_string();
    let with = |risk| PerCut {
        risk,
        ..PerCut::NONE
    };
    let plain = lp.decide_per_cut(&c, &with(None));
    assert_eq!(id(&plain), offload);
    assert_eq!(plain.predicted.risk, 0.0);

    // One offload in five misses, each after a 100 ms wait: the narrow win is gone.
    let risk = OffloadRisk {
        miss_rate: 0.2,
        miss_wait_us: 100_000.0,
    };
    let careful = lp.decide_per_cut(&c, &with(Some(risk)));
    assert_eq!(id(&careful), local, "{:?}", careful.predicted);
    assert_eq!(careful.predicted.risk, 0.0, "local has no risk");

    // A forced offload is priced with it: p × (local + encode + wait - T).
    let forced = PolicyKind::Fixed(offload.clone()).build(p.clone()).unwrap();
    let bare = forced.decide_per_cut(&c, &with(None));
    let priced = forced.decide_per_cut(&c, &with(Some(risk)));
    let local_us = PolicyKind::Local
        .build(p.clone())
        .unwrap()
        .decide(&c)
        .predicted
        .total();
    let expect = 0.2 * (local_us + bare.predicted.encode + 100_000.0 - bare.predicted.total());
    assert!((priced.predicted.risk - expect).abs() < 1e-6, "{priced:?}");
    assert!((priced.predicted.total() - bare.predicted.total() - expect).abs() < 1e-6);
    assert!((priced.objective_us - priced.predicted.total()).abs() < 1e-6);

    // Nonsense rates price nothing.
    for miss_rate in [f64::NAN, -0.5, 0.0] {
        let r = OffloadRisk {
            miss_rate,
            miss_wait_us: 1e5,
        };
        assert_eq!(r.price(&bare.predicted, local_us), 0.0);
    }
}

#[test]
fn the_risk_ablations_price_the_risk_without_the_load_and_the_load_without_the_risk() {
    let p = planner(synth::resnet50_like(), true);
    let e = Estimate::idle(2e6);
    let (switch_us, offload, local) = first_switch(&p, e);
    let id = |d: &loadpart_plan::Decision| d.cut.id(p.dag()).to_string();
    let build = |k: PolicyKind| k.build(p.clone()).unwrap();
    let with = |risk| PerCut {
        risk,
        ..PerCut::NONE
    };
    let risk = OffloadRisk {
        miss_rate: 0.2,
        miss_wait_us: 100_000.0,
    };
    // An idle server: neurosurgeon+risk offloads as neurosurgeon does, unless offloads miss.
    let idle: loadpart_plan::Conditions = e.into();
    let ns = build(PolicyKind::Neurosurgeon).decide_per_cut(&idle, &with(Some(risk)));
    let nsr = build(PolicyKind::NeurosurgeonRisk);
    assert_eq!(id(&ns), offload, "neurosurgeon ignores the risk");
    assert_eq!(id(&nsr.decide_per_cut(&idle, &with(None))), offload);
    // Offloads that nearly all miss, after a long wait: the narrowest local-side choice wins.
    let dire = OffloadRisk {
        miss_rate: 0.9,
        miss_wait_us: 1e6,
    };
    let careful = nsr.decide_per_cut(&idle, &with(Some(dire)));
    assert_eq!(id(&careful), local, "{:?}", careful.predicted);
    // A queue past loadpart's switch point: neurosurgeon+risk does not see it.
    let loaded: loadpart_plan::Conditions = Estimate {
        queue_us: switch_us + 5e3,
        ..e
    }
    .into();
    assert_eq!(id(&nsr.decide_per_cut(&loaded, &with(None))), offload);
    assert_eq!(
        id(&build(PolicyKind::LoadpartNoRisk).decide_per_cut(&loaded, &with(Some(risk)))),
        local,
        "loadpart-norisk sees the load"
    );
    // Just short of the switch, loadpart-norisk offloads whatever the misses.
    let near: loadpart_plan::Conditions = Estimate {
        queue_us: switch_us - 2e3,
        ..e
    }
    .into();
    let nr = build(PolicyKind::LoadpartNoRisk).decide_per_cut(&near, &with(Some(risk)));
    assert_eq!(id(&nr), offload);
    assert_eq!(nr.predicted.risk, 0.0);
}
