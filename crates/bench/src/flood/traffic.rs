//! The devices of a flood run: each sends one prepared ModelInfer as its own identity
//! (`loadpart-device`), open loop (Poisson arrivals), and records when each request went out and
//! what came back. Every loop ends at the run's end and sends a bounded number of requests.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_client::Remote;
use loadpart_client::wire;
use loadpart_proto::inference::ModelInferRequest;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::Code;

/// Phases of equal length from `start`: even ones quiet, odd ones flood.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    pub start: Instant,
    pub len: Duration,
    pub count: usize,
}

impl Phases {
    /// The phase `t` falls in, if within the run.
    pub fn of(&self, t: Instant) -> Option<usize> {
        let k =
            (t.checked_duration_since(self.start)?.as_secs_f64() / self.len.as_secs_f64()) as usize;
        (k < self.count).then_some(k)
    }

    /// Whether phase `k` is a flood phase (the second, fourth, ...).
    pub fn is_flood(k: usize) -> bool {
        k % 2 == 1
    }

    /// When phase `k` starts.
    pub fn start_of(&self, k: usize) -> Instant {
        self.start + self.len * k as u32
    }

    /// When the run ends.
    pub fn end(&self) -> Instant {
        self.start_of(self.count)
    }
}

/// What came back for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// RESOURCE_EXHAUSTED.
    Refused,
    /// DEADLINE_EXCEEDED.
    Deadline,
    /// Any other error.
    Error,
    /// Not sent: the device's own in-flight cap was reached.
    Shed,
}

/// One request: the phase it was sent in, its latency (send to answer, µs), and the rate limit
/// the server's reply reported for the device (requests/s; `None`: no limit, or no reply).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub phase: usize,
    pub latency_us: f64,
    pub outcome: Outcome,
    pub share_per_s: Option<f64>,
}

/// One device's traffic.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its `loadpart-device` name.
    pub name: String,
    /// Poisson arrivals per second.
    pub rate_per_s: f64,
    /// Sends only in flood phases.
    pub flood_only: bool,
    pub seed: u64,
}

/// Limits every device runs under.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Deadline of each request.
    pub timeout: Duration,
    /// Most requests of one device in flight; more arrivals are shed.
    pub max_in_flight: usize,
}

/// Runs `device` over `phases` against `remote` with `request`; returns every request's sample.
pub async fn run(
    remote: Remote,
    request: Arc<ModelInferRequest>,
    device: Device,
    phases: Phases,
    bounds: Bounds,
) -> Vec<Sample> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> =
        device.name.parse().ok();
    let slots = Arc::new(tokio::sync::Semaphore::new(bounds.max_in_flight.max(1)));
    let mut rng = StdRng::seed_from_u64(device.seed);
    let end = phases.end();
    // A hard cap on sends, twice the expected count: the loop is bounded whatever the clock does.
    let expected = device.rate_per_s * phases.len.as_secs_f64() * phases.count as f64;
    let max_sends = (2.0 * expected) as u64 + 100;
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = phases.start;
    for _ in 0..max_sends {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        next += Duration::from_secs_f64(-u.ln() / device.rate_per_s.max(1e-3));
        let Some(mut k) = phases.of(next) else { break };
        if device.flood_only && !Phases::is_flood(k) {
            // Silent until the next flood phase.
            k += 1;
            if k >= phases.count {
                break;
            }
            next = phases.start_of(k);
        }
        tokio::time::sleep_until(next.into()).await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            push(&samples, k, 0.0, Outcome::Shed, None);
            continue;
        };
        let mut r = tonic::Request::new((*request).clone());
        r.set_timeout(bounds.timeout);
        if let Some(h) = &header {
            r.metadata_mut()
                .insert(loadpart_proto::names::DEVICE_HEADER, h.clone());
        }
        let mut stub = remote.infer.clone();
        let samples = samples.clone();
        tasks.spawn(async move {
            let t0 = Instant::now();
            let result = stub.model_infer(r).await;
            let latency_us = t0.elapsed().as_secs_f64() * 1e6;
            let (outcome, share) = match result {
                Ok(reply) => (Outcome::Ok, wire::reply_share(reply.get_ref())),
                Err(s) if s.code() == Code::ResourceExhausted => (Outcome::Refused, None),
                Err(s) if s.code() == Code::DeadlineExceeded => (Outcome::Deadline, None),
                Err(_) => (Outcome::Error, None),
            };
            let share_per_s = share.and_then(|s| s.rate_limit_per_s);
            push(&samples, k, latency_us, outcome, share_per_s);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
        if next >= end {
            break;
        }
    }
    // Each request is bounded by its deadline.
    while tasks.join_next().await.is_some() {}
    let mut all = samples.lock();
    std::mem::take(&mut *all)
}

fn push(
    samples: &Mutex<Vec<Sample>>,
    phase: usize,
    latency_us: f64,
    outcome: Outcome,
    share_per_s: Option<f64>,
) {
    samples.lock().push(Sample {
        phase,
        latency_us,
        outcome,
        share_per_s,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_alternate_quiet_and_flood() {
        let t0 = Instant::now();
        let p = Phases {
            start: t0,
            len: Duration::from_secs(10),
            count: 4,
        };
        assert_eq!(p.of(t0), Some(0));
        assert_eq!(p.of(t0 + Duration::from_millis(10_001)), Some(1));
        assert_eq!(p.of(t0 + Duration::from_secs(39)), Some(3));
        assert_eq!(p.of(t0 + Duration::from_secs(40)), None);
        assert_eq!(p.end(), t0 + Duration::from_secs(40));
        assert!(!Phases::is_flood(0) && Phases::is_flood(1) && !Phases::is_flood(2));
    }
}
