//! Cut-tensor codec for loadpart: what a device sends an edge server instead of raw f32.
//!
//! A partitioned inference ships the activations at the cut. This crate makes them small
//! (affine uint8 per row or per channel, or f16, or lossless f32; then zstd or lz4 when that
//! pays), describes them in a versioned, checksummed header that maps onto Open Inference
//! Protocol tensor parameters, and decodes untrusted input only after validating every size
//! against [`DecodeLimits`]. It is pure Rust over `&[f32]` plus a shape and knows nothing of
//! models or engines.
//!
//! - Device: [`Encoder::encode`] -> [`EncodedTensor`] -> [`TensorHeader::to_params`] + payload,
//!   or [`EncodedTensor::to_bytes`].
//! - Server: [`TensorHeader::from_params`] or [`split_blob`] -> [`validate`] -> [`ValidTensor`]
//!   -> [`Decoder::decode_into`] or [`BatchAssembler::push`].
//! - Planner and profiler: [`measure`], [`compression_pays`], [`break_even_ratio`].
#![forbid(unsafe_code)]

mod batch;
mod compress;
mod decode;
mod delta;
mod encode;
mod error;
mod header;
mod options;
mod params;
mod quant;
mod stats;
mod synth;
mod wire;

pub use batch::BatchAssembler;
pub use decode::{DecodeTimings, DecodedTensor, Decoder, decode_blob, decode_into};
pub use encode::{EncodeTimings, Encoder, encode};
pub use error::CodecError;
pub use header::{MAGIC, QuantInfo, TensorHeader, WIRE_VERSION};
pub use options::{
    AUTO_MIN_CHANNEL_ELEMENTS, Codec, Compression, DecodeLimits, Dtype, EncodeOptions, Granularity,
    MAX_RANK, NAMED_MODES, Precision,
};
pub use params::{PARAM_KEYS, PARAM_PREFIX, ParamValue};
pub use quant::{F16_MAX, QuantParam, dequantize_u8, quantize_levels, quantize_u8};
pub use stats::{CodecStats, break_even_ratio, compression_pays, measure};
pub use synth::synthetic_activations;
pub use wire::{EncodedTensor, ValidTensor, split_blob, validate};
