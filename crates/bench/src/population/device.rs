//! One device of a population: frames arrive on a seeded Poisson trace and wait in a one-slot
//! queue (a frame that arrives while another waits replaces it; the older one is dropped, as a
//! camera pipeline drops stale frames), and the device infers them one at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use loadpart_client::{Client, FallbackReason, InferOptions, Route};
use loadpart_plan::PolicyKind;
use loadpart_runtime::NamedTensors;
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::config::Run;
use super::record::Frame;

/// Arrival times (seconds from the start) of a Poisson process of `rate_per_s` over
/// `[0, horizon_s)`, drawn from `seed`: the same trace for the same seed, whatever the policy.
pub fn arrivals(rate_per_s: f64, horizon_s: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = 0.0;
    let mut v = Vec::new();
    // Bounded by count as well as by time.
    for _ in 0..1_000_000 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        t += -u.ln() / rate_per_s;
        if t >= horizon_s {
            break;
        }
        v.push(t);
    }
    v
}

/// One device's part in a run.
pub struct Device {
    pub index: usize,
    pub client: Arc<Client>,
    pub policy: PolicyKind,
    pub slo_ms: f64,
    /// Its input (device compute is replayed, so one input serves every frame).
    pub input: NamedTensors,
    /// Frame arrivals, seconds from `start` (warm-up included).
    pub arrivals: Vec<f64>,
}

/// Runs `d`'s frames from `start`; returns the frames that arrived after `warmup` (their `t`
/// counted from the end of the warm-up), dropped ones included.
pub async fn frames(d: Device, run: Run, start: Instant, warmup: Duration) -> Result<Vec<Frame>> {
    let opts = InferOptions {
        policy: Some(d.policy.clone()),
        ..InferOptions::default()
    };
    let policy = d.policy.to_string();
    let warm = warmup.as_secs_f64();
    let record = |t: f64| t >= warm;
    let mut out = Vec::new();
    let dropped = |t: f64| Frame {
        run: run.clone(),
        device: d.index,
        policy: policy.clone(),
        t: t - warm,
        latency_ms: None,
        slo_ms: d.slo_ms,
        cut: String::new(),
        route: "dropped".into(),
        refused: false,
        predicted_ms: 0.0,
        sent_bytes: 0,
    };
    let mut next = 0;
    while next < d.arrivals.len() {
        let now = start.elapsed().as_secs_f64();
        if d.arrivals[next] > now {
            tokio::time::sleep(Duration::from_secs_f64(d.arrivals[next] - now)).await;
            continue;
        }
        // Every frame that arrived while the device was busy but the latest was replaced in
        // the slot.
        let mut latest = next;
        while latest + 1 < d.arrivals.len() && d.arrivals[latest + 1] <= now {
            latest += 1;
        }
        for &t in &d.arrivals[next..latest] {
            if record(t) {
                out.push(dropped(t));
            }
        }
        let arrived = d.arrivals[latest];
        next = latest + 1;
        let o = d.client.infer(d.input.clone(), &opts).await?;
        let done = start.elapsed().as_secs_f64();
        if !record(arrived) {
            continue;
        }
        let (route, refused) = match &o.route {
            Route::Local => ("local", false),
            Route::LocalOnly { .. } => ("local_only", false),
            Route::Offloaded => ("offloaded", false),
            Route::Fallback { why } => ("fallback", matches!(why, FallbackReason::Overloaded(_))),
        };
        out.push(Frame {
            run: run.clone(),
            device: d.index,
            policy: policy.clone(),
            t: arrived - warm,
            latency_ms: Some((done - arrived) * 1e3),
            slo_ms: d.slo_ms,
            cut: o.cut.to_string(),
            route: route.into(),
            refused,
            predicted_ms: o.predicted.total() * 1e-3,
            sent_bytes: o.sent_bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_seeded_poisson_within_the_horizon() {
        let a = arrivals(2.0, 1000.0, 5);
        assert_eq!(
            a,
            arrivals(2.0, 1000.0, 5),
            "the same trace for the same seed"
        );
        assert_ne!(a, arrivals(2.0, 1000.0, 6));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().all(|&t| (0.0..1000.0).contains(&t)));
        // About 2000 arrivals (±5 standard deviations).
        let n = a.len() as f64;
        assert!((n - 2000.0).abs() < 5.0 * 2000f64.sqrt(), "{n}");
    }
}
