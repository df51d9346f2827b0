//! [`LoadEstimator`]: the shared server's load, from every report the client sees.
//!
//! The server sends a load report with every reply, on its watch stream, and in answer to polls.
//! Each report is already a mean over the server's recent window; the client smooths those means
//! once more (a short half-life, default 1 s) so that one odd report does not flip a decision,
//! and ages them like every other estimate. Reports from the three sources are treated alike.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use loadpart_plan::QueueOutlook;

use super::cut_batches::{CutBatches, CutWaits};
use super::ewma::{Domain, Ewma};
use super::staleness::{Reading, Staleness};
use crate::EstimateError;

/// One server load report, field for field as `loadpart.v1.LoadReport` carries it (the
/// conversion from the proto comes with the gRPC client). Units: µs, factors, requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadSample {
    /// When the server made the report, ms since the Unix epoch (server clock; not compared with
    /// the device's clock).
    pub timestamp_unix_ms: u64,
    /// Seconds the figures cover.
    pub window_s: f64,
    /// Mean queue wait of the requests that left the queue in the window, µs; 0 when none.
    pub queue_wait_mean_us: f64,
    /// 95th percentile of the same waits, µs; 0 when none.
    pub queue_wait_p95_us: f64,
    /// Measured / profiled execution time of the batches run in the window; 1 when none ran.
    pub slowdown: f64,
    /// Requests waiting in the queue now.
    pub queue_length: u32,
    /// Requests accepted and not yet answered now.
    pub in_flight: u32,
    /// Requests completed per second over the window.
    pub requests_per_s: f64,
    /// (batch size, batches of that size) run in the window, by increasing size.
    pub batch_mix: Vec<(u32, u64)>,
    /// The batches being formed now.
    pub forming: Vec<FormingBatch>,
    /// Mean requests per batch in the window; 0 when no batch ran.
    pub mean_batch_size: f64,
    /// Executors the server has.
    pub executors: u32,
    /// Executors running a batch now.
    pub executors_busy: u32,
    /// Per cut that ran requests in the window, the batch they ran in and their wait; `None`
    /// when the source does not carry them (a reply's parameters), so that it says nothing
    /// about cuts rather than "none ran".
    pub cut_batches: Option<Vec<CutLoad>>,
    /// How long a request arriving when the report was made would wait for an executor, µs
    /// (the queue as it stood); `None` when the server did not know or did not say.
    pub backlog_us: Option<f64>,
    /// The backlog's time average over the window, µs: what a request at a cut with nothing
    /// queued finds on average; `None` when the server did not know or did not say.
    pub backlog_mean_us: Option<f64>,
    /// This device's own fair share on the server, when the server reports it. Informational:
    /// planning uses the server-wide figures above.
    pub device_share: Option<DeviceShare>,
    /// Fraction of the executors' time spent in batches over the window; 0 when not reported.
    pub utilization: f64,
    /// Executor time spent in batches since the server started, seconds; 0 when not reported.
    pub busy_seconds_total: f64,
}

/// A device's fair share of its server, as the server counts it (`loadpart.v1.DeviceShare`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceShare {
    /// The identity the server counts this device as.
    pub device: String,
    /// Devices active on the server, this one included.
    pub active_devices: u32,
    /// This device's requests admitted and not yet answered.
    pub queued: u32,
    /// The most it may have queued; `None`: no per-device limit now.
    pub queued_limit: Option<u32>,
    /// Requests per second admitted for it.
    pub admitted_per_s: f64,
    /// Its admitted-rate limit, requests per second; `None`: none now.
    pub rate_limit_per_s: Option<f64>,
}

/// The requests one cut ran in the server's window (`loadpart.v1.CutBatch`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutLoad {
    /// The cut's canonical id.
    pub cut_id: String,
    /// Requests at that cut completed in the window.
    pub requests: u64,
    /// Mean rows of the batch each ran in.
    pub mean_batch_size: f64,
    /// Their mean queue wait, µs.
    pub queue_wait_mean_us: f64,
}

/// A batch the server is gathering: requests for one model and cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormingBatch {
    /// The model's name.
    pub model_name: String,
    /// The cut's canonical id.
    pub cut_id: String,
    /// Requests gathered so far.
    pub size: u32,
}

/// How the load estimates are smoothed and aged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadConfig {
    /// Half-life of every load average (default 1 s: reports are already window means).
    pub half_life: Duration,
    /// Max age and forgetting time (default 2 s and 10 s: load moves fast, and the watch stream
    /// reports several times a second, so 2 s of silence already means something).
    pub staleness: Staleness,
    /// How long the server's backlog (the queue as it stands) stands for the expected queue
    /// wait (default 500 ms; the watch stream reports every 100 ms). A queue at 90% load
    /// swings by several batch times within a second, so an older backlog says less than the
    /// window's mean wait, which takes over.
    pub backlog_max_age: Duration,
    /// How fast the server's queue forgets its present state (default 250 ms): a request that
    /// reaches the server this long after the backlog was read finds a queue 1/e of the way
    /// back from that backlog to the window's mean ([`QueueOutlook`]). An empirical constant:
    /// on the test bed at 90% load (ResNet-50 tails of 75 ms), requests that reached the server
    /// 210 ms after an empty backlog waited 33 ms against a 60 ms mean.
    pub queue_memory: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            half_life: Duration::from_secs(1),
            staleness: Staleness {
                max_age: Duration::from_secs(2),
                forget_after: Duration::from_secs(10),
            },
            backlog_max_age: Duration::from_millis(500),
            queue_memory: Duration::from_millis(250),
        }
    }
}

/// The load estimates as of some time, judged by age.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadEstimates {
    /// Expected queue wait (W), µs.
    pub queue_us: Reading,
    /// Server slowdown factor (f).
    pub server_slowdown: Reading,
    /// Batch size a request runs in (k), at least 1.
    pub server_batch: Reading,
    /// Requests waiting in the queue.
    pub queue_length: Reading,
}

/// The server's queue wait, slowdown, batch size and queue length, smoothed and aged.
#[derive(Debug, Clone)]
pub struct LoadEstimator {
    config: LoadConfig,
    queue_us: Ewma,
    slowdown: Ewma,
    batch: Ewma,
    /// Rows of the batches this client's own requests ran in, from the replies.
    own_batch: Ewma,
    /// The same, per cut (canonical cut id): a cut much other traffic uses batches, others do
    /// not.
    own_batch_by_cut: HashMap<String, Ewma>,
    /// The latest report's per-cut figures (valid entries only), by cut id, and when it came.
    server_by_cut: Option<(Instant, HashMap<String, CutLoad>)>,
    /// The latest report's backlog, µs, and when it came.
    backlog: Option<(Instant, f64)>,
    /// The backlog's time average (what a request at an unused cut waits), µs.
    backlog_mean: Ewma,
    queue_length: Ewma,
    rejected: u64,
}

impl LoadEstimator {
    /// An estimator that knows nothing yet. Errors on a zero half-life or a bad staleness
    /// policy.
    pub fn new(config: LoadConfig) -> Result<Self, EstimateError> {
        config.staleness.validate()?;
        let h = config.half_life;
        Ok(Self {
            config,
            queue_us: Ewma::new(h, Domain::NonNegative)?,
            slowdown: Ewma::new(h, Domain::Positive)?,
            batch: Ewma::new(h, Domain::Positive)?,
            own_batch: Ewma::new(h, Domain::Positive)?,
            own_batch_by_cut: HashMap::new(),
            server_by_cut: None,
            backlog: None,
            backlog_mean: Ewma::new(h, Domain::NonNegative)?,
            queue_length: Ewma::new(h, Domain::NonNegative)?,
            rejected: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LoadConfig {
        &self.config
    }

    /// A report received at `now`. A report with a NaN, infinite or negative queue wait, window,
    /// throughput or batch size, or a slowdown that is not positive, is refused whole and
    /// counted: a server that sends such numbers is not trusted for the rest of the report.
    ///
    /// The batch size used is the window's mean batch size, at least 1 (an empty window, 0, means
    /// requests run alone). The batches being formed are per cut, and which cut a request will
    /// use is what the planner decides, so they are not folded in here.
    pub fn observe_report(
        &mut self,
        report: &LoadSample,
        now: Instant,
    ) -> Result<(), EstimateError> {
        let checks = [
            (
                "queue_wait_mean",
                report.queue_wait_mean_us,
                Domain::NonNegative,
            ),
            (
                "queue_wait_p95",
                report.queue_wait_p95_us,
                Domain::NonNegative,
            ),
            ("window", report.window_s, Domain::NonNegative),
            ("requests_per_s", report.requests_per_s, Domain::NonNegative),
            (
                "mean_batch_size",
                report.mean_batch_size,
                Domain::NonNegative,
            ),
            ("slowdown", report.slowdown, Domain::Positive),
        ];
        for (quantity, value, domain) in checks {
            if !domain.admits(value) {
                self.rejected += 1;
                return Err(EstimateError::BadSample { quantity, value });
            }
        }
        // Cannot fail: every value was checked against its domain above.
        self.queue_us
            .update("queue_wait_mean", report.queue_wait_mean_us, now)?;
        self.slowdown.update("slowdown", report.slowdown, now)?;
        self.batch
            .update("mean_batch_size", report.mean_batch_size.max(1.0), now)?;
        self.queue_length
            .update("queue_length", f64::from(report.queue_length), now)?;
        match report.backlog_us {
            Some(b) if b.is_finite() && b >= 0.0 => self.backlog = Some((now, b)),
            Some(_) => self.rejected += 1,
            None => {}
        }
        if let Some(b) = report.backlog_mean_us
            && self.backlog_mean.update("backlog_mean", b, now).is_err()
        {
            self.rejected += 1;
        }
        if let Some(cuts) = &report.cut_batches {
            // One bad entry (NaN, a batch below 1, a negative wait) is dropped and counted; the
            // rest of the report is still good.
            let valid = |c: &CutLoad| {
                c.mean_batch_size.is_finite()
                    && c.mean_batch_size >= 1.0
                    && Domain::NonNegative.admits(c.queue_wait_mean_us)
            };
            let by_cut: HashMap<String, CutLoad> = cuts
                .iter()
                .filter(|c| valid(c))
                .map(|c| (c.cut_id.clone(), c.clone()))
                .collect();
            self.rejected += (cuts.len() - by_cut.len()) as u64;
            self.server_by_cut = Some((now, by_cut));
        }
        Ok(())
    }

    /// One of this client's requests ran in a batch of `rows` rows (the reply says so).
    ///
    /// A request only batches with requests for the same cut and shape, so the server-wide mean
    /// batch overstates the batch of a request at a cut few others use: under load, the
    /// server's mean was 2.4 while this client's requests at early cuts ran alone, and their
    /// server time was predicted 50% too long. While such samples are fresh they stand for the
    /// batch size (k); without them, the server's mean does. Refused when `rows` is 0.
    ///
    /// `cut` is the request's canonical cut id: the same sample also feeds that cut's own
    /// average ([`LoadEstimator::cut_batch`]).
    pub fn observe_own_batch(
        &mut self,
        cut: &str,
        rows: u32,
        now: Instant,
    ) -> Result<(), EstimateError> {
        if rows == 0 {
            self.rejected += 1;
            return Err(EstimateError::BadSample {
                quantity: "batch_size",
                value: 0.0,
            });
        }
        let rows = f64::from(rows);
        self.own_batch.update("batch_size", rows, now)?;
        let per_cut = match self.own_batch_by_cut.get_mut(cut) {
            Some(e) => e,
            None => self
                .own_batch_by_cut
                .entry(cut.to_string())
                .or_insert(Ewma::new(self.config.half_life, Domain::Positive)?),
        };
        per_cut.update("batch_size", rows, now)
    }

    /// The batch this client's requests at `cut` ran in recently, if fresh.
    pub fn cut_batch(&self, cut: &str, now: Instant) -> Option<f64> {
        let e = self.own_batch_by_cut.get(cut)?;
        match self.config.staleness.read(e, now) {
            Reading::Fresh(k) => Some(k),
            _ => None,
        }
    }

    /// The batch a request at each cut would join, as of `now`. From the server's latest
    /// report while it is fresh (its per-cut list covers every request at every cut, and a cut
    /// it leaves out ran nothing: 1); otherwise from this client's own fresh replies per cut
    /// ([`LoadEstimator::cut_batch`]), with other cuts left to the server-wide mean.
    pub fn cut_batches(&self, now: Instant) -> CutBatches {
        if let Some(by_cut) = self.fresh_by_cut(now) {
            return CutBatches {
                by_cut: by_cut
                    .iter()
                    .map(|(id, c)| (id.clone(), c.mean_batch_size))
                    .collect(),
                otherwise: Some(1.0),
            };
        }
        CutBatches {
            by_cut: self
                .own_batch_by_cut
                .keys()
                .filter_map(|c| Some((c.clone(), self.cut_batch(c, now)?)))
                .collect(),
            otherwise: None,
        }
    }

    /// The latest report's per-cut figures while they are at most `max_age` old.
    fn fresh_by_cut(&self, now: Instant) -> Option<&HashMap<String, CutLoad>> {
        let (at, by_cut) = self.server_by_cut.as_ref()?;
        (now.saturating_duration_since(*at) <= self.config.staleness.max_age).then_some(by_cut)
    }

    /// The queue wait a request at each cut would find on average, as of `now`: from the
    /// server's latest per-cut report and backlog average while they are fresh; empty
    /// otherwise (then every cut is priced with the server-wide mean wait).
    pub fn cut_waits(&self, now: Instant) -> CutWaits {
        let Some(by_cut) = self.fresh_by_cut(now) else {
            return CutWaits::default();
        };
        CutWaits {
            by_cut: by_cut
                .iter()
                .map(|(id, c)| (id.clone(), (c.queue_wait_mean_us, c.requests)))
                .collect(),
            lone_us: match self.config.staleness.read(&self.backlog_mean, now) {
                Reading::Fresh(b) => Some(b),
                _ => None,
            },
        }
    }

    /// The estimates at `now`, judged by age.
    pub fn estimate(&self, now: Instant) -> LoadEstimates {
        let s = &self.config.staleness;
        let own = s.read(&self.own_batch, now);
        LoadEstimates {
            queue_us: self
                .backlog_now(now)
                .map_or_else(|| s.read(&self.queue_us, now), Reading::Fresh),
            server_slowdown: s.read(&self.slowdown, now),
            server_batch: match own {
                Reading::Fresh(_) => own,
                _ => s.read(&self.batch, now),
            },
            queue_length: s.read(&self.queue_length, now),
        }
    }

    /// The expected queue wait from the server's latest backlog, while it is at most
    /// `backlog_max_age` old: the backlog less the time since (executors work it off).
    pub fn backlog_now(&self, now: Instant) -> Option<f64> {
        let (at, b) = self.backlog?;
        let age = now.saturating_duration_since(at);
        (age <= self.config.backlog_max_age).then(|| (b - age.as_secs_f64() * 1e6).max(0.0))
    }

    /// The queue by arrival time ([`QueueOutlook`]): from the fresh backlog towards the
    /// window's mean wait; `None` unless both are known.
    pub fn queue_outlook(&self, now: Instant) -> Option<QueueOutlook> {
        Some(QueueOutlook {
            now_us: self.backlog_now(now)?,
            mean_us: self.config.staleness.read(&self.queue_us, now).value()?,
            memory_us: self.config.queue_memory.as_secs_f64() * 1e6,
        })
    }

    /// Whether to poll the server's load at `now`: no report yet, or none within `max_age / 2`
    /// (e.g. the watch stream has gone quiet and no request was sent).
    pub fn needs_load_poll(&self, now: Instant) -> bool {
        self.config.staleness.needs_refresh(&self.queue_us, now)
    }

    /// Time since the latest accepted report; `None` before the first.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.queue_us.age(now)
    }

    /// Reports refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

#[cfg(test)]
mod tests;
