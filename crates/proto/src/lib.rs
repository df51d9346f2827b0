//! gRPC definitions shared by the loadpart server and client.
//!
//! The server and the devices must agree on every message byte for byte, and standard tools must
//! understand the server too, so the `.proto` files and the code generated from them live in one
//! crate that both sides depend on:
//!
//! - [`inference`]: the Open Inference Protocol (KServe v2) service
//!   `inference.GRPCInferenceService` (ServerLive, ServerReady, ModelReady, ServerMetadata,
//!   ModelMetadata, ModelInfer) and Triton's ModelStatistics extension. Names and field numbers
//!   equal those of the PyPI package `tritonclient` (tests/it checks every field against its
//!   descriptors and calls a tonic server with it), so standard clients run full-model inference
//!   against a loadpart server unchanged. Partitioned requests use the same ModelInfer call: each
//!   input is a cut tensor described by parameters (see `loadpart_codec`'s params module).
//! - [`loadpart`]: the `loadpart.v1.Loadpart` service, what a device needs beyond inference to
//!   choose a cut: the server's cost profile, its load (polled or streamed) and a bandwidth probe.
//!
//! Code is generated at build time (prost + tonic, vendored protoc). This crate enables only
//! tonic's `codegen` feature: the generated clients take any tonic transport (build a `Channel`
//! with tonic's "channel" feature) and the servers plug into tonic's `Server` (features "server"
//! and "router") in the crates that serve.
//!
//! [`FILE_DESCRIPTOR_SET`] holds the descriptors of both files, for gRPC reflection and tests.
//! The helpers below convert between [`inference::InferParameter`] and the codec's
//! [`ParamValue`].

use std::collections::HashMap;

use loadpart_codec::ParamValue;
/// The type of `raw_input_contents` and `raw_output_contents` entries: received tensors are
/// slices of the received message, not copies.
pub use prost::bytes::Bytes;

/// The Open Inference Protocol (KServe v2) messages and `GRPCInferenceService`, with Triton's
/// statistics extension.
pub mod inference {
    tonic::include_proto!("inference");
}

/// loadpart's own service: server profile, load reports and bandwidth probes.
pub mod loadpart {
    tonic::include_proto!("loadpart.v1");
}

pub mod names;

/// The encoded `google.protobuf.FileDescriptorSet` of `inference.proto` and `loadpart.proto`
/// (with source info), for gRPC reflection and for checking the definitions in tests.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/loadpart_proto_descriptor.bin"));

/// Default limit on one gRPC message, encoded or decoded, in bytes (256 MiB).
///
/// tonic's own default decoding limit is 4 MiB, far below a batch of cut tensors or a large
/// model input (one float32 224x224x3 image is 0.6 MB, an early ResNet-50 cut about 3 MB per
/// sample, and a batch of 32 of those is around 100 MB). Servers and clients apply this with
/// `max_decoding_message_size` / `max_encoding_message_size` unless configured otherwise.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Why an [`inference::InferParameter`] has no [`ParamValue`] equivalent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// None of the oneof's kinds is set.
    #[error("parameter {key:?} has no value")]
    Unset {
        /// The parameter's key; empty when converting a lone value.
        key: String,
    },
    /// A `uint64_param` above `i64::MAX`: [`ParamValue`] has only a signed integer.
    #[error("parameter {key:?}: uint64 value {value} does not fit in an int64")]
    Uint64OutOfRange {
        /// The parameter's key; empty when converting a lone value.
        key: String,
        /// The value sent.
        value: u64,
    },
}

impl ParamError {
    fn with_key(self, key: &str) -> Self {
        match self {
            Self::Unset { .. } => Self::Unset { key: key.into() },
            Self::Uint64OutOfRange { value, .. } => Self::Uint64OutOfRange {
                key: key.into(),
                value,
            },
        }
    }
}

use inference::infer_parameter::ParameterChoice;

impl From<ParamValue> for inference::InferParameter {
    fn from(v: ParamValue) -> Self {
        let choice = match v {
            ParamValue::Bool(b) => ParameterChoice::BoolParam(b),
            ParamValue::Int64(i) => ParameterChoice::Int64Param(i),
            ParamValue::Double(d) => ParameterChoice::DoubleParam(d),
            ParamValue::String(s) => ParameterChoice::StringParam(s),
        };
        Self {
            parameter_choice: Some(choice),
        }
    }
}

impl From<&ParamValue> for inference::InferParameter {
    fn from(v: &ParamValue) -> Self {
        v.clone().into()
    }
}

impl TryFrom<&inference::InferParameter> for ParamValue {
    type Error = ParamError;

    /// `uint64_param` becomes [`ParamValue::Int64`] when it fits, else an error; an unset
    /// parameter is an error.
    fn try_from(p: &inference::InferParameter) -> Result<Self, ParamError> {
        Ok(match &p.parameter_choice {
            None => return Err(ParamError::Unset { key: String::new() }),
            Some(ParameterChoice::BoolParam(b)) => Self::Bool(*b),
            Some(ParameterChoice::Int64Param(i)) => Self::Int64(*i),
            Some(ParameterChoice::DoubleParam(d)) => Self::Double(*d),
            Some(ParameterChoice::StringParam(s)) => Self::String(s.clone()),
            Some(ParameterChoice::Uint64Param(u)) => {
                Self::Int64(i64::try_from(*u).map_err(|_| ParamError::Uint64OutOfRange {
                    key: String::new(),
                    value: *u,
                })?)
            }
        })
    }
}

impl TryFrom<inference::InferParameter> for ParamValue {
    type Error = ParamError;

    /// As for `&InferParameter`, without copying a string value.
    fn try_from(p: inference::InferParameter) -> Result<Self, ParamError> {
        match p.parameter_choice {
            Some(ParameterChoice::StringParam(s)) => Ok(Self::String(s)),
            _ => Self::try_from(&p),
        }
    }
}

/// `values` as little-endian FP32 bytes for `raw_input_contents` or `raw_output_contents`: one
/// memcpy on a little-endian host (tensors of a MiB are common, and a per-element conversion
/// costs a noticeable share of a round trip).
pub fn le_f32_bytes(values: &[f32]) -> Bytes {
    if cfg!(target_endian = "little") {
        return Bytes::copy_from_slice(bytemuck::cast_slice::<f32, u8>(values));
    }
    values
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>()
        .into()
}

/// A protocol parameter map (a request's, a tensor's or a response's `parameters`) from
/// key/value pairs, e.g. [`loadpart_codec::TensorHeader::to_params`]'s.
pub fn to_proto_params<I>(params: I) -> HashMap<String, inference::InferParameter>
where
    I: IntoIterator<Item = (String, ParamValue)>,
{
    params.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// The pairs of a protocol parameter map, sorted by key, e.g. for
/// [`loadpart_codec::TensorHeader::from_params`]. Fails on the first parameter (in key order)
/// that has no [`ParamValue`] equivalent, naming its key.
pub fn from_proto_params(
    params: &HashMap<String, inference::InferParameter>,
) -> Result<Vec<(String, ParamValue)>, ParamError> {
    let mut sorted: Vec<_> = params.iter().collect();
    sorted.sort_unstable_by_key(|(k, _)| k.as_str());
    sorted
        .into_iter()
        .map(|(k, p)| {
            ParamValue::try_from(p)
                .map(|x| (k.clone(), x))
                .map_err(|e| e.with_key(k))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::inference::InferParameter;
    use super::*;

    fn param(c: ParameterChoice) -> InferParameter {
        InferParameter {
            parameter_choice: Some(c),
        }
    }

    #[test]
    fn every_param_value_round_trips() {
        let values = [
            ParamValue::Bool(true),
            ParamValue::Bool(false),
            ParamValue::Int64(i64::MIN),
            ParamValue::Int64(-1),
            ParamValue::Int64(i64::MAX),
            ParamValue::Double(-0.5),
            ParamValue::Double(f64::INFINITY),
            ParamValue::String(String::new()),
            ParamValue::String("float16".into()),
        ];
        for v in values {
            let p = InferParameter::from(&v);
            assert_eq!(ParamValue::try_from(&p).unwrap(), v);
            assert_eq!(ParamValue::try_from(p).unwrap(), v);
        }
    }

    #[test]
    fn each_kind_maps_to_its_oneof_case() {
        let kinds = [
            (ParamValue::Bool(true), ParameterChoice::BoolParam(true)),
            (ParamValue::Int64(7), ParameterChoice::Int64Param(7)),
            (ParamValue::Double(2.5), ParameterChoice::DoubleParam(2.5)),
            (
                ParamValue::String("zstd".into()),
                ParameterChoice::StringParam("zstd".into()),
            ),
        ];
        for (v, c) in kinds {
            assert_eq!(InferParameter::from(v), param(c));
        }
    }

    #[test]
    fn uint64_becomes_int64_when_it_fits() {
        for u in [0, 1, i64::MAX as u64] {
            let p = param(ParameterChoice::Uint64Param(u));
            assert_eq!(ParamValue::try_from(&p), Ok(ParamValue::Int64(u as i64)));
        }
        for u in [i64::MAX as u64 + 1, u64::MAX] {
            let p = param(ParameterChoice::Uint64Param(u));
            assert_eq!(
                ParamValue::try_from(p),
                Err(ParamError::Uint64OutOfRange {
                    key: String::new(),
                    value: u
                })
            );
        }
    }

    #[test]
    fn unset_parameter_is_an_error() {
        let p = InferParameter::default();
        assert_eq!(
            ParamValue::try_from(&p),
            Err(ParamError::Unset { key: String::new() })
        );
    }

    #[test]
    fn maps_convert_sorted_and_name_the_bad_key() {
        let mut m = to_proto_params([
            ("b".to_owned(), ParamValue::Int64(2)),
            ("a".to_owned(), ParamValue::String("x".into())),
        ]);
        assert_eq!(
            from_proto_params(&m).unwrap(),
            vec![
                ("a".to_owned(), ParamValue::String("x".into())),
                ("b".to_owned(), ParamValue::Int64(2)),
            ]
        );
        m.insert(
            "timeout".into(),
            param(ParameterChoice::Uint64Param(u64::MAX)),
        );
        let e = from_proto_params(&m).unwrap_err();
        assert_eq!(
            e,
            ParamError::Uint64OutOfRange {
                key: "timeout".into(),
                value: u64::MAX
            }
        );
        assert!(e.to_string().contains("\"timeout\""), "{e}");
        m.insert("empty".into(), InferParameter::default());
        assert_eq!(
            from_proto_params(&m),
            Err(ParamError::Unset {
                key: "empty".into()
            })
        );
    }

    #[test]
    fn codec_header_survives_the_protocol_map() {
        use loadpart_codec::{DecodeLimits, EncodeOptions, TensorHeader, encode};
        let data: Vec<f32> = (0..48).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        // Default options: uint8, so scales and zero points travel as parameters too.
        let h = encode(&data, &[2, 4, 6], &EncodeOptions::default())
            .unwrap()
            .header;
        assert!(h.quant.is_some());
        let m = to_proto_params(h.to_params());
        let back = from_proto_params(&m).unwrap();
        let parsed = TensorHeader::from_params(
            back.iter().map(|(k, v)| (k.as_str(), v)),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!(parsed, h);
    }
}
