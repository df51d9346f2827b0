//! Cuts: downward-closed heads, their boundary tensors, and validation of proposed tensor sets.

use crate::{CutError, CutId, Dag, NodeId, NodeSet, TensorId};

/// A canonical cut: a downward-closed head `H` and its tensors `C(H)`.
///
/// `C(H)` = the tensors available on the device side (a model input, or written by a head node)
/// that a tail node reads or that are model outputs. `H = ∅` is full offload (`C` = the inputs
/// that are read or are outputs); `H` = all nodes is full local (`C` = the outputs). Because every
/// node leads to an output, `H` is determined by `C(H)`: it is the ancestor closure of the
/// producers of `C(H)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cut {
    /// Nodes run on the device.
    pub head: NodeSet,
    /// `C(head)`, sorted by id.
    pub tensors: Vec<TensorId>,
}

impl Cut {
    /// Canonical, process-independent id (see [`CutId`]).
    pub fn id(&self, dag: &Dag) -> CutId {
        cut_id(dag, &self.tensors)
    }

    /// The tensors that cross the network: those of `C(H)` read by a tail node, sorted by id. A
    /// model output written by the head and read by no tail node stays on the device.
    pub fn sent_tensors<'a>(&'a self, dag: &'a Dag) -> impl Iterator<Item = TensorId> + 'a {
        self.tensors
            .iter()
            .copied()
            .filter(|&t| dag.consumers(t).iter().any(|&c| !self.head.contains(c)))
    }

    /// Whether this is full local (every node on the device, nothing sent).
    pub fn is_full_local(&self) -> bool {
        self.head.len() == self.head.capacity()
    }

    /// Whether this is full offload (no node on the device).
    pub fn is_full_offload(&self) -> bool {
        self.head.is_empty()
    }
}

/// The canonical id of a tensor set (see [`CutId`]).
pub fn cut_id(dag: &Dag, tensors: &[TensorId]) -> CutId {
    CutId::from_names(tensors.iter().map(|&t| dag.tensor(t).name.as_str()))
}

/// A proposed tensor set that was checked to separate the inputs from the outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCut {
    /// Nodes needed to compute the cut tensors from the model inputs.
    pub head: NodeSet,
    /// Nodes needed to compute the outputs that are not cut tensors, from the cut tensors. For a
    /// non-canonical (redundant) cut it may share nodes with `head`: those are run on both sides.
    pub tail: NodeSet,
    /// The cut tensors, sorted by id, without duplicates.
    pub tensors: Vec<TensorId>,
}

impl Dag {
    /// The canonical cut whose head is `head`. Precondition: `head` is a downset of this DAG
    /// (checked in debug builds).
    pub fn cut_of(&self, head: NodeSet) -> Cut {
        debug_assert!(
            self.is_downset(&head),
            "cut_of needs a downward-closed head"
        );
        let tensors = (0..self.tensors.len() as u32)
            .map(TensorId)
            .filter(|&t| {
                let tensor = self.tensor(t);
                self.is_available(t, &head)
                    && (tensor.is_output || tensor.consumers.iter().any(|&c| !head.contains(c)))
            })
            .collect();
        Cut { head, tensors }
    }

    /// Checks that `tensors` is a cut: every path from a model input to a model output passes
    /// through one of them. Any separating set is accepted, not only canonical ones.
    ///
    /// Errors: [`CutError::UncutPath`] with one path (tensor and node names) that avoids the set;
    /// [`CutError::UnknownTensorId`] for an id out of range.
    pub fn validate_cut(&self, tensors: &[TensorId]) -> Result<ValidCut, CutError> {
        let mut cut = vec![false; self.tensors.len()];
        for &t in tensors {
            if t.index() >= self.tensors.len() {
                return Err(CutError::UnknownTensorId {
                    id: t.0,
                    count: self.tensors.len(),
                });
            }
            cut[t.index()] = true;
        }
        if let Some(path) = self.uncut_path(&cut) {
            return Err(CutError::UncutPath { path });
        }
        let mut sorted: Vec<TensorId> = tensors.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let head = self.ancestor_closure(sorted.iter().filter_map(|&t| self.producer(t)));
        let tail = self.tail_closure(&cut);
        Ok(ValidCut {
            head,
            tail,
            tensors: sorted,
        })
    }

    /// [`Dag::validate_cut`] by tensor names; an unknown name is [`CutError::UnknownTensor`].
    pub fn validate_cut_names(&self, names: &[&str]) -> Result<ValidCut, CutError> {
        let ids = names
            .iter()
            .map(|&n| {
                self.tensor_by_name(n)
                    .ok_or_else(|| CutError::UnknownTensor {
                        name: n.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.validate_cut(&ids)
    }

    /// The canonical cut that `id` names: its tensors in any order, a redundant (non-minimal)
    /// cut accepted as the canonical cut of its head. Errors on an unknown tensor name or on
    /// names that are not a cut. What a forced cut (a `fixed:` policy, a load generator's mix)
    /// is checked with.
    pub fn cut_by_id(&self, id: &CutId) -> Result<Cut, CutError> {
        let names = id.names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let valid = self.validate_cut_names(&names)?;
        Ok(self.cut_of(valid.head))
    }

    /// A path from an input to an output that avoids every tensor with `cut[t]`, if one exists.
    pub(crate) fn uncut_path(&self, cut: &[bool]) -> Option<Vec<String>> {
        // Forward search over tensors not in the cut; `via[t]` is the node that reached t.
        let mut reached = vec![false; self.tensors.len()];
        let mut via: Vec<Option<NodeId>> = vec![None; self.tensors.len()];
        for &t in &self.inputs {
            reached[t.index()] = !cut[t.index()];
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.inputs.iter().any(|t| reached[t.index()]) {
                for &o in &node.outputs {
                    if !cut[o.index()] {
                        reached[o.index()] = true;
                        via[o.index()] = Some(NodeId(i as u32));
                    }
                }
            }
        }
        let end = self.outputs.iter().find(|t| reached[t.index()])?;
        let mut path = vec![self.tensor(*end).name.clone()];
        let mut t = *end;
        while let Some(n) = via[t.index()] {
            let node = self.node(n);
            path.push(node.name.clone());
            t = *node
                .inputs
                .iter()
                .find(|i| reached[i.index()])
                .expect("a reached node has a reached input");
            path.push(self.tensor(t).name.clone());
        }
        path.reverse();
        Some(path)
    }

    /// Nodes needed to compute the outputs not in the cut, stopping at cut tensors.
    fn tail_closure(&self, cut: &[bool]) -> NodeSet {
        let wanted: Vec<TensorId> = self
            .outputs
            .iter()
            .copied()
            .filter(|t| !cut[t.index()])
            .collect();
        self.needed_for(&wanted, cut).0
    }

    /// Nodes needed to compute `wanted` without crossing a tensor marked in `stop`, and every
    /// tensor they need (marked `true`, stop tensors excluded).
    pub(crate) fn needed_for(&self, wanted: &[TensorId], stop: &[bool]) -> (NodeSet, Vec<bool>) {
        let mut needed = vec![false; self.tensors.len()];
        for t in wanted {
            needed[t.index()] = true;
        }
        let mut tail = NodeSet::empty(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if node.outputs.iter().any(|o| needed[o.index()]) {
                tail.insert(NodeId(i as u32));
                for &t in &node.inputs {
                    if !stop[t.index()] {
                        needed[t.index()] = true;
                    }
                }
            }
        }
        (tail, needed)
    }
}
