//! Partition policies behind one trait, all using the same profiles.
//!
//! | name | decides with |
//! | --- | --- |
//! | `local` | nothing: everything on the device |
//! | `server` | nothing: the inputs are sent (full offload) |
//! | `neurosurgeon` | the full model with an idle server (W = 0, f = 1, k = 1): bandwidth-aware, load-unaware |
//! | `neurosurgeon+risk` | as `neurosurgeon`, with the device's own miss risk priced: an ablation that tells load awareness from learning from misses |
//! | `loadpart-original` | the original LoADPart rule: f × batch-size-1 server time, no RTT, no download, and the queue wait W added after the argmin over offload cuts, so it only decides offload vs local |
//! | `loadpart` | the full model on the estimates |
//! | `loadpart-norisk` | as `loadpart`, without the miss risk: the other half of that ablation |
//! | `oracle` | the full model on the true values ([`Conditions::truth`]; the estimates when absent) |
//! | `fixed:<cut>` | a given cut, evaluated under the full model |
//!
//! The original searched parallel branches with a per-branch heuristic; here every policy that
//! searches uses the exact solver, so `loadpart-original` differs from `loadpart` only in its cost
//! model.

use crate::{Conditions, Decision, PerCut, PlanError, Planner};
use loadpart_cuts::{Cut, CutId};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

/// A partition policy: conditions in, decision out. Pure and cheap; call it per request.
pub trait Policy: Send + Sync + fmt::Debug {
    /// The policy's name, as [`PolicyKind`] parses it.
    fn name(&self) -> String;
    /// Picks a cut for one request.
    fn decide(&self, conditions: &Conditions) -> Decision;
    /// As [`Policy::decide`], knowing the server's load per cut (the batch a request there
    /// joins, the queue it finds on arrival; see [`Planner::decide_per_cut`]). Policies that
    /// price the server's load use it, and a fixed cut is priced with it; load-unaware
    /// policies decide as without it.
    fn decide_per_cut(&self, conditions: &Conditions, per_cut: &PerCut<'_>) -> Decision {
        let _ = per_cut;
        self.decide(conditions)
    }
}

/// How many of the best listed candidates are priced again per cut.
const PER_CUT_RUNNERS_UP: usize = 8;

/// A policy name, parsed from `local`, `server`, `neurosurgeon`, `loadpart-original`, `loadpart`,
/// `oracle` or `fixed:<cut id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyKind {
    /// Full local.
    Local,
    /// Full offload.
    Server,
    /// Bandwidth-aware, load-unaware.
    Neurosurgeon,
    /// Bandwidth-aware, load-unaware, with the miss risk priced.
    NeurosurgeonRisk,
    /// The original LoADPart rule.
    LoadpartOriginal,
    /// The full model.
    Loadpart,
    /// The full model without the miss risk.
    LoadpartNoRisk,
    /// The full model on the true values.
    Oracle,
    /// A fixed cut, by canonical id (comma-separated tensor names).
    Fixed(String),
}

impl FromStr for PolicyKind {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, PlanError> {
        Ok(match s {
            "local" => Self::Local,
            "server" => Self::Server,
            "neurosurgeon" => Self::Neurosurgeon,
            "neurosurgeon+risk" => Self::NeurosurgeonRisk,
            "loadpart-original" => Self::LoadpartOriginal,
            "loadpart" => Self::Loadpart,
            "loadpart-norisk" => Self::LoadpartNoRisk,
            "oracle" => Self::Oracle,
            _ => match s.strip_prefix("fixed:") {
                Some(cut) if !cut.is_empty() => Self::Fixed(cut.to_string()),
                _ => return Err(PlanError::UnknownPolicy(s.to_string())),
            },
        })
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Server => f.write_str("server"),
            Self::Neurosurgeon => f.write_str("neurosurgeon"),
            Self::NeurosurgeonRisk => f.write_str("neurosurgeon+risk"),
            Self::LoadpartOriginal => f.write_str("loadpart-original"),
            Self::Loadpart => f.write_str("loadpart"),
            Self::LoadpartNoRisk => f.write_str("loadpart-norisk"),
            Self::Oracle => f.write_str("oracle"),
            Self::Fixed(c) => write!(f, "fixed:{c}"),
        }
    }
}

impl PolicyKind {
    /// Every policy name but `fixed:<cut>`.
    pub const SEARCHING: [PolicyKind; 8] = [
        Self::Local,
        Self::Server,
        Self::Neurosurgeon,
        Self::NeurosurgeonRisk,
        Self::LoadpartOriginal,
        Self::Loadpart,
        Self::LoadpartNoRisk,
        Self::Oracle,
    ];

    /// The policy over `planner`. Errors only for a `fixed:` cut that is not a cut of the model;
    /// a redundant (non-minimal) cut is accepted and runs as the canonical cut of its head.
    pub fn build(&self, planner: Arc<Planner>) -> Result<Box<dyn Policy>, PlanError> {
        let head = match self {
            Self::Local => Some(planner.full_local().head.clone()),
            Self::Server => Some(planner.full_offload().head.clone()),
            Self::Fixed(id) => {
                let bad = |source| PlanError::BadFixedCut {
                    cut: id.clone(),
                    source,
                };
                // A cut id, lenient with spaces around names (as typed on a command line).
                let names = CutId::parse(id).map_err(bad)?.names();
                let cut = CutId::from_names(names.iter().map(|n| n.trim()));
                Some(planner.dag().cut_by_id(&cut).map_err(bad)?.head)
            }
            _ => None,
        };
        Ok(match head {
            Some(head) => Box::new(Fixed {
                kind: self.clone(),
                cut: planner.dag().cut_of(head),
                planner,
            }),
            None => Box::new(Searching {
                kind: self.clone(),
                planner,
            }),
        })
    }
}

/// `local`, `server` and `fixed:<cut>`: one head, evaluated under the full model.
#[derive(Debug)]
struct Fixed {
    kind: PolicyKind,
    planner: Arc<Planner>,
    cut: Cut,
}

impl Policy for Fixed {
    fn name(&self) -> String {
        self.kind.to_string()
    }

    fn decide(&self, c: &Conditions) -> Decision {
        let r = self.planner.rates(&c.estimate);
        self.planner.fixed(&self.cut.head, &r, Instant::now())
    }

    fn decide_per_cut(&self, c: &Conditions, per_cut: &PerCut<'_>) -> Decision {
        self.planner.price(&self.cut, &c.estimate, per_cut)
    }
}

/// The policies that search: `neurosurgeon`, `loadpart-original`, `loadpart`, `oracle`.
#[derive(Debug)]
struct Searching {
    kind: PolicyKind,
    planner: Arc<Planner>,
}

impl Policy for Searching {
    fn name(&self) -> String {
        self.kind.to_string()
    }

    fn decide(&self, c: &Conditions) -> Decision {
        match self.kind {
            PolicyKind::Neurosurgeon | PolicyKind::NeurosurgeonRisk => {
                self.planner.decide(&c.estimate.with_idle_server())
            }
            PolicyKind::LoadpartOriginal => self.planner.decide_original(&c.estimate),
            PolicyKind::Oracle => self.planner.decide(&c.truth.unwrap_or(c.estimate)),
            _ => self.planner.decide(&c.estimate),
        }
    }

    fn decide_per_cut(&self, c: &Conditions, per_cut: &PerCut<'_>) -> Decision {
        let e = match self.kind {
            PolicyKind::Loadpart => c.estimate,
            PolicyKind::Oracle => c.truth.unwrap_or(c.estimate),
            PolicyKind::LoadpartNoRisk => {
                let no_risk = PerCut {
                    risk: None,
                    ..*per_cut
                };
                return self
                    .planner
                    .decide_per_cut(&c.estimate, &no_risk, PER_CUT_RUNNERS_UP);
            }
            PolicyKind::NeurosurgeonRisk => {
                // An idle server: no load per cut, only the device's own misses.
                let idle = PerCut {
                    risk: per_cut.risk,
                    ..PerCut::NONE
                };
                return self.planner.decide_per_cut(
                    &c.estimate.with_idle_server(),
                    &idle,
                    PER_CUT_RUNNERS_UP,
                );
            }
            _ => return self.decide(c),
        };
        self.planner.decide_per_cut(&e, per_cut, PER_CUT_RUNNERS_UP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in PolicyKind::SEARCHING {
            assert_eq!(k.to_string().parse::<PolicyKind>().unwrap(), k);
        }
        assert_eq!(
            "fixed:a,b".parse::<PolicyKind>().unwrap(),
            PolicyKind::Fixed("a,b".into())
        );
        assert!("fixed:".parse::<PolicyKind>().is_err());
        let err = "greedy".parse::<PolicyKind>().unwrap_err();
        assert!(err.to_string().contains("loadpart-original"));
    }
}
