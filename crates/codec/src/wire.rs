//! Encoded tensors on the wire and their validation into [`ValidTensor`].
//!
//! An [`EncodedTensor`] is a header plus payload bytes. It travels either as protocol
//! parameters plus raw bytes ([`TensorHeader::to_params`]) or as one blob, the binary header
//! followed by the payload ([`EncodedTensor::to_bytes`]). Either way the receiver calls
//! [`validate`], and only a [`ValidTensor`] can be decoded.

use crate::header::QuantInfo;
use crate::{CodecError, DecodeLimits, Dtype, MAX_RANK, QuantParam, TensorHeader};

/// A header and the payload it describes, as produced by the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedTensor {
    pub header: TensorHeader,
    pub payload: Vec<u8>,
}

impl EncodedTensor {
    /// Binary header followed by the payload, as one blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.header.binary_len() + self.payload.len());
        self.header.write_to(&mut v);
        v.extend_from_slice(&self.payload);
        v
    }

    /// Bytes on the wire in the blob form: header plus payload.
    pub fn wire_len(&self) -> usize {
        self.header.binary_len() + self.payload.len()
    }

    /// Validates this tensor (e.g. one received as parameters plus raw bytes).
    pub fn validate(&self, limits: &DecodeLimits) -> Result<ValidTensor<'_>, CodecError> {
        validate(&self.header, &self.payload, limits)
    }
}

/// Splits a blob into its parsed header and the payload that follows (no copy of the payload).
/// Bytes after the declared payload are an error, as are missing ones.
pub fn split_blob<'a>(
    bytes: &'a [u8],
    limits: &DecodeLimits,
) -> Result<(TensorHeader, &'a [u8]), CodecError> {
    let (header, n) = TensorHeader::parse(bytes, limits)?;
    let payload = &bytes[n..];
    if payload.len() as u64 != header.encoded_len {
        return Err(CodecError::PayloadLength {
            declared: header.encoded_len,
            actual: payload.len() as u64,
        });
    }
    Ok((header, payload))
}

/// A tensor whose header and payload passed every check of [`validate`]; the only input the
/// decoder accepts.
#[derive(Clone, Debug)]
pub struct ValidTensor<'a> {
    header: &'a TensorHeader,
    payload: &'a [u8],
    shape: Vec<usize>,
    elements: usize,
    group_len: usize,
}

impl<'a> ValidTensor<'a> {
    pub fn header(&self) -> &'a TensorHeader {
        self.header
    }
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Logical shape; its product is [`Self::elements`] and fits the limits.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of f32 values the tensor decodes to.
    pub fn elements(&self) -> usize {
        self.elements
    }
    /// Elements per quantization group (uint8 only; otherwise the element count).
    pub(crate) fn group_len(&self) -> usize {
        self.group_len
    }
    /// uint8 parameters, one per group (empty unless uint8).
    pub(crate) fn params(&self) -> &'a [QuantParam] {
        self.header.quant.as_ref().map_or(&[], |q| &q.params)
    }
}

/// Number of groups and elements per group for `shape` when the first `axes` dims index groups.
pub(crate) fn groups(shape: &[usize], axes: usize) -> (usize, usize) {
    let k = axes.min(shape.len());
    (shape[..k].iter().product(), shape[k..].iter().product())
}

/// Checks everything about an untrusted header and payload before anything is allocated for
/// the output: rank, overflow-checked element count (zero dims skipped, so an empty tensor's
/// other dims are bounded too) against `limits.max_elements`, raw length
/// = elements x dtype size, both lengths against `limits.max_bytes`, declared vs actual payload
/// length, codec/size consistency, quantization parameter count and values, and the checksum.
pub fn validate<'a>(
    header: &'a TensorHeader,
    payload: &'a [u8],
    limits: &DecodeLimits,
) -> Result<ValidTensor<'a>, CodecError> {
    if header.shape.len() > MAX_RANK {
        return Err(CodecError::RankTooHigh {
            rank: header.shape.len(),
            max: MAX_RANK,
        });
    }
    // Zero dims are skipped so that an empty tensor cannot carry absurd other dims (a
    // [0, 2^47, 2^32] tensor would overflow the row size of any batch built from it); for a
    // non-empty tensor this is its element count.
    let extent = header
        .shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| CodecError::ShapeOverflow {
            shape: header.shape.clone(),
        })?;
    if extent > limits.max_elements {
        return Err(CodecError::TooManyElements {
            elements: extent,
            max: limits.max_elements,
        });
    }
    let elements = if header.shape.contains(&0) { 0 } else { extent };
    let expected_raw =
        elements
            .checked_mul(header.dtype.size())
            .ok_or_else(|| CodecError::ShapeOverflow {
                shape: header.shape.clone(),
            })?;
    if header.raw_len != expected_raw {
        return Err(CodecError::RawLength {
            declared: header.raw_len,
            expected: expected_raw,
        });
    }
    for (what, bytes) in [
        ("raw payload", header.raw_len),
        ("encoded payload", header.encoded_len),
    ] {
        if bytes > limits.max_bytes {
            return Err(CodecError::TooManyBytes {
                what,
                bytes,
                max: limits.max_bytes,
            });
        }
    }
    if header.encoded_len != payload.len() as u64 {
        return Err(CodecError::PayloadLength {
            declared: header.encoded_len,
            actual: payload.len() as u64,
        });
    }
    if header.codec == crate::Codec::ZstdDelta && header.dtype != Dtype::U8 {
        return Err(CodecError::Inconsistent(
            "zstd_delta payload whose elements are not uint8",
        ));
    }
    if header.codec == crate::Codec::None && header.encoded_len != header.raw_len {
        return Err(CodecError::Inconsistent(
            "uncompressed payload whose encoded and raw lengths differ",
        ));
    }
    // Every dim is <= extent <= max_elements; converting each to usize still guards 32-bit hosts.
    let shape = header
        .shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| CodecError::ShapeOverflow {
            shape: header.shape.clone(),
        })?;
    let elements = elements as usize;
    let group_len = match (&header.quant, header.dtype) {
        (None, Dtype::U8) => return Err(CodecError::Inconsistent("uint8 without parameters")),
        (Some(_), Dtype::F16 | Dtype::F32) => {
            return Err(CodecError::Inconsistent(
                "float payload with uint8 parameters",
            ));
        }
        (None, _) => elements,
        (
            Some(QuantInfo {
                granularity,
                params,
            }),
            Dtype::U8,
        ) => {
            let k = granularity.axes().min(shape.len());
            let n_groups = header.shape[..k]
                .iter()
                .try_fold(1u64, |a, &d| a.checked_mul(d));
            let expected = match n_groups {
                Some(n) if elements > 0 => n,
                // A zero-element tensor carries no parameters, whatever its leading dims.
                _ => 0,
            };
            if params.len() as u64 != expected {
                return Err(CodecError::ParamCount {
                    what: "scales",
                    expected,
                    actual: params.len() as u64,
                });
            }
            for (group, p) in params.iter().enumerate() {
                if !p.is_valid() {
                    return Err(CodecError::InvalidScale {
                        group,
                        scale: p.scale,
                        zero_point: p.zero_point,
                    });
                }
            }
            groups(&shape, granularity.axes()).1
        }
    };
    let computed = header.compute_checksum(payload);
    if computed != header.checksum {
        return Err(CodecError::Checksum {
            declared: header.checksum,
            computed,
        });
    }
    Ok(ValidTensor {
        header,
        payload,
        shape,
        elements,
        group_len,
    })
}
