//! Codec costs for the profile: quantization and compression of every activation, measured on
//! real values.

use std::collections::HashMap;

use loadpart_codec::{Compression, EncodeOptions, measure};
use loadpart_engine::Engine;
use loadpart_graph::{BatchDim, PartKind};
use loadpart_plan::{CodecLevel, TensorCodec};

use super::ProfileOptions;
use crate::inputs::{random_inputs, views};
use crate::{ExecError, Prepared};

/// zstd levels measured for each allowed bit width (level 1 at 8 bits is the default
/// encoding). On ResNet-50's and SqueezeNet's activations level 9 saves 0-3% of the bytes of
/// level 1 (more on small tensors) for 4-10x the compression time: it pays only on links of a
/// few Mbit/s, and the planner decides per tensor from these measurements.
pub const TIGHTER_ZSTD_LEVELS: [i32; 2] = [1, 9];

/// Quantization and compression costs of every activation, measured on the values one real
/// run at batch 1 produces (a random input; weights as in the model), at the default encoding
/// and at each tighter one that `opts.codec_bits` allows.
pub(super) fn codec_costs(
    engine: &dyn Engine,
    prepared: &Prepared,
    opts: &ProfileOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<HashMap<String, TensorCodec>, ExecError> {
    let model = &prepared.model;
    let dag = prepared.stages.dag();
    let wanted: Vec<String> = dag
        .tensors()
        .iter()
        .filter(|t| !t.is_input)
        .map(|t| t.name.clone())
        .collect();
    let probe = model.extract(
        PartKind::Segment,
        model.inputs(),
        &wanted,
        BatchDim::Dynamic,
    )?;
    let inputs = random_inputs(model, 1, opts.seed)?;
    let mut values = inputs.clone();
    if !probe.is_empty() {
        let loaded = engine.load(&probe.to_bytes(), &opts.load)?;
        values.extend(loaded.run(&views(&inputs))?.outputs);
    }
    let encode = EncodeOptions::default();
    let ladder = tighter_ladder(&opts.codec_bits)?;
    // A tensor with a floor is measured at its floor instead of the model-wide widths.
    let ladder_of = |name: &str| match opts.codec_floors.as_ref() {
        Some(f) if f.tensors.contains_key(name) => tighter_ladder(&[f.floor(name)]),
        _ => Ok(ladder.clone()),
    };
    let mut out = HashMap::new();
    let total = values.len();
    for (i, (name, t)) in values.iter().enumerate() {
        if let Some(data) = t.as_f32().filter(|d| !d.is_empty()) {
            let codec_err = |source| ExecError::Codec {
                tensor: name.clone(),
                source,
            };
            let s = measure(data, &t.shape, &encode, 3).map_err(codec_err)?;
            let per = |ns: u64, bytes: u64| ns as f64 / bytes.max(1) as f64;
            let ladder = ladder_of(name)?;
            let mut tighter = Vec::with_capacity(ladder.len());
            for &(bits, level) in &ladder {
                let options = EncodeOptions {
                    compression: Compression::Zstd { level },
                    ..encode
                }
                .with_bits(bits);
                let l = measure(data, &t.shape, &options, 3).map_err(codec_err)?;
                tighter.push(CodecLevel {
                    bits,
                    zstd_level: level,
                    ratio: l.compression_ratio,
                    compress_ns_per_byte: per(l.compress_ns, l.element_bytes),
                    decompress_ns_per_byte: per(l.decompress_ns, l.element_bytes),
                });
            }
            out.insert(
                name.clone(),
                TensorCodec {
                    ratio: s.compression_ratio,
                    header_bytes: s.header_bytes,
                    encode_ns_per_byte: per(s.quantize_ns, s.raw_bytes),
                    decode_ns_per_byte: per(s.dequantize_ns, s.raw_bytes),
                    compress_ns_per_byte: per(s.compress_ns, s.element_bytes),
                    decompress_ns_per_byte: per(s.decompress_ns, s.element_bytes),
                    tighter,
                },
            );
        }
        progress("measuring codec", i + 1, total);
    }
    Ok(out)
}

/// The (bits, zstd level) pairs measured besides the default (8 bits, level 1): every allowed
/// width at every level of [`TIGHTER_ZSTD_LEVELS`].
pub(super) fn tighter_ladder(bits: &[u8]) -> Result<Vec<(u8, i32)>, ExecError> {
    let mut widths: Vec<u8> = bits.to_vec();
    if let Some(&b) = widths.iter().find(|b| !(2..=8).contains(*b)) {
        return Err(ExecError::CodecBits(b));
    }
    widths.push(8);
    widths.sort_unstable_by(|a, b| b.cmp(a));
    widths.dedup();
    Ok(widths
        .into_iter()
        .flat_map(|b| TIGHTER_ZSTD_LEVELS.map(|l| (b, l)))
        .filter(|&p| p != (8, 1))
        .collect())
}
