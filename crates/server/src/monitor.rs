//! [`Monitor`]: what the server knows about its own load, shared by the scheduler, the executors
//! and the RPC handlers. Windows and statistics sit behind short-held mutexes; gauges are atomics.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadpart_cuts::CutId;
use loadpart_proto::inference::ModelStatistics;
use loadpart_proto::loadpart::{BatchSizeCount, CutBatch, FormingBatch, LoadReport};

use crate::error::ServerError;
use crate::fair_share::capacity::CapacityWindow;
use crate::load::{BacklogHistory, LoadSnapshot, LoadWindow};
use crate::metrics::{Gauges, Metrics};
use crate::stats::{ModelStats, RequestCost};

struct PerModel {
    window: Mutex<LoadWindow>,
    stats: Mutex<ModelStats>,
}

/// Load windows (all models and each model), Triton statistics, and live gauges.
pub struct Monitor {
    all: Mutex<LoadWindow>,
    models: HashMap<String, PerModel>,
    executors: usize,
    /// Requests in the scheduler's queue now.
    pub queue_len: AtomicUsize,
    /// Requests accepted and not yet answered.
    pub in_flight: AtomicUsize,
    /// Executors running a batch now.
    pub busy: AtomicUsize,
    forming: Mutex<Vec<FormingBatch>>,
    /// The backlogs the scheduler computed ([`Monitor::set_backlog`]): the latest and their
    /// average over the window.
    backlog: Mutex<BacklogHistory>,
    /// Executor time per row run, for fair share's capacity and the utilization.
    capacity: Mutex<CapacityWindow>,
    /// Executor time spent in batches since start, ns.
    busy_ns: AtomicU64,
    /// The Prometheus metrics.
    pub metrics: Metrics,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("executors", &self.executors)
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Windows of `span` for each of `models`; `executors` is reported as configured;
    /// batch-size histograms go up to `max_batch_rows`.
    pub fn new(
        models: &[&str],
        span: Duration,
        executors: usize,
        max_batch_rows: usize,
    ) -> Result<Self, ServerError> {
        let now = Instant::now();
        let metrics = Metrics::new(models, max_batch_rows);
        let models = models
            .iter()
            .map(|&m| {
                Ok((
                    m.to_string(),
                    PerModel {
                        window: Mutex::new(LoadWindow::new(span, now)?),
                        stats: Mutex::new(ModelStats::default()),
                    },
                ))
            })
            .collect::<Result<_, ServerError>>()?;
        Ok(Self {
            all: Mutex::new(LoadWindow::new(span, now)?),
            models,
            executors,
            queue_len: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            forming: Mutex::new(Vec::new()),
            backlog: Mutex::new(BacklogHistory::new(span)),
            capacity: Mutex::new(CapacityWindow::new(span)),
            busy_ns: AtomicU64::new(0),
            metrics,
        })
    }

    /// Replaces the list of batches now forming (the scheduler calls this after each change).
    pub fn set_forming(&self, forming: Vec<FormingBatch>) {
        *self.forming.lock() = forming;
    }

    /// The scheduler's backlog at `now` (how long a new request would wait for an executor;
    /// `None` when unknown). Reports age it: an executor frees up as time passes.
    pub fn set_backlog(&self, now: Instant, backlog: Option<Duration>) {
        self.backlog.lock().set(now, backlog);
    }

    /// A request of `model` at `cut` that ran in a batch of `batch_rows` rows: its queue wait
    /// and phase costs.
    pub fn record_request(
        &self,
        model: &str,
        cut: &CutId,
        batch_rows: usize,
        now: Instant,
        cost: &RequestCost,
    ) {
        self.metrics.request_ok(model, cost.total, cost.queue);
        self.all.lock().record_request(now, cost.queue);
        if let Some(m) = self.models.get(model) {
            m.window
                .lock()
                .record_request_at(now, cost.queue, cut, batch_rows);
            m.stats.lock().success(cost);
        }
    }

    /// A batch of `model` that ran: rows, measured engine time, profiled time (µs), and its
    /// summed phase times for the statistics.
    pub fn record_batch(
        &self,
        model: &str,
        now: Instant,
        rows: usize,
        measured: Duration,
        profiled_us: f64,
        phases: [Duration; 3],
    ) {
        self.metrics.batch(model, rows, measured);
        let busy: Duration = phases.iter().sum();
        self.capacity.lock().record(now, rows, busy);
        self.busy_ns.fetch_add(
            u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.all
            .lock()
            .record_batch(now, rows, measured, profiled_us);
        if let Some(m) = self.models.get(model) {
            m.window
                .lock()
                .record_batch(now, rows, measured, profiled_us);
            m.stats.lock().batch(rows, phases[0], phases[1], phases[2]);
        }
    }

    /// Requests per second the executors could complete at the recent batch mix (see
    /// [`CapacityWindow::per_s`]); `None` when no batch ran in the window.
    pub fn capacity_per_s(&self, now: Instant) -> Option<f64> {
        self.capacity.lock().per_s(now, self.executors)
    }

    /// A request of `model` answered with an error after `d`.
    pub fn record_failure(&self, model: &str, d: Duration) {
        if let Some(m) = self.models.get(model) {
            m.stats.lock().fail(d);
        }
    }

    /// The Prometheus text of every metric, gauges read now.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(Gauges {
            queue_length: self.queue_len.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            executors_busy: self.busy.load(Ordering::Relaxed),
            executors: self.executors,
        })
    }

    /// Triton's statistics of `model`, or of every model when `None`.
    pub fn statistics(&self, model: Option<&str>) -> Vec<ModelStatistics> {
        let mut names: Vec<&String> = self.models.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter(|n| model.is_none_or(|m| m == n.as_str()))
            .map(|n| self.models[n].stats.lock().proto(n))
            .collect()
    }

    /// The load report for `model` (its window; queue and executor gauges are server-wide), or
    /// for all models when `None`. `None` if the model is unknown.
    pub fn report(&self, model: Option<&str>) -> Option<LoadReport> {
        let now = Instant::now();
        let mut snap: LoadSnapshot = match model {
            None => self.all.lock().snapshot(now),
            Some(m) => self.models.get(m)?.window.lock().snapshot(now),
        };
        let forming = self
            .forming
            .lock()
            .iter()
            .filter(|f| model.is_none_or(|m| m == f.model_name))
            .cloned()
            .collect();
        // Per cut, from each model's own window (cut ids are only unique within a model).
        let mut cut_batches = Vec::new();
        for (name, m) in &self.models {
            if model.is_some_and(|want| want != name) {
                continue;
            }
            let stats = match model {
                Some(_) => std::mem::take(&mut snap.cut_batches),
                None => m.window.lock().snapshot(now).cut_batches,
            };
            cut_batches.extend(stats.into_iter().map(|c| CutBatch {
                model_name: name.clone(),
                cut_id: c.cut.to_string(),
                requests: c.requests,
                mean_batch_size: c.mean_batch_rows,
                queue_wait_mean_us: c.queue_wait_mean_us,
            }));
        }
        let (backlog_us, backlog_mean_us) = {
            let mut b = self.backlog.lock();
            (b.now_us(now), b.mean_us(now))
        };
        Some(LoadReport {
            timestamp_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            window_s: snap.window_s,
            queue_wait_mean_us: snap.queue_wait_mean_us,
            queue_wait_p95_us: snap.queue_wait_p95_us,
            slowdown: snap.slowdown,
            queue_length: self.queue_len.load(Ordering::Relaxed) as u32,
            in_flight: self.in_flight.load(Ordering::Relaxed) as u32,
            requests_per_s: snap.requests_per_s,
            batch_mix: snap
                .batch_mix
                .iter()
                .map(|&(size, count)| BatchSizeCount {
                    batch_size: size as u32,
                    count,
                })
                .collect(),
            forming,
            mean_batch_size: snap.mean_batch_size,
            executors: self.executors as u32,
            executors_busy: self.busy.load(Ordering::Relaxed) as u32,
            cut_batches,
            backlog_us,
            backlog_mean_us,
            device_share: None,
            utilization: self.capacity.lock().busy_fraction(now, self.executors),
            busy_seconds_total: self.busy_ns.load(Ordering::Relaxed) as f64 * 1e-9,
        })
    }
}

/// Counts a request as in flight while it lives.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Monitor);

impl<'a> InFlight<'a> {
    /// Counts one more in-flight request until the guard drops.
    pub fn new(m: &'a Monitor) -> Self {
        m.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
