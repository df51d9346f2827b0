use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::estimate::{CutLoad, Direction, LoadSample, Offload};

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn estimator() -> Estimator {
    Estimator::new(EstimatorConfig::default()).unwrap()
}

fn load(queue_us: f64, slowdown: f64, batch: f64) -> LoadSample {
    LoadSample {
        window_s: 5.0,
        queue_wait_mean_us: queue_us,
        slowdown,
        mean_batch_size: batch,
        ..LoadSample::default()
    }
}

#[test]
fn unknown_estimates_plan_with_the_fallbacks() {
    let t0 = Instant::now();
    let e = estimator();
    let fb = Fallbacks::default();
    let plan = e.to_plan_estimate(t0, &fb);
    assert_eq!(
        plan,
        Estimate {
            uplink_bytes_per_s: fb.uplink_bytes_per_s,
            downlink_bytes_per_s: fb.downlink_bytes_per_s,
            rtt_us: fb.rtt_us,
            queue_us: fb.queue_us,
            server_slowdown: fb.server_slowdown,
            server_batch: fb.server_batch,
            device_slowdown: 1.0,
        }
    );
    assert_eq!(e.needs_probe(t0), Some(Probe::Rtt));
    assert!(e.needs_load_poll(t0));
}

#[test]
fn fresh_estimates_are_used_and_stale_ones_slide_to_the_fallbacks() {
    let t0 = Instant::now();
    let mut e = Estimator::new(EstimatorConfig {
        device_slowdown: 4.0,
        ..EstimatorConfig::default()
    })
    .unwrap();
    e.link.observe_rtt(10 * MS, t0).unwrap();
    // 1 MB in 1 s after the RTT: 1 MB/s each way.
    for d in [Direction::Up, Direction::Down] {
        e.link.observe_probe(d, 1_000_000, 1010 * MS, t0).unwrap();
    }
    e.load.observe_report(&load(0.0, 1.0, 0.0), t0).unwrap();
    let fresh = e.to_plan_estimate(t0 + S, &Fallbacks::default());
    assert!((fresh.uplink_bytes_per_s - 1e6).abs() < 1e-6);
    assert!((fresh.rtt_us - 10_000.0).abs() < 1e-6);
    assert_eq!(
        (fresh.queue_us, fresh.server_slowdown, fresh.server_batch),
        (0.0, 1.0, 1.0)
    );
    assert_eq!(fresh.device_slowdown, 4.0);

    // 6 s later the idle load is stale (max age 2 s, forgotten at 10 s): halfway to the
    // fallbacks. The link (max age 10 s) is still fresh.
    let stale = e.to_plan_estimate(t0 + 6 * S, &Fallbacks::default());
    assert!(
        (stale.queue_us - 50_000.0).abs() < 1e-6,
        "{}",
        stale.queue_us
    );
    assert!((stale.server_slowdown - 1.5).abs() < 1e-9);
    assert_eq!(stale.uplink_bytes_per_s, fresh.uplink_bytes_per_s);
    // 35 s later the link is halfway through its stale period (10 s to 60 s) and the load is
    // unknown.
    let old = e.to_plan_estimate(t0 + 35 * S, &Fallbacks::default());
    assert!((old.uplink_bytes_per_s - (1e6 + 125_000.0) / 2.0).abs() < 1e-6);
    assert!((old.rtt_us - (10_000.0 + 100_000.0) / 2.0).abs() < 1e-6);
    assert_eq!(old.queue_us, 100_000.0);
    assert_eq!(
        e.estimate(t0 + 35 * S).uplink_bytes_per_s,
        Reading::Stale(1e6, 35 * S)
    );
}

#[test]
fn bad_fallbacks_and_settings_are_not_trusted() {
    let t0 = Instant::now();
    let garbage = Fallbacks(Estimate {
        uplink_bytes_per_s: f64::NAN,
        downlink_bytes_per_s: 0.0,
        rtt_us: -1.0,
        queue_us: f64::INFINITY,
        server_slowdown: -2.0,
        server_batch: 0.5,
        device_slowdown: f64::NAN,
    });
    assert_eq!(garbage.sanitized(), Fallbacks::default());
    let plan = estimator().to_plan_estimate(t0, &garbage);
    assert_eq!(
        plan.uplink_bytes_per_s,
        Fallbacks::default().uplink_bytes_per_s
    );
    for device_slowdown in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let config = EstimatorConfig {
            device_slowdown,
            ..EstimatorConfig::default()
        };
        assert!(Estimator::new(config).is_err());
    }
}

/// Any f64 a broken server or clock might produce, and ordinary ones.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-1.0),
        Just(1e300),
        any::<f64>(),
        0.0..1e7,
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Rtt(u64),
    Probe(bool, u64, u64),
    Offload(u64, u64, u64, f64),
    Report(f64, f64, f64, f64),
    /// Backlog now, backlog mean, and per-cut entries (cut index, requests, batch, wait).
    CutReport(f64, f64, Vec<(u8, u64, f64, f64)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..2_000_000).prop_map(Op::Rtt),
        (any::<bool>(), 0u64..100_000_000, 0u64..10_000_000)
            .prop_map(|(up, b, us)| Op::Probe(up, b, us)),
        (0u64..10_000_000, 0u64..10_000_000, 0u64..10_000_000, wild())
            .prop_map(|(s, r, us, server)| Op::Offload(s, r, us, server)),
        (wild(), wild(), wild(), wild()).prop_map(|(q, f, k, w)| Op::Report(q, f, k, w)),
        (
            wild(),
            wild(),
            prop::collection::vec((0u8..4, any::<u64>(), wild(), wild()), 0..4)
        )
            .prop_map(|(b, m, cuts)| Op::CutReport(b, m, cuts)),
    ]
}

fn fallbacks() -> impl Strategy<Value = Fallbacks> {
    (wild(), wild(), wild(), wild(), wild(), wild()).prop_map(|(u, d, r, q, f, k)| {
        Fallbacks(Estimate {
            uplink_bytes_per_s: u,
            downlink_bytes_per_s: d,
            rtt_us: r,
            queue_us: q,
            server_slowdown: f,
            server_batch: k,
            device_slowdown: 1.0,
        })
    })
}

proptest! {
    #[test]
    fn plan_estimates_are_never_nan_or_negative(
        ops in prop::collection::vec((op(), 0u64..20_000), 0..40),
        read_after_ms in 0u64..120_000,
        fb in fallbacks(),
    ) {
        let t0 = Instant::now();
        let mut e = estimator();
        let mut now = t0;
        for (op, step_ms) in ops {
            now += Duration::from_millis(step_ms);
            // Refusals are expected here; only the result below matters.
            let _ = match op {
                Op::Rtt(us) => e.link.observe_rtt(Duration::from_micros(us), now).map(drop),
                Op::Probe(up, bytes, us) => {
                    let d = if up { Direction::Up } else { Direction::Down };
                    e.link.observe_probe(d, bytes, Duration::from_micros(us), now).map(drop)
                }
                Op::Offload(sent, received, us, server) => e
                    .link
                    .observe_offload(&Offload {
                        sent_bytes: sent,
                        received_bytes: received,
                        total_elapsed: Duration::from_micros(us),
                        server_time_us: server,
                        now,
                    })
                    .map(drop),
                Op::Report(q, f, k, w) => {
                    let mut r = load(q, f, k);
                    r.window_s = w;
                    e.load.observe_report(&r, now)
                }
                Op::CutReport(b, m, cuts) => e.load.observe_report(&cut_report(b, m, &cuts), now),
            };
        }
        let p = e.to_plan_estimate(now + Duration::from_millis(read_after_ms), &fb);
        for (name, v) in [
            ("uplink", p.uplink_bytes_per_s),
            ("downlink", p.downlink_bytes_per_s),
            ("rtt", p.rtt_us),
            ("queue", p.queue_us),
            ("slowdown", p.server_slowdown),
            ("batch", p.server_batch),
            ("device", p.device_slowdown),
        ] {
            prop_assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
        }
        prop_assert!(p.uplink_bytes_per_s > 0.0 && p.downlink_bytes_per_s > 0.0);
        prop_assert!(p.server_slowdown > 0.0 && p.server_batch >= 1.0);
    }
}

/// The cuts a hostile report names (one of them never).
const CUTS: [&str; 4] = ["input", "r3", "r7", "r9"];

/// A report with ordinary server-wide figures and wild backlog and per-cut ones.
fn cut_report(backlog: f64, backlog_mean: f64, cuts: &[(u8, u64, f64, f64)]) -> LoadSample {
    LoadSample {
        backlog_us: Some(backlog),
        backlog_mean_us: Some(backlog_mean),
        cut_batches: Some(
            cuts.iter()
                .map(|&(i, requests, batch, wait)| CutLoad {
                    cut_id: CUTS[usize::from(i) % (CUTS.len() - 1)].to_string(),
                    requests,
                    mean_batch_size: batch,
                    queue_wait_mean_us: wait,
                })
                .collect(),
        ),
        ..load(10_000.0, 1.0, 1.0)
    }
}

proptest! {
    /// What the planner reads per cut from a broken or malicious server's reports (NaN,
    /// infinities, negative or absurd backlogs, batches, waits and request counts) is a finite
    /// batch of at least 1, a finite non-negative wait, a backlog share in [0, 1] and a finite
    /// queue outlook, or nothing.
    #[test]
    fn per_cut_figures_from_hostile_reports_stay_in_range(
        reports in prop::collection::vec(
            (wild(), wild(), prop::collection::vec((0u8..4, any::<u64>(), wild(), wild()), 0..4)),
            1..8,
        ),
        read_after_ms in 0u64..3_000,
    ) {
        let t0 = Instant::now();
        let mut e = estimator();
        let mut now = t0;
        for (b, m, cuts) in &reports {
            // Refusals are expected here; only what is read below matters.
            let _ = e.load.observe_report(&cut_report(*b, *m, cuts), now);
            now += 100 * MS;
        }
        let at = now + Duration::from_millis(read_after_ms);
        let batches = e.load.cut_batches(at);
        let waits = e.load.cut_waits(at);
        for cut in CUTS {
            if let Some(k) = batches.get(cut) {
                prop_assert!(k.is_finite() && k >= 1.0, "{cut}: batch {k}");
            }
            if let Some(w) = waits.get(cut) {
                prop_assert!(w.is_finite() && w >= 0.0, "{cut}: wait {w}");
            }
            if let Some(s) = waits.backlog_share(cut) {
                prop_assert!((0.0..=1.0).contains(&s), "{cut}: share {s}");
            }
        }
        if let Some(q) = e.load.queue_outlook(at) {
            for v in [q.now_us, q.mean_us, q.memory_us] {
                prop_assert!(v.is_finite() && v >= 0.0, "{q:?}");
            }
        }
    }
}
