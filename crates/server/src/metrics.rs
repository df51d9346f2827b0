//! Every Prometheus metric the server exports, set up in this one module, and their text
//! exposition format (version 0.0.4).
//!
//! Names start with `loadpart_`; durations are in seconds and end in `_seconds`. Buckets are
//! explicit: geometric for times (100 µs to about 100 s), powers of two for batch sizes.
//! Failures are counted by gRPC code and by the error's stable label. Models are labelled by
//! their served name; a request for an unknown model counts under `model="unknown"`, so that
//! clients cannot grow the label set. Everything is atomics except the error counters (keyed by
//! code and label, behind a mutex taken once per failure).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Label for requests naming a model the server does not serve.
const UNKNOWN_MODEL: &str = "unknown";

/// A histogram with fixed upper bounds; the sum is kept in nanoseconds or units as u64.
#[derive(Debug)]
struct Histogram {
    bounds: Vec<f64>,
    /// One count per bound, plus +Inf; not cumulative.
    counts: Vec<AtomicU64>,
    /// Sum of observations, in millionths of the unit (µs for seconds).
    sum_micro: AtomicU64,
}

impl Histogram {
    fn new(bounds: Vec<f64>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self {
            bounds,
            counts,
            sum_micro: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        let i = self.bounds.partition_point(|&b| b < v);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micro
            .fetch_add((v * 1e6).round() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = match self.bounds.get(i) {
                Some(b) => format!("{b}"),
                None => "+Inf".into(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_micro.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

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

#[derive(Debug)]
struct PerModel {
    /// Arrival to reply, successful requests.
    latency: Histogram,
    /// Arrival to leaving the queue, requests that ran.
    queue_wait: Histogram,
    /// Rows per batch.
    batch_rows: Histogram,
    /// Engine time per batch.
    batch_seconds: Histogram,
    ok: AtomicU64,
}

/// Picks one histogram of a model.
type HistogramOf = fn(&PerModel) -> &Histogram;

/// The server's metrics; see the module documentation.
#[derive(Debug)]
pub struct Metrics {
    models: HashMap<String, PerModel>,
    /// (model, gRPC code name, error label) -> count.
    errors: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    /// Authenticated device name -> inference requests received (only with device tokens, so
    /// the label set is the token file's names).
    devices: Mutex<BTreeMap<String, u64>>,
    /// (device, limit) -> requests refused for being over the device's fair share.
    share_refusals: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Calls refused with UNAUTHENTICATED (shared with the interceptor).
    unauthenticated: Arc<AtomicU64>,
}

/// Most device labels the fair-share refusal counter keeps; later devices count under
/// [`crate::fair_share::OTHER_DEVICES`] (self-declared names must not grow the label set
/// without bound).
const MAX_DEVICE_LABELS: usize = 1024;

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

impl Metrics {
    /// Metrics for `models`, batch-size buckets up to `max_batch_rows`.
    pub fn new(models: &[&str], max_batch_rows: usize) -> Self {
        let models = models
            .iter()
            .map(|&m| {
                (
                    m.to_string(),
                    PerModel {
                        latency: Histogram::new(time_buckets()),
                        queue_wait: Histogram::new(time_buckets()),
                        batch_rows: Histogram::new(batch_buckets(max_batch_rows)),
                        batch_seconds: Histogram::new(time_buckets()),
                        ok: AtomicU64::new(0),
                    },
                )
            })
            .collect();
        Self {
            models,
            errors: Mutex::new(BTreeMap::new()),
            devices: Mutex::new(BTreeMap::new()),
            share_refusals: Mutex::new(BTreeMap::new()),
            unauthenticated: Arc::default(),
        }
    }

    /// A request of `model` answered with outputs after `total`, having queued `queue`.
    pub fn request_ok(&self, model: &str, total: Duration, queue: Duration) {
        if let Some(m) = self.models.get(model) {
            m.ok.fetch_add(1, Ordering::Relaxed);
            m.latency.observe(total.as_secs_f64());
            m.queue_wait.observe(queue.as_secs_f64());
        }
    }

    /// A batch of `model` with `rows` rows ran in `infer`.
    pub fn batch(&self, model: &str, rows: usize, infer: Duration) {
        if let Some(m) = self.models.get(model) {
            m.batch_rows.observe(rows as f64);
            m.batch_seconds.observe(infer.as_secs_f64());
        }
    }

    /// A request of `model` answered with gRPC `code` for an error labelled `label`.
    pub fn request_failed(&self, model: &str, code: tonic::Code, label: &'static str) {
        let model = match self.models.get_key_value(model) {
            Some((k, _)) => k.clone(),
            None => UNKNOWN_MODEL.to_string(),
        };
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *errors.entry((model, code_name(code), label)).or_default() += 1;
    }

    /// An inference request from the authenticated device `device` arrived.
    pub fn device_request(&self, device: &str) {
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        match devices.get_mut(device) {
            Some(n) => *n += 1,
            None => {
                devices.insert(device.to_string(), 1);
            }
        }
    }

    /// A request of `device` refused for being over its fair share, by the limit `reason`
    /// (`queued` or `rate`).
    pub fn share_refused(&self, device: &str, reason: &'static str) {
        let mut m = self
            .share_refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let known = m.contains_key(&(device.to_string(), reason));
        let device = if known || m.len() < MAX_DEVICE_LABELS {
            device
        } else {
            crate::fair_share::OTHER_DEVICES
        };
        *m.entry((device.to_string(), reason)).or_default() += 1;
    }

    /// The counter of UNAUTHENTICATED refusals, for [`crate::auth::Authenticator::counting`].
    pub fn unauthenticated_counter(&self) -> Arc<AtomicU64> {
        self.unauthenticated.clone()
    }

    /// The text exposition of every metric, with `gauges` read now.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::with_capacity(16 << 10);
        let gauge = |out: &mut String, name: &str, help: &str, v: usize| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "loadpart_queue_length",
            "Requests waiting in the queue.",
            gauges.queue_length,
        );
        gauge(
            &mut out,
            "loadpart_in_flight",
            "Requests accepted and not yet answered.",
            gauges.in_flight,
        );
        gauge(
            &mut out,
            "loadpart_executors",
            "Executor threads.",
            gauges.executors,
        );
        gauge(
            &mut out,
            "loadpart_executors_busy",
            "Executor threads running a batch.",
            gauges.executors_busy,
        );

        let mut names: Vec<&String> = self.models.keys().collect();
        names.sort();
        let histograms: [(&str, &str, HistogramOf); 4] = [
            (
                "loadpart_request_duration_seconds",
                "Arrival to reply of successful requests.",
                |m| &m.latency,
            ),
            (
                "loadpart_queue_wait_seconds",
                "Arrival to leaving the queue, requests that ran.",
                |m| &m.queue_wait,
            ),
            ("loadpart_batch_size", "Rows per batch run.", |m| {
                &m.batch_rows
            }),
            (
                "loadpart_batch_duration_seconds",
                "Engine time per batch.",
                |m| &m.batch_seconds,
            ),
        ];
        for (name, help, get) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for n in &names {
                get(&self.models[*n]).render(&mut out, name, &format!("model=\"{}\"", escape(n)));
            }
        }

        let name = "loadpart_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests answered, by gRPC code.\n# TYPE {name} counter"
        );
        for n in &names {
            let ok = self.models[*n].ok.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{model=\"{}\",code=\"OK\"}} {ok}", escape(n));
        }
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_code: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for ((m, code, _), v) in errors.iter() {
            *by_code.entry((m.as_str(), code)).or_default() += v;
        }
        for ((m, code), v) in &by_code {
            let _ = writeln!(out, "{name}{{model=\"{}\",code=\"{code}\"}} {v}", escape(m));
        }
        let name = "loadpart_request_errors_total";
        let _ = writeln!(
            out,
            "# HELP {name} Failed requests, by gRPC code and error label.\n# TYPE {name} counter"
        );
        for ((m, code, label), v) in errors.iter() {
            let _ = writeln!(
                out,
                "{name}{{model=\"{}\",code=\"{code}\",error=\"{label}\"}} {v}",
                escape(m)
            );
        }
        let name = "loadpart_rejections_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused at admission (RESOURCE_EXHAUSTED), by reason.\n# TYPE {name} counter"
        );
        for ((m, code, label), v) in errors.iter() {
            if *code == "RESOURCE_EXHAUSTED" {
                let _ = writeln!(
                    out,
                    "{name}{{model=\"{}\",reason=\"{label}\"}} {v}",
                    escape(m)
                );
            }
        }
        drop(errors);
        let name = "loadpart_fair_share_refusals_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused (RESOURCE_EXHAUSTED, before decoding) because their device was over its fair share, by device and limit (queued or rate).\n# TYPE {name} counter"
        );
        let refusals = self
            .share_refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((d, reason), v) in refusals.iter() {
            let _ = writeln!(
                out,
                "{name}{{device=\"{}\",reason=\"{reason}\"}} {v}",
                escape(d)
            );
        }
        drop(refusals);
        let name = "loadpart_unauthenticated_total";
        let _ = writeln!(
            out,
            "# HELP {name} Calls refused with UNAUTHENTICATED (missing or unknown bearer token).\n# TYPE {name} counter\n{name} {}",
            self.unauthenticated.load(Ordering::Relaxed)
        );
        let devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        if !devices.is_empty() {
            let name = "loadpart_device_requests_total";
            let _ = writeln!(
                out,
                "# HELP {name} Inference requests received, by authenticated device.\n# TYPE {name} counter"
            );
            for (d, v) in devices.iter() {
                let _ = writeln!(out, "{name}{{device=\"{}\"}} {v}", escape(d));
            }
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
