use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn us_(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn window(t0: Instant) -> LoadWindow {
    LoadWindow::new(Duration::from_secs(10), t0).unwrap()
}

#[test]
fn a_zero_span_is_refused() {
    let err = LoadWindow::new(Duration::ZERO, Instant::now()).unwrap_err();
    assert_eq!(err, SchedError::ZeroLimit { name: "window" });
}

#[test]
fn an_empty_window_is_defined() {
    let t0 = Instant::now();
    let mut w = window(t0);
    let idle = |window_s| LoadSnapshot {
        window_s,
        queue_wait_mean_us: 0.0,
        queue_wait_p95_us: 0.0,
        slowdown: 1.0,
        requests_per_s: 0.0,
        batch_mix: vec![],
        mean_batch_size: 0.0,
        rejected_samples: 0,
        cut_batches: vec![],
    };
    assert_eq!(w.snapshot(t0), idle(0.0));
    assert_eq!(w.snapshot(t0 + secs(3.0)), idle(3.0));
    assert_eq!(w.snapshot(t0 + secs(25.0)), idle(10.0));
}

#[test]
fn each_cut_reports_the_batch_its_requests_ran_in_and_their_wait() {
    // The whole input runs in batches of 3 (three requests each see 3 rows), r3 alone; the mean
    // is over requests, so one lone request at the input does not halve its figure. The input's
    // requests joined batches (5 µs); r3's queued behind them (90 µs), and the server-wide mean
    // (22 µs) would price it at a quarter of that.
    let t0 = Instant::now();
    let mut w = window(t0);
    let input = CutId::from_names(["data"]);
    let r3 = CutId::from_names(["r3"]);
    for i in 0..3 {
        w.record_request_at(t0 + secs(0.1 * i as f64), us_(5), &input, 3);
    }
    w.record_request_at(t0 + secs(0.5), us_(5), &input, 1);
    w.record_request_at(t0 + secs(0.6), us_(90), &r3, 1);
    let s = w.snapshot(t0 + secs(1.0));
    assert_eq!(s.cut_batches.len(), 2);
    let of = |c: &CutId| s.cut_batches.iter().find(|b| &b.cut == c).unwrap().clone();
    assert_eq!(of(&input).requests, 4);
    assert!((of(&input).mean_batch_rows - 2.5).abs() < 1e-12);
    assert_eq!(of(&r3).requests, 1);
    assert_eq!(of(&r3).mean_batch_rows, 1.0);
    assert!((of(&input).queue_wait_mean_us - 5.0).abs() < 1e-9);
    assert!((of(&r3).queue_wait_mean_us - 90.0).abs() < 1e-9);
    assert!((s.queue_wait_mean_us - 22.0).abs() < 1e-9);
    assert_eq!(s.requests_per_s, 5.0, "requests at cuts count as requests");
    // Past the window (10 s) every cut is forgotten: a cut not listed ran nothing.
    assert!(w.snapshot(t0 + secs(11.0)).cut_batches.is_empty());
}

/// One second of steady traffic ending at `t0 + end_s`: 10 requests waiting `wait`, and 5
/// batches of 2 rows, each measured at `factor` times its profiled 1000 µs.
fn traffic(w: &mut LoadWindow, t0: Instant, end_s: u64, wait: Duration, factor: u64) {
    for i in 0..10 {
        let at = t0 + Duration::from_millis((end_s - 1) * 1000 + 50 + i * 100);
        w.record_request(at, wait);
        if i % 2 == 0 {
            w.record_batch(at, 2, us_(1000 * factor), 1000.0);
        }
    }
}

#[test]
fn a_load_step_rises_then_falls_back_as_the_window_slides() {
    let t0 = Instant::now();
    let mut w = window(t0);
    for s in 1..=10 {
        traffic(&mut w, t0, s, us_(100), 1);
    }
    let light = w.snapshot(t0 + secs(10.0));
    assert_eq!((light.queue_wait_mean_us, light.slowdown), (100.0, 1.0));
    assert_eq!((light.requests_per_s, light.mean_batch_size), (10.0, 2.0));

    for s in 11..=20 {
        traffic(&mut w, t0, s, us_(5000), 3);
    }
    let heavy = w.snapshot(t0 + secs(20.0));
    assert_eq!((heavy.queue_wait_mean_us, heavy.slowdown), (5000.0, 3.0));
    assert_eq!(heavy.queue_wait_p95_us, 5000.0);

    for s in 21..=25 {
        traffic(&mut w, t0, s, us_(100), 1);
    }
    let mixed = w.snapshot(t0 + secs(25.0));
    assert!(mixed.slowdown > 1.0 && mixed.slowdown < 3.0, "{mixed:?}");
    assert!(mixed.queue_wait_mean_us > 100.0 && mixed.queue_wait_mean_us < 5000.0);

    for s in 26..=30 {
        traffic(&mut w, t0, s, us_(100), 1);
    }
    let back = w.snapshot(t0 + secs(30.0));
    assert_eq!((back.queue_wait_mean_us, back.slowdown), (100.0, 1.0));

    let idle = w.snapshot(t0 + secs(45.0));
    assert_eq!(
        (idle.queue_wait_mean_us, idle.slowdown, idle.requests_per_s),
        (0.0, 1.0, 0.0)
    );
    assert!(idle.batch_mix.is_empty());
}

#[test]
fn p95_is_the_nearest_rank() {
    let cases: &[(&[u64], f64)] = &[
        (&[7], 7.0),
        (&[3, 1, 2], 3.0),
        (&[5; 4], 5.0),
        (
            &[
                20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1,
            ],
            19.0,
        ),
    ];
    for (waits, want) in cases {
        let t0 = Instant::now();
        let mut w = window(t0);
        for &x in *waits {
            w.record_request(t0, us_(x));
        }
        assert_eq!(w.snapshot(t0).queue_wait_p95_us, *want, "{waits:?}");
    }
    let t0 = Instant::now();
    let mut w = window(t0);
    for x in (1..=100).rev() {
        w.record_request(t0, us_(x));
    }
    let s = w.snapshot(t0);
    assert_eq!((s.queue_wait_p95_us, s.queue_wait_mean_us), (95.0, 50.5));
}

#[test]
fn bad_samples_are_ignored_and_counted() {
    let t0 = Instant::now();
    let mut w = window(t0);
    w.record_batch(t0, 4, us_(2000), 1000.0);
    for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY] {
        w.record_batch(t0, 4, us_(1), bad);
    }
    w.record_batch(t0, 0, us_(1), 10.0);
    let s = w.snapshot(t0 + secs(1.0));
    assert_eq!(
        (s.slowdown, s.rejected_samples, s.batch_mix),
        (2.0, 5, vec![(4, 1)])
    );
    assert_eq!(w.rejected_samples(), 5);
}

#[test]
fn slowdown_is_one_without_a_profile_and_clamped_near_zero() {
    let t0 = Instant::now();
    let mut w = window(t0);
    w.record_batch(t0, 1, us_(500), 0.0);
    assert_eq!(w.snapshot(t0).slowdown, 1.0);
    w.record_batch(t0, 1, Duration::from_secs(1), f64::MIN_POSITIVE);
    assert_eq!(w.snapshot(t0).slowdown, MAX_SLOWDOWN);
}

#[test]
fn batch_mix_and_mean_batch_size() {
    let t0 = Instant::now();
    let mut w = window(t0);
    for rows in [4, 1, 4, 2, 4, 1] {
        w.record_batch(t0, rows, us_(10), 10.0);
    }
    let s = w.snapshot(t0);
    assert_eq!(s.batch_mix, vec![(1, 2), (2, 1), (4, 3)]);
    assert_eq!(s.mean_batch_size, 16.0 / 6.0);
}

#[test]
fn request_rate_covers_only_the_time_since_start_at_first() {
    let t0 = Instant::now();
    let mut w = window(t0);
    for i in 0..10 {
        w.record_request(t0 + secs(0.2 * i as f64), us_(1));
    }
    let s = w.snapshot(t0 + secs(2.0));
    assert_eq!((s.window_s, s.requests_per_s), (2.0, 5.0));
}

#[test]
fn a_time_earlier_than_the_last_is_taken_as_the_last() {
    let t0 = Instant::now();
    let mut w = window(t0);
    w.record_request(t0 + secs(5.0), us_(10));
    w.record_request(t0 + secs(1.0), us_(30));
    // Both count as recorded at 5 s, so both leave the window at 15 s, not before.
    assert_eq!(w.snapshot(t0 + secs(14.9)).queue_wait_mean_us, 20.0);
    assert_eq!(w.snapshot(t0 + secs(3.0)).queue_wait_mean_us, 20.0);
    assert_eq!(w.snapshot(t0 + secs(15.0)).queue_wait_mean_us, 0.0);
}

#[derive(Debug, Clone)]
enum Op {
    Request(u64),
    Batch {
        rows: usize,
        measured_us: u64,
        profiled_us: f64,
    },
    Advance(u64),
    Back(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..u64::MAX).prop_map(Op::Request),
        (0usize..9, 0u64..u64::MAX, any::<f64>()).prop_map(|(rows, measured_us, profiled_us)| {
            Op::Batch {
                rows,
                measured_us,
                profiled_us,
            }
        }),
        (
            0usize..9,
            0u64..10_000,
            prop_oneof![Just(0.0), Just(f64::MIN_POSITIVE), Just(1e300), 0.0..1e7]
        )
            .prop_map(|(rows, measured_us, profiled_us)| Op::Batch {
                rows,
                measured_us,
                profiled_us
            }),
        (0u64..30_000).prop_map(Op::Advance),
        (0u64..5_000).prop_map(Op::Back),
    ]
}

proptest! {
    /// Whatever is recorded, every figure of every snapshot is finite and in range.
    #[test]
    fn every_field_is_always_finite(ops in proptest::collection::vec(op(), 0..80)) {
        let t0 = Instant::now();
        let mut now = t0 + Duration::from_secs(10);
        let mut w = window(t0);
        for op in ops {
            match op {
                Op::Request(wait) => w.record_request(now, us_(wait)),
                Op::Batch { rows, measured_us, profiled_us } => {
                    w.record_batch(now, rows, us_(measured_us), profiled_us)
                }
                Op::Advance(ms) => now += Duration::from_millis(ms),
                Op::Back(ms) => now -= Duration::from_millis(ms),
            }
            let s = w.snapshot(now);
            for (name, v) in [
                ("window_s", s.window_s),
                ("queue_wait_mean_us", s.queue_wait_mean_us),
                ("queue_wait_p95_us", s.queue_wait_p95_us),
                ("slowdown", s.slowdown),
                ("requests_per_s", s.requests_per_s),
                ("mean_batch_size", s.mean_batch_size),
            ] {
                prop_assert!(v.is_finite() && v >= 0.0, "{} = {} in {:?}", name, v, s);
            }
            prop_assert!(s.slowdown <= MAX_SLOWDOWN);
            prop_assert!(s.window_s <= 10.0);
            prop_assert!(s.batch_mix.iter().all(|&(rows, n)| rows >= 1 && n >= 1));
        }
    }
}
