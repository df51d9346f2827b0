//! Every Prometheus metric the server exports, registered in this one module in a registry of
//! the server instance's own (several servers can run in one process), and exposed in the
//! Prometheus text format (version 0.0.4) by `prometheus-client`.
//!
//! Names start with `loadpart_`; durations are in seconds and end in `_seconds`. Buckets are
//! explicit: geometric for times (100 µs to about 100 s), powers of two for batch sizes.
//! Failures are counted by gRPC code and by the error's stable label. Models are labelled by
//! their served name; a request for an unknown model counts under `model="unknown"`, so that
//! clients cannot grow the label set; so are fair-share refusals beyond [`MAX_DEVICE_LABELS`]
//! devices. Gauges are read from the monitor at scrape time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Label for requests naming a model the server does not serve.
const UNKNOWN_MODEL: &str = "unknown";

/// Most device labels the fair-share refusal counter keeps; later devices count under
/// [`crate::fair_share::OTHER_DEVICES`] (self-declared names must not grow the label set
/// without bound).
pub const MAX_DEVICE_LABELS: usize = 1024;

/// Geometric time buckets, seconds: 100 µs x 2^i up to about 105 s.
fn time_buckets() -> Vec<f64> {
    (0..21).map(|i| 1e-4 * f64::powi(2.0, i)).collect()
}

/// Powers of two up to `max` and `max` itself.
fn batch_buckets(max: usize) -> Vec<f64> {
    let mut v: Vec<f64> = std::iter::successors(Some(1usize), |b| b.checked_mul(2))
        .take_while(|&b| b < max)
        .map(|b| b as f64)
        .collect();
    v.push(max.max(1) as f64);
    v
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    model: String,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    model: String,
    code: &'static str,
    error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    model: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShareLabels {
    device: String,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabel {
    device: String,
}

/// Makes a family's histograms, all with the same buckets.
#[derive(Debug, Clone)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// A family of histograms with one set of buckets.
type Histograms = Family<ModelLabel, Histogram, Buckets>;

fn histograms(buckets: Vec<f64>) -> Histograms {
    Family::new_with_constructor(Buckets(buckets.into()))
}

/// Gauges read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Requests queued.
    pub queue_length: usize,
    /// Requests accepted and not yet answered.
    pub in_flight: usize,
    /// Executors running a batch.
    pub executors_busy: usize,
    /// Executors configured.
    pub executors: usize,
}

/// The server's metrics; see the module documentation.
pub struct Metrics {
    registry: Registry,
    /// The served models' names.
    models: HashSet<String>,
    queue_length: Gauge,
    in_flight: Gauge,
    executors: Gauge,
    executors_busy: Gauge,
    /// Arrival to reply, successful requests.
    latency: Histograms,
    /// Arrival to leaving the queue, requests that ran.
    queue_wait: Histograms,
    /// Rows per batch.
    batch_rows: Histograms,
    /// Engine time per batch.
    batch_seconds: Histograms,
    requests: Family<CodeLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    rejections: Family<ReasonLabels, Counter>,
    share_refusals: Family<ShareLabels, Counter>,
    /// Devices with a fair-share refusal label (at most [`MAX_DEVICE_LABELS`]).
    share_devices: Mutex<HashSet<String>>,
    /// Inference requests by authenticated device (only with device tokens, so the label set
    /// is the token file's names).
    device_requests: Family<DeviceLabel, Counter>,
    /// Calls refused with UNAUTHENTICATED (shared with the interceptor).
    unauthenticated: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("models", &self.models)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for `models`, batch-size buckets up to `max_batch_rows`. Every model's series
    /// exist from the start (at zero), so that a scrape before the first request shows them.
    pub fn new(models: &[&str], max_batch_rows: usize) -> Self {
        let mut m = Self {
            registry: Registry::default(),
            models: models.iter().map(|s| s.to_string()).collect(),
            queue_length: Gauge::default(),
            in_flight: Gauge::default(),
            executors: Gauge::default(),
            executors_busy: Gauge::default(),
            latency: histograms(time_buckets()),
            queue_wait: histograms(time_buckets()),
            batch_rows: histograms(batch_buckets(max_batch_rows)),
            batch_seconds: histograms(time_buckets()),
            requests: Family::default(),
            errors: Family::default(),
            rejections: Family::default(),
            share_refusals: Family::default(),
            share_devices: Mutex::default(),
            device_requests: Family::default(),
            unauthenticated: Counter::default(),
        };
        for model in models {
            let label = ModelLabel {
                model: model.to_string(),
            };
            for h in [&m.latency, &m.queue_wait, &m.batch_rows, &m.batch_seconds] {
                drop(h.get_or_create(&label));
            }
            drop(m.requests.get_or_create(&CodeLabels {
                model: model.to_string(),
                code: "OK",
            }));
        }
        let r = &mut m.registry;
        r.register(
            "loadpart_queue_length",
            "Requests waiting in the queue",
            m.queue_length.clone(),
        );
        r.register(
            "loadpart_in_flight",
            "Requests accepted and not yet answered",
            m.in_flight.clone(),
        );
        r.register(
            "loadpart_executors",
            "Executor threads",
            m.executors.clone(),
        );
        r.register(
            "loadpart_executors_busy",
            "Executor threads running a batch",
            m.executors_busy.clone(),
        );
        r.register(
            "loadpart_request_duration_seconds",
            "Arrival to reply of successful requests",
            m.latency.clone(),
        );
        r.register(
            "loadpart_queue_wait_seconds",
            "Arrival to leaving the queue, requests that ran",
            m.queue_wait.clone(),
        );
        r.register(
            "loadpart_batch_size",
            "Rows per batch run",
            m.batch_rows.clone(),
        );
        r.register(
            "loadpart_batch_duration_seconds",
            "Engine time per batch",
            m.batch_seconds.clone(),
        );
        r.register(
            "loadpart_requests",
            "Requests answered, by gRPC code",
            m.requests.clone(),
        );
        r.register(
            "loadpart_request_errors",
            "Failed requests, by gRPC code and error label",
            m.errors.clone(),
        );
        r.register(
            "loadpart_rejections",
            "Requests refused at admission (RESOURCE_EXHAUSTED), by reason",
            m.rejections.clone(),
        );
        r.register(
            "loadpart_fair_share_refusals",
            "Requests refused (RESOURCE_EXHAUSTED, before decoding) because their device was \
             over its fair share, by device and limit (queued or rate)",
            m.share_refusals.clone(),
        );
        r.register(
            "loadpart_unauthenticated",
            "Calls refused with UNAUTHENTICATED (missing or unknown bearer token)",
            m.unauthenticated.clone(),
        );
        r.register(
            "loadpart_device_requests",
            "Inference requests received, by authenticated device",
            m.device_requests.clone(),
        );
        m
    }

    /// A request of `model` answered with outputs after `total`, having queued `queue`.
    pub fn request_ok(&self, model: &str, total: Duration, queue: Duration) {
        if self.models.contains(model) {
            let label = ModelLabel {
                model: model.to_string(),
            };
            self.requests
                .get_or_create(&CodeLabels {
                    model: model.to_string(),
                    code: "OK",
                })
                .inc();
            self.latency
                .get_or_create(&label)
                .observe(total.as_secs_f64());
            self.queue_wait
                .get_or_create(&label)
                .observe(queue.as_secs_f64());
        }
    }

    /// A batch of `model` with `rows` rows ran in `infer`.
    pub fn batch(&self, model: &str, rows: usize, infer: Duration) {
        if self.models.contains(model) {
            let label = ModelLabel {
                model: model.to_string(),
            };
            self.batch_rows.get_or_create(&label).observe(rows as f64);
            self.batch_seconds
                .get_or_create(&label)
                .observe(infer.as_secs_f64());
        }
    }

    /// A request of `model` answered with gRPC `code` for an error labelled `label`.
    pub fn request_failed(&self, model: &str, code: tonic::Code, label: &'static str) {
        let model = if self.models.contains(model) {
            model
        } else {
            UNKNOWN_MODEL
        };
        let code = code_name(code);
        self.requests
            .get_or_create(&CodeLabels {
                model: model.to_string(),
                code,
            })
            .inc();
        self.errors
            .get_or_create(&ErrorLabels {
                model: model.to_string(),
                code,
                error: label,
            })
            .inc();
        if code == "RESOURCE_EXHAUSTED" {
            self.rejections
                .get_or_create(&ReasonLabels {
                    model: model.to_string(),
                    reason: label,
                })
                .inc();
        }
    }

    /// An inference request from the authenticated device `device` arrived.
    pub fn device_request(&self, device: &str) {
        self.device_requests
            .get_or_create(&DeviceLabel {
                device: device.to_string(),
            })
            .inc();
    }

    /// A request of `device` refused for being over its fair share, by the limit `reason`
    /// (`queued` or `rate`).
    pub fn share_refused(&self, device: &str, reason: &'static str) {
        let device = {
            let mut seen = self.share_devices.lock();
            if seen.contains(device) || seen.len() < MAX_DEVICE_LABELS {
                seen.insert(device.to_string());
                device
            } else {
                crate::fair_share::OTHER_DEVICES
            }
        };
        self.share_refusals
            .get_or_create(&ShareLabels {
                device: device.to_string(),
                reason,
            })
            .inc();
    }

    /// The counter of UNAUTHENTICATED refusals, for [`crate::auth::Authenticator::counting`].
    pub fn unauthenticated_counter(&self) -> Counter {
        self.unauthenticated.clone()
    }

    /// The text exposition of every metric, with `gauges` read now.
    pub fn render(&self, gauges: Gauges) -> String {
        let set = |g: &Gauge, v: usize| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        set(&self.queue_length, gauges.queue_length);
        set(&self.in_flight, gauges.in_flight);
        set(&self.executors, gauges.executors);
        set(&self.executors_busy, gauges.executors_busy);
        let mut out = String::with_capacity(16 << 10);
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// The canonical upper-case name of a gRPC code.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests;
