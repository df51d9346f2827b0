use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> FairShareConfig {
    FairShareConfig {
        enabled: true,
        active_window: Duration::from_secs(5),
        queued_floor: 2,
        queued_ceiling: 8,
        rate_factor: 1.0,
        burst_s: 0.5,
        // Buckets of exactly `burst_s`, unless a test asks for a floor.
        burst_min: 1.0,
        max_devices: 16,
        // No penalty, unless a test asks for one.
        overuse_factor: 1.0,
    }
}

#[test]
fn a_device_alone_gets_the_whole_server() {
    let t0 = Instant::now();
    let mut f = FairShare::new(config(), 64);
    f.set_capacity(Some(100.0));
    for _ in 0..50 {
        f.admit("a", t0).unwrap();
    }
    let s = f.share("a", t0);
    assert_eq!((s.active_devices, s.queued), (1, 50));
    assert_eq!((s.queued_limit, s.rate_limit_per_s), (None, None));
}

#[test]
fn queued_limit_is_the_budget_split_among_active_devices_within_floor_and_ceiling() {
    // (queue budget, devices active, limit): budget / n, clamped to [2, 8].
    for (budget, n, want) in [
        (64, 2, 8),
        (12, 2, 6),
        (12, 3, 4),
        (12, 4, 3),
        (12, 6, 2),
        (12, 12, 2),
    ] {
        let t0 = Instant::now();
        let mut f = FairShare::new(config(), budget);
        for i in 1..n {
            f.admit(&format!("d{i}"), t0).unwrap();
        }
        for k in 0..want {
            f.admit("a", t0)
                .unwrap_or_else(|e| panic!("budget {budget}, {n} devices: request {k}: {e}"));
        }
        let e = f.admit("a", t0).unwrap_err();
        assert!(
            matches!(e, ShareRefusal::Queued { queued, active, .. } if queued == want && active == n),
            "budget {budget}, {n} devices: {e:?}"
        );
        assert_eq!(e.reason(), "queued");
        assert!(e.to_string().contains("over its fair share"), "{e}");
        // An answer frees a place.
        f.finish("a");
        f.admit("a", t0).unwrap();
    }
}

#[test]
fn rate_limit_is_capacity_split_among_active_devices_with_a_burst() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.queued_ceiling = 1000;
    let mut f = FairShare::new(cfg, 100_000);
    // Capacity unknown: only the queued limit applies.
    f.admit("b", t0).unwrap();
    for _ in 0..20 {
        let k = f.admit("a", t0).unwrap();
        f.finish(&k);
    }
    assert_eq!(f.share("a", t0).rate_limit_per_s, None);
    // 100/s over 2 devices: 50/s each, a burst of 0.5 s = 25 requests.
    f.set_capacity(Some(100.0));
    let t1 = t0 + ms(10);
    let mut admitted = 0;
    while f.admit("a", t1).is_ok() {
        admitted += 1;
        assert!(admitted <= 25, "the burst is 25 requests");
    }
    assert_eq!(admitted, 25);
    let e = f.admit("a", t1).unwrap_err();
    match &e {
        ShareRefusal::Rate {
            limit_per_s,
            active,
            ..
        } => {
            assert_eq!(*active, 2);
            assert!((limit_per_s - 50.0).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    // The next token comes 20 ms later; the hint says so.
    assert_eq!(e.retry_after(), ms(20));
    assert!(f.admit("a", t1 + ms(19)).is_err());
    assert!(f.admit("a", t1 + ms(21)).is_ok());
    // Over one second at 10x the share, about the share (plus nothing: the bucket is empty).
    let mut ok = 0;
    for i in 1..=500u64 {
        if f.admit("a", t1 + ms(21) + ms(2 * i)).is_ok() {
            ok += 1;
        }
    }
    assert!((49..=51).contains(&ok), "{ok} admitted in 1 s at 50/s");
    // The other device's bucket is its own.
    assert!(f.admit("b", t1).is_ok());
    let s = f.share("a", t1 + ms(1021));
    assert_eq!(s.rate_limit_per_s, Some(50.0));
    assert!(s.admitted_per_s > 30.0, "{}", s.admitted_per_s);
}

#[test]
fn a_device_refused_for_its_rate_keeps_a_cut_share_for_an_active_window() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.queued_ceiling = 1000;
    cfg.overuse_factor = 0.25;
    let mut f = FairShare::new(cfg, 100_000);
    f.set_capacity(Some(100.0));
    f.admit("a", t0).unwrap();
    // Within its share (50/s), a device is never refused nor cut: 40/s for 2 s.
    for i in 0..80u64 {
        let k = f.admit("b", t0 + ms(25 * i)).unwrap();
        f.finish(&k);
    }
    assert_eq!(f.share("b", t0 + ms(2000)).rate_limit_per_s, Some(50.0));
    // "a" floods at 10x its share (500/s): after its burst it is refused, and once its
    // offered rate (averaged over the active window) passes its share, within a second, it is
    // held to a quarter of its share (12.5/s) for the active window (5 s).
    let t1 = t0 + ms(2000);
    let admitted_in = |f: &mut FairShare, from: Instant| {
        (1..=500u64)
            .filter(|i| f.admit("a", from + ms(2 * i)).is_ok())
            .count()
    };
    admitted_in(&mut f, t1);
    assert_eq!(f.share("a", t1 + ms(1000)).rate_limit_per_s, Some(12.5));
    let ok = admitted_in(&mut f, t1 + ms(1000));
    assert!((11..=14).contains(&ok), "{ok} admitted in 1 s at 12.5/s");
    // It keeps flooding, so it stays cut.
    let ok = admitted_in(&mut f, t1 + ms(2000));
    assert!((11..=14).contains(&ok), "{ok} admitted in the next second");
    let t1 = t1 + ms(1000);
    // Silent for an active window after its last refusal, it has its whole share again.
    let later = t1 + ms(2000) + Duration::from_secs(5) + ms(1);
    f.admit("b", later).unwrap();
    f.admit("a", later).unwrap();
    assert_eq!(f.share("a", later).rate_limit_per_s, Some(50.0));
    // "b" was never cut.
    assert_eq!(f.share("b", later).rate_limit_per_s, Some(50.0));
}

#[test]
fn shares_grow_back_when_devices_go_quiet() {
    let t0 = Instant::now();
    let mut f = FairShare::new(config(), 12);
    f.set_capacity(Some(90.0));
    for d in ["a", "b", "c"] {
        let k = f.admit(d, t0).unwrap();
        f.finish(&k);
    }
    let s = f.share("a", t0);
    assert_eq!((s.active_devices, s.queued_limit), (3, Some(4)));
    assert_eq!(s.rate_limit_per_s, Some(30.0));
    // b and c fall silent; after the active window a is alone again.
    let k = f.admit("a", t0 + ms(4000)).unwrap();
    f.finish(&k);
    let s = f.share("a", t0 + ms(5500));
    assert_eq!(
        (s.active_devices, s.queued_limit, s.rate_limit_per_s),
        (1, None, None)
    );
    // A device with a request still queued stays active however long it takes.
    let held = f.admit("b", t0 + ms(6000)).unwrap();
    let late = t0 + ms(60_000);
    let k = f.admit("a", late).unwrap();
    f.finish(&k);
    assert_eq!(f.share("a", late).active_devices, 2);
    f.finish(&held);
    assert_eq!(f.share("a", late).active_devices, 1);
}

#[test]
fn refused_requests_keep_a_device_active() {
    let t0 = Instant::now();
    let mut f = FairShare::new(config(), 4);
    // 0.02/s over 2 devices: one request per 100 s each, a bucket of one.
    f.set_capacity(Some(0.02));
    let _held = f.admit("quiet", t0).unwrap();
    let k = f.admit("flood", t0).unwrap();
    f.finish(&k);
    // flood has nothing queued, but keeps being refused for 10 s: it stays active, so quiet
    // keeps sharing the server with it.
    for s in 1..=10 {
        let e = f.admit("flood", t0 + Duration::from_secs(s)).unwrap_err();
        assert_eq!(e.reason(), "rate");
    }
    assert_eq!(
        f.share("quiet", t0 + Duration::from_secs(10))
            .active_devices,
        2
    );
    // Once it stops, it drops out after the active window.
    assert_eq!(
        f.share("quiet", t0 + Duration::from_secs(16))
            .active_devices,
        1
    );
}

#[test]
fn identities_beyond_the_table_share_one_entry_and_idle_ones_are_forgotten() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_devices = 3;
    let mut f = FairShare::new(cfg, 64);
    for d in ["a", "b", "c", "d", "e"] {
        f.admit(d, t0).unwrap();
    }
    assert_eq!(f.tracked(), 4, "a, b, c and {OTHER_DEVICES}");
    assert_eq!(&*f.share("e", t0).device, OTHER_DEVICES);
    assert_eq!(f.share("e", t0).queued, 2, "d and e share one entry");
    for d in ["a", "b", "c", OTHER_DEVICES, OTHER_DEVICES] {
        f.finish(d);
    }
    // Pruning happens on the next admission after the window.
    f.admit("z", t0 + Duration::from_secs(6)).unwrap();
    assert_eq!(f.tracked(), 1);
    assert_eq!(&*f.share("z", t0 + Duration::from_secs(6)).device, "z");
}

#[test]
fn disabled_limits_nothing_but_still_reports() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.enabled = false;
    let mut f = FairShare::new(cfg, 4);
    f.set_capacity(Some(1.0));
    f.admit("b", t0).unwrap();
    for _ in 0..100 {
        f.admit("a", t0).unwrap();
    }
    let s = f.share("a", t0);
    assert_eq!((s.active_devices, s.queued), (2, 100));
    assert_eq!((s.queued_limit, s.rate_limit_per_s), (None, None));
}

#[test]
fn capacity_unknown_keeps_the_last_known() {
    let mut f = FairShare::new(config(), 4);
    assert_eq!(f.capacity_per_s(), None);
    f.set_capacity(Some(10.0));
    f.set_capacity(None);
    f.set_capacity(Some(f64::NAN));
    f.set_capacity(Some(0.0));
    assert_eq!(f.capacity_per_s(), Some(10.0));
}

#[test]
fn bad_settings_are_named() {
    assert_eq!(config().problem(), None);
    assert_eq!(FairShareConfig::default().problem(), None);
    let bad = [
        FairShareConfig {
            queued_floor: 0,
            ..config()
        },
        FairShareConfig {
            queued_ceiling: 1,
            ..config()
        },
        FairShareConfig {
            rate_factor: 0.0,
            ..config()
        },
        FairShareConfig {
            burst_s: f64::NAN,
            ..config()
        },
        FairShareConfig {
            active_window: Duration::ZERO,
            ..config()
        },
        FairShareConfig {
            overuse_factor: 0.0,
            ..config()
        },
        FairShareConfig {
            overuse_factor: 1.5,
            ..config()
        },
    ];
    for c in bad {
        assert!(c.problem().is_some(), "{c:?}");
    }
    let off = FairShareConfig {
        enabled: false,
        queued_floor: 0,
        ..config()
    };
    assert_eq!(off.problem(), None);
}

/// A seeded splitmix64 stream of exponential gaps: Poisson arrivals without a dependency.
struct Poisson {
    state: u64,
    rate_per_s: f64,
}

impl Poisson {
    fn next_gap(&mut self) -> Duration {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Uniform in (0, 1], then an exponential gap.
        let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        Duration::from_secs_f64(-u.ln() / self.rate_per_s)
    }
}

/// Refusals per device when `good` devices send Poisson arrivals at `good_fraction` of their
/// share throughout and one more alternates between silence and `flood_factor` times its share
/// in `phase` long phases (quiet first), with each admitted request answered `service` later;
/// the share is the one with every device active, from `capacity(t)`.
fn flood_run(
    cfg: FairShareConfig,
    good: usize,
    good_fraction: f64,
    flood_factor: f64,
    phase: Duration,
    phases: u32,
    capacity: impl Fn(Duration) -> f64,
) -> (Vec<usize>, usize, usize) {
    let t0 = Instant::now();
    let end = phase * phases;
    let share = capacity(Duration::ZERO) * cfg.rate_factor / (good + 1) as f64;
    let service = ms(30);
    // (arrival since t0, device index; `good` is the flooder).
    let mut arrivals = Vec::new();
    for i in 0..=good {
        let flooder = i == good;
        let rate = share * if flooder { flood_factor } else { good_fraction };
        let mut p = Poisson {
            state: 1000 + i as u64,
            rate_per_s: rate,
        };
        let mut t = p.next_gap();
        while t < end {
            let flood_phase = (t.as_nanos() / phase.as_nanos()) % 2 == 1;
            if !flooder || flood_phase {
                arrivals.push((t, i));
            }
            t += p.next_gap();
        }
    }
    arrivals.sort();
    let mut f = FairShare::new(cfg, 256);
    let names: Vec<String> = (0..=good).map(|i| format!("d{i}")).collect();
    let mut answers: std::collections::BTreeMap<Duration, Vec<Arc<str>>> = Default::default();
    let (mut refused, mut flood_ok, mut flood_refused) = (vec![0; good], 0, 0);
    for (t, i) in arrivals {
        while let Some(entry) = answers.first_entry() {
            if *entry.key() > t {
                break;
            }
            for key in entry.remove() {
                f.finish(&key);
            }
        }
        f.set_capacity(Some(capacity(t)));
        match (f.admit(&names[i], t0 + t), i == good) {
            (Ok(key), flooder) => {
                flood_ok += usize::from(flooder);
                answers.entry(t + service).or_default().push(key);
            }
            (Err(_), true) => flood_refused += 1,
            (Err(_), false) => refused[i] += 1,
        }
    }
    (refused, flood_ok, flood_refused)
}

#[test]
fn poisson_devices_at_a_quarter_of_their_share_are_never_refused_beside_a_flooder() {
    // The served defaults: half the capacity shared out, a cut share for overusers.
    let cfg = FairShareConfig {
        max_devices: 16,
        ..FairShareConfig::default()
    };
    let phase = Duration::from_secs(10);
    // Shares of 2.5 to 50 requests/s (capacities of 25 to 500/s over five devices), and a
    // capacity that swings 30% around its mean as the batch mix changes.
    for capacity in [25.0, 100.0, 500.0] {
        for swing in [0.0, 0.3] {
            let cap = |t: Duration| capacity * (1.0 + swing * (t.as_secs_f64() * 0.7).sin());
            let (refused, flood_ok, flood_refused) =
                flood_run(cfg.clone(), 4, 0.25, 10.0, phase, 20, cap);
            assert_eq!(
                refused,
                vec![0; 4],
                "capacity {capacity}/s, swing {swing}: well-behaved devices refused"
            );
            // The flooder is held near a quarter of its share over its 10 flood phases of
            // 10 s, after a bucket and up to a second of its full share at the start of each.
            let share = capacity * cfg.rate_factor / 5.0;
            let depth = (share * cfg.burst_s).max(cfg.burst_min);
            let bound = 10.0 * (depth + share) + 1.2 * cfg.overuse_factor * share * 100.0;
            assert!(
                (flood_ok as f64) < bound,
                "capacity {capacity}/s, swing {swing}: flooder admitted {flood_ok} (bound \
                 {bound:.0}), refused {flood_refused}"
            );
            assert!(flood_refused as f64 > 5.0 * 100.0 * share);
        }
    }
}

#[test]
fn a_burst_within_the_share_is_refused_but_not_penalised() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.queued_ceiling = 1000;
    cfg.overuse_factor = 0.25;
    let mut f = FairShare::new(cfg, 100_000);
    f.set_capacity(Some(100.0));
    f.admit("a", t0).unwrap();
    // 30 at once against a bucket of 25 (0.5 s of 50/s): the last 5 are refused...
    let refused = (0..30).filter(|_| f.admit("b", t0).is_err()).count();
    assert_eq!(refused, 5);
    // ...but its average is far below its share, so its limit is not cut, and at 40/s it is
    // never refused again.
    assert_eq!(f.share("b", t0 + ms(10)).rate_limit_per_s, Some(50.0));
    for i in 1..=200u64 {
        let t = t0 + ms(1000 + 25 * i);
        f.admit("a", t).unwrap();
        f.admit("b", t)
            .unwrap_or_else(|e| panic!("request {i} at 40/s: {e}"));
    }
}
