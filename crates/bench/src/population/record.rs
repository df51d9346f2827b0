//! What a population run writes: one line per frame, then one that closes the run with the
//! server's utilization; a run is done when its closing line is in the file (the file resumes).

use serde::{Deserialize, Serialize};

use super::config::{Population, Run};

/// One frame of one device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    pub run: Run,
    pub device: usize,
    /// The device's policy (in a `mix` run, its own).
    pub policy: String,
    /// Arrival, seconds from the start of measurement.
    pub t: f64,
    /// Arrival to result, ms; `None` for a frame dropped from the device's one-slot queue.
    pub latency_ms: Option<f64>,
    /// The device's SLO, ms (see `Population::slo_factor`).
    pub slo_ms: f64,
    pub cut: String,
    /// `local`, `offloaded`, `fallback` or `local_only`; `dropped` for a dropped frame.
    pub route: String,
    /// Whether a fallback was a refusal for load (RESOURCE_EXHAUSTED).
    pub refused: bool,
    /// The planner's prediction, ms.
    pub predicted_ms: f64,
    pub sent_bytes: u64,
}

impl Frame {
    /// Whether the frame finished within its SLO (a dropped frame did not).
    pub fn met_slo(&self) -> bool {
        self.latency_ms.is_some_and(|l| l <= self.slo_ms)
    }
}

/// A line of the results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    /// A session of the harness started.
    Session {
        started_unix_s: u64,
        population: Box<Population>,
    },
    Frame(Box<Frame>),
    /// A run is complete: its frames are all above.
    Done {
        run: Run,
        key: String,
        /// Fraction of the server's executor time busy during the measured seconds.
        utilization: f64,
        /// Measured seconds.
        seconds: f64,
    },
}
