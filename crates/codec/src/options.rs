//! Wire enums (dtype, granularity, codec) and the encoder's and decoder's settings.
//!
//! Each wire enum has a one-byte code for the binary header and a lowercase name for protocol
//! parameters; unknown codes and names are typed errors, never defaults.

use serde::{Deserialize, Serialize};

use crate::CodecError;

/// Most dimensions a tensor may have, on both sides of the wire.
pub const MAX_RANK: usize = 16;

/// Element type of the payload before compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// Affine uint8 with per-group [`crate::QuantParam`]s.
    U8,
    /// IEEE half precision, little-endian.
    F16,
    /// IEEE single precision, little-endian, lossless.
    F32,
}

impl Dtype {
    /// Bytes per element on the wire (before compression).
    pub fn size(self) -> u64 {
        match self {
            Dtype::U8 => 1,
            Dtype::F16 => 2,
            Dtype::F32 => 4,
        }
    }
    pub(crate) fn code(self) -> u8 {
        match self {
            Dtype::U8 => 1,
            Dtype::F16 => 2,
            Dtype::F32 => 3,
        }
    }
    pub(crate) fn from_code(c: u8) -> Result<Self, CodecError> {
        match c {
            1 => Ok(Dtype::U8),
            2 => Ok(Dtype::F16),
            3 => Ok(Dtype::F32),
            _ => Err(CodecError::UnknownDtype(format!("code {c}"))),
        }
    }
    /// Name in protocol parameters.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::F16 => "float16",
            Dtype::F32 => "float32",
        }
    }
    pub(crate) fn from_name(s: &str) -> Result<Self, CodecError> {
        [Dtype::U8, Dtype::F16, Dtype::F32]
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| CodecError::UnknownDtype(s.to_owned()))
    }
}

/// Which elements share one uint8 scale and zero point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One group per index of dimension 0 (per sample of the batch). For a scalar, one group.
    PerRow,
    /// One group per index of dimensions 0 and 1 (per sample and channel, NCHW). Falls back to
    /// per-row for rank-1 tensors. Costs 5 header bytes per group.
    PerChannel,
}

impl Granularity {
    /// Number of leading dimensions that index groups.
    pub(crate) fn axes(self) -> usize {
        match self {
            Granularity::PerRow => 1,
            Granularity::PerChannel => 2,
        }
    }
    pub(crate) fn code(self) -> u8 {
        match self {
            Granularity::PerRow => 1,
            Granularity::PerChannel => 2,
        }
    }
    pub(crate) fn from_code(c: u8) -> Result<Self, CodecError> {
        match c {
            1 => Ok(Granularity::PerRow),
            2 => Ok(Granularity::PerChannel),
            _ => Err(CodecError::UnknownGranularity(format!("code {c}"))),
        }
    }
    /// Name in protocol parameters.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::PerRow => "per_row",
            Granularity::PerChannel => "per_channel",
        }
    }
    pub(crate) fn from_name(s: &str) -> Result<Self, CodecError> {
        [Granularity::PerRow, Granularity::PerChannel]
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| CodecError::UnknownGranularity(s.to_owned()))
    }
}

/// Compression applied to the payload, as recorded in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// The payload is the raw element bytes.
    None,
    /// One or more zstd frames.
    Zstd,
    /// One lz4 block (no frame).
    Lz4,
    /// One or more zstd frames of uint8 codes delta coded along the last axis (see
    /// [`EncodeOptions::delta`]): decompress, then a running sum (mod 256) along each row.
    ZstdDelta,
}

impl Codec {
    pub(crate) fn code(self) -> u8 {
        match self {
            Codec::None => 0,
            Codec::Zstd => 1,
            Codec::Lz4 => 2,
            Codec::ZstdDelta => 3,
        }
    }
    pub(crate) fn from_code(c: u8) -> Result<Self, CodecError> {
        match c {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Zstd),
            2 => Ok(Codec::Lz4),
            3 => Ok(Codec::ZstdDelta),
            _ => Err(CodecError::UnknownCodec(format!("code {c}"))),
        }
    }
    /// Name in protocol parameters.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Zstd => "zstd",
            Codec::Lz4 => "lz4",
            Codec::ZstdDelta => "zstd_delta",
        }
    }
    pub(crate) fn from_name(s: &str) -> Result<Self, CodecError> {
        [Codec::None, Codec::Zstd, Codec::Lz4, Codec::ZstdDelta]
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| CodecError::UnknownCodec(s.to_owned()))
    }
}

/// Smallest number of elements per channel for which [`Precision::U8Auto`] quantizes per
/// channel: there the 5 header bytes of a channel cost at most 1/8 of its payload.
pub const AUTO_MIN_CHANNEL_ELEMENTS: usize = 40;

/// How the encoder represents elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Affine uint8, 4x smaller, error <= scale / 2.
    U8(Granularity),
    /// Affine uint8 with the granularity chosen per tensor ([`Precision::u8_granularity`]): per
    /// channel for feature maps, whose channels often differ in range by orders of magnitude
    /// (one scale per sample then crushes the quiet channels), per row otherwise. The header
    /// records the choice, so decoders need nothing new.
    U8Auto,
    /// Half precision, 2x smaller, relative error <= 2^-11, |x| <= 65504.
    F16,
    /// Lossless.
    F32,
}

impl Precision {
    pub(crate) fn dtype(self) -> Dtype {
        match self {
            Precision::U8(_) | Precision::U8Auto => Dtype::U8,
            Precision::F16 => Dtype::F16,
            Precision::F32 => Dtype::F32,
        }
    }
}

impl Precision {
    /// The uint8 granularity used for a tensor of `shape`, `None` when not uint8. For
    /// [`Precision::U8Auto`]: per channel when the tensor has rank >= 3 (`[N, C, ...]`) and at
    /// least [`AUTO_MIN_CHANNEL_ELEMENTS`] elements per channel, per row otherwise.
    pub fn u8_granularity(self, shape: &[usize]) -> Option<Granularity> {
        match self {
            Precision::U8(g) => Some(g),
            Precision::U8Auto => {
                let per_channel: usize = shape.iter().skip(2).product();
                Some(
                    if shape.len() >= 3 && per_channel >= AUTO_MIN_CHANNEL_ELEMENTS {
                        Granularity::PerChannel
                    } else {
                        Granularity::PerRow
                    },
                )
            }
            Precision::F16 | Precision::F32 => None,
        }
    }
}

/// Which compressor the encoder tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Send the element bytes as they are.
    None,
    /// zstd at `level`. 1 is the default (the best ratio for its time on quantized
    /// activations); negative levels trade ratio for speed. Valid levels: -7..=22.
    Zstd { level: i32 },
    /// lz4 block: faster than zstd-1 (decoding about twice as fast), lower ratio.
    Lz4,
}

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodeOptions {
    pub precision: Precision,
    pub compression: Compression,
    /// Compressed payloads are kept only when `raw / compressed > min_ratio`; otherwise the raw
    /// bytes are sent with [`Codec::None`]. At least 1.0 (compression must shrink the payload);
    /// use [`crate::break_even_ratio`] to make compression pay for its time at the current
    /// bandwidth.
    pub min_ratio: f64,
    /// Bits of each uint8 code (2..=8): quantization onto 2^bits levels, still one byte per
    /// element before compression, so the compressor's entropy coding turns the coarser grid
    /// into fewer bytes (6 bits: about 0.75x of 8-bit's payload at 4x the error bound).
    /// Decoders need nothing new: a code decodes as `(q - zero_point) * scale` at any width.
    /// Ignored for f16 and f32.
    #[serde(default = "full_bits")]
    pub bits: u8,
    /// Delta code uint8 feature maps along their last (spatial) axis before zstd
    /// ([`Codec::ZstdDelta`]): an 8-28% higher median ratio on CNN cuts for about one more pass
    /// over the codes on each side. Applies to uint8 tensors of rank >= 3 compressed with
    /// zstd whose differences carry less entropy than their codes (measured per tensor with a
    /// histogram); others are sent as without it.
    #[serde(default = "delta_on")]
    pub delta: bool,
}

fn full_bits() -> u8 {
    8
}

fn delta_on() -> bool {
    true
}

impl Default for EncodeOptions {
    /// uint8 per channel for feature maps and per row otherwise ([`Precision::U8Auto`]), feature
    /// maps delta coded, zstd level 1, kept when it shrinks the payload at all.
    fn default() -> Self {
        Self {
            precision: Precision::U8Auto,
            compression: Compression::Zstd { level: 1 },
            min_ratio: 1.0,
            bits: 8,
            delta: true,
        }
    }
}

impl EncodeOptions {
    /// Errors on a zstd level outside -7..=22 or a `min_ratio` below 1 or NaN.
    pub fn validate(&self) -> Result<(), CodecError> {
        if let Compression::Zstd { level } = self.compression
            && !(-7..=22).contains(&level)
        {
            return Err(CodecError::InvalidOption(format!(
                "zstd level {level} is outside -7..=22"
            )));
        }
        if !(2..=8).contains(&self.bits) {
            return Err(CodecError::InvalidOption(format!(
                "{} bits per code: expected 2..=8",
                self.bits
            )));
        }
        if self.min_ratio.is_nan() || self.min_ratio < 1.0 {
            return Err(CodecError::InvalidOption(format!(
                "min_ratio {} must be >= 1.0",
                self.min_ratio
            )));
        }
        Ok(())
    }
}

/// What the decoder accepts from untrusted input. Checked before any allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeLimits {
    /// Most elements in one tensor (also bounds the number of quantization groups).
    pub max_elements: u64,
    /// Most bytes of payload, both as received and after decompression.
    pub max_bytes: u64,
}

impl Default for DecodeLimits {
    /// 64 Mi elements (256 MiB of f32) and 256 MiB of payload: well above the largest cut
    /// tensor of the served CNNs at batch 8 (ResNet-50's 1x64x112x112 is 0.8 Mi elements).
    fn default() -> Self {
        Self {
            max_elements: 64 << 20,
            max_bytes: 256 << 20,
        }
    }
}

impl EncodeOptions {
    /// `precision` + `compression`, kept whenever compression shrinks the payload at all
    /// (`min_ratio` 1), as benchmarks and the profiler measure them; no delta coding.
    pub const fn with(precision: Precision, compression: Compression) -> Self {
        Self {
            precision,
            compression,
            min_ratio: 1.0,
            bits: 8,
            delta: false,
        }
    }

    /// The same with delta coding of feature maps on or off (see [`EncodeOptions::delta`]).
    pub const fn with_delta(mut self, delta: bool) -> Self {
        self.delta = delta;
        self
    }

    /// The same with `bits`-bit codes (see [`EncodeOptions::bits`]).
    pub const fn with_bits(mut self, bits: u8) -> Self {
        self.bits = bits;
        self
    }

    /// The largest code: 2^bits - 1.
    pub fn levels(&self) -> u8 {
        (((1u16 << self.bits.clamp(1, 8)) - 1).min(255)) as u8
    }
}

/// The codec modes that benchmarks and reports compare, by a stable short name: the default
/// first, then the alternatives a user may pick.
pub const NAMED_MODES: [(&str, EncodeOptions); 10] = {
    const ZSTD1: Compression = Compression::Zstd { level: 1 };
    const ROW: Precision = Precision::U8(Granularity::PerRow);
    [
        (
            "u8auto+delta+zstd1",
            EncodeOptions::with(Precision::U8Auto, ZSTD1).with_delta(true),
        ),
        (
            "u8auto+zstd1",
            EncodeOptions::with(Precision::U8Auto, ZSTD1),
        ),
        ("u8+zstd1", EncodeOptions::with(ROW, ZSTD1)),
        (
            "u8+zstd-3",
            EncodeOptions::with(ROW, Compression::Zstd { level: -3 }),
        ),
        ("u8+lz4", EncodeOptions::with(ROW, Compression::Lz4)),
        ("u8_raw", EncodeOptions::with(ROW, Compression::None)),
        (
            "u8ch+zstd1",
            EncodeOptions::with(Precision::U8(Granularity::PerChannel), ZSTD1),
        ),
        (
            "f16_raw",
            EncodeOptions::with(Precision::F16, Compression::None),
        ),
        ("f16+zstd1", EncodeOptions::with(Precision::F16, ZSTD1)),
        ("f32+zstd1", EncodeOptions::with(Precision::F32, ZSTD1)),
    ]
};
