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
    t.observe(&k, 2, ms(10), ms(10), None, now);
    t.observe(&k, 8, ms(40), ms(40), None, now);
    assert_eq!(t.estimate(&k, 2, None, now), Some(ms(10)));
    // A smaller or in-between batch takes the next larger measured size's time.
    assert_eq!(t.estimate(&k, 1, None, now), Some(ms(10)));
    assert_eq!(t.estimate(&k, 4, None, now), Some(ms(40)));
    // Beyond the largest measured size: scaled linearly.
    let e = t.estimate(&k, 16, None, now).unwrap();
    assert!((e.as_secs_f64() - 0.080).abs() < 1e-9, "{e:?}");
    // Another cut of the same model has no data.
    assert_eq!(t.estimate(&key("m", "b"), 2, None, now), None);
}

#[test]
fn moving_average_follows_new_measurements() {
    let mut t = BatchTimes::new(ms(10_000));
    let now = Instant::now();
    let k = key("m", "a");
    t.observe(&k, 1, ms(100), ms(100), None, now);
    for _ in 0..30 {
        t.observe(&k, 1, ms(10), ms(10), None, now);
    }
    let e = t.estimate(&k, 1, None, now).unwrap();
    assert!(e < ms(11) && e >= ms(10), "{e:?}");
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
    t.observe(&key("m", "b"), 1, ms(5), ms(4), Some(2000.0), now);
    assert_eq!(t.estimate(&k, 4, Some(5000.0), now), Some(ms(10)));
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
fn refuses_only_what_ends_after_the_deadline() {
    let now = Instant::now();
    let deadline = Some(now + ms(100));
    assert!(!misses_deadline(now, deadline, Some(ms(99))));
    assert!(!misses_deadline(now, deadline, Some(ms(100))));
    assert!(misses_deadline(now, deadline, Some(ms(101))));
    // An already passed deadline is missed by any prediction.
    assert!(misses_deadline(
        now + ms(200),
        deadline,
        Some(Duration::ZERO)
    ));
}
