//! A plan as users read it: the decision of one policy under given conditions, its runners-up
//! and what the search did, in the stable shape of `loadpart plan --json` (and of
//! `loadpart.plan` in Python).

use serde::Serialize;

use crate::{BlockSearchKind, Breakdown, Conditions, DecisionReport, Estimate, PlanError};
use crate::{Planner, Policy};

/// Decisions timed to report `decision_us` (the median counts).
pub const TIMED_DECISIONS: usize = 21;

/// One runner-up cut.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerUp {
    pub candidate_index: usize,
    pub kind: String,
    pub cut: Vec<String>,
    pub predicted_ms: f64,
    pub breakdown: Breakdown,
}

/// The JSON of `loadpart plan --json`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub model: String,
    pub model_hash: String,
    pub policy: String,
    pub conditions: Estimate,
    #[serde(flatten)]
    pub decision: DecisionReport,
    /// The chosen cut under the full model and the given conditions, ms (differs from
    /// `predicted_ms` for policies that predict with another model, e.g. neurosurgeon).
    pub full_model_ms: f64,
    pub listed_candidates: usize,
    pub min_cut_blocks: usize,
    pub runners_up: Vec<RunnerUp>,
}

/// The decision of `policy` under `c` (its time the median of 21 runs) with the `top` best
/// other listed cuts under the full model; `model` and `model_hash` are left for the caller.
pub fn plan_report(
    planner: &Planner,
    policy: &dyn Policy,
    c: &Conditions,
    top: usize,
) -> PlanReport {
    let mut decision = policy.decide(c);
    let mut times: Vec<u64> = (0..TIMED_DECISIONS)
        .map(|_| policy.decide(c).decision_ns)
        .collect();
    times.sort_unstable();
    decision.decision_ns = times[times.len() / 2];
    let dag = planner.dag();
    let e = c.estimate;
    let ranked = planner.ranked_candidates(&e);
    let runners_up = ranked
        .iter()
        .filter(|r| r.candidate.cut.head != decision.cut.head)
        .take(top)
        .map(|r| {
            let mut cut: Vec<String> = r
                .candidate
                .cut
                .tensors
                .iter()
                .map(|&t| dag.tensor(t).name.clone())
                .collect();
            cut.sort();
            RunnerUp {
                candidate_index: r.index,
                kind: r.candidate.kind.to_string(),
                cut,
                predicted_ms: r.predicted.total() * 1e-3,
                breakdown: r.predicted.scaled(1e-3),
            }
        })
        .collect();
    PlanReport {
        model: String::new(),
        model_hash: String::new(),
        policy: policy.name(),
        conditions: e,
        decision: decision.report(dag),
        full_model_ms: planner.predict(&decision.cut.head, &e).total() * 1e-3,
        listed_candidates: ranked.len(),
        min_cut_blocks: planner
            .block_searches()
            .iter()
            .filter(|b| **b == BlockSearchKind::MinCut)
            .count(),
        runners_up,
    }
}

impl Estimate {
    /// `self` if every field is one a link and a server can have, else the first that is not:
    /// for conditions a caller states (the planner quietly sanitizes measured ones instead).
    pub fn checked(self) -> Result<Self, PlanError> {
        let bad = |name, reason: String| Err(PlanError::BadCondition { name, reason });
        let rate_ok = |v: f64| v.is_finite() && v > 0.0;
        let time_ok = |v: f64| v.is_finite() && v >= 0.0;
        if !rate_ok(self.uplink_bytes_per_s) {
            return bad(
                "uplink",
                format!("must be > 0, got {} B/s", self.uplink_bytes_per_s),
            );
        }
        if !rate_ok(self.downlink_bytes_per_s) {
            return bad(
                "downlink",
                format!("must be > 0, got {} B/s", self.downlink_bytes_per_s),
            );
        }
        if !time_ok(self.rtt_us) {
            return bad(
                "rtt",
                format!("must be a finite time >= 0, got {} us", self.rtt_us),
            );
        }
        if !time_ok(self.queue_us) {
            return bad(
                "queue",
                format!("must be a finite time >= 0, got {} us", self.queue_us),
            );
        }
        if !rate_ok(self.server_slowdown) {
            return bad(
                "slowdown",
                format!("must be > 0, got {}", self.server_slowdown),
            );
        }
        if !rate_ok(self.device_slowdown) {
            return bad(
                "device_slowdown",
                format!("must be > 0, got {}", self.device_slowdown),
            );
        }
        if !(self.server_batch.is_finite() && self.server_batch >= 1.0) {
            return bad("batch", format!("must be >= 1, got {}", self.server_batch));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{PlannerOptions, PolicyKind};

    #[test]
    fn report_has_the_stable_keys_and_runners_up_rank_by_latency() {
        use crate::synth::{self, SplitMix64};
        let dag = synth::inception_v1_like();
        let mut rng = SplitMix64::new(3);
        let (device, server) = synth::random_profiles(&dag, &mut rng, &[1, 2, 4, 8]);
        let planner =
            Arc::new(Planner::new(dag, &device, &server, PlannerOptions::default()).unwrap());
        let e = synth::random_estimate(&mut rng);
        for kind in [
            PolicyKind::Loadpart,
            PolicyKind::Neurosurgeon,
            PolicyKind::Local,
        ] {
            let policy = kind.build(planner.clone()).unwrap();
            let r = plan_report(&planner, policy.as_ref(), &Conditions::from(e), 4);
            let json = serde_json::to_value(&r).unwrap();
            for key in [
                "cut",
                "predicted_ms",
                "breakdown",
                "decision_us",
                "runners_up",
                "full_model_ms",
            ] {
                assert!(json.get(key).is_some(), "{kind}: no {key} in {json}");
            }
            assert_eq!(r.runners_up.len(), 4);
            let totals: Vec<f64> = r.runners_up.iter().map(|u| u.predicted_ms).collect();
            assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
            if kind == PolicyKind::Loadpart {
                // The optimum beats every runner-up, and the full model is the policy's own.
                assert!(r.decision.predicted_ms <= totals[0] + 1e-9);
                assert!((r.full_model_ms - r.decision.predicted_ms).abs() < 1e-9);
            }
        }
    }
}
