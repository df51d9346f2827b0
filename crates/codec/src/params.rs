//! The header as Open Inference Protocol (KServe v2) tensor parameters.
//!
//! A partitioned request sends each cut tensor as a `ModelInferRequest` input whose
//! `parameters` map carries these entries and whose bytes go in `raw_input_contents`. All keys
//! start with [`PARAM_PREFIX`]; other keys are left to the protocol and ignored here. Values use
//! only the `int64_param` and `string_param` kinds of `InferParameter`:
//!
//! | key                        | kind   | value                                            |
//! |----------------------------|--------|--------------------------------------------------|
//! | `loadpart_version`         | int64  | 1                                                |
//! | `loadpart_dtype`           | string | `uint8`, `float16`, `float32`                     |
//! | `loadpart_shape`           | string | dims joined by `,` (empty for a scalar)          |
//! | `loadpart_codec`           | string | `none`, `zstd`, `lz4`, `zstd_delta`               |
//! | `loadpart_raw_bytes`       | int64  | payload bytes before compression                 |
//! | `loadpart_encoded_bytes`   | int64  | payload bytes as sent                            |
//! | `loadpart_checksum`        | int64  | CRC-32, as in the binary form                    |
//! | `loadpart_granularity`     | string | `per_row`, `per_channel` (uint8 only)             |
//! | `loadpart_scales`          | string | f32 scales, shortest round-trip decimal, `,`     |
//! | `loadpart_zero_points`     | string | u8 zero points joined by `,`                     |
//!
//! The checksum covers the binary form of the same header, so both forms verify identically.

use serde::{Deserialize, Serialize};

use crate::header::QuantInfo;
use crate::{
    Codec, CodecError, DecodeLimits, Dtype, Granularity, MAX_RANK, QuantParam, TensorHeader,
    WIRE_VERSION,
};

/// Prefix of every key this crate reads or writes.
pub const PARAM_PREFIX: &str = "loadpart_";

/// A protocol parameter value; maps one to one onto `InferParameter`'s oneof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    Bool(bool),
    Int64(i64),
    Double(f64),
    String(String),
}

const VERSION: &str = "loadpart_version";
const DTYPE: &str = "loadpart_dtype";
const SHAPE: &str = "loadpart_shape";
const CODEC: &str = "loadpart_codec";
const RAW: &str = "loadpart_raw_bytes";
const ENCODED: &str = "loadpart_encoded_bytes";
const CHECKSUM: &str = "loadpart_checksum";
const GRANULARITY: &str = "loadpart_granularity";
const SCALES: &str = "loadpart_scales";
const ZERO_POINTS: &str = "loadpart_zero_points";
/// Every key of the parameter form, in the order of the table above.
pub const PARAM_KEYS: [&str; 10] = [
    VERSION,
    DTYPE,
    SHAPE,
    CODEC,
    RAW,
    ENCODED,
    CHECKSUM,
    GRANULARITY,
    SCALES,
    ZERO_POINTS,
];

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let mut s = String::new();
    for (i, x) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s
}

impl TensorHeader {
    /// The header as protocol parameters, in a fixed order.
    pub fn to_params(&self) -> Vec<(String, ParamValue)> {
        let mut v = vec![
            (VERSION, ParamValue::Int64(i64::from(WIRE_VERSION))),
            (DTYPE, ParamValue::String(self.dtype.name().into())),
            (SHAPE, ParamValue::String(join(self.shape.iter()))),
            (CODEC, ParamValue::String(self.codec.name().into())),
            (RAW, ParamValue::Int64(self.raw_len as i64)),
            (ENCODED, ParamValue::Int64(self.encoded_len as i64)),
            (CHECKSUM, ParamValue::Int64(i64::from(self.checksum))),
        ];
        if let Some(q) = &self.quant {
            v.push((GRANULARITY, ParamValue::String(q.granularity.name().into())));
            // f32 Display is the shortest string that parses back to the same bits.
            v.push((
                SCALES,
                ParamValue::String(join(q.params.iter().map(|p| p.scale))),
            ));
            v.push((
                ZERO_POINTS,
                ParamValue::String(join(q.params.iter().map(|p| p.zero_point))),
            ));
        }
        v.into_iter().map(|(k, x)| (k.to_owned(), x)).collect()
    }

    /// Reads a header from protocol parameters (untrusted). Keys without [`PARAM_PREFIX`] are
    /// ignored; unknown prefixed keys, duplicates, missing keys, wrong kinds and unparsable
    /// values are errors. Allocations are bounded by the input's own size.
    pub fn from_params<'a, I>(params: I, limits: &DecodeLimits) -> Result<Self, CodecError>
    where
        I: IntoIterator<Item = (&'a str, &'a ParamValue)>,
    {
        let mut slots: [Option<&ParamValue>; PARAM_KEYS.len()] = [None; PARAM_KEYS.len()];
        for (k, v) in params {
            if !k.starts_with(PARAM_PREFIX) {
                continue;
            }
            let i = PARAM_KEYS
                .iter()
                .position(|&n| n == k)
                .ok_or_else(|| CodecError::UnknownParam(k.to_owned()))?;
            if slots[i].replace(v).is_some() {
                return Err(CodecError::DuplicateParam(k.to_owned()));
            }
        }
        let get = |name: &'static str| -> Option<&ParamValue> {
            slots[PARAM_KEYS
                .iter()
                .position(|&n| n == name)
                .expect("known key")]
        };
        let req = |name| get(name).ok_or(CodecError::MissingParam(name));

        let version = int(VERSION, req(VERSION)?)?;
        if version != i64::from(WIRE_VERSION) {
            return Err(CodecError::UnknownVersion {
                found: version,
                supported: WIRE_VERSION,
            });
        }
        let dtype = Dtype::from_name(string(DTYPE, req(DTYPE)?)?)?;
        let codec = Codec::from_name(string(CODEC, req(CODEC)?)?)?;
        let shape = parse_shape(string(SHAPE, req(SHAPE)?)?)?;
        let raw_len = size(RAW, req(RAW)?)?;
        let encoded_len = size(ENCODED, req(ENCODED)?)?;
        let checksum =
            u32::try_from(int(CHECKSUM, req(CHECKSUM)?)?).map_err(|_| CodecError::BadParam {
                name: CHECKSUM,
                reason: "not a u32".into(),
            })?;
        let quant = match get(GRANULARITY) {
            None => {
                if get(SCALES).is_some() || get(ZERO_POINTS).is_some() {
                    return Err(CodecError::Inconsistent(
                        "scales or zero points without a granularity",
                    ));
                }
                None
            }
            Some(g) => {
                let granularity = Granularity::from_name(string(GRANULARITY, g)?)?;
                let scales = list::<f32>(SCALES, string(SCALES, req(SCALES)?)?, limits)?;
                let zps = list::<u8>(ZERO_POINTS, string(ZERO_POINTS, req(ZERO_POINTS)?)?, limits)?;
                if scales.len() != zps.len() {
                    return Err(CodecError::ParamCount {
                        what: "zero points",
                        expected: scales.len() as u64,
                        actual: zps.len() as u64,
                    });
                }
                let params = scales
                    .into_iter()
                    .zip(zps)
                    .map(|(scale, zero_point)| QuantParam { scale, zero_point })
                    .collect();
                Some(QuantInfo {
                    granularity,
                    params,
                })
            }
        };
        Ok(Self {
            dtype,
            shape,
            quant,
            codec,
            raw_len,
            encoded_len,
            checksum,
        })
    }
}

fn int(name: &'static str, v: &ParamValue) -> Result<i64, CodecError> {
    match v {
        ParamValue::Int64(x) => Ok(*x),
        other => Err(CodecError::BadParam {
            name,
            reason: format!("expected int64, got {other:?}"),
        }),
    }
}

fn size(name: &'static str, v: &ParamValue) -> Result<u64, CodecError> {
    u64::try_from(int(name, v)?).map_err(|_| CodecError::BadParam {
        name,
        reason: "negative byte count".into(),
    })
}

fn string<'a>(name: &'static str, v: &'a ParamValue) -> Result<&'a str, CodecError> {
    match v {
        ParamValue::String(s) => Ok(s),
        other => Err(CodecError::BadParam {
            name,
            reason: format!("expected string, got {:.40?}", other),
        }),
    }
}

fn parse_shape(s: &str) -> Result<Vec<u64>, CodecError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let rank = s.bytes().filter(|&b| b == b',').count() + 1;
    if rank > MAX_RANK {
        return Err(CodecError::RankTooHigh {
            rank,
            max: MAX_RANK,
        });
    }
    s.split(',')
        .map(|d| {
            d.parse::<u64>().map_err(|_| CodecError::BadParam {
                name: SHAPE,
                reason: format!("dimension {:.24?} is not a u64", d),
            })
        })
        .collect()
}

/// Comma-separated values; the count is checked against `max_elements` before allocating.
fn list<T: std::str::FromStr>(
    name: &'static str,
    s: &str,
    limits: &DecodeLimits,
) -> Result<Vec<T>, CodecError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let n = s.bytes().filter(|&b| b == b',').count() as u64 + 1;
    if n > limits.max_elements {
        return Err(CodecError::TooManyElements {
            elements: n,
            max: limits.max_elements,
        });
    }
    s.split(',')
        .map(|x| {
            x.parse::<T>().map_err(|_| CodecError::BadParam {
                name,
                reason: format!("{:.24?} does not parse", x),
            })
        })
        .collect()
}
