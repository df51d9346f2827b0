//! A loaded, checked ONNX model: the protobuf plus the indexes every other module needs.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use prost::Message;
use sha2::{Digest, Sha256};

use crate::GraphError;
use crate::consts::ConstTensor;
use crate::onnx::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, ValueInfoProto, type_proto,
};

/// Element type and concrete dims of a tensor at some batch size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorType {
    #[serde(serialize_with = "ser_dtype")]
    pub elem: DataType,
    pub dims: Vec<usize>,
}

fn ser_dtype<S: serde::Serializer>(d: &DataType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str_name())
}

impl TensorType {
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }
    /// Bytes of the whole tensor (0 for element types without a fixed size).
    pub fn bytes(&self) -> usize {
        self.elements() * self.elem.size_of().unwrap_or(0)
    }
}

/// A checked ONNX model. Construction normalises it so that every later step can rely on:
/// nodes in topological order, every tensor produced once, initializers not listed as graph
/// inputs (IR >= 4 semantics), and no external data.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    proto: ModelProto,
    hash: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    producer: HashMap<String, usize>,
    consumers: HashMap<String, Vec<usize>>,
    initializers: HashMap<String, usize>,
    constant_nodes: Vec<bool>,
}

impl OnnxModel {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, GraphError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| GraphError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Decodes and checks a model. The content hash is taken over these exact bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GraphError> {
        let proto = ModelProto::decode(bytes).map_err(|e| GraphError::Malformed(e.to_string()))?;
        let hash = hex(&Sha256::digest(bytes));
        Self::from_proto_with_hash(proto, hash)
    }

    /// Checks a model built in memory; its hash is taken over its encoding.
    pub fn from_proto(proto: ModelProto) -> Result<Self, GraphError> {
        let hash = hex(&Sha256::digest(proto.encode_to_vec()));
        Self::from_proto_with_hash(proto, hash)
    }

    /// A rewrite of this model that computes the same values for every batch size (dynamic
    /// batch): it keeps this model's identity, so profiles and peers of the original apply.
    pub(crate) fn reshaped(&self, proto: ModelProto) -> Result<Self, GraphError> {
        Self::from_proto_with_hash(proto, self.hash.clone())
    }

    /// A rewrite that changes values (new weights, outputs removed): a new model with a new
    /// identity, the hash of the rewritten bytes, so that a peer holding the original cannot
    /// pass for it.
    pub(crate) fn revalued(&self, proto: ModelProto) -> Result<Self, GraphError> {
        Self::from_proto(proto)
    }

    fn from_proto_with_hash(mut proto: ModelProto, hash: String) -> Result<Self, GraphError> {
        let graph = proto.graph.as_mut().ok_or(GraphError::NoGraph)?;
        if graph.node.is_empty() && graph.output.is_empty() {
            return Err(GraphError::Malformed(
                "graph has no nodes and no outputs".into(),
            ));
        }
        let init_names: HashSet<String> = graph
            .initializer
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        for t in &graph.initializer {
            if t.data_location == Some(1) || !t.external_data.is_empty() {
                return Err(GraphError::ExternalData(t.name().to_string()));
            }
        }
        graph.input.retain(|vi| !init_names.contains(vi.name()));
        if proto.ir_version.unwrap_or(0) < 4 {
            proto.ir_version = Some(4);
        }
        let graph = proto.graph.as_mut().expect("checked above");
        sort_topologically(graph)?;

        let inputs: Vec<String> = graph.input.iter().map(|v| v.name().to_string()).collect();
        let outputs: Vec<String> = graph.output.iter().map(|v| v.name().to_string()).collect();
        let initializers = graph
            .initializer
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name().to_string(), i))
            .collect();
        let mut producer = HashMap::new();
        let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for o in node.output.iter().filter(|o| !o.is_empty()) {
                if producer.insert(o.clone(), i).is_some()
                    || init_names.contains(o)
                    || inputs.contains(o)
                {
                    return Err(GraphError::DuplicateProducer(o.clone()));
                }
            }
            for inp in node.input.iter().filter(|s| !s.is_empty()) {
                consumers.entry(inp.clone()).or_default().push(i);
            }
        }
        for o in &outputs {
            if !producer.contains_key(o) && !inputs.contains(o) && !init_names.contains(o) {
                return Err(GraphError::UndefinedTensor {
                    tensor: o.clone(),
                    node: "graph output".into(),
                });
            }
        }
        // A node is constant when everything it reads is an initializer or another constant.
        let mut constant_nodes = vec![false; graph.node.len()];
        let mut const_tensors: HashSet<&str> = init_names.iter().map(String::as_str).collect();
        for (i, node) in graph.node.iter().enumerate() {
            let is_const = node.op_type() != "RandomNormal"
                && node.op_type() != "RandomUniform"
                && node
                    .input
                    .iter()
                    .all(|s| s.is_empty() || const_tensors.contains(s.as_str()));
            if is_const {
                constant_nodes[i] = true;
                const_tensors.extend(node.output.iter().map(String::as_str));
            }
        }
        Ok(Self {
            proto,
            hash,
            inputs,
            outputs,
            producer,
            consumers,
            initializers,
            constant_nodes,
        })
    }

    pub fn proto(&self) -> &ModelProto {
        &self.proto
    }
    pub fn graph(&self) -> &GraphProto {
        self.proto.graph.as_ref().expect("checked at construction")
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }
    /// The model's identity: SHA-256 (hex) of the bytes that are actually run, i.e. of the file,
    /// or of the rewritten model after a rewrite that changes values (see
    /// [`crate::randomize_weights`]); a dynamic-batch rewrite keeps it. The key of every profile
    /// and what device and server compare before trusting each other's tensors.
    pub fn hash(&self) -> &str {
        &self.hash
    }
    /// Real (non-initializer) graph inputs, in graph order.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }
    pub fn nodes(&self) -> &[NodeProto] {
        &self.graph().node
    }
    pub fn producer(&self, tensor: &str) -> Option<usize> {
        self.producer.get(tensor).copied()
    }
    pub fn consumers(&self, tensor: &str) -> &[usize] {
        self.consumers.get(tensor).map(Vec::as_slice).unwrap_or(&[])
    }
    pub fn is_constant_node(&self, node: usize) -> bool {
        self.constant_nodes[node]
    }
    pub fn is_initializer(&self, tensor: &str) -> bool {
        self.initializers.contains_key(tensor)
    }
    /// True for tensors computable without any model input (weights, shape constants).
    pub fn is_constant_tensor(&self, tensor: &str) -> bool {
        self.is_initializer(tensor)
            || self
                .producer(tensor)
                .is_some_and(|n| self.constant_nodes[n])
    }
    pub fn has_tensor(&self, tensor: &str) -> bool {
        self.producer.contains_key(tensor)
            || self.is_initializer(tensor)
            || self.inputs.iter().any(|i| i == tensor)
    }
    pub fn initializer(&self, name: &str) -> Option<Result<ConstTensor, GraphError>> {
        self.initializers
            .get(name)
            .map(|i| ConstTensor::from_proto(&self.graph().initializer[*i]))
    }
    /// Highest opset of the default ONNX domain.
    pub fn opset(&self) -> i64 {
        self.proto
            .opset_import
            .iter()
            .filter(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
            .map(|o| o.version())
            .max()
            .unwrap_or(1)
    }
    /// Declared element type and dims (None = symbolic or unknown) of a graph input or output.
    pub fn declared(&self, tensor: &str) -> Option<(DataType, Vec<Option<usize>>)> {
        let g = self.graph();
        let vi = g
            .input
            .iter()
            .chain(&g.output)
            .chain(&g.value_info)
            .find(|v| v.name() == tensor)?;
        declared_type(vi)
    }
}

/// Element type and dims of a value-info entry (None for symbolic dims).
pub(crate) fn declared_type(vi: &ValueInfoProto) -> Option<(DataType, Vec<Option<usize>>)> {
    let Some(type_proto::Value::TensorType(tt)) = vi.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let elem = DataType::try_from(tt.elem_type()).ok()?;
    let dims = tt
        .shape
        .as_ref()?
        .dim
        .iter()
        .map(|d| match d.value {
            Some(crate::onnx::tensor_shape_proto::dimension::Value::DimValue(v)) if v >= 0 => {
                Some(v as usize)
            }
            _ => None,
        })
        .collect();
    Some((elem, dims))
}

/// Reorders nodes so that every node comes after the producers of its inputs.
fn sort_topologically(graph: &mut GraphProto) -> Result<(), GraphError> {
    let mut available: HashSet<String> = graph.input.iter().map(|v| v.name().to_string()).collect();
    available.extend(graph.initializer.iter().map(|t| t.name().to_string()));
    available.insert(String::new());
    let produced: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    for node in &graph.node {
        for i in &node.input {
            if !available.contains(i) && !produced.contains(i.as_str()) {
                return Err(GraphError::UndefinedTensor {
                    tensor: i.clone(),
                    node: node_label(node),
                });
            }
        }
    }
    let mut remaining: Vec<NodeProto> = std::mem::take(&mut graph.node);
    let mut sorted = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut rest = Vec::new();
        for node in remaining {
            if node.input.iter().all(|i| available.contains(i)) {
                available.extend(node.output.iter().cloned());
                sorted.push(node);
            } else {
                rest.push(node);
            }
        }
        if rest.len() == before {
            return Err(GraphError::Cycle(node_label(&rest[0])));
        }
        remaining = rest;
    }
    graph.node = sorted;
    Ok(())
}

/// A readable name for a node: its name, or its op type and first output.
pub fn node_label(node: &NodeProto) -> String {
    if node.name().is_empty() {
        format!(
            "{}->{}",
            node.op_type(),
            node.output.first().map(String::as_str).unwrap_or("?")
        )
    } else {
        node.name().to_string()
    }
}

pub(crate) fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}
pub(crate) fn attr_i(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).and_then(|a| a.i).unwrap_or(default)
}
pub(crate) fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}
pub(crate) fn attr_s(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
