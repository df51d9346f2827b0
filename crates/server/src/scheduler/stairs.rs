//! Staircase merging in the scheduler: when a batch leaves with room to spare, batches of the
//! same model waiting at nesting cuts join it ([`crate::plan_staircases`]); the executor runs
//! the earlier groups forward through segments to the last group's cut and the tail once, at
//! the merged batch size.

use std::time::Instant;

use loadpart_cuts::{CutId, Dag, NodeSet};

use super::{Actor, Job};
use crate::{Batch, BatchKey, Queued, StairGroup, plan_staircases};

/// Requests that entered at `from` and run forward to `to` before the next group joins.
pub(crate) struct Early {
    pub requests: Vec<Queued<Job>>,
    pub from: CutId,
    pub to: CutId,
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
        let plans = plan_staircases(&groups, max, |a, b| match (index(a), index(b)) {
            (Some(i), Some(j)) => nests(dag, &heads[i], &heads[j]),
            _ => false,
        });
        let Some(stair) = plans
            .into_iter()
            .find(|s| s.stages.iter().any(|st| st.group == 0))
        else {
            return (Vec::new(), batch);
        };
        if stair.stages.len() == 1 {
            return (Vec::new(), batch);
        }
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
                Some(to) => early.push(Early {
                    requests,
                    from: st.from.clone(),
                    to: to.clone(),
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
