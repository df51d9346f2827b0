//! The conventions of the small ONNX models the tests write, on the graph crate's builders
//! ([`loadpart_graph::build`]): float tensors, nodes named `{op}_{first output}`, and models
//! serialized at opset 13. Float initializers come from [`loadpart_graph::tensor_from_f32`].

use loadpart_graph::build;
pub use loadpart_graph::build::{int_attr as int, ints_attr as ints};
use loadpart_graph::onnx::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, ValueInfoProto,
};
use prost::Message;

/// A float tensor; `None` dims become the symbolic batch dimension `dim_param: "N"`.
pub fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    build::value_info(name, DataType::Float, dims)
}

/// A default-domain node named `{op}_{first output}`.
pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    let name = format!("{op}_{}", outputs[0]);
    build::node(op, Some(&name), inputs, outputs, attrs)
}

/// The serialized model: IR 8, default-domain opset 13.
pub fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        producer_name: Some("loadpart-engine tests".into()),
        ..build::model(graph, 13)
    }
    .encode_to_vec()
}
