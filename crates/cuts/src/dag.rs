//! The stage DAG: nodes (stages) connected by tensors (activations).

mod builder;

pub use builder::DagBuilder;

use crate::NodeSet;
use std::collections::HashMap;

/// Index of a node. Nodes are numbered in a topological order (the order they were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Index of a tensor. Tensors are numbered in the order they were created, which is also
/// topological: a tensor's producer precedes all of its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u32);

impl NodeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl TensorId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A stage: one or more fused operators that always run together.
#[derive(Debug, Clone)]
pub struct Node {
    /// Unique node name (what profiles are keyed by).
    pub name: String,
    /// Tensors the node reads, without duplicates, in first-use order.
    pub inputs: Vec<TensorId>,
    /// Tensors the node writes.
    pub outputs: Vec<TensorId>,
}

/// An activation tensor: a model input or a node output.
#[derive(Debug, Clone)]
pub struct Tensor {
    /// Unique tensor name (what cut ids and wire tensors are named by).
    pub name: String,
    /// The node that writes it; `None` for a model input.
    pub producer: Option<NodeId>,
    /// Nodes that read it, without duplicates, in topological order.
    pub consumers: Vec<NodeId>,
    /// Whether it is a model input.
    pub is_input: bool,
    /// Whether it is a model output.
    pub is_output: bool,
}

/// A validated DAG of stages.
///
/// Invariants (checked by [`DagBuilder::build`]): names are unique; every node has at least one
/// input; nodes are in topological order; every node leads to a model output; there is at least
/// one input and one output.
#[derive(Debug, Clone)]
pub struct Dag {
    pub(crate) nodes: Vec<Node>,
    pub(crate) tensors: Vec<Tensor>,
    pub(crate) inputs: Vec<TensorId>,
    pub(crate) outputs: Vec<TensorId>,
    pub(crate) by_name: HashMap<String, TensorId>,
    pub(crate) node_by_name: HashMap<String, NodeId>,
    /// `ancestors[n]`: `n` and every node it transitively depends on.
    pub(crate) ancestors: Vec<NodeSet>,
}

impl Dag {
    /// All nodes, in topological order (`nodes()[i]` has id `NodeId(i)`).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// All tensors (`tensors()[i]` has id `TensorId(i)`).
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// The node `id`. Panics on an id from another DAG that is out of range.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The tensor `id`. Panics on an id from another DAG that is out of range.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.index()]
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Model inputs, in the order they were added.
    pub fn inputs(&self) -> &[TensorId] {
        &self.inputs
    }

    /// Model outputs, in the order they were marked.
    pub fn outputs(&self) -> &[TensorId] {
        &self.outputs
    }

    /// The tensor called `name`.
    pub fn tensor_by_name(&self, name: &str) -> Option<TensorId> {
        self.by_name.get(name).copied()
    }

    /// The node called `name`.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.node_by_name.get(name).copied()
    }

    /// The node that writes `t`; `None` for a model input.
    pub fn producer(&self, t: TensorId) -> Option<NodeId> {
        self.tensor(t).producer
    }

    /// The nodes that read `t`.
    pub fn consumers(&self, t: TensorId) -> &[NodeId] {
        &self.tensor(t).consumers
    }

    /// Whether `t` is a model input.
    pub fn is_input(&self, t: TensorId) -> bool {
        self.tensor(t).is_input
    }

    /// Whether `t` is a model output.
    pub fn is_output(&self, t: TensorId) -> bool {
        self.tensor(t).is_output
    }

    /// Nodes that `n` reads from directly (producers of its inputs), without duplicates.
    pub fn predecessors(&self, n: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut seen = Vec::new();
        self.node(n)
            .inputs
            .iter()
            .filter_map(|&t| self.producer(t))
            .filter(move |p| {
                if seen.contains(p) {
                    false
                } else {
                    seen.push(*p);
                    true
                }
            })
    }

    /// `n` and every node it transitively depends on.
    pub fn ancestors(&self, n: NodeId) -> &NodeSet {
        &self.ancestors[n.index()]
    }

    /// The smallest downset containing `nodes`: the nodes and all their ancestors.
    pub fn ancestor_closure(&self, nodes: impl IntoIterator<Item = NodeId>) -> NodeSet {
        let mut s = NodeSet::empty(self.node_count());
        for n in nodes {
            s.union_with(self.ancestors(n));
        }
        s
    }

    /// Whether `head` is downward closed: every predecessor of a member is a member.
    pub fn is_downset(&self, head: &NodeSet) -> bool {
        head.iter().all(|n| self.ancestors(n).is_subset(head))
    }

    /// Whether tensor `t` is available on the device side when the head is `head`: a model input
    /// or produced by a head node.
    pub fn is_available(&self, t: TensorId, head: &NodeSet) -> bool {
        match self.producer(t) {
            None => true,
            Some(p) => head.contains(p),
        }
    }
}
