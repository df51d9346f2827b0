//! Hand-building ONNX protos ([`crate::onnx`]): typed graph inputs and outputs, node attributes,
//! nodes and models. The generated models of [`crate::zoo`] and the tests that write their own
//! small models are built with these, so every hand-built model spells things the same way.
//!
//! The helpers only fill in the protobuf fields; nothing is checked here. A model is checked
//! when it is loaded ([`crate::OnnxModel::from_proto`]). Float initializers come from
//! [`crate::tensor_from_f32`].

use crate::BATCH_DIM;
use crate::onnx::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
    attribute_proto::AttributeType,
    tensor_shape_proto::{Dimension, dimension},
    type_proto,
};

/// The IR version [`model`] writes (ONNX 1.10 and later read it).
pub const IR_VERSION: i64 = 8;

/// A tensor of element type `elem` and shape `dims`, for a graph's inputs, outputs or
/// value-info list. `Some(n)` is a fixed dimension of `n`, `None` the symbolic batch dimension
/// (`dim_param: "N"`, [`BATCH_DIM`]).
pub fn value_info(name: &str, elem: DataType, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => dimension::Value::DimValue(*n as i64),
                None => dimension::Value::DimParam(BATCH_DIM.into()),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

/// A default-domain node of operator `op` reading `inputs` and writing `outputs`; `name` is
/// left unset when `None`.
pub fn node(
    op: &str,
    name: Option<&str>,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: name.map(Into::into),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// An attribute `name` of type `kind` with no value yet: the helpers below set the value field.
fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// An integer attribute (`axis`, `keepdims`, ...).
pub fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: Some(v),
        ..attr(name, AttributeType::Int)
    }
}

/// A list-of-integers attribute (`kernel_shape`, `strides`, `pads`, `perm`, ...).
pub fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::Ints)
    }
}

/// A float attribute (`alpha`, `epsilon`, ...).
pub fn float_attr(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: Some(v),
        ..attr(name, AttributeType::Float)
    }
}

/// A list-of-floats attribute (`scales`, ...).
pub fn floats_attr(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        floats: v.to_vec(),
        ..attr(name, AttributeType::Floats)
    }
}

/// A string attribute (`auto_pad`, `mode`, ...), stored as its UTF-8 bytes.
pub fn string_attr(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: Some(v.as_bytes().to_vec()),
        ..attr(name, AttributeType::String)
    }
}

/// A tensor attribute (`value` of `Constant`, ...).
pub fn tensor_attr(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        t: Some(t),
        ..attr(name, AttributeType::Tensor)
    }
}

/// A model of `graph` importing the default domain at `opset`, IR version [`IR_VERSION`], with no
/// producer or other metadata (set them on the result).
pub fn model(graph: GraphProto, opset: i64) -> ModelProto {
    ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(graph),
        ..Default::default()
    }
}
