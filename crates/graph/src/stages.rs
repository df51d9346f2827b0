//! From ONNX nodes to the stage DAG that partitioning reasons about.
//!
//! Three steps: drop constant nodes (they are weights, not activations), drop dead nodes (no
//! path to an output), and fuse each elementwise follower into its producer when nothing else
//! reads the producer's output. The last step mirrors what ONNX Runtime and tract do (Conv +
//! BatchNormalization + Relu run as one kernel): a cut between them would send the same bytes as
//! a cut after them, and per-node times inside a fused kernel do not exist.

use std::collections::{HashMap, HashSet};

use loadpart_cuts::{CutSpace, Dag, DagBuilder, NodeId, TensorId, ValidCut};

use crate::model::node_label;
use crate::{GraphError, OnnxModel};

/// One stage: a run of ONNX nodes that executes as a unit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageInfo {
    /// The stage's name in the DAG and in profiles.
    pub name: String,
    /// Indices of its ONNX nodes (into [`OnnxModel::nodes`]), in order.
    pub nodes: Vec<usize>,
    /// Their operator types, for display.
    pub ops: Vec<String>,
}

/// The stage DAG of a model with the mapping back to ONNX nodes.
#[derive(Debug, Clone)]
pub struct StageGraph {
    dag: Dag,
    stages: Vec<StageInfo>,
}

/// Ops that runtimes fuse into the kernel producing their input.
fn is_elementwise_follower(op: &str) -> bool {
    matches!(
        op,
        "Relu"
            | "LeakyRelu"
            | "PRelu"
            | "Sigmoid"
            | "Tanh"
            | "Clip"
            | "HardSigmoid"
            | "HardSwish"
            | "Elu"
            | "Selu"
            | "Softplus"
            | "Dropout"
            | "Identity"
            | "BatchNormalization"
            | "Add"
            | "Sub"
            | "Mul"
            | "Div"
            | "Sum"
            | "Gelu"
            | "Mish"
    )
}

impl StageGraph {
    pub fn build(model: &OnnxModel) -> Result<Self, GraphError> {
        let nodes = model.nodes();
        let live = live_nodes(model);
        let is_activation = |t: &str| !t.is_empty() && !model.is_constant_tensor(t);
        let live_consumers = |t: &str| model.consumers(t).iter().filter(|c| live[**c]).count();

        // Assign each live, non-constant node to a stage.
        let mut stage_of: Vec<Option<usize>> = vec![None; nodes.len()];
        let mut stages: Vec<StageInfo> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            if !live[i] || model.is_constant_node(i) {
                continue;
            }
            let act_inputs: Vec<&String> = node.input.iter().filter(|t| is_activation(t)).collect();
            let fuse_into = match act_inputs.as_slice() {
                [t] if is_elementwise_follower(node.op_type())
                    && live_consumers(t) == 1
                    && !model.outputs().contains(t) =>
                {
                    model.producer(t).and_then(|p| stage_of[p])
                }
                _ => None,
            };
            match fuse_into {
                Some(s) => {
                    stage_of[i] = Some(s);
                    stages[s].nodes.push(i);
                    stages[s].ops.push(node.op_type().to_string());
                }
                None => {
                    stage_of[i] = Some(stages.len());
                    stages.push(StageInfo {
                        name: node_label(node),
                        nodes: vec![i],
                        ops: vec![node.op_type().to_string()],
                    });
                }
            }
        }
        dedupe_names(&mut stages);

        let mut b = DagBuilder::new();
        let mut ids: HashMap<String, TensorId> = HashMap::new();
        for input in model.inputs() {
            if live_consumers(input) > 0 || model.outputs().contains(input) {
                ids.insert(input.clone(), b.add_input(input.clone()));
            }
        }
        for (s, stage) in stages.iter().enumerate() {
            let inside: HashSet<usize> = stage.nodes.iter().copied().collect();
            let mut inputs = Vec::new();
            let mut outputs = Vec::new();
            for &n in &stage.nodes {
                for t in nodes[n].input.iter().filter(|t| is_activation(t)) {
                    let internal = model.producer(t).is_some_and(|p| inside.contains(&p));
                    if !internal {
                        let id = *ids
                            .get(t)
                            .ok_or_else(|| GraphError::UnknownTensor(t.clone()))?;
                        inputs.push(id);
                    }
                }
                for t in nodes[n].output.iter().filter(|t| !t.is_empty()) {
                    let read_outside = model
                        .consumers(t)
                        .iter()
                        .any(|c| live[*c] && stage_of[*c] != Some(s));
                    if read_outside || model.outputs().contains(t) {
                        outputs.push(t.clone());
                    }
                }
            }
            let (_, out_ids) = b.add_node(stage.name.clone(), &inputs, outputs.clone())?;
            ids.extend(outputs.into_iter().zip(out_ids));
        }
        for o in model.outputs() {
            let id = *ids
                .get(o)
                .ok_or_else(|| GraphError::UnknownTensor(o.clone()))?;
            b.mark_output(id)?;
        }
        Ok(Self {
            dag: b.build()?,
            stages,
        })
    }

    pub fn dag(&self) -> &Dag {
        &self.dag
    }
    pub fn stages(&self) -> &[StageInfo] {
        &self.stages
    }
    pub fn stage(&self, id: NodeId) -> &StageInfo {
        &self.stages[id.index()]
    }
    /// Decomposes the cut space; blocks with more cuts than `max_cuts_per_block` are not listed.
    pub fn cut_space(&self, max_cuts_per_block: usize) -> CutSpace {
        CutSpace::analyze(&self.dag, max_cuts_per_block)
    }
    /// Checks a cut given by tensor names. Errors name unknown tensors and uncut paths.
    pub fn validate_cut(&self, names: &[&str]) -> Result<ValidCut, GraphError> {
        for n in names {
            if self.dag.tensor_by_name(n).is_none() {
                return Err(GraphError::UnknownTensor(n.to_string()));
            }
        }
        Ok(self.dag.validate_cut_names(names)?)
    }
    /// Tensor names of a cut, in the cut's (sorted) order.
    pub fn names(&self, tensors: &[TensorId]) -> Vec<String> {
        tensors
            .iter()
            .map(|t| self.dag.tensor(*t).name.clone())
            .collect()
    }
}

/// Nodes from which some graph output can be reached.
fn live_nodes(model: &OnnxModel) -> Vec<bool> {
    let nodes = model.nodes();
    let mut live = vec![false; nodes.len()];
    let mut needed: HashSet<&str> = model.outputs().iter().map(String::as_str).collect();
    for (i, node) in nodes.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o.as_str())) {
            live[i] = true;
            needed.extend(node.input.iter().map(String::as_str));
        }
    }
    live
}

fn dedupe_names(stages: &mut [StageInfo]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for s in stages.iter_mut() {
        let n = seen.entry(s.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.name = format!("{}#{}", s.name, *n - 1);
        }
    }
}
