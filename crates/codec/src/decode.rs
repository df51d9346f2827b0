//! The decoder: [`ValidTensor`] -> f32 values, written straight into the caller's buffer.

use std::time::Instant;

use crate::compress::Decompressor;
use crate::quant;
use crate::wire::split_blob;
use crate::{Codec, CodecError, DecodeLimits, Dtype, EncodedTensor, ValidTensor, validate};

/// Wall time of the last [`Decoder::decode_into`], per stage, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeTimings {
    /// Decompression (0 for an uncompressed payload).
    pub decompress_ns: u64,
    /// Conversion of wire elements to f32.
    pub dequantize_ns: u64,
}

/// Reusable decoder: keeps the decompression context and a scratch buffer (the decompressed
/// element bytes, at most `limits.max_bytes`) across tensors. One per thread.
#[derive(Default)]
pub struct Decoder {
    decompressor: Decompressor,
    scratch: Vec<u8>,
    timings: DecodeTimings,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("scratch_bytes", &self.scratch.len())
            .finish()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stage times of the last successful [`Self::decode_into`].
    pub fn timings(&self) -> DecodeTimings {
        self.timings
    }

    /// Decodes `t` into `out`, which must hold exactly `t.elements()` values (a batch row
    /// range, typically). On error `out` may be partly written.
    ///
    /// A float payload holding NaN or an infinity is a `NonFinite` error (uint8 parameters are
    /// validated, so uint8 always decodes to finite values): such a row would poison a batch.
    ///
    /// Uncompressed payloads convert from the received bytes with no copy; lossless f32
    /// decompresses directly into `out`; other compressed payloads decompress into a reused
    /// scratch buffer of `raw_len` bytes first.
    pub fn decode_into(&mut self, t: &ValidTensor<'_>, out: &mut [f32]) -> Result<(), CodecError> {
        if out.len() != t.elements() {
            return Err(CodecError::OutputLength {
                expected: t.elements() as u64,
                actual: out.len() as u64,
            });
        }
        let h = t.header();
        let t0 = Instant::now();
        if h.codec != Codec::None && h.dtype == Dtype::F32 && cfg!(target_endian = "little") {
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
            self.decompressor
                .decompress_into(h.codec, t.payload(), bytes)?;
            let t1 = Instant::now();
            quant::check_range(out, false)?;
            self.timings = DecodeTimings {
                decompress_ns: (t1 - t0).as_nanos() as u64,
                dequantize_ns: t1.elapsed().as_nanos() as u64,
            };
            return Ok(());
        }
        let raw_len = h.raw_len as usize;
        let raw: &[u8] = if h.codec == Codec::None {
            t.payload()
        } else {
            if self.scratch.len() < raw_len {
                self.scratch.resize(raw_len, 0);
            }
            let buf = &mut self.scratch[..raw_len];
            self.decompressor
                .decompress_into(h.codec, t.payload(), buf)?;
            if h.codec == Codec::ZstdDelta {
                crate::delta::decode(buf, row_len(t.shape()));
            }
            buf
        };
        let t1 = Instant::now();
        match h.dtype {
            Dtype::U8 => quant::dequantize_u8(raw, t.group_len(), t.params(), out),
            Dtype::F16 => {
                quant::f16_bytes_to_f32(raw, out);
                quant::check_range(out, false)?;
            }
            Dtype::F32 => {
                quant::le_bytes_to_f32(raw, out);
                quant::check_range(out, false)?;
            }
        }
        let t2 = Instant::now();
        self.timings = DecodeTimings {
            decompress_ns: if h.codec == Codec::None {
                0
            } else {
                (t1 - t0).as_nanos() as u64
            },
            dequantize_ns: (t2 - t1).as_nanos() as u64,
        };
        Ok(())
    }

    /// Decodes `t` into a new vector of `t.elements()` values.
    pub fn decode(&mut self, t: &ValidTensor<'_>) -> Result<Vec<f32>, CodecError> {
        let mut out = vec![0.0f32; t.elements()];
        self.decode_into(t, &mut out)?;
        Ok(out)
    }
}

/// Codes per row of the last axis, the unit of delta coding (1 for a scalar).
fn row_len(shape: &[usize]) -> usize {
    shape.last().copied().unwrap_or(1)
}

/// A decoded tensor: logical shape and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Validates `tensor` and decodes it into `out` (exactly its element count), in one call.
/// Servers decoding many tensors keep a [`Decoder`] (or a [`crate::BatchAssembler`]) instead,
/// to reuse its decompression context.
pub fn decode_into(
    tensor: &EncodedTensor,
    out: &mut [f32],
    limits: &DecodeLimits,
) -> Result<(), CodecError> {
    let t = tensor.validate(limits)?;
    Decoder::new().decode_into(&t, out)
}

/// Parses, validates and decodes one blob (binary header + payload) from untrusted bytes.
pub fn decode_blob(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedTensor, CodecError> {
    let (header, payload) = split_blob(bytes, limits)?;
    let t = validate(&header, payload, limits)?;
    let data = Decoder::new().decode(&t)?;
    Ok(DecodedTensor {
        shape: t.shape().to_vec(),
        data,
    })
}
