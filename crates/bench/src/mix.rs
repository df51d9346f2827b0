//! Cut mixes: which cuts synthetic devices send, and how often.

use anyhow::{Context, Result};
use loadpart_cuts::CutId;
use loadpart_graph::Prepared;

/// The mix from `--cut` values.
pub fn mix(specs: &[String], prepared: &Prepared) -> Result<Vec<(CutId, f64)>> {
    let dag = prepared.stages.dag();
    let space = prepared.stages.cut_space(4096);
    let candidates: Vec<_> = space.all_candidate_cuts().map(|c| c.cut.clone()).collect();
    let defaults = ["full".to_string(), "mid".to_string()];
    let specs = if specs.is_empty() {
        &defaults[..]
    } else {
        specs
    };
    specs
        .iter()
        .map(|s| {
            let (id, w) = match s.rsplit_once('@') {
                Some((id, w)) => (
                    id,
                    w.parse::<f64>()
                        .with_context(|| format!("weight in {s:?}"))?,
                ),
                None => (s.as_str(), 1.0),
            };
            let cut = match id {
                "full" => CutId::from_names(prepared.model.inputs()),
                "mid" => candidates[candidates.len() / 2].id(dag),
                other => CutId::parse(other)?,
            };
            Ok((cut, w))
        })
        .collect()
}
