//! Incremental construction of a [`Dag`], with validation at the end.

use crate::{CutError, Dag, Node, NodeId, NodeSet, Tensor, TensorId};
use std::collections::HashMap;

/// Builds a [`Dag`] node by node. Nodes can only read tensors that already exist, so the result is
/// acyclic and topologically ordered by construction.
#[derive(Debug, Default)]
pub struct DagBuilder {
    nodes: Vec<Node>,
    tensors: Vec<Tensor>,
    inputs: Vec<TensorId>,
    outputs: Vec<TensorId>,
}

impl DagBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a model input tensor. Name clashes are reported by [`DagBuilder::build`].
    pub fn add_input(&mut self, name: impl Into<String>) -> TensorId {
        let id = self.new_tensor(name.into(), None);
        self.tensors[id.index()].is_input = true;
        self.inputs.push(id);
        id
    }

    /// Adds a node reading `inputs` (existing tensors; repeats are merged) and writing new tensors
    /// named `outputs`. Returns the node id and the ids of its output tensors, in order.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        inputs: &[TensorId],
        outputs: Vec<String>,
    ) -> Result<(NodeId, Vec<TensorId>), CutError> {
        for &t in inputs {
            self.check(t)?;
        }
        let id = NodeId(self.nodes.len() as u32);
        let mut ins: Vec<TensorId> = Vec::with_capacity(inputs.len());
        for &t in inputs {
            if !ins.contains(&t) {
                ins.push(t);
                self.tensors[t.index()].consumers.push(id);
            }
        }
        let outs: Vec<TensorId> = outputs
            .into_iter()
            .map(|o| self.new_tensor(o, Some(id)))
            .collect();
        self.nodes.push(Node {
            name: name.into(),
            inputs: ins,
            outputs: outs.clone(),
        });
        Ok((id, outs))
    }

    /// Marks `t` as a model output (marking twice is harmless).
    pub fn mark_output(&mut self, t: TensorId) -> Result<(), CutError> {
        self.check(t)?;
        let tensor = &mut self.tensors[t.index()];
        if !tensor.is_output {
            tensor.is_output = true;
            self.outputs.push(t);
        }
        Ok(())
    }

    /// Validates and freezes the DAG.
    ///
    /// Errors: duplicate tensor or node names, a node without inputs, no input, no output, or a
    /// node that leads to no output ([`CutError::DeadNode`]; the caller prunes those).
    pub fn build(self) -> Result<Dag, CutError> {
        let mut by_name = HashMap::with_capacity(self.tensors.len());
        for (i, t) in self.tensors.iter().enumerate() {
            if by_name.insert(t.name.clone(), TensorId(i as u32)).is_some() {
                return Err(CutError::DuplicateName {
                    kind: "tensor",
                    name: t.name.clone(),
                });
            }
        }
        let mut node_by_name = HashMap::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            if node_by_name
                .insert(n.name.clone(), NodeId(i as u32))
                .is_some()
            {
                return Err(CutError::DuplicateName {
                    kind: "node",
                    name: n.name.clone(),
                });
            }
            if n.inputs.is_empty() {
                return Err(CutError::NodeWithoutInputs {
                    node: n.name.clone(),
                });
            }
        }
        if self.inputs.is_empty() {
            return Err(CutError::NoInputs);
        }
        if self.outputs.is_empty() {
            return Err(CutError::NoOutputs);
        }
        // Liveness, backwards: a node is live if one of its outputs is a model output or is read
        // by a live node. Reverse topological order visits consumers first.
        let mut live = vec![false; self.nodes.len()];
        for i in (0..self.nodes.len()).rev() {
            live[i] = self.nodes[i].outputs.iter().any(|&t| {
                let t = &self.tensors[t.index()];
                t.is_output || t.consumers.iter().any(|c| live[c.index()])
            });
            if !live[i] {
                return Err(CutError::DeadNode {
                    node: self.nodes[i].name.clone(),
                });
            }
        }
        let n = self.nodes.len();
        let mut ancestors: Vec<NodeSet> = Vec::with_capacity(n);
        for (i, node) in self.nodes.iter().enumerate() {
            let mut s = NodeSet::empty(n);
            s.insert(NodeId(i as u32));
            for &t in &node.inputs {
                if let Some(p) = self.tensors[t.index()].producer {
                    s.union_with(&ancestors[p.index()]);
                }
            }
            ancestors.push(s);
        }
        Ok(Dag {
            nodes: self.nodes,
            tensors: self.tensors,
            inputs: self.inputs,
            outputs: self.outputs,
            by_name,
            node_by_name,
            ancestors,
        })
    }

    fn new_tensor(&mut self, name: String, producer: Option<NodeId>) -> TensorId {
        let id = TensorId(self.tensors.len() as u32);
        self.tensors.push(Tensor {
            name,
            producer,
            consumers: Vec::new(),
            is_input: false,
            is_output: false,
        });
        id
    }

    fn check(&self, t: TensorId) -> Result<(), CutError> {
        if t.index() < self.tensors.len() {
            Ok(())
        } else {
            Err(CutError::UnknownTensorId {
                id: t.0,
                count: self.tensors.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rejects_duplicates_dead_nodes_and_sourceless_nodes() {
        let mut b = DagBuilder::new();
        let x = b.add_input("x");
        let (_, a) = b.add_node("n", &[x], names(&["x"])).unwrap();
        b.mark_output(a[0]).unwrap();
        assert!(matches!(
            b.build(),
            Err(CutError::DuplicateName { kind: "tensor", .. })
        ));

        let mut b = DagBuilder::new();
        let x = b.add_input("x");
        let (_, a) = b.add_node("n", &[x], names(&["a"])).unwrap();
        b.add_node("dead", &[a[0]], names(&["d"])).unwrap();
        b.mark_output(a[0]).unwrap();
        assert_eq!(
            b.build().unwrap_err(),
            CutError::DeadNode {
                node: "dead".into()
            }
        );

        let mut b = DagBuilder::new();
        let x = b.add_input("x");
        let (_, c) = b.add_node("const", &[], names(&["c"])).unwrap();
        let (_, y) = b.add_node("add", &[x, c[0]], names(&["y"])).unwrap();
        b.mark_output(y[0]).unwrap();
        assert!(matches!(b.build(), Err(CutError::NodeWithoutInputs { .. })));

        let mut b = DagBuilder::new();
        assert!(b.add_node("n", &[TensorId(3)], names(&["a"])).is_err());
        b.add_input("x");
        assert_eq!(b.build().unwrap_err(), CutError::NoOutputs);
    }

    #[test]
    fn repeated_input_is_one_edge() {
        let mut b = DagBuilder::new();
        let x = b.add_input("x");
        let (n, y) = b.add_node("sq", &[x, x], names(&["y"])).unwrap();
        b.mark_output(y[0]).unwrap();
        let dag = b.build().unwrap();
        assert_eq!(dag.node(n).inputs, vec![x]);
        assert_eq!(dag.consumers(x), &[n]);
        assert_eq!(dag.tensor_by_name("y"), Some(y[0]));
        assert!(dag.is_input(x) && dag.is_output(y[0]));
    }
}
