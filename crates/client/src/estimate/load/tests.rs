use super::*;

const MS: Duration = Duration::from_millis(1);

fn report(queue_us: f64, slowdown: f64, batch: f64) -> LoadSample {
    LoadSample {
        window_s: 5.0,
        queue_wait_mean_us: queue_us,
        queue_wait_p95_us: 2.0 * queue_us,
        slowdown,
        mean_batch_size: batch,
        queue_length: 3,
        ..LoadSample::default()
    }
}

fn value(r: Reading) -> f64 {
    r.value().expect("a known estimate")
}

#[test]
fn load_step_converges_within_three_half_lives() {
    // Half-life 1 s, a report every 200 ms (the watch stream). Idle for 10 s, then loaded.
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    let mut now = t0;
    for _ in 0..50 {
        l.observe_report(&report(0.0, 1.0, 0.0), now).unwrap();
        now += 200 * MS;
    }
    let idle = l.estimate(now);
    assert_eq!(idle.queue_us, Reading::Fresh(0.0));
    assert_eq!(idle.server_slowdown, Reading::Fresh(1.0));
    assert_eq!(
        idle.server_batch,
        Reading::Fresh(1.0),
        "an empty window counts as 1"
    );

    // 40 ms of queueing, slowdown 2, batches of 4. After three half-lives (15 reports) at most
    // 2^-3 of the weight is from before the step.
    for _ in 0..15 {
        l.observe_report(&report(40_000.0, 2.0, 4.0), now).unwrap();
        now += 200 * MS;
    }
    let loaded = l.estimate(now);
    let q = value(loaded.queue_us);
    assert!(q > 40_000.0 * (1.0 - 0.13) && q < 40_000.0, "{q}");
    let f = value(loaded.server_slowdown);
    assert!(f > 2.0 - 0.13 && f < 2.0, "{f}");
    let k = value(loaded.server_batch);
    assert!(k > 4.0 - 3.0 * 0.13 && k < 4.0, "{k}");
    assert!(loaded.queue_us.is_fresh());
}

#[test]
fn a_silent_server_goes_stale_then_unknown() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    assert!(l.needs_load_poll(t0));
    assert_eq!(l.estimate(t0).queue_us, Reading::Unknown);
    l.observe_report(&report(5_000.0, 1.5, 2.0), t0).unwrap();
    assert!(!l.needs_load_poll(t0));
    // Half the max age (1 s) without a report: time to poll, still fresh.
    assert!(!l.needs_load_poll(t0 + s));
    assert!(l.needs_load_poll(t0 + s + MS));
    assert_eq!(l.estimate(t0 + s + MS).queue_us, Reading::Fresh(5_000.0));
    // Past the max age (2 s): stale, with its age.
    let e = l.estimate(t0 + 3 * s);
    assert_eq!(e.queue_us, Reading::Stale(5_000.0, 3 * s));
    assert_eq!(e.server_slowdown, Reading::Stale(1.5, 3 * s));
    // Past forget_after (10 s): unknown.
    let e = l.estimate(t0 + 10 * s + MS);
    assert_eq!(e.queue_us, Reading::Unknown);
    assert_eq!(e.server_batch, Reading::Unknown);
    assert_eq!(l.age(t0 + 10 * s), Some(10 * s));
    // A new report makes it fresh again.
    l.observe_report(&report(1_000.0, 1.0, 1.0), t0 + 20 * s)
        .unwrap();
    // The old report still weighs 2^-20 of a new one: negligible, not zero.
    let fresh = l.estimate(t0 + 20 * s).queue_us;
    assert!(
        fresh.is_fresh() && (value(fresh) - 1_000.0).abs() < 0.01,
        "{fresh:?}"
    );
}

#[test]
fn bad_reports_are_refused_whole_and_counted() {
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    l.observe_report(&report(5_000.0, 1.5, 2.0), t0).unwrap();
    let before = l.estimate(t0);
    let bad = [
        report(f64::NAN, 1.0, 1.0),
        report(-1.0, 1.0, 1.0),
        report(f64::INFINITY, 1.0, 1.0),
        report(1.0, 0.0, 1.0),
        report(1.0, -2.0, 1.0),
        report(1.0, f64::NAN, 1.0),
        report(1.0, f64::INFINITY, 1.0),
        report(1.0, 1.0, f64::NAN),
        report(1.0, 1.0, -1.0),
        LoadSample {
            window_s: f64::NAN,
            ..report(1.0, 1.0, 1.0)
        },
        LoadSample {
            requests_per_s: -3.0,
            ..report(1.0, 1.0, 1.0)
        },
    ];
    for r in &bad {
        assert!(
            matches!(
                l.observe_report(r, t0),
                Err(EstimateError::BadSample { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(l.rejected(), bad.len() as u64);
    assert_eq!(l.estimate(t0), before);
}

#[test]
fn own_batches_stand_for_the_batch_size_while_fresh() {
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    // The server's requests run in batches of 4 on average...
    l.observe_report(&report(10_000.0, 1.0, 4.0), t0).unwrap();
    assert_eq!(l.estimate(t0).server_batch, Reading::Fresh(4.0));
    // ...but this client's requests, at a cut nobody else uses, run alone.
    l.observe_own_batch("r3", 1, t0).unwrap();
    l.observe_own_batch("r3", 1, t0 + 100 * MS).unwrap();
    assert_eq!(l.estimate(t0 + 100 * MS).server_batch, Reading::Fresh(1.0));
    // A zero-row batch is refused and changes nothing.
    assert!(l.observe_own_batch("r3", 0, t0 + 100 * MS).is_err());
    assert_eq!(l.estimate(t0 + 100 * MS).server_batch, Reading::Fresh(1.0));
    // Per cut: r3's requests ran alone; the whole input's ran in batches of 3.
    l.observe_own_batch("input", 3, t0 + 100 * MS).unwrap();
    assert_eq!(l.cut_batch("r3", t0 + 100 * MS), Some(1.0));
    assert_eq!(l.cut_batch("input", t0 + 100 * MS), Some(3.0));
    assert_eq!(l.cut_batch("r9", t0 + 100 * MS), None, "never used");
    // Once its own samples are stale (no offload for a while), the server's mean is used again.
    let later = t0 + 3 * Duration::from_secs(1);
    l.observe_report(&report(10_000.0, 1.0, 4.0), later)
        .unwrap();
    assert!((value(l.estimate(later).server_batch) - 4.0).abs() < 1e-9);
}

#[test]
fn the_servers_per_cut_report_prices_every_cut_while_fresh() {
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    // Before any per-cut report, this client's own replies are all there is.
    l.observe_own_batch("input", 1, t0).unwrap();
    let own = l.cut_batches(t0);
    assert_eq!(own.get("input"), Some(1.0));
    assert_eq!(own.get("r3"), None, "other cuts: the server-wide mean");
    // The server saw the whole input run in batches of 2.5 and nothing at r3; one entry is bad
    // (dropped and counted), the rest of the report stands.
    let per_cut = LoadSample {
        cut_batches: Some(vec![
            cut("input", 2.5, 10_000.0),
            cut("r9", f64::NAN, 10_000.0),
            cut("r7", 0.5, 10_000.0),
        ]),
        ..report(10_000.0, 1.0, 2.0)
    };
    let rejected = l.rejected();
    l.observe_report(&per_cut, t0 + 100 * MS).unwrap();
    assert_eq!(l.rejected(), rejected + 2);
    let b = l.cut_batches(t0 + 100 * MS);
    assert_eq!(
        b.get("input"),
        Some(2.5),
        "the server's view, not one own sample"
    );
    assert_eq!(b.get("r3"), Some(1.0), "a cut nothing ran at runs alone");
    assert_eq!(b.get("r9"), Some(1.0));
    // A reply's parameters carry no per-cut list: they leave the last one in place.
    l.observe_report(&report(10_000.0, 1.0, 2.0), t0 + 200 * MS)
        .unwrap();
    assert_eq!(l.cut_batches(t0 + 200 * MS).get("input"), Some(2.5));
    // Stale (no per-cut report for longer than max_age): back to own samples, which are stale
    // too by then, so nothing is known per cut.
    let later = t0 + 100 * MS + Duration::from_secs(3);
    assert!(l.cut_batches(later).is_empty());
}

fn cut(id: &str, batch: f64, wait_us: f64) -> CutLoad {
    CutLoad {
        cut_id: id.into(),
        requests: 100,
        mean_batch_size: batch,
        queue_wait_mean_us: wait_us,
    }
}

#[test]
fn each_cut_waits_its_own_while_the_servers_report_is_fresh() {
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    assert!(l.cut_waits(t0).is_empty(), "nothing known yet");
    // Requests at the input joined the background's batches (30 ms); an unused cut queues
    // behind all of them: the backlog averaged 90 ms. One entry's wait is bad (dropped and
    // counted, with its batch size).
    let r = LoadSample {
        cut_batches: Some(vec![cut("input", 3.0, 30_000.0), cut("r5", 1.0, -1.0)]),
        backlog_mean_us: Some(90_000.0),
        ..report(35_000.0, 1.0, 2.0)
    };
    let rejected = l.rejected();
    l.observe_report(&r, t0).unwrap();
    assert_eq!(l.rejected(), rejected + 1);
    let w = l.cut_waits(t0 + 100 * MS);
    assert_eq!(w.lone_us, Some(90_000.0));
    let input = w.get("input").unwrap();
    assert!((input - 30_000.0).abs() < 2_000.0, "{input}");
    assert_eq!(w.get("r3"), Some(90_000.0));
    assert_eq!(w.get("r5"), Some(90_000.0), "the bad entry is gone");
    assert_eq!(l.cut_batches(t0 + 100 * MS).get("r5"), Some(1.0));
    // A bad backlog average is refused and counted; the rest of the report stands.
    let bad = LoadSample {
        backlog_mean_us: Some(f64::INFINITY),
        ..r.clone()
    };
    l.observe_report(&bad, t0 + 200 * MS).unwrap();
    assert_eq!(l.rejected(), rejected + 3);
    // Stale: nothing per cut, every cut is priced with the server-wide wait again.
    assert!(l.cut_waits(t0 + Duration::from_secs(3)).is_empty());
}

#[test]
fn the_backlog_stands_for_the_queue_wait_while_fresh() {
    let t0 = Instant::now();
    let mut l = LoadEstimator::new(LoadConfig::default()).unwrap();
    // The window's mean wait is 40 ms, but the queue as it stands is 300 ms deep.
    let deep = LoadSample {
        backlog_us: Some(300_000.0),
        ..report(40_000.0, 1.0, 1.0)
    };
    l.observe_report(&deep, t0).unwrap();
    assert_eq!(l.estimate(t0).queue_us, Reading::Fresh(300_000.0));
    // Executors work the backlog off as time passes.
    let q = value(l.estimate(t0 + 100 * MS).queue_us);
    assert!((q - 200_000.0).abs() < 1.0, "{q}");
    assert_eq!(l.estimate(t0 + 400 * MS).queue_us, Reading::Fresh(0.0));
    // Older than backlog_max_age (500 ms): the window's mean takes over.
    let q = value(l.estimate(t0 + 600 * MS).queue_us);
    assert!((q - 40_000.0).abs() < 1.0, "{q}");
    // A bad backlog is dropped and counted; the rest of the report stands.
    let rejected = l.rejected();
    let bad = LoadSample {
        backlog_us: Some(f64::NAN),
        ..report(40_000.0, 1.0, 1.0)
    };
    l.observe_report(&bad, t0 + 700 * MS).unwrap();
    assert_eq!(l.rejected(), rejected + 1);
    assert!(l.backlog_now(t0 + 700 * MS).is_none());
}
