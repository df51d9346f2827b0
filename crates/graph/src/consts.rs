//! Reading and writing tensor values stored in the model (initializers, Constant attributes).

use crate::GraphError;
use crate::onnx::{DataType, TensorProto};

/// A decoded constant: its dims and its values, widened to f32 or i64.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstTensor {
    F32 { dims: Vec<usize>, data: Vec<f32> },
    I64 { dims: Vec<usize>, data: Vec<i64> },
}

impl ConstTensor {
    pub fn dims(&self) -> &[usize] {
        match self {
            ConstTensor::F32 { dims, .. } | ConstTensor::I64 { dims, .. } => dims,
        }
    }

    /// Values as integers (floats are truncated), for shape arithmetic.
    pub fn to_i64(&self) -> Vec<i64> {
        match self {
            ConstTensor::F32 { data, .. } => data.iter().map(|v| *v as i64).collect(),
            ConstTensor::I64 { data, .. } => data.clone(),
        }
    }

    /// Decodes a TensorProto. Integer and bool types widen to i64; float types to f32.
    pub fn from_proto(t: &TensorProto) -> Result<Self, GraphError> {
        let name = t.name().to_string();
        if t.data_location == Some(1) || !t.external_data.is_empty() {
            return Err(GraphError::ExternalData(name));
        }
        let dims = dims_of(t)?;
        let n: usize = dims.iter().product();
        let raw = t.raw_data.as_deref();
        let dt = DataType::try_from(t.data_type.unwrap_or(0)).unwrap_or(DataType::Undefined);
        let bad = |why: String| GraphError::Malformed(format!("tensor '{name}': {why}"));
        let check = |got: usize| {
            if got == n {
                Ok(())
            } else {
                Err(bad(format!(
                    "{got} values for dims {dims:?} ({n} expected)"
                )))
            }
        };
        Ok(match dt {
            DataType::Float => {
                let data: Vec<f32> = match raw {
                    Some(r) => le_chunks::<4>(r, &bad)?.map(f32::from_le_bytes).collect(),
                    None => t.float_data.clone(),
                };
                check(data.len())?;
                ConstTensor::F32 { dims, data }
            }
            DataType::Double => {
                let data: Vec<f32> = match raw {
                    Some(r) => le_chunks::<8>(r, &bad)?
                        .map(|b| f64::from_le_bytes(b) as f32)
                        .collect(),
                    None => t.double_data.iter().map(|v| *v as f32).collect(),
                };
                check(data.len())?;
                ConstTensor::F32 { dims, data }
            }
            DataType::Int64 => {
                let data: Vec<i64> = match raw {
                    Some(r) => le_chunks::<8>(r, &bad)?.map(i64::from_le_bytes).collect(),
                    None => t.int64_data.clone(),
                };
                check(data.len())?;
                ConstTensor::I64 { dims, data }
            }
            DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::Uint8
            | DataType::Uint16
            | DataType::Bool => {
                let data: Vec<i64> = match raw {
                    Some(r) => match dt {
                        DataType::Int32 => le_chunks::<4>(r, &bad)?
                            .map(|b| i32::from_le_bytes(b) as i64)
                            .collect(),
                        DataType::Int16 => le_chunks::<2>(r, &bad)?
                            .map(|b| i16::from_le_bytes(b) as i64)
                            .collect(),
                        DataType::Uint16 => le_chunks::<2>(r, &bad)?
                            .map(|b| u16::from_le_bytes(b) as i64)
                            .collect(),
                        DataType::Int8 => r.iter().map(|b| *b as i8 as i64).collect(),
                        _ => r.iter().map(|b| *b as i64).collect(),
                    },
                    None => t.int32_data.iter().map(|v| *v as i64).collect(),
                };
                check(data.len())?;
                ConstTensor::I64 { dims, data }
            }
            other => return Err(GraphError::UnsupportedType(other as i32, name)),
        })
    }
}

fn dims_of(t: &TensorProto) -> Result<Vec<usize>, GraphError> {
    let mut total: usize = 1;
    t.dims
        .iter()
        .map(|d| {
            let d = usize::try_from(*d).map_err(|_| {
                GraphError::Malformed(format!("tensor '{}' has negative dim {d}", t.name()))
            })?;
            total = total
                .checked_mul(d)
                .filter(|n| *n <= 1 << 34)
                .ok_or_else(|| {
                    GraphError::Malformed(format!(
                        "tensor '{}' dims {:?} are too large",
                        t.name(),
                        t.dims
                    ))
                })?;
            Ok(d)
        })
        .collect()
}

fn le_chunks<'a, const N: usize>(
    raw: &'a [u8],
    bad: &dyn Fn(String) -> GraphError,
) -> Result<impl Iterator<Item = [u8; N]> + 'a, GraphError> {
    if !raw.len().is_multiple_of(N) {
        return Err(bad(format!(
            "raw_data of {} bytes is not a multiple of {N}",
            raw.len()
        )));
    }
    Ok(raw
        .chunks_exact(N)
        .map(|c| c.try_into().expect("chunk of N bytes")))
}

/// Builds an f32 initializer with raw little-endian data.
pub fn tensor_from_f32(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    let mut raw = Vec::with_capacity(data.len() * 4);
    for v in data {
        raw.extend_from_slice(&v.to_le_bytes());
    }
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|d| *d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

/// Builds an i64 initializer with raw little-endian data.
pub fn tensor_from_i64(name: &str, dims: &[usize], data: &[i64]) -> TensorProto {
    let mut raw = Vec::with_capacity(data.len() * 8);
    for v in data {
        raw.extend_from_slice(&v.to_le_bytes());
    }
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|d| *d as i64).collect(),
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

/// Reads an f32 tensor (for example a reference output `.pb` file): dims and values.
pub fn tensor_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), GraphError> {
    use prost::Message;
    let t = TensorProto::decode(bytes).map_err(|e| GraphError::Malformed(e.to_string()))?;
    match ConstTensor::from_proto(&t)? {
        ConstTensor::F32 { dims, data } => Ok((dims, data)),
        ConstTensor::I64 { .. } => Err(GraphError::UnsupportedType(
            t.data_type(),
            t.name().to_string(),
        )),
    }
}
