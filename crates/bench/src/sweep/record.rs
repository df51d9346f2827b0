//! One measured request of a sweep, as written to the results file and read back by the report.

use loadpart_client::{FallbackReason, InferOutcome, LoadSample, Route};
use serde::{Deserialize, Serialize};

use super::config::Cell;

/// The server's load when the request was sent (a `GetLoad` on the unshaped path just before).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct LoadNow {
    /// Mean queue wait over the server's load window, ms.
    pub queue_wait_ms: f64,
    /// Measured / profiled batch time over the window.
    pub slowdown: f64,
    /// Requests waiting now.
    pub queue_length: u32,
    /// Requests accepted and not answered now.
    pub in_flight: u32,
    /// Mean batch size over the window.
    pub mean_batch: f64,
    /// Completions per second over the window.
    pub requests_per_s: f64,
    /// How long a request arriving then would have waited for an executor (the queue as it
    /// stood), ms; absent when the server did not know (or in records written before it was).
    #[serde(default)]
    pub backlog_ms: Option<f64>,
}

impl From<&LoadSample> for LoadNow {
    fn from(s: &LoadSample) -> Self {
        Self {
            queue_wait_ms: s.queue_wait_mean_us * 1e-3,
            slowdown: s.slowdown,
            queue_length: s.queue_length,
            in_flight: s.in_flight,
            mean_batch: s.mean_batch_size,
            requests_per_s: s.requests_per_s,
            backlog_ms: s.backlog_us.map(|b| b * 1e-3),
        }
    }
}

/// Latency by component, ms (predicted: the planner's terms; measured: what the client saw).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Parts {
    pub device: f64,
    pub encode: f64,
    /// Predicted: upload + RTT + download; measured: the call minus the server's own time.
    pub network: f64,
    /// Predicted: queue; measured: the server's reported queue wait (and cold part build).
    pub queue: f64,
    /// Predicted: tail and decode; measured: the server's decode and compute.
    pub server: f64,
    /// Finishing on the device after a failed offload; predicted: the expected price of a miss
    /// (miss rate × its cost, see `loadpart_plan::OffloadRisk`).
    pub fallback: f64,
    pub total: f64,
}

/// One request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub cell: Cell,
    /// Round (0-based) within the cell repetition.
    pub round: usize,
    /// Seconds since the cell's measurement started, at completion.
    pub t: f64,
    /// What was measured: a policy name, `server-raw`, or `topN` (a forced cut).
    pub variant: String,
    /// The policy as the client reports it (`fixed:CUT` for a forced cut).
    pub policy: String,
    pub cut: String,
    /// Share of the model on the device, by plan.
    pub head_fraction: f64,
    /// `local`, `local_only`, `offloaded` or `fallback`.
    pub route: String,
    /// Why it fell back or ran locally (empty when it did not).
    pub why: String,
    /// Refused by the server for load (a kind of fallback).
    pub refused: bool,
    pub predicted: Parts,
    pub measured: Parts,
    /// The client's bandwidth estimate, Mbit/s (uplink).
    pub estimate_mbit: f64,
    /// The client's queue estimate, ms.
    pub estimate_queue_ms: f64,
    /// The server's load just before sending.
    pub load: LoadNow,
    /// Top-1 class equal to that of local, unquantized execution of the same input.
    pub top1_match: bool,
    pub sent_bytes: u64,
}

impl Record {
    /// The record of `o`.
    #[allow(clippy::too_many_arguments, reason = "one constructor for all fields")]
    pub fn new(
        cell: &Cell,
        round: usize,
        t: f64,
        variant: &str,
        o: &InferOutcome,
        load: LoadNow,
        top1_match: bool,
    ) -> Self {
        let p = &o.predicted;
        let m = &o.measured;
        let (route, why, refused) = match &o.route {
            Route::Local => ("local", String::new(), false),
            Route::LocalOnly { why } => ("local_only", format!("{why:?}"), false),
            Route::Offloaded => ("offloaded", String::new(), false),
            Route::Fallback { why } => (
                "fallback",
                why.to_string(),
                matches!(why, FallbackReason::Overloaded(_)),
            ),
        };
        let server = m.server.unwrap_or_default();
        Self {
            cell: cell.clone(),
            round,
            t,
            variant: variant.to_string(),
            policy: o.policy.clone(),
            cut: o.cut.to_string(),
            head_fraction: o.head_fraction,
            route: route.into(),
            why,
            refused,
            predicted: Parts {
                device: p.device * 1e-3,
                encode: p.encode * 1e-3,
                network: (p.upload + p.rtt + p.download) * 1e-3,
                queue: p.queue * 1e-3,
                server: (p.server + p.decode) * 1e-3,
                fallback: p.risk * 1e-3,
                total: p.total() * 1e-3,
            },
            measured: Parts {
                device: m.device_us * 1e-3,
                encode: m.encode_us * 1e-3,
                network: m.network_us * 1e-3,
                queue: (server.queue_us + server.part_us) * 1e-3,
                server: (server.decode_us + server.compute_us) * 1e-3,
                fallback: m.fallback_us * 1e-3,
                total: m.total_us * 1e-3,
            },
            estimate_mbit: o.estimate.uplink_bytes_per_s * 8e-6,
            estimate_queue_ms: o.estimate.queue_us * 1e-3,
            load,
            top1_match,
            sent_bytes: o.sent_bytes,
        }
    }

    /// Whether the server did not compute it although the policy chose to offload.
    pub fn fell_back(&self) -> bool {
        self.route == "fallback" || self.route == "local_only"
    }
}
