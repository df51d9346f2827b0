//! The encoder: f32 tensor -> quantized, maybe compressed, checksummed [`EncodedTensor`].

use std::time::Instant;

use crate::compress::Compressor;
use crate::header::QuantInfo;
use crate::quant::{self, QuantParam};
use crate::wire::groups;
use crate::{
    Codec, CodecError, Compression, EncodeOptions, EncodedTensor, MAX_RANK, Precision, TensorHeader,
};

/// Wall time of the last [`Encoder::encode`], per stage, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeTimings {
    /// Range checks and conversion to wire elements (uint8/f16/f32 bytes).
    pub quantize_ns: u64,
    /// Compression (including an attempt whose result was dropped for not paying) and the
    /// checksum.
    pub compress_ns: u64,
}

/// Reusable encoder: keeps compression contexts and scratch buffers across tensors.
/// One per thread; encoding never blocks.
pub struct Encoder {
    opts: EncodeOptions,
    compressor: Compressor,
    scratch: Vec<u8>,
    /// Row differences of the codes, when delta coded (the codes stay in `scratch` in case
    /// compression does not pay).
    deltas: Vec<u8>,
    timings: EncodeTimings,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("opts", &self.opts).finish()
    }
}

/// One-shot [`Encoder::encode`].
pub fn encode(
    data: &[f32],
    shape: &[usize],
    opts: &EncodeOptions,
) -> Result<EncodedTensor, CodecError> {
    Encoder::new(*opts)?.encode(data, shape)
}

impl Encoder {
    /// Errors when `opts` fails [`EncodeOptions::validate`].
    pub fn new(opts: EncodeOptions) -> Result<Self, CodecError> {
        opts.validate()?;
        Ok(Self {
            opts,
            compressor: Compressor::default(),
            scratch: Vec::new(),
            deltas: Vec::new(),
            timings: EncodeTimings::default(),
        })
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.opts
    }

    /// Changes the ratio compression must beat (see [`EncodeOptions::min_ratio`]) without
    /// dropping the compression contexts: the sender updates it as its bandwidth estimate
    /// moves, e.g. from [`crate::break_even_ratio`] (`None` -> `f64::INFINITY`, never compress).
    pub fn set_min_ratio(&mut self, min_ratio: f64) -> Result<(), CodecError> {
        let opts = EncodeOptions {
            min_ratio,
            ..self.opts
        };
        opts.validate()?;
        self.opts = opts;
        Ok(())
    }

    /// Changes the compressor (keeping its contexts), e.g. to send one tensor uncompressed
    /// where compressing it would cost more time than it saves on the link.
    pub fn set_compression(&mut self, compression: Compression) -> Result<(), CodecError> {
        let opts = EncodeOptions {
            compression,
            ..self.opts
        };
        opts.validate()?;
        self.opts = opts;
        Ok(())
    }

    /// Changes the code width (see [`EncodeOptions::bits`]), e.g. to a coarser grid that the
    /// planner chose for a slow link.
    pub fn set_bits(&mut self, bits: u8) -> Result<(), CodecError> {
        let opts = self.opts.with_bits(bits);
        opts.validate()?;
        self.opts = opts;
        Ok(())
    }

    /// Stage times of the last successful [`Self::encode`].
    pub fn timings(&self) -> EncodeTimings {
        self.timings
    }

    /// Encodes `data` (row-major, `shape`'s product elements) with this encoder's options.
    ///
    /// Errors: `ShapeMismatch`/`ShapeOverflow`/`RankTooHigh` for a bad shape, `NonFinite` for
    /// NaN or infinity, `OutOfRange` for |x| > 65504 in f16, `RangeTooWide` for uint8 groups
    /// near `f32::MAX`. The payload is compressed only when that beats `min_ratio`; otherwise
    /// it is the raw element bytes with [`Codec::None`], never empty unless the tensor is.
    pub fn encode(&mut self, data: &[f32], shape: &[usize]) -> Result<EncodedTensor, CodecError> {
        let shape64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        if shape.len() > MAX_RANK {
            return Err(CodecError::RankTooHigh {
                rank: shape.len(),
                max: MAX_RANK,
            });
        }
        let expected = shape64
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| CodecError::ShapeOverflow {
                shape: shape64.clone(),
            })?;
        if expected != data.len() as u64 {
            return Err(CodecError::ShapeMismatch {
                shape: shape64,
                expected,
                actual: data.len() as u64,
            });
        }
        let dtype = self.opts.precision.dtype();
        let raw_len = data.len() * dtype.size() as usize;

        let t0 = Instant::now();
        // Lossless f32 on a little-endian host compresses straight from the input.
        let direct = cfg!(target_endian = "little")
            && dtype == crate::Dtype::F32
            && self.opts.compression != Compression::None;
        let mut elems = std::mem::take(&mut self.scratch);
        // Every byte is overwritten below; resizing a reused buffer zeroes only its growth.
        elems.resize(if direct { 0 } else { raw_len }, 0);
        let mut quant = None;
        match self.opts.precision {
            Precision::U8(_) | Precision::U8Auto => {
                let granularity = self
                    .opts
                    .precision
                    .u8_granularity(shape)
                    .unwrap_or(crate::Granularity::PerRow);
                let mut params: Vec<QuantParam> = Vec::new();
                if !data.is_empty() {
                    let (n, group_len) = groups(shape, granularity.axes());
                    params.reserve(n);
                    quant::quantize_levels(
                        data,
                        group_len,
                        self.opts.levels(),
                        &mut params,
                        &mut elems,
                    )?;
                }
                quant = Some(QuantInfo {
                    granularity,
                    params,
                });
            }
            Precision::F16 => {
                quant::check_range(data, true)?;
                quant::f32_to_f16_bytes(data, &mut elems);
            }
            Precision::F32 => {
                quant::check_range(data, false)?;
                if !direct {
                    quant::f32_to_le_bytes(data, &mut elems);
                }
            }
        }
        let t1 = Instant::now();

        let row = shape.last().copied().unwrap_or(1);
        let delta = self.opts.delta
            && dtype == crate::Dtype::U8
            && matches!(self.opts.compression, Compression::Zstd { .. })
            && crate::delta::applies(shape)
            && crate::delta::pays(&elems, row);
        if delta {
            crate::delta::encode_into(&elems, row, &mut self.deltas);
        }
        let input: &[u8] = if direct {
            bytemuck::cast_slice(data)
        } else if delta {
            &self.deltas
        } else {
            &elems
        };
        let mut payload = Vec::new();
        let mut codec = self
            .compressor
            .compress(self.opts.compression, input, &mut payload)?;
        let pays = (raw_len as f64) > payload.len() as f64 * self.opts.min_ratio;
        if codec != Codec::None && !pays {
            codec = Codec::None;
        }
        if delta && codec != Codec::None {
            codec = Codec::ZstdDelta;
        }
        if codec == Codec::None {
            if direct {
                payload.clear();
                payload.extend_from_slice(bytemuck::cast_slice(data));
            } else {
                // Hand the element bytes over instead of copying them.
                std::mem::swap(&mut payload, &mut elems);
            }
        }
        self.scratch = elems;

        let mut header = TensorHeader {
            dtype,
            shape: shape64,
            quant,
            codec,
            raw_len: raw_len as u64,
            encoded_len: payload.len() as u64,
            checksum: 0,
        };
        header.seal(&payload);
        let t2 = Instant::now();
        self.timings = EncodeTimings {
            quantize_ns: (t1 - t0).as_nanos() as u64,
            compress_ns: (t2 - t1).as_nanos() as u64,
        };
        Ok(EncodedTensor { header, payload })
    }
}
