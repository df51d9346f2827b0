//! The receiving side of a partitioned request: from the tensors a device sent (and the outputs
//! it asks for) back to the one canonical cut they belong to.
//!
//! The wire carries no cut table: a request's inputs are the sent tensors by name. A large block
//! may be solved by min-cut and never enumerated, so the receiver cannot look the cut up; it
//! reconstructs it. Outputs matter because a device may keep outputs its head already computed:
//! given only the sent tensors, "the tail computes every output it can" and "the device kept that
//! output" are different cuts. The request's list of wanted outputs (the Open Inference
//! Protocol's `outputs`) settles it; without one, the tail computes every model output it can
//! compute from the sent tensors.

use crate::{Cut, CutError, Dag, NodeSet, TensorId};

/// A partitioned request resolved against the DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCut {
    /// The canonical cut (its head is what the device ran).
    pub cut: Cut,
    /// Model outputs the tail computes, in the DAG's output order.
    pub outputs: Vec<TensorId>,
}

impl Dag {
    /// Resolves a request that sends `sent` and asks for `outputs` (`None`: every output
    /// computable from `sent` that was not sent itself).
    ///
    /// Errors: an unknown tensor name; an output that is not a model output, or nothing to
    /// compute; an output that also depends on an unsent tensor ([`CutError::UncutPath`]); and
    /// sent tensors that are not exactly what the canonical cut sends
    /// ([`CutError::SentMismatch`]: a missing tensor, or one the tail does not read).
    pub fn cut_for_request(
        &self,
        sent: &[&str],
        outputs: Option<&[&str]>,
    ) -> Result<RequestCut, CutError> {
        let lookup = |n: &&str| {
            self.tensor_by_name(n)
                .ok_or_else(|| CutError::UnknownTensor {
                    name: n.to_string(),
                })
        };
        let sent_ids: Vec<TensorId> = sent.iter().map(lookup).collect::<Result<_, _>>()?;
        let mut is_sent = vec![false; self.tensors.len()];
        for t in &sent_ids {
            is_sent[t.index()] = true;
        }
        let wanted: Vec<TensorId> = match outputs {
            Some(names) => {
                let mut ids = Vec::with_capacity(names.len());
                for n in names {
                    let t = lookup(n)?;
                    if !self.is_output(t) {
                        return Err(CutError::BadOutputs(format!("{n:?} is not a model output")));
                    }
                    if !is_sent[t.index()] && !ids.contains(&t) {
                        ids.push(t);
                    }
                }
                ids
            }
            None => {
                let reached = self.reached_avoiding(&is_sent);
                self.outputs
                    .iter()
                    .copied()
                    .filter(|t| !is_sent[t.index()] && !reached[t.index()])
                    .collect()
            }
        };
        if wanted.is_empty() {
            return Err(CutError::BadOutputs(
                "the request leaves the tail no output to compute".into(),
            ));
        }
        // The tail: nodes needed for the wanted outputs, stopping at sent tensors.
        let (tail, needed) = self.needed_for(&wanted, &is_sent);
        if let Some(&input) = self
            .inputs
            .iter()
            .find(|t| needed[t.index()] && !is_sent[t.index()])
        {
            return Err(self.uncut_from(input, &wanted, &is_sent));
        }
        let mut head = NodeSet::full(self.nodes.len());
        head.difference_with(&tail);
        let mismatch = |expected: Vec<String>| {
            let mut got: Vec<String> = sent.iter().map(|s| s.to_string()).collect();
            got.sort();
            got.dedup();
            CutError::SentMismatch {
                sent: got,
                expected,
            }
        };
        if !self.is_downset(&head) {
            // A tail node feeds a head node: the device would need a tensor the server makes.
            return Err(mismatch(Vec::new()));
        }
        let cut = self.cut_of(head);
        let mut expected: Vec<TensorId> = cut.sent_tensors(self).collect();
        expected.sort_unstable();
        let mut given = sent_ids;
        given.sort_unstable();
        given.dedup();
        if expected != given {
            let mut names: Vec<String> = expected
                .iter()
                .map(|&t| self.tensor(t).name.clone())
                .collect();
            names.sort();
            return Err(mismatch(names));
        }
        let outputs = self
            .outputs
            .iter()
            .copied()
            .filter(|t| wanted.contains(t))
            .collect();
        Ok(RequestCut { cut, outputs })
    }

    /// Tensors reachable from a model input without crossing a tensor marked in `stop`.
    fn reached_avoiding(&self, stop: &[bool]) -> Vec<bool> {
        let mut reached = vec![false; self.tensors.len()];
        for &t in &self.inputs {
            reached[t.index()] = !stop[t.index()];
        }
        for node in &self.nodes {
            if node.inputs.iter().any(|t| reached[t.index()]) {
                for &o in &node.outputs {
                    if !stop[o.index()] {
                        reached[o.index()] = true;
                    }
                }
            }
        }
        reached
    }

    /// The uncut-path error for a wanted output that depends on the unsent `input`.
    fn uncut_from(&self, input: TensorId, wanted: &[TensorId], stop: &[bool]) -> CutError {
        let mut cut: Vec<bool> = stop.to_vec();
        for t in &self.outputs {
            if !wanted.contains(t) {
                cut[t.index()] = true;
            }
        }
        match self.uncut_path(&cut) {
            Some(path) => CutError::UncutPath { path },
            None => CutError::UncutPath {
                path: vec![self.tensor(input).name.clone()],
            },
        }
    }
}
