//! Codec costs for the profile: quantization and compression of every activation, measured on
//! real values.

use std::collections::HashMap;

use loadpart_codec::{EncodeOptions, measure};
use loadpart_engine::Engine;
use loadpart_graph::{BatchDim, PartKind};
use loadpart_plan::TensorCodec;

use super::ProfileOptions;
use crate::inputs::{random_inputs, views};
use crate::{ExecError, Prepared};

/// Quantization and compression costs of every activation, measured on the values one real
/// run at batch 1 produces (a random input; weights as in the model).
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
    let mut out = HashMap::new();
    let total = values.len();
    for (i, (name, t)) in values.iter().enumerate() {
        if let Some(data) = t.as_f32().filter(|d| !d.is_empty()) {
            let s = measure(data, &t.shape, &encode, 3).map_err(|source| ExecError::Codec {
                tensor: name.clone(),
                source,
            })?;
            let per = |ns: u64, bytes: u64| ns as f64 / bytes.max(1) as f64;
            out.insert(
                name.clone(),
                TensorCodec {
                    ratio: s.compression_ratio,
                    header_bytes: s.header_bytes,
                    encode_ns_per_byte: per(s.quantize_ns, s.raw_bytes),
                    decode_ns_per_byte: per(s.dequantize_ns, s.raw_bytes),
                    compress_ns_per_byte: per(s.compress_ns, s.element_bytes),
                    decompress_ns_per_byte: per(s.decompress_ns, s.element_bytes),
                },
            );
        }
        progress("measuring codec", i + 1, total);
    }
    Ok(out)
}
