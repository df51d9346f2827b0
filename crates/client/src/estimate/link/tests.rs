use super::*;

const MS: Duration = Duration::from_millis(1);
const MB: f64 = 1e6;

fn link() -> LinkEstimator {
    LinkEstimator::new(LinkConfig::default()).unwrap()
}

/// The time a probe of `bytes` takes over a link of `bytes_per_s` with `rtt`.
fn probe_time(bytes: u64, bytes_per_s: f64, rtt: Duration) -> Duration {
    rtt + Duration::from_secs_f64(bytes as f64 / bytes_per_s)
}

fn value(r: Reading) -> f64 {
    r.value().expect("a known estimate")
}

#[test]
fn bandwidth_step_converges_within_three_half_lives() {
    // Half-life 3 s, one upload probe every 500 ms, RTT 10 ms. The link runs at 1 MB/s for 30 s
    // (ten half-lives: the old history is steady), then at 4 MB/s.
    let t0 = Instant::now();
    let rtt = 10 * MS;
    let mut l = link();
    let mut now = t0;
    let probe = |l: &mut LinkEstimator, now: Instant, rate: f64| {
        l.observe_rtt(rtt, now).unwrap();
        let bytes = l.next_probe_bytes(Direction::Up, now);
        let used = l
            .observe_probe(Direction::Up, bytes, probe_time(bytes, rate, rtt), now)
            .unwrap();
        assert_eq!(used, Observed::Used);
    };
    for _ in 0..60 {
        probe(&mut l, now, 1.0 * MB);
        now += 500 * MS;
    }
    let before = value(l.estimate(now).uplink_bytes_per_s);
    assert!((before - 1.0 * MB).abs() < 1e-6 * MB, "{before}");

    // One sample after the step moves the estimate, but smoothing keeps it well short of 4 MB/s.
    probe(&mut l, now, 4.0 * MB);
    let one = value(l.estimate(now).uplink_bytes_per_s);
    assert!(one > 1.1 * MB && one < 2.0 * MB, "{one}");

    // After three half-lives (18 samples) at most 2^-3 of the weight is old: the estimate is
    // within 12.5% (plus rounding) of the 3 MB/s step from the new rate.
    for _ in 0..17 {
        now += 500 * MS;
        probe(&mut l, now, 4.0 * MB);
    }
    let three = value(l.estimate(now).uplink_bytes_per_s);
    assert!(
        three > 4.0 * MB - 0.13 * 3.0 * MB && three < 4.0 * MB,
        "{three}"
    );
    // After five (30 samples), within about 3%.
    for _ in 0..12 {
        now += 500 * MS;
        probe(&mut l, now, 4.0 * MB);
    }
    let five = value(l.estimate(now).uplink_bytes_per_s);
    assert!(five > 4.0 * MB - 0.035 * 3.0 * MB, "{five}");
}

#[test]
fn passive_samples_subtract_the_server_time_and_rtt() {
    let t0 = Instant::now();
    let mut l = link();
    l.observe_rtt(20 * MS, t0).unwrap();
    // 1 MB up at 2 MB/s (500 ms), nothing down, 80 ms in the server, 20 ms RTT.
    let offload = Offload {
        sent_bytes: 1_000_000,
        received_bytes: 0,
        total_elapsed: 600 * MS,
        server_time_us: 80_000.0,
        now: t0,
    };
    assert_eq!(l.observe_offload(&offload), Ok(Observed::Used));
    let up = value(l.estimate(t0).uplink_bytes_per_s);
    assert!((up - 2.0 * MB).abs() < 1.0, "{up}");
    assert_eq!(l.estimate(t0).downlink_bytes_per_s, Reading::Unknown);
}

#[test]
fn passive_samples_split_the_transfer_by_predicted_share() {
    let t0 = Instant::now();
    let mut l = link();
    let rtt = 20 * MS;
    l.observe_rtt(rtt, t0).unwrap();
    let (up_rate, down_rate) = (1.0 * MB, 2.0 * MB);
    l.observe_probe(
        Direction::Up,
        200_000,
        probe_time(200_000, up_rate, rtt),
        t0,
    )
    .unwrap();
    l.observe_probe(
        Direction::Down,
        400_000,
        probe_time(400_000, down_rate, rtt),
        t0,
    )
    .unwrap();
    // 500 kB up (500 ms) and 400 kB down (200 ms), 80 ms in the server: consistent with both
    // estimates, which must stay where they are.
    let offload = Offload {
        sent_bytes: 500_000,
        received_bytes: 400_000,
        total_elapsed: (80 + 20 + 500 + 200) * MS,
        server_time_us: 80_000.0,
        now: t0 + 100 * MS,
    };
    assert_eq!(l.observe_offload(&offload), Ok(Observed::Used));
    let e = l.estimate(offload.now);
    assert!((value(e.uplink_bytes_per_s) - up_rate).abs() < 1.0);
    assert!((value(e.downlink_bytes_per_s) - down_rate).abs() < 1.0);
}

#[test]
fn a_small_reply_neither_feeds_the_downlink_nor_steals_the_uplinks_time() {
    let t0 = Instant::now();
    let mut l = link();
    let rtt = 2 * MS;
    l.observe_rtt(rtt, t0).unwrap();
    // A badly underestimated downlink (0.1 MB/s) from some earlier sample.
    l.observe_probe(
        Direction::Down,
        100_000,
        probe_time(100_000, 0.1 * MB, rtt),
        t0,
    )
    .unwrap();
    // 40 kB up at 4 MB/s (10 ms), a 4 kB reply, 5 ms in the server.
    let offload = Offload {
        sent_bytes: 40_000,
        received_bytes: 4_000,
        total_elapsed: (5 + 2 + 10) * MS,
        server_time_us: 5_000.0,
        now: t0 + MS,
    };
    assert_eq!(l.observe_offload(&offload), Ok(Observed::Used));
    let e = l.estimate(offload.now);
    let up = value(e.uplink_bytes_per_s);
    assert!((up - 4.0 * MB).abs() < 1.0, "uplink {up}");
    let down = value(e.downlink_bytes_per_s);
    assert!((down - 0.1 * MB).abs() < 1.0, "downlink moved: {down}");
}

#[test]
fn samples_dominated_by_rtt_update_nothing() {
    let t0 = Instant::now();
    let mut l = link();
    // Before any RTT estimate, a passive sample cannot be split.
    let mut offload = Offload {
        sent_bytes: 10_000,
        received_bytes: 4_000,
        total_elapsed: 35 * MS,
        server_time_us: 5_000.0,
        now: t0,
    };
    assert_eq!(l.observe_offload(&offload), Ok(Observed::NoRtt));
    // RTT 30 ms ± 4 ms: the threshold is 2 × the deviation, about 8 ms (well above 1 ms).
    for (i, rtt_ms) in [30, 26, 34, 30, 26, 34].into_iter().enumerate() {
        l.observe_rtt(rtt_ms * MS, t0 + i as u32 * MS).unwrap();
    }
    let dev = l.rtt_deviation_us(t0).unwrap();
    assert!(dev > 2_000.0 && dev < 10_000.0, "{dev}");
    // 5 ms of transfer after 5 ms of server and 30 ms of RTT: within the jitter.
    offload.total_elapsed = 40 * MS;
    assert_eq!(l.observe_offload(&offload), Ok(Observed::TooShort));
    assert_eq!(l.estimate(t0).uplink_bytes_per_s, Reading::Unknown);
    // A probe that short only bounds the bandwidth from below: bytes over the threshold.
    let min_us = 2.0 * dev;
    let probe = l.observe_probe(Direction::Up, 16_384, 31 * MS, t0).unwrap();
    assert_eq!(probe, Observed::LowerBound);
    let up = value(l.estimate(t0).uplink_bytes_per_s);
    assert!((up - 16_384.0 / (min_us / 1e6)).abs() < 1.0, "uplink {up}");
    // A second one adds nothing the estimate does not already say.
    let probe = l.observe_probe(Direction::Up, 16_384, 31 * MS, t0).unwrap();
    assert_eq!(probe, Observed::TooShort);
    assert_eq!(value(l.estimate(t0).uplink_bytes_per_s), up);
    assert_eq!(l.too_short(), 3);
    assert_eq!(l.rejected(), 0);
}

#[test]
fn probes_too_short_for_a_very_fast_link_grow_until_they_measure_it() {
    // Loopback: 50 µs of RTT and 1 GB/s, where the first 256 KiB probe takes well under the
    // 1 ms a transfer must last to count.
    let t0 = Instant::now();
    let mut l = link();
    let true_bytes_per_s = 1e9;
    let rtt = Duration::from_micros(50);
    l.observe_rtt(rtt, t0).unwrap();
    let mut outcomes = Vec::new();
    for i in 0..4u32 {
        let now = t0 + i * MS;
        let bytes = l.next_probe_bytes(Direction::Up, now);
        let transfer = Duration::from_secs_f64(bytes as f64 / true_bytes_per_s);
        outcomes.push(
            l.observe_probe(Direction::Up, bytes, rtt + transfer, now)
                .unwrap(),
        );
    }
    assert_eq!(outcomes[0], Observed::LowerBound);
    assert!(
        outcomes[1..].iter().all(|&o| o == Observed::Used),
        "{outcomes:?}"
    );
    assert_eq!(l.next_probe_bytes(Direction::Up, t0), MAX_PROBE_BYTES);
    let up = value(l.estimate(t0 + 3 * MS).uplink_bytes_per_s);
    // The bound (256 KB/ms) pulls the average below the truth; the measured probes lift it.
    assert!(up > 0.25e9 && up <= true_bytes_per_s * 1.01, "uplink {up}");
}

#[test]
fn bad_samples_are_ignored_and_counted() {
    let t0 = Instant::now();
    let mut l = link();
    l.observe_rtt(10 * MS, t0).unwrap();
    l.observe_probe(Direction::Up, 100_000, 110 * MS, t0)
        .unwrap();
    let before = l.estimate(t0);
    let good = Offload {
        sent_bytes: 100_000,
        received_bytes: 1_000,
        total_elapsed: 200 * MS,
        server_time_us: 50_000.0,
        now: t0,
    };
    let bad_offloads = [
        Offload {
            server_time_us: f64::NAN,
            ..good
        },
        Offload {
            server_time_us: -1.0,
            ..good
        },
        Offload {
            server_time_us: f64::INFINITY,
            ..good
        },
        Offload {
            server_time_us: 300_000.0,
            ..good
        },
        Offload {
            total_elapsed: Duration::ZERO,
            server_time_us: 0.0,
            ..good
        },
        Offload {
            sent_bytes: 0,
            received_bytes: 0,
            ..good
        },
    ];
    for o in &bad_offloads {
        assert!(
            matches!(l.observe_offload(o), Err(EstimateError::BadSample { .. })),
            "{o:?}"
        );
    }
    let bad_probes = [
        (0, 100 * MS),
        (100_000, Duration::ZERO),
        (100_000, Duration::MAX),
    ];
    for (bytes, elapsed) in bad_probes {
        assert!(
            l.observe_probe(Direction::Down, bytes, elapsed, t0)
                .is_err()
        );
    }
    assert!(l.observe_rtt(Duration::ZERO, t0).is_err());
    assert!(l.observe_rtt(Duration::MAX, t0).is_err());
    assert_eq!(l.rejected(), 11);
    assert_eq!(l.estimate(t0), before);
}

#[test]
fn probes_last_about_the_target_within_clamps() {
    let t0 = Instant::now();
    let mut l = link();
    assert_eq!(l.next_probe_bytes(Direction::Up, t0), 256 * 1024);
    // 1 MB/s: 150 ms is 150 kB.
    l.observe_probe(Direction::Up, 500_000, 500 * MS, t0)
        .unwrap();
    assert_eq!(l.next_probe_bytes(Direction::Up, t0), 150_000);
    // 10 kB/s would give 1.5 kB: clamped up. 1 GB/s would give 150 MB: clamped down.
    l.observe_probe(Direction::Down, 10_000, 1000 * MS, t0)
        .unwrap();
    assert_eq!(l.next_probe_bytes(Direction::Down, t0), MIN_PROBE_BYTES);
    let mut fast = link();
    fast.observe_probe(Direction::Up, 1_000_000_000, 1000 * MS, t0)
        .unwrap();
    assert_eq!(fast.next_probe_bytes(Direction::Up, t0), MAX_PROBE_BYTES);
    // A forgotten estimate sizes like an unknown one.
    let later = t0 + Duration::from_secs(61);
    assert_eq!(l.next_probe_bytes(Direction::Up, later), 256 * 1024);
}

#[test]
fn refreshes_are_asked_for_in_order_and_again_after_half_the_max_age() {
    let t0 = Instant::now();
    let mut l = link();
    assert_eq!(l.needs_probe(t0), Some(Probe::Rtt));
    l.observe_rtt(10 * MS, t0).unwrap();
    assert_eq!(l.needs_probe(t0), Some(Probe::Upload));
    l.observe_probe(Direction::Up, 100_000, 110 * MS, t0)
        .unwrap();
    assert_eq!(l.needs_probe(t0), Some(Probe::Download));
    l.observe_probe(Direction::Down, 100_000, 110 * MS, t0)
        .unwrap();
    assert_eq!(l.needs_probe(t0), None);
    assert_eq!(l.needs_probe(t0 + Duration::from_secs(5)), None);
    let later = t0 + Duration::from_secs(5) + MS;
    assert_eq!(l.needs_probe(later), Some(Probe::Rtt));
    let e = l.estimate(t0 + Duration::from_secs(11));
    assert!(matches!(e.rtt_us, Reading::Stale(_, _)));
    assert_eq!(
        l.estimate(t0 + Duration::from_secs(61)).rtt_us,
        Reading::Unknown
    );
    // A forgotten RTT cannot split a passive sample.
    let offload = Offload {
        sent_bytes: 100_000,
        received_bytes: 1_000,
        total_elapsed: 200 * MS,
        server_time_us: 50_000.0,
        now: t0 + Duration::from_secs(61),
    };
    assert_eq!(l.observe_offload(&offload), Ok(Observed::NoRtt));
}

#[test]
fn the_rtt_is_the_least_sample_of_its_window() {
    let t0 = Instant::now();
    let mut l = link();
    // 1 ms on an idle link, then samples that queued behind the device's own uploads.
    l.observe_rtt(MS, t0).unwrap();
    l.observe_rtt(90 * MS, t0 + 500 * MS).unwrap();
    l.observe_rtt(40 * MS, t0 + 1000 * MS).unwrap();
    assert_eq!(l.estimate(t0 + 1000 * MS).rtt_us, Reading::Fresh(1000.0));
    // A bandwidth sample subtracts the link's RTT, not the queued samples' mean.
    let bytes = 1_000_000;
    l.observe_probe(Direction::Up, bytes, 1001 * MS, t0 + 1000 * MS)
        .unwrap();
    let up = value(l.estimate(t0 + 1000 * MS).uplink_bytes_per_s);
    assert!((up - 1e6).abs() < 1.0, "{up}");
    // The idle sample leaves the window 10 s after it was taken: the RTT rises to what the
    // link shows now.
    for k in 0..=20u32 {
        l.observe_rtt(5 * MS, t0 + 1000 * MS + 500 * MS * k)
            .unwrap();
    }
    assert_eq!(l.estimate(t0 + 11_000 * MS).rtt_us, Reading::Fresh(5000.0));
    // With no new sample it ages like the others.
    assert!(matches!(
        l.estimate(t0 + 30_000 * MS).rtt_us,
        Reading::Stale(v, _) if v == 5000.0
    ));
}
