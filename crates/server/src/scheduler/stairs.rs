//! Staircase merging in the scheduler: when a batch leaves with room to spare, batches of the
//! same model waiting at nesting cuts join it ([`crate::plan_staircases`]); the executor runs
//! the earlier groups forward through segments to the last group's cut and the tail once, at
//! the merged batch size.
//!
//! Only segments already built are used: the executors never build one. A staircase that needs a
//! missing segment starts its build off the executors ([`crate::parts::Builds::start`]) and the
//! batch leaves merged only through segments that are ready (alone if none is); later batches
//! use the segment once it is built.

use std::sync::Arc;
use std::time::Instant;

use loadpart_cuts::{CutId, Dag, NodeSet};
use loadpart_runtime::{PartKey, PartRunner, PartSpec};

use super::Actor;
use crate::batcher::{Batch, BatchKey};
use crate::jobs::{Early, Job};
use crate::registry::ServedModel;
use crate::staircase::{StairGroup, Staircase, plan_staircases};

fn segment(from: &CutId, to: &CutId) -> PartSpec {
    PartSpec::Segment {
        from: from.clone(),
        to: to.clone(),
    }
}

/// Whether `spec` of `model` is built and cached (without counting a cache hit).
fn built(model: &ServedModel, spec: PartSpec) -> bool {
    model.runtime.cache().contains(&PartKey {
        model: model.runtime.identity().to_string(),
        spec,
    })
}

/// The built segment of every stage of `stair` but the last, in stage order; the specs of those
/// not built when some are not.
fn segments(model: &ServedModel, stair: &Staircase) -> Result<Vec<Arc<PartRunner>>, Vec<PartSpec>> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for st in &stair.stages {
        if let Some(to) = &st.to {
            let spec = segment(&st.from, to);
            match model.runtime.cached(spec.clone()) {
                Some(r) => found.push(r),
                None => missing.push(spec),
            }
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(missing)
    }
}

/// Whether a request that entered after head `a` may join a batch that entered after head `b`:
/// `b`'s head strictly contains `a`'s, and no node between them produces a model output (so
/// the tail of `b` computes every output the tail of `a` would).
pub(crate) fn nests(dag: &Dag, a: &NodeSet, b: &NodeSet) -> bool {
    if a.len() >= b.len() || !a.is_subset(b) {
        return false;
    }
    let mut between = b.clone();
    between.difference_with(a);
    between
        .iter()
        .all(|n| dag.node(n).outputs.iter().all(|&t| !dag.is_output(t)))
}

impl Actor {
    /// `batch` with the batches of nesting cuts of the same model merged in (taken from the
    /// queue), as the earlier stages and the final group; `batch` alone when nothing nests or
    /// it is full. Plain (whole-model) requests never merge.
    pub(super) fn merge(&mut self, batch: Batch<Job>, now: Instant) -> (Vec<Early>, Batch<Job>) {
        let max = self.state.limits().max_batch_rows;
        let Some((model, main_head)) = self
            .keys
            .get(&batch.key)
            .and_then(|k| Some((k.model.clone(), k.head.clone()?)))
        else {
            return (Vec::new(), batch);
        };
        if batch.rows >= max {
            return (Vec::new(), batch);
        }
        let mut keys: Vec<BatchKey> = vec![batch.key.clone()];
        let mut heads: Vec<NodeSet> = vec![main_head];
        for (k, _) in self.state.forming() {
            let head = self.keys.get(&k).and_then(|i| i.head.clone());
            let fresh = !keys.iter().any(|x| x.cut == k.cut);
            if let (Some(h), true, true) = (head, k.model == batch.key.model, fresh) {
                keys.push(k);
                heads.push(h);
            }
        }
        if keys.len() == 1 {
            return (Vec::new(), batch);
        }
        let rows_of = |k: &BatchKey| {
            self.state
                .forming()
                .into_iter()
                .find(|(f, _)| f == k)
                .map_or(0, |(_, r)| r)
        };
        let groups: Vec<StairGroup> = keys
            .iter()
            .zip(&heads)
            .enumerate()
            .map(|(i, (k, h))| StairGroup {
                cut: k.cut.clone(),
                position: h.len() as f64,
                rows: if i == 0 { batch.rows } else { rows_of(k) },
            })
            .collect();
        let dag = model.runtime.prepared().stages.dag();
        let index = |c: &CutId| keys.iter().position(|k| &k.cut == c);
        // The staircase that takes `batch`, through nesting cuts; with `built_only`, only
        // through segments built already.
        let plan = |built_only: bool| {
            let plans = plan_staircases(&groups, max, |a, b| match (index(a), index(b)) {
                (Some(i), Some(j)) => {
                    nests(dag, &heads[i], &heads[j])
                        && (!built_only || built(&model, segment(a, b)))
                }
                _ => false,
            });
            plans
                .into_iter()
                .find(|s| s.stages.iter().any(|st| st.group == 0))
                .filter(|s| s.stages.len() > 1)
        };
        let Some(stair) = plan(false) else {
            return (Vec::new(), batch);
        };
        let (stair, runners) = match segments(&model, &stair) {
            Ok(runners) => (stair, runners),
            Err(missing) => {
                for spec in missing {
                    self.builds.start(&model, spec);
                }
                let built = plan(true).map(|s| {
                    let r = segments(&model, &s);
                    (s, r)
                });
                match built {
                    Some((s, Ok(runners))) => (s, runners),
                    // Nothing ready to merge through (or a segment was evicted meanwhile).
                    _ => return (Vec::new(), batch),
                }
            }
        };
        let mut runners = runners.into_iter();
        let mut main = Some(batch);
        let mut early = Vec::new();
        let mut last = None;
        for st in &stair.stages {
            let requests = match (st.group, main.take()) {
                (0, Some(b)) => b.requests,
                (_, m) => {
                    main = m;
                    let k = &keys[st.group];
                    self.state.take_key(k, groups[st.group].rows, now)
                }
            };
            match &st.to {
                Some(_) => early.push(Early {
                    requests,
                    from: st.from.clone(),
                    segment: runners.next().expect("a segment per stage but the last"),
                }),
                None => last = Some((keys[st.group].clone(), requests)),
            }
        }
        let (key, requests) = last.expect("a staircase ends in a tail");
        let rows = early
            .iter()
            .flat_map(|e| &e.requests)
            .chain(&requests)
            .map(|q| q.rows)
            .sum();
        (
            early,
            Batch {
                key,
                rows,
                requests,
            },
        )
    }
}
