//! What a decision returns: the cut, where it sits in the model, and the predicted latency.

use loadpart_cuts::{Cut, CutId, Dag};
use serde::{Deserialize, Serialize};

/// Predicted end-to-end latency of one cut, split by component, µs.
///
/// `total()` = device + encode + upload + rtt + queue + server + decode + download + risk, i.e.
/// `T(c) = D + E + S/B_up + RTT + W + f·R(c, k) + X + O/B_down`, plus the expected price of a
/// miss when offloads have been missing. Full local has only `device`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Head on the device (D), including the device slowdown.
    pub device: f64,
    /// Quantization and compression on the device (E).
    pub encode: f64,
    /// Cut tensors on the uplink (S / B_up).
    pub upload: f64,
    /// One round trip.
    pub rtt: f64,
    /// Expected wait in the server queue (W).
    pub queue: f64,
    /// Tail on the server per request at the batch it is forming, times the slowdown (f·R).
    pub server: f64,
    /// Decompression and dequantization on the server (X).
    pub decode: f64,
    /// Outputs computed by the tail on the downlink (O / B_down).
    pub download: f64,
    /// The expected price of the offload missing (refused, or no answer before its deadline)
    /// and finishing on the device: miss rate × (what a miss costs − the rest of this sum);
    /// see [`crate::OffloadRisk`]. 0 for full local and while offloads do not miss.
    #[serde(default)]
    pub risk: f64,
}

impl Breakdown {
    /// The predicted end-to-end latency, µs.
    pub fn total(&self) -> f64 {
        self.device
            + self.encode
            + self.upload
            + self.rtt
            + self.queue
            + self.server
            + self.decode
            + self.download
            + self.risk
    }
}

/// Where a cut sits in the model, for plots and reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CutPosition {
    /// Index in [`crate::Planner::candidates`] order (full offload first, full local last);
    /// `None` for a cut found by min-cut inside a block too large to list.
    pub candidate_index: Option<usize>,
    /// Fraction of the nodes that run on the device, in `[0, 1]`.
    pub head_fraction: f64,
}

/// A policy's decision for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The chosen cut (its id: `cut.id(planner.dag())`).
    pub cut: Cut,
    /// Where the cut sits.
    pub position: CutPosition,
    /// The latency the policy predicts for the cut, by its own cost model (a load-unaware policy
    /// predicts for an idle server).
    pub predicted: Breakdown,
    /// The minimised objective as the solver computed it, µs; equal to `predicted.total()` up to
    /// rounding for the full model (it may differ for `loadpart-original`, whose objective is not a
    /// latency).
    pub objective_us: f64,
    /// Wall time the decision took, ns.
    pub decision_ns: u64,
}

impl Breakdown {
    /// Every component multiplied by `factor` (e.g. `1e-3` for milliseconds).
    pub fn scaled(&self, factor: f64) -> Breakdown {
        Breakdown {
            device: self.device * factor,
            encode: self.encode * factor,
            upload: self.upload * factor,
            rtt: self.rtt * factor,
            queue: self.queue * factor,
            server: self.server * factor,
            decode: self.decode * factor,
            download: self.download * factor,
            risk: self.risk * factor,
        }
    }
}

/// A decision in the stable JSON shape of `loadpart plan --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionReport {
    /// Cut tensor names, sorted.
    pub cut: Vec<String>,
    /// Canonical cut id (the names, escaped, joined with `,`; see [`CutId`]).
    pub cut_id: CutId,
    /// The tensors actually sent (cut tensors read by the tail), sorted by name.
    pub sent: Vec<String>,
    /// Predicted end-to-end latency, ms.
    pub predicted_ms: f64,
    /// Predicted latency by component, ms.
    pub breakdown: Breakdown,
    /// Time the decision took, µs.
    pub decision_us: f64,
    /// Where the cut sits.
    pub position: CutPosition,
}

impl Decision {
    /// The decision as reported to users; `dag` is the planner's DAG.
    pub fn report(&self, dag: &Dag) -> DecisionReport {
        let names = |ids: &mut dyn Iterator<Item = loadpart_cuts::TensorId>| {
            let mut v: Vec<String> = ids.map(|t| dag.tensor(t).name.clone()).collect();
            v.sort();
            v
        };
        let cut = names(&mut self.cut.tensors.iter().copied());
        DecisionReport {
            cut_id: CutId::from_names(&cut),
            sent: names(&mut self.cut.sent_tensors(dag)),
            cut,
            predicted_ms: self.predicted.total() * 1e-3,
            breakdown: self.predicted.scaled(1e-3),
            decision_us: self.decision_ns as f64 * 1e-3,
            position: self.position,
        }
    }
}
