use std::time::{Duration, Instant};

use loadpart_cuts::CutId;

use super::*;

fn key(model: &str, cut: &str) -> BatchKey {
    BatchKey {
        model: model.into(),
        cut: CutId::from_names([cut]),
        sample_shapes: vec![vec![4]],
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Observes the same time often enough that the deviation has died out.
fn settle(
    t: &mut BatchTimes,
    k: &BatchKey,
    rows: usize,
    d: Duration,
    profiled: Option<f64>,
    now: Instant,
) {
    for _ in 0..200 {
        t.observe(k, rows, d, d, profiled, now);
    }
}

/// `a` within 0.1% of `b`.
fn close(a: Option<Duration>, b: Duration) -> bool {
    a.is_some_and(|a| (a.as_secs_f64() - b.as_secs_f64()).abs() <= 1e-3 * b.as_secs_f64())
}

#[test]
fn no_data_no_prediction_no_refusal() {
    let t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    assert_eq!(t.estimate(&key("m", "a"), 1, None, now), None);
    // Without a prediction nothing is refused, however close the deadline.
    assert!(!misses_deadline(now, Some(now), None));
    // Without a deadline nothing is refused, however long the prediction.
    assert!(!misses_deadline(now, None, Some(ms(1_000_000))));
}

#[test]
fn measured_times_by_rows() {
    let mut t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    let k = key("m", "a");
    settle(&mut t, &k, 2, ms(10), None, now);
    settle(&mut t, &k, 8, ms(40), None, now);
    assert!(close(t.estimate(&k, 2, None, now), ms(10)));
    // A smaller or in-between batch takes the next larger measured size's time.
    assert!(close(t.estimate(&k, 1, None, now), ms(10)));
    assert!(close(t.estimate(&k, 4, None, now), ms(40)));
    // Beyond the largest measured size: scaled linearly.
    assert!(close(t.estimate(&k, 16, None, now), ms(80)));
    // Another cut of the same model has no data.
    assert_eq!(t.estimate(&key("m", "b"), 2, None, now), None);
}

#[test]
fn moving_average_follows_new_measurements() {
    let mut t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    let k = key("m", "a");
    t.observe(&k, 1, ms(100), ms(100), None, now);
    settle(&mut t, &k, 1, ms(10), None, now);
    assert!(close(t.estimate(&k, 1, None, now), ms(10)));
}

#[test]
fn spread_makes_predictions_pessimistic() {
    let mut t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    let k = key("m", "a");
    // A single sample: its spread is unknown, so the prediction is well above it.
    t.observe(&k, 1, ms(10), ms(10), None, now);
    assert!(close(t.estimate(&k, 1, None, now), ms(20)));
    // Alternating 8 and 12 ms: above the 10 ms mean, below the single-sample guess.
    for i in 0..200 {
        let d = if i % 2 == 0 { ms(8) } else { ms(12) };
        t.observe(&k, 1, d, d, None, now);
    }
    let e = t.estimate(&k, 1, None, now).unwrap();
    assert!(e > ms(12) && e < ms(16), "{e:?}");
}

#[test]
fn stale_measurements_count_as_no_data() {
    let mut t = BatchTimes::new(ms(1000));
    let t0 = Instant::now();
    let k = key("m", "a");
    t.observe(&k, 1, ms(500), ms(500), Some(100.0), t0);
    assert!(t.estimate(&k, 1, None, t0 + ms(999)).is_some());
    assert_eq!(t.estimate(&k, 1, None, t0 + ms(1000)), None);
    // A profile still predicts, with the stale slowdown forgotten (1).
    assert_eq!(t.estimate(&k, 1, Some(2000.0), t0 + ms(1000)), Some(ms(2)));
}

#[test]
fn profile_times_the_recent_slowdown() {
    let mut t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    let k = key("m", "a");
    // No measurement yet: the profile as is.
    assert_eq!(t.estimate(&k, 4, Some(5000.0), now), Some(ms(5)));
    // Batches run twice as slow as profiled (any cut of the model): predictions double.
    for _ in 0..200 {
        t.observe(&key("m", "b"), 1, ms(5), ms(4), Some(2000.0), now);
    }
    assert!(close(t.estimate(&k, 4, Some(5000.0), now), ms(10)));
    // Another model's slowdown is its own.
    assert_eq!(
        t.estimate(&key("n", "a"), 4, Some(5000.0), now),
        Some(ms(5))
    );
    // A bad profiled time is ignored, not a prediction of zero.
    assert_eq!(t.estimate(&key("x", "a"), 1, Some(f64::NAN), now), None);
    assert_eq!(t.estimate(&key("x", "a"), 1, Some(0.0), now), None);
}

#[test]
fn list_scheduling_over_executors() {
    // One executor: everything in sequence after the running batch.
    assert_eq!(predict_finish(&[ms(5)], &[ms(10), ms(10)], 1), ms(25));
    // Two executors, both idle: two batches side by side, the third after the first.
    assert_eq!(predict_finish(&[], &[ms(10), ms(10), ms(10)], 2), ms(20));
    // Two executors, one busy for 30 ms: the idle one takes both.
    assert_eq!(predict_finish(&[ms(30)], &[ms(10), ms(10)], 2), ms(20));
    // Nothing ahead but the request's own batch on an idle executor.
    assert_eq!(predict_finish(&[], &[ms(7)], 4), ms(7));
    // Zero executors is taken as one.
    assert_eq!(predict_finish(&[], &[ms(7), ms(1)], 0), ms(8));
}

#[test]
fn refuses_what_ends_in_the_headroom_or_after_the_deadline() {
    let now = Instant::now();
    let deadline = Some(now + ms(100));
    assert!(!misses_deadline(now, deadline, Some(ms(89))));
    assert!(!misses_deadline(now, deadline, Some(ms(90))));
    assert!(misses_deadline(now, deadline, Some(ms(91))));
    assert!(misses_deadline(now, deadline, Some(ms(101))));
    // An already passed deadline is missed by any prediction.
    assert!(misses_deadline(
        now + ms(200),
        deadline,
        Some(Duration::ZERO)
    ));
}

#[test]
fn the_backlog_is_when_an_executor_first_frees_after_the_queue_has_started() {
    let ms = Duration::from_millis;
    // Idle: no wait.
    assert_eq!(predict_start(&[], &[], 2), Duration::ZERO);
    // One executor busy for 30 ms more, two 50 ms batches queued: 130 ms.
    assert_eq!(predict_start(&[ms(30)], &[ms(50), ms(50)], 1), ms(130));
    // Two executors: one frees at 30, the other is idle; the queued batches start at 0 and 30
    // and end at 50 and 80, so a new batch starts at 50.
    assert_eq!(predict_start(&[ms(30)], &[ms(50), ms(50)], 2), ms(50));
}

#[test]
fn a_forming_batch_is_expected_to_leave_as_large_as_its_keys_usual_batch() {
    let (input, r3) = (key("m", "input"), key("m", "r3"));
    let usual = |k: &BatchKey| (k.cut.as_str() == "input").then_some(5.6);
    // Two input batches (the first full), then one request at r3.
    let queued = [(input.clone(), 8), (input.clone(), 2), (r3.clone(), 1)];
    assert_eq!(expected_leave_rows(&queued, usual, 8), vec![8, 6, 1]);
    // Never fewer rows than it has, never more than the largest batch.
    let big = [(input.clone(), 7)];
    assert_eq!(expected_leave_rows(&big, usual, 8), vec![7]);
    assert_eq!(expected_leave_rows(&big, |_| Some(40.0), 8), vec![8]);
    // A usual size that is not a positive number says nothing.
    for bad in [f64::NAN, f64::INFINITY, -3.0, 0.0] {
        assert_eq!(
            expected_leave_rows(&queued, |_| Some(bad), 8),
            vec![8, 2, 1]
        );
    }
    assert!(expected_leave_rows::<BatchKey>(&[], usual, 8).is_empty());
}
