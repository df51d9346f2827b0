//! What the measured client cycles through, request by request: every policy of the evaluation,
//! and the planner's top cuts forced (the best fixed cut in hindsight is the best of these).

use loadpart_client::{Client, InferOptions};
use loadpart_cuts::CutId;
use loadpart_plan::{Estimate, PolicyKind};

use super::record::LoadNow;

/// The policies, in the order each round sends them. `server-raw` is full offload with the
/// inputs as plain FP32 (how a standard client sends them); `server` encodes them as any cut.
pub const POLICIES: [&str; 7] = [
    "local",
    "server-raw",
    "server",
    "neurosurgeon",
    "loadpart-original",
    "loadpart",
    "oracle",
];

/// One thing measured in a round.
#[derive(Debug, Clone)]
pub enum Variant {
    /// A policy (see [`POLICIES`], and the ablations `neurosurgeon+risk`, `loadpart-norisk`).
    Policy(String),
    /// The planner's `rank`-th cut (1-based) at the start of the cell, forced.
    Top { rank: usize, cut: CutId },
    /// The `k`-th (1-based) of the fixed cuts declared for the model before the runs.
    Fixed { k: usize, cut: CutId },
}

impl Variant {
    pub fn label(&self) -> String {
        match self {
            Variant::Policy(p) => p.clone(),
            Variant::Top { rank, .. } => format!("top{rank}"),
            Variant::Fixed { k, .. } => format!("fixed{k}"),
        }
    }

    /// The options of one request. The oracle is told the truth: the configured link rate both
    /// ways and the server's load as just polled (its backlog, or the window's mean wait when
    /// it has none; slowdown and batch over the window), with the client's own RTT and device
    /// slowdown.
    pub fn options(&self, estimate: &Estimate, link_mbit: f64, load: &LoadNow) -> InferOptions {
        match self {
            Variant::Policy(p) if p == "server-raw" => InferOptions {
                policy: Some(PolicyKind::Server),
                raw_inputs: true,
                ..InferOptions::default()
            },
            Variant::Policy(p) if p == "oracle" => InferOptions {
                policy: Some(PolicyKind::Oracle),
                truth: Some(truth(estimate, link_mbit, load)),
                ..InferOptions::default()
            },
            Variant::Policy(p) => InferOptions {
                policy: Some(p.parse().expect("the names in POLICIES are policies")),
                ..InferOptions::default()
            },
            Variant::Top { cut, .. } | Variant::Fixed { cut, .. } => InferOptions {
                cut: Some(cut.clone()),
                ..InferOptions::default()
            },
        }
    }
}

/// The true conditions: the configured rate (bytes/s) and the server's load now.
pub fn truth(estimate: &Estimate, link_mbit: f64, load: &LoadNow) -> Estimate {
    let rate = link_mbit * 1e6 / 8.0;
    Estimate {
        uplink_bytes_per_s: rate,
        downlink_bytes_per_s: rate,
        queue_us: load.backlog_ms.unwrap_or(load.queue_wait_ms) * 1e3,
        server_slowdown: if load.slowdown > 0.0 {
            load.slowdown
        } else {
            1.0
        },
        server_batch: load.mean_batch.max(1.0),
        ..*estimate
    }
}

/// `policies`, then the fixed cuts declared for the model (`fixed`), or else the planner's `top`
/// best distinct cuts on the client's current estimates (full local and full offload are left
/// out: `local` and `server` already measure them).
pub fn variants(
    client: &Client,
    policies: &[String],
    fixed: Option<&[String]>,
    top: usize,
) -> anyhow::Result<Vec<Variant>> {
    let mut v: Vec<Variant> = policies.iter().cloned().map(Variant::Policy).collect();
    if let Some(fixed) = fixed {
        for (k, id) in fixed.iter().enumerate() {
            v.push(Variant::Fixed {
                k: k + 1,
                cut: CutId::parse(id)?,
            });
        }
        return Ok(v);
    }
    let Some(planner) = client.planner() else {
        return Ok(v);
    };
    let dag = planner.dag();
    let (fl, fo) = (planner.full_local().id(dag), planner.full_offload().id(dag));
    let mut cuts: Vec<CutId> = Vec::new();
    for c in planner.ranked_candidates(&client.estimate()) {
        if cuts.len() >= top {
            break;
        }
        let id = c.candidate.cut.id(dag);
        if id != fl && id != fo && !cuts.contains(&id) {
            cuts.push(id);
        }
    }
    v.extend(
        cuts.into_iter()
            .enumerate()
            .map(|(i, cut)| Variant::Top { rank: i + 1, cut }),
    );
    Ok(v)
}
