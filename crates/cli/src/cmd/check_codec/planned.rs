//! `check-codec --planned-at`: each cut tensor encoded as the planner prices it at one
//! bandwidth, from codec costs measured here, so that the accuracy checked is that of what a
//! device would send.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use loadpart_bench::progress::Progress;
use loadpart_cuts::CutId;
use loadpart_engine::{Engine, LoadOptions};
use loadpart_exec::{
    CodecFloors, Compression, EncodeOptions, Prepared, ProfileOptions, profile_model,
};
use loadpart_plan::{Estimate, TensorEncoding, priced_encoding};

/// The conditions the encodings are priced for.
pub struct PlannedAt<'a> {
    pub bytes_per_s: f64,
    pub codec_bits: &'a [u8],
    pub codec_floors: Option<&'a CodecFloors>,
    pub device_slowdown: f64,
    pub threads: usize,
}

impl PlannedAt<'_> {
    /// Per tensor that `cuts` send, the options of the encoding priced at these conditions
    /// (`base` is the default encoding). The device's measured costs stand for the server's
    /// too: both run on this machine.
    pub fn encodings(
        &self,
        engine: &dyn Engine,
        prepared: &Prepared,
        cuts: &[CutId],
        base: EncodeOptions,
        bar: &Progress,
    ) -> Result<BTreeMap<String, EncodeOptions>> {
        // Only the codec costs count here: the fewest timed runs that make a profile.
        let opts = ProfileOptions {
            runs: 1,
            warmup: 0,
            anchors: 0,
            validate_cuts: 0,
            codec_bits: self.codec_bits.to_vec(),
            codec_floors: self.codec_floors.cloned(),
            load: LoadOptions {
                intra_threads: self.threads,
                ..LoadOptions::default()
            },
            ..ProfileOptions::default()
        };
        let profile = profile_model(engine, prepared, "local", &opts, &mut |s, d, t| {
            bar.update(s, d, t)
        })?;
        let estimate = Estimate {
            device_slowdown: self.device_slowdown,
            ..Estimate::idle(self.bytes_per_s)
        };
        let dag = prepared.stages.dag();
        let mut out = BTreeMap::new();
        for id in cuts {
            let cut = dag.cut_by_id(id)?;
            for t in cut.sent_tensors(dag) {
                let name = &dag.tensor(t).name;
                let info = profile
                    .tensors
                    .iter()
                    .find(|x| &x.name == name)
                    .with_context(|| format!("no codec costs for {name:?}"))?;
                let options = match priced_encoding(info, Some(info), &estimate)? {
                    TensorEncoding::Uncompressed => EncodeOptions {
                        compression: Compression::None,
                        ..base
                    },
                    TensorEncoding::Compressed => base,
                    TensorEncoding::Tighter { bits, zstd_level } => EncodeOptions {
                        compression: Compression::Zstd { level: zstd_level },
                        ..base
                    }
                    .with_bits(bits),
                };
                out.insert(name.clone(), options);
            }
        }
        Ok(out)
    }
}

/// How many tensors got each encoding, e.g. `3 x 6-bit zstd-1, 1 x 8-bit plain`.
pub fn summary(per_tensor: &BTreeMap<String, EncodeOptions>, base: &EncodeOptions) -> String {
    let mut counts: BTreeMap<(u8, String), usize> = BTreeMap::new();
    for o in per_tensor.values() {
        let how = match o.compression {
            Compression::None => "plain".to_string(),
            Compression::Zstd { level } => format!("zstd-{level}"),
            Compression::Lz4 => "lz4".to_string(),
        };
        *counts.entry((o.bits, how)).or_default() += 1;
    }
    if counts.is_empty() {
        return format!("{} (no float tensor sent)", base.bits);
    }
    counts
        .iter()
        .rev()
        .map(|((bits, how), n)| {
            let delta = if base.delta && how != "plain" {
                " (feature maps delta coded)"
            } else {
                ""
            };
            format!("{n} x {bits}-bit {how}{delta}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
