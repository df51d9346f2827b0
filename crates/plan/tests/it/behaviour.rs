//! How decisions move with the conditions.

use crate::fixtures::{planner, planner_with_tighter};
use loadpart_plan::synth;
use loadpart_plan::{
    Conditions, Estimate, PolicyKind, TensorEncoding, geometric_bandwidths, sweep_bandwidth,
};

fn base() -> Estimate {
    Estimate {
        rtt_us: 2_000.0,
        ..Estimate::idle(1e7)
    }
}

fn head_fraction(kind: &PolicyKind, e: Estimate) -> f64 {
    let p = planner(synth::resnet50_like(), false);
    kind.build(p)
        .unwrap()
        .decide(&e.into())
        .position
        .head_fraction
}

/// Non-decreasing within a tolerance of nothing: each step may only stay or grow.
fn assert_non_decreasing(v: &[f64], what: &str) {
    for w in v.windows(2) {
        assert!(w[0] <= w[1], "{what} not monotone: {v:?}");
    }
}

#[test]
fn falling_bandwidth_moves_the_cut_toward_local() {
    let p = planner(synth::resnet50_like(), false);
    let policy = PolicyKind::Loadpart.build(p).unwrap();
    let mut bws = geometric_bandwidths(1e4, 1e10, 40);
    bws.reverse();
    let points = sweep_bandwidth(policy.as_ref(), &base().into(), &bws);
    let heads: Vec<f64> = points.iter().map(|p| p.position.head_fraction).collect();
    assert_non_decreasing(&heads, "head fraction as bandwidth falls");
    assert_eq!(heads[0], 0.0, "fast link: full offload");
    assert_eq!(*heads.last().unwrap(), 1.0, "slow link: full local");
    assert!(
        heads.iter().any(|&h| h > 0.0 && h < 1.0),
        "a split in between: {heads:?}"
    );
    let idx: Vec<usize> = points
        .iter()
        .map(|p| p.position.candidate_index.unwrap())
        .collect();
    assert!(idx.windows(2).all(|w| w[0] <= w[1]), "{idx:?}");
}

#[test]
fn rising_queue_wait_moves_the_cut_toward_local() {
    let heads: Vec<f64> = [0.0, 1e3, 1e4, 3e4, 6e4, 1e5, 1e6]
        .iter()
        .map(|&w| {
            head_fraction(
                &PolicyKind::Loadpart,
                Estimate {
                    queue_us: w,
                    uplink_bytes_per_s: 1e8,
                    ..base()
                },
            )
        })
        .collect();
    assert_non_decreasing(&heads, "head fraction as W rises");
    assert!(heads[0] < 1.0 && *heads.last().unwrap() == 1.0, "{heads:?}");
}

#[test]
fn rising_slowdown_moves_the_cut_toward_local() {
    let heads: Vec<f64> = [0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 20.0]
        .iter()
        .map(|&f| {
            head_fraction(
                &PolicyKind::Loadpart,
                Estimate {
                    server_slowdown: f,
                    uplink_bytes_per_s: 3e6,
                    ..base()
                },
            )
        })
        .collect();
    assert_non_decreasing(&heads, "head fraction as f rises");
    assert!(heads[0] < 1.0 && *heads.last().unwrap() == 1.0, "{heads:?}");
    assert!(heads.iter().any(|&h| h > 0.0 && h < 1.0), "{heads:?}");
}

#[test]
fn neurosurgeon_ignores_load_and_loadpart_does_not() {
    let idle = Estimate {
        uplink_bytes_per_s: 1e8,
        ..base()
    };
    let loaded = Estimate {
        queue_us: 200_000.0,
        server_slowdown: 5.0,
        server_batch: 8.0,
        ..idle
    };
    let p = planner(synth::inception_v1_like(), true);
    let ns = PolicyKind::Neurosurgeon.build(p.clone()).unwrap();
    let lp = PolicyKind::Loadpart.build(p).unwrap();
    let (a, b) = (ns.decide(&idle.into()), ns.decide(&loaded.into()));
    assert_eq!(a.cut, b.cut);
    assert_eq!(a.predicted, b.predicted);
    assert_eq!(b.predicted.queue, 0.0);
    let (c, d) = (lp.decide(&idle.into()), lp.decide(&loaded.into()));
    assert_eq!(c.cut, a.cut, "on an idle server both agree");
    assert!(
        d.cut.is_full_local(),
        "a loaded server keeps the work local"
    );
    assert!(!c.cut.is_full_local());
}

#[test]
fn a_request_in_a_batch_waits_for_the_whole_batch() {
    let p = planner(synth::resnet50_like(), false);
    let offload = p.full_offload().head.clone();
    let at = |k: f64| {
        p.predict(
            &offload,
            &Estimate {
                server_batch: k,
                ..base()
            },
        )
        .server
    };
    // Batch time at k is 100 * (1 + 0.5 (k - 1)) per stage, and a request in a batch of k waits
    // for all of it (not the batch time over k); beyond the largest profiled size (8) it grows
    // in proportion.
    let stages = p.dag().node_count() as f64;
    assert!((at(1.0) - 100.0 * stages).abs() < 1e-6);
    assert!((at(4.0) - 100.0 * 2.5 * stages).abs() < 1e-6);
    assert!((at(3.0) - 100.0 * 2.0 * stages).abs() < 1e-6);
    assert!((at(16.0) - 2.0 * at(8.0)).abs() < 1e-6);
}

#[test]
fn compression_is_used_only_where_it_pays() {
    let p = planner(synth::resnet50_like(), true);
    let offload = p.full_offload().head.clone();
    let slow = p.predict(&offload, &Estimate::idle(1e5));
    let fast = p.predict(&offload, &Estimate::idle(1e10));
    // The input: 1e6 elements; quantized 1e6 + 8 bytes, compressed 3x.
    let q = 1e6 + 8.0;
    assert!((slow.upload - q / 3.0 * 10.0).abs() < 1e-3, "{slow:?}");
    assert!((fast.upload - q * 1e-4).abs() < 1e-6, "{fast:?}");
    assert!(slow.encode > fast.encode && slow.decode > fast.decode);
}

#[test]
fn oracle_decides_on_the_truth() {
    let p = planner(synth::resnet50_like(), false);
    let c = Conditions {
        estimate: Estimate::idle(1e10),
        truth: Some(Estimate::idle(1e3)),
    };
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap().decide(&c);
    let or = PolicyKind::Oracle.build(p).unwrap().decide(&c);
    assert!(lp.cut.is_full_offload());
    assert!(or.cut.is_full_local());
}

#[test]
fn roles_are_checked_and_tail_times_are_public() {
    use crate::fixtures::profiles;
    use loadpart_plan::{Planner, PlannerOptions, ProfileRole, ServerCosts};
    let dag = synth::resnet50_like();
    let (mut device, mut server) = profiles(&dag, false);
    device.role = Some(ProfileRole::Device);
    server.role = Some(ProfileRole::Server);
    let p = Planner::new(dag.clone(), &device, &server, PlannerOptions::default()).unwrap();
    // A device profile in the server's place is refused, by the planner and by ServerCosts.
    let err = Planner::new(dag.clone(), &device, &device, PlannerOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("measured as a device profile"),
        "{err}"
    );
    assert!(ServerCosts::new(&dag, &device).is_err());
    // The server's own view of a tail's batch time is the planner's, at f = 1.
    let costs = ServerCosts::new(&dag, &server).unwrap();
    let offload = p.full_offload().head.clone();
    for k in [1.0, 3.0, 8.0] {
        let e = Estimate {
            server_batch: k,
            ..base()
        };
        let predicted = p.predict(&offload, &e).server;
        assert!((costs.tail_time_us(&offload, k) - predicted).abs() < 1e-6 * predicted);
    }
    assert_eq!(costs.tail_time_us(&p.full_local().head, 4.0), 0.0);
}

#[test]
fn encodings_are_planned_per_bandwidth() {
    // Fixture codec: ratio 3, 2 ns per byte to compress and 1 to decompress; a tighter level
    // at ratio 4.5 costs 20 and 1.2. On a device 4x slower, per quantized byte: plain costs the
    // transfer t; the default 9 + t/3; the tighter 81.2 + t/4.5. So at 5 Mbit/s (t = 1600 ns)
    // the tighter level pays, at 100 Mbit/s (t = 80) the default, at 1 Gbit/s (t = 8) nothing.
    let p = planner_with_tighter(synth::resnet50_like());
    let cut = p
        .candidates()
        .map(|c| c.cut.clone())
        .find(|c| !c.is_full_local() && c.sent_tensors(p.dag()).next().is_some())
        .unwrap();
    let at = |mbit: f64| Estimate {
        device_slowdown: 4.0,
        ..Estimate::idle(mbit * 125_000.0)
    };
    let tight = TensorEncoding::Tighter {
        bits: 6,
        zstd_level: 9,
    };
    for (mbit, want) in [
        (5.0, tight),
        (100.0, TensorEncoding::Compressed),
        (1000.0, TensorEncoding::Uncompressed),
    ] {
        let plan = p.encoding_plan(&cut, &at(mbit));
        assert!(!plan.is_empty());
        assert!(
            plan.iter().all(|(_, e)| *e == want),
            "{mbit} Mbit/s: {plan:?}"
        );
    }
    // The prediction prices what the plan says: less upload for more encoding time as the
    // link slows, and no compression time at 1 Gbit/s.
    let bytes = |mbit: f64| {
        let b = p.predict(&cut.head, &at(mbit));
        (b.upload * mbit / 8.0, b.encode)
    };
    let (slow_bytes, slow_encode) = bytes(5.0);
    let (mid_bytes, mid_encode) = bytes(100.0);
    let (fast_bytes, fast_encode) = bytes(1000.0);
    assert!(slow_bytes < mid_bytes && mid_bytes < fast_bytes);
    assert!(slow_encode > mid_encode && mid_encode > fast_encode);
    // Without tighter levels the slow link gets the default compression.
    let plain = planner(synth::resnet50_like(), true);
    let plan = plain.encoding_plan(&cut, &at(5.0));
    assert!(plan.iter().all(|(_, e)| *e == TensorEncoding::Compressed));
}
