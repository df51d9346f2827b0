//! Figures from a broken or malicious server (or a broken clock) cannot make the planner panic,
//! predict NaN, or choose an offload it predicts slower than running locally.

use crate::fixtures::planner;
use loadpart_cuts::CutId;
use loadpart_plan::{Estimate, OffloadRisk, PerCut, PolicyKind, QueueOutlook, synth};
use proptest::prelude::*;

/// Any f64 a broken server might send, and ordinary ones.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-1.0),
        Just(1e-300),
        Just(1e300),
        Just(f64::MAX),
        any::<f64>(),
        0.0..1e7,
    ]
}

fn estimate() -> impl Strategy<Value = Estimate> {
    (wild(), wild(), wild(), wild(), wild(), wild()).prop_map(|(u, d, r, q, f, k)| Estimate {
        uplink_bytes_per_s: u,
        downlink_bytes_per_s: d,
        rtt_us: r,
        queue_us: q,
        server_slowdown: f,
        server_batch: k,
        device_slowdown: 1.0,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_figures_never_beat_local_on_paper(
        e in estimate(),
        (now, mean, memory) in (wild(), wild(), wild()),
        (batch, wait, share) in (wild(), wild(), wild()),
        (miss_rate, miss_wait) in (wild(), wild()),
    ) {
        let p = planner(synth::resnet50_like(), true);
        let batch_of = |_: &CutId| Some(batch);
        let wait_of = |_: &CutId| Some(wait);
        let share_of = |_: &CutId| Some(share);
        let per_cut = PerCut {
            batch_of: &batch_of,
            queue: Some(QueueOutlook { now_us: now, mean_us: mean, memory_us: memory }),
            wait_of: &wait_of,
            backlog_share_of: &share_of,
            risk: Some(OffloadRisk { miss_rate, miss_wait_us: miss_wait }),
        };
        let local = PolicyKind::Local.build(p.clone()).unwrap().decide(&e.into());
        let local_us = local.predicted.total();
        prop_assert!(local_us.is_finite() && local_us > 0.0, "{local_us}");
        for kind in [
            PolicyKind::Loadpart,
            PolicyKind::LoadpartNoRisk,
            PolicyKind::Oracle,
            PolicyKind::NeurosurgeonRisk,
            PolicyKind::Neurosurgeon,
            PolicyKind::LoadpartOriginal,
            PolicyKind::Server,
        ] {
            let policy = kind.build(p.clone()).unwrap();
            let d = policy.decide_per_cut(&e.into(), &per_cut);
            let t = d.predicted.total();
            prop_assert!(!t.is_nan() && !d.objective_us.is_nan(), "{kind:?}: {:?}", d.predicted);
            // The policies that weigh local against offloading never pick an offload they
            // predict slower: a hostile report can at worst keep a device local.
            let weighs_local = matches!(
                kind,
                PolicyKind::Loadpart | PolicyKind::LoadpartNoRisk | PolicyKind::Oracle
            );
            if weighs_local && !d.cut.is_full_local() {
                prop_assert!(
                    t <= local_us * (1.0 + 1e-9),
                    "{kind:?} offloads at {} predicted {t} against local {local_us}",
                    d.cut.id(p.dag())
                );
            }
        }
    }
}

#[test]
fn an_absurd_queue_keeps_a_device_local() {
    let p = planner(synth::resnet50_like(), true);
    let lp = PolicyKind::Loadpart.build(p.clone()).unwrap();
    for q in [1e12, 1e300, f64::MAX, f64::INFINITY, f64::NAN] {
        let e = Estimate {
            queue_us: q,
            ..Estimate::idle(1e9)
        };
        let outlook = QueueOutlook {
            now_us: q,
            mean_us: q,
            memory_us: 250_000.0,
        };
        let per_cut = PerCut {
            queue: Some(outlook),
            ..PerCut::NONE
        };
        for d in [lp.decide(&e.into()), lp.decide_per_cut(&e.into(), &per_cut)] {
            assert!(d.cut.is_full_local(), "queue {q}: {}", d.cut.id(p.dag()));
        }
    }
}
