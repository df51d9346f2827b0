//! Standalone ONNX models for the parts of a partitioned model.
//!
//! A part computes a set of wanted tensors from a set of available ones: the head computes the
//! cut from the model inputs, the tail computes the outputs from the cut, a segment computes one
//! cut from another. The part keeps exactly the nodes on the way (constant subgraphs included,
//! copied into every part that needs them) and only the initializers those nodes read.

use std::collections::{HashSet, VecDeque};

use crate::build::value_info;
use crate::model::node_label;
use crate::onnx::{GraphProto, ModelProto, ValueInfoProto};
use crate::{GraphError, OnnxModel, Shapes};

/// How a part declares its batch dimension (dim 0 of its inputs and outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchDim {
    /// Symbolic (`N`) wherever it follows the batch size: the part runs at any batch.
    Dynamic,
    /// As the source model declares it: symbolic when the source's inputs have a symbolic
    /// dim 0, else the fixed size the source was exported with.
    Source,
}

/// Which part of a partition this is (for naming and display).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Head,
    Tail,
    Segment,
}

/// A standalone model computing `outputs` from `inputs`, plus tensors that were both available
/// and wanted (`passthrough`): the caller forwards those itself, so no runtime has to support a
/// graph input that is also a graph output.
#[derive(Debug, Clone)]
pub struct Part {
    pub kind: PartKind,
    pub model: ModelProto,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub passthrough: Vec<String>,
}

impl Part {
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.model)
    }
    /// True when the part has nothing to compute (everything wanted was available).
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

impl OnnxModel {
    /// The model's head for a cut: computes `cut` from the model inputs.
    pub fn head(&self, cut: &[String], batch: BatchDim) -> Result<Part, GraphError> {
        self.extract(PartKind::Head, self.inputs(), cut, batch)
    }
    /// The model's tail for a cut: computes the model outputs from `cut`.
    pub fn tail(&self, cut: &[String], batch: BatchDim) -> Result<Part, GraphError> {
        self.extract(PartKind::Tail, cut, self.outputs(), batch)
    }
    /// The segment computing cut `to` from cut `from`.
    pub fn segment(
        &self,
        from: &[String],
        to: &[String],
        batch: BatchDim,
    ) -> Result<Part, GraphError> {
        self.extract(PartKind::Segment, from, to, batch)
    }

    /// Whether some model input declares a symbolic (or unknown) dim 0.
    pub fn has_dynamic_batch(&self) -> bool {
        self.inputs().iter().any(|i| {
            self.declared(i)
                .is_some_and(|(_, d)| d.first() == Some(&None))
        })
    }

    /// Extracts the nodes needed to compute `wanted` from `available`. Fails with an uncut-path
    /// error when a wanted tensor depends on a model input that is not available. `batch` says
    /// how the part declares dim 0 of its inputs and outputs.
    pub fn extract(
        &self,
        kind: PartKind,
        available: &[String],
        wanted: &[String],
        batch: BatchDim,
    ) -> Result<Part, GraphError> {
        let dynamic_batch = match batch {
            BatchDim::Dynamic => true,
            BatchDim::Source => self.has_dynamic_batch(),
        };
        for t in available.iter().chain(wanted) {
            if !self.has_tensor(t) {
                return Err(GraphError::UnknownTensor(t.clone()));
            }
        }
        let avail: HashSet<&str> = available.iter().map(String::as_str).collect();
        let passthrough: Vec<String> = wanted
            .iter()
            .filter(|t| avail.contains(t.as_str()))
            .cloned()
            .collect();
        let outputs: Vec<String> = dedup(
            wanted
                .iter()
                .filter(|t| !avail.contains(t.as_str()))
                .cloned(),
        );

        // Walk back from the wanted tensors; remember how we got somewhere to report uncut paths.
        let nodes = self.nodes();
        let mut keep = vec![false; nodes.len()];
        let mut used_inputs: HashSet<&str> = HashSet::new();
        let mut used_inits: HashSet<&str> = HashSet::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<(&str, Vec<String>)> = outputs
            .iter()
            .map(|t| (t.as_str(), vec![t.clone()]))
            .collect();
        while let Some((t, trail)) = queue.pop_front() {
            if t.is_empty() || !seen.insert(t) {
                continue;
            }
            if avail.contains(t) {
                used_inputs.insert(t);
            } else if self.is_initializer(t) {
                used_inits.insert(t);
            } else if let Some(p) = self.producer(t) {
                keep[p] = true;
                for i in &nodes[p].input {
                    let mut next = trail.clone();
                    next.push(node_label(&nodes[p]));
                    next.push(i.clone());
                    queue.push_back((i.as_str(), next));
                }
            } else {
                let mut path = trail;
                path.reverse();
                return Err(GraphError::Cut(loadpart_cuts::CutError::UncutPath { path }));
            }
        }

        let shapes1 = Shapes::infer(self, 1)?;
        let shapes2 = if dynamic_batch {
            Some(Shapes::infer(self, 2)?)
        } else {
            None
        };
        let value_info = |name: &str| -> Result<ValueInfoProto, GraphError> {
            let t1 = shapes1.try_get(name)?;
            let batched = shapes2
                .as_ref()
                .and_then(|s| s.get(name))
                .is_some_and(|t2| t2.dims.first() != t1.dims.first());
            // Dim 0 is symbolic where it follows the batch size.
            let dims: Vec<Option<usize>> = t1
                .dims
                .iter()
                .enumerate()
                .map(|(i, &d)| (i > 0 || !batched).then_some(d))
                .collect();
            Ok(value_info(name, t1.elem, &dims))
        };

        let inputs: Vec<String> = available
            .iter()
            .filter(|t| used_inputs.contains(t.as_str()))
            .cloned()
            .collect();
        let g = self.graph();
        let graph = GraphProto {
            name: Some(format!("{}_{:?}", g.name(), kind).to_lowercase()),
            node: nodes
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(n, _)| n.clone())
                .collect(),
            initializer: g
                .initializer
                .iter()
                .filter(|t| used_inits.contains(t.name()))
                .cloned()
                .collect(),
            input: inputs
                .iter()
                .map(|t| value_info(t))
                .collect::<Result<_, _>>()?,
            output: outputs
                .iter()
                .map(|t| value_info(t))
                .collect::<Result<_, _>>()?,
            ..Default::default()
        };
        let model = ModelProto {
            graph: Some(graph),
            ..strip_graph(self.proto())
        };
        Ok(Part {
            kind,
            model,
            inputs,
            outputs,
            passthrough,
        })
    }
}

fn strip_graph(m: &ModelProto) -> ModelProto {
    ModelProto {
        ir_version: m.ir_version,
        opset_import: m.opset_import.clone(),
        producer_name: Some("loadpart".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        domain: m.domain.clone(),
        model_version: m.model_version,
        functions: m.functions.clone(),
        ..Default::default()
    }
}

fn dedup(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    it.filter(|t| seen.insert(t.clone())).collect()
}
