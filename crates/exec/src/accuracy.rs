//! What the codec costs in accuracy: top-1 agreement between the whole model and split
//! execution whose cut tensors went through the codec (quantize, compress, validate, decode).
//!
//! Each cut tensor is encoded and decoded exactly as device and server would, one batch of
//! samples at a time. uint8 groups are per sample (or per sample and channel), so batching the
//! check gives the same values as encoding each sample alone.

use std::collections::BTreeMap;

use loadpart_codec::{CodecError, DecodeLimits, Decoder, Encoder};
use loadpart_engine::{Engine, LoadOptions, Tensor};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::index::sample};
use serde::Serialize;

pub use loadpart_codec::{Compression, EncodeOptions, Granularity, Precision};

use loadpart_cuts::CutId;

use crate::check::compare_outputs;
use crate::inputs::{NamedTensors, random_inputs, views};
use crate::{ExecError, Prepared, Split};

/// Samples per engine run in [`codec_agreement`].
pub const AGREEMENT_BATCH: usize = 8;

/// What the random inputs look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Independent uniform [0, 1) values ([`random_inputs`]). Global pooling averages such
    /// noise away, so small models often give every input the same class.
    Uniform,
    /// Image-like and roughly zero-mean, as normalised images are: per sample and channel a
    /// random offset in [-1, 1), a few random low-frequency waves over the last two dimensions
    /// (random contrast), and +-0.05 pixel noise. Pooled features then differ between samples,
    /// so the top-1 class does too.
    Smooth,
}

/// Agreement at one cut. JSON field names are a stable interface.
#[derive(Debug, Clone, Serialize)]
pub struct CutAgreement {
    /// The cut's canonical id.
    pub cut: CutId,
    /// f32 bytes of the cut tensors per sample.
    pub f32_bytes_per_sample: u64,
    /// Bytes on the wire (headers + payloads) per sample, averaged over the run.
    pub wire_bytes_per_sample: f64,
    /// `f32_bytes_per_sample / wire_bytes_per_sample`.
    pub ratio: f64,
    pub inputs: usize,
    /// Samples whose top-1 class matches the whole model's.
    pub agree: usize,
    pub agreement_pct: f64,
    /// Largest |whole - split| over all outputs and samples.
    pub max_abs_err: f64,
    /// Largest abs error divided by the largest magnitude of the whole model's output.
    pub max_rel_err: f64,
    /// Largest reference top-1 margin (top1 - top2, divided by the sample's output range) among
    /// the samples that disagree: small values mean the disagreements were near-ties.
    pub worst_disagreement_margin: Option<f64>,
    /// Agreement of the centered top-1 (see [`AgreementReport::centered_agreement_pct`]).
    pub centered_agreement_pct: Option<f64>,
}

/// The result of [`codec_agreement`]. JSON field names are a stable interface.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementReport {
    pub engine: String,
    pub codec: EncodeOptions,
    /// Tensors encoded otherwise (see [`AgreementOptions::per_tensor`]).
    pub per_tensor: BTreeMap<String, EncodeOptions>,
    pub input_kind: InputKind,
    /// The output whose per-sample argmax is the top-1 class (the model's first output).
    pub output: String,
    /// Samples per cut.
    pub inputs: usize,
    pub batch: usize,
    pub cuts: Vec<CutAgreement>,
    /// Agreeing samples over all cuts.
    pub agree: usize,
    /// Compared samples over all cuts (inputs x cuts).
    pub compared: usize,
    pub agreement_pct: f64,
    /// Distinct top-1 classes of the whole model over the inputs.
    pub reference_classes: usize,
    /// Share of inputs whose reference top-1 is the most common class.
    pub majority_class_pct: f64,
    /// False when every input gets the same reference top-1 class: agreement then says
    /// little about the codec.
    pub input_dependent: bool,
    /// Median reference top-1 margin (top1 - top2 over the sample's output range).
    pub median_margin: f64,
    /// Top-1 agreement after subtracting, from every sample's output, the whole model's mean
    /// output over all inputs. Networks with random weights often give every input the same
    /// class (a large input-independent offset): their plain agreement is then vacuous, while
    /// the centered class still depends on the input and so tests the codec. `None` for
    /// outputs over [`CENTERED_MAX_ELEMENTS`] per sample.
    pub centered_agreement_pct: Option<f64>,
    /// Distinct centered top-1 classes of the whole model over the inputs.
    pub centered_reference_classes: Option<usize>,
}

/// Most output elements per sample for which [`AgreementReport::centered_agreement_pct`] is
/// computed (every sample's output is kept until the mean is known).
pub const CENTERED_MAX_ELEMENTS: usize = 1 << 16;

/// Outputs kept for the centered comparison: the reference's and each cut's, per sample.
struct CenteredRows {
    reference: Vec<Vec<f32>>,
    per_cut: Vec<Vec<Vec<f32>>>,
}

impl CenteredRows {
    fn push(rows: &mut Vec<Vec<f32>>, t: &Tensor) {
        if let Some(data) = t.as_f32() {
            let n = t.shape.first().copied().unwrap_or(1).max(1);
            rows.extend(data.chunks(data.len() / n).map(<[f32]>::to_vec));
        }
    }

    /// Per cut the agreement percent of the centered top-1, and the number of distinct
    /// centered reference classes.
    fn agreement(&self) -> (Vec<f64>, usize) {
        let Some(first) = self.reference.first() else {
            return (vec![0.0; self.per_cut.len()], 0);
        };
        let mut mean = vec![0f64; first.len()];
        for r in &self.reference {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += f64::from(v);
            }
        }
        let n = self.reference.len() as f64;
        mean.iter_mut().for_each(|m| *m /= n);
        let top = |row: &[f32]| {
            row.iter()
                .zip(&mean)
                .map(|(&v, m)| f64::from(v) - m)
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(i, _)| i)
        };
        let want: Vec<usize> = self.reference.iter().map(|r| top(r)).collect();
        let classes = want.iter().collect::<std::collections::HashSet<_>>().len();
        let pcts = self
            .per_cut
            .iter()
            .map(|rows| {
                let agree = rows
                    .iter()
                    .zip(&want)
                    .filter(|(r, w)| top(r) == **w)
                    .count();
                pct(agree, rows.len())
            })
            .collect();
        (pcts, classes)
    }
}

/// Top-1 index and margin of each sample of a `[N, ...]` output. The argmax runs over all of a
/// sample's elements, which is the class dimension for `[N, C]` and `[N, C, 1, 1]` outputs.
/// The margin is (top1 - top2) / (max - min), 0 for constant samples.
fn top1(t: &Tensor) -> Vec<(usize, f64)> {
    let Some(data) = t.as_f32() else {
        return Vec::new();
    };
    let n = t.shape.first().copied().unwrap_or(1).max(1);
    let per = data.len() / n;
    data.chunks(per.max(1))
        .map(|s| {
            let (mut best, mut second, mut lo, mut arg) =
                (f32::NEG_INFINITY, f32::NEG_INFINITY, f32::INFINITY, 0);
            for (i, &v) in s.iter().enumerate() {
                lo = lo.min(v);
                if v > best {
                    (second, best, arg) = (best, v, i);
                } else if v > second {
                    second = v;
                }
            }
            let range = (best - lo) as f64;
            let margin = if range > 0.0 && second.is_finite() {
                (best - second) as f64 / range
            } else {
                0.0
            };
            (arg, margin)
        })
        .collect()
}

/// Whether [`sample_cuts`] may draw full offload (the model inputs as the cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullOffload {
    Include,
    Exclude,
}

/// `k` cuts drawn at random (seeded) among the candidate cuts that send something and leave the
/// server something to run: full local never, full offload as `offload` says. Returned in
/// candidate (topological) order; all of them when there are at most `k`.
pub fn sample_cuts(prepared: &Prepared, k: usize, seed: u64, offload: FullOffload) -> Vec<CutId> {
    let full_offload = offload == FullOffload::Include;
    let space = prepared.stages.cut_space(10_000);
    let dag = prepared.stages.dag();
    let cuts: Vec<CutId> = space
        .all_candidate_cuts()
        .filter(|c| !c.cut.is_full_local() && (full_offload || !c.cut.is_full_offload()))
        .map(|c| c.cut.id(dag))
        .collect();
    if cuts.len() <= k {
        return cuts;
    }
    let mut idx = sample(&mut StdRng::seed_from_u64(seed), cuts.len(), k).into_vec();
    idx.sort_unstable();
    idx.into_iter().map(|i| cuts[i].clone()).collect()
}

fn codec_err(tensor: &str) -> impl Fn(CodecError) -> ExecError + '_ {
    move |source| ExecError::Codec {
        tensor: tensor.to_string(),
        source,
    }
}

/// What [`codec_agreement`] runs.
#[derive(Debug, Clone)]
pub struct AgreementOptions {
    /// Samples per cut (run [`AGREEMENT_BATCH`] at a time).
    pub inputs: usize,
    /// The codec the cut tensors go through.
    pub codec: EncodeOptions,
    /// Tensors encoded otherwise than with `codec`, by name: e.g. as a planner priced each
    /// at some bandwidth.
    pub per_tensor: BTreeMap<String, EncodeOptions>,
    pub seed: u64,
    pub input_kind: InputKind,
    pub load: LoadOptions,
}

impl Default for AgreementOptions {
    fn default() -> Self {
        Self {
            inputs: 200,
            codec: EncodeOptions::default(),
            per_tensor: BTreeMap::new(),
            seed: 7,
            input_kind: InputKind::Smooth,
            load: LoadOptions::default(),
        }
    }
}

/// Runs `opts.inputs` seeded random samples through the whole model and, for each cut, through
/// head -> codec (encode, validate, decode) -> tail, and counts how often the top-1 class of the
/// first output agrees. Non-f32 cut tensors pass through unencoded.
pub fn codec_agreement(
    engine: &dyn Engine,
    prepared: &Prepared,
    cuts: &[CutId],
    opts: &AgreementOptions,
) -> Result<AgreementReport, ExecError> {
    codec_agreement_with(engine, prepared, cuts, opts, &mut |_, _| {})
}

/// [`codec_agreement`] with `progress(done, total)` after each batch.
pub fn codec_agreement_with(
    engine: &dyn Engine,
    prepared: &Prepared,
    cuts: &[CutId],
    opts: &AgreementOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<AgreementReport, ExecError> {
    let (inputs, seed, input_kind, load) = (opts.inputs, opts.seed, opts.input_kind, &opts.load);
    if inputs == 0 {
        return Err(ExecError::Count {
            what: "inputs",
            got: 0,
        });
    }
    if cuts.is_empty() {
        return Err(ExecError::Count {
            what: "cuts",
            got: 0,
        });
    }
    let model = &prepared.model;
    let output = model
        .outputs()
        .first()
        .cloned()
        .ok_or(ExecError::Empty("output"))?;
    let full = engine.load(&model.to_bytes(), load)?;
    let runners: Vec<Split> = cuts
        .iter()
        .map(|c| Split::load(engine, prepared, c, load))
        .collect::<Result<_, _>>()?;
    let mut encoder = Encoder::new(opts.codec).map_err(codec_err("options"))?;
    let mut own: BTreeMap<&str, Encoder> = BTreeMap::new();
    for (name, o) in &opts.per_tensor {
        own.insert(name, Encoder::new(*o).map_err(codec_err(name))?);
    }
    let mut decoder = Decoder::new();
    let limits = DecodeLimits::default();

    let mut per_cut: Vec<CutAgreement> = cuts
        .iter()
        .map(|c| CutAgreement {
            cut: c.clone(),
            f32_bytes_per_sample: 0,
            wire_bytes_per_sample: 0.0,
            ratio: 0.0,
            inputs: 0,
            agree: 0,
            agreement_pct: 0.0,
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            worst_disagreement_margin: None,
            centered_agreement_pct: None,
        })
        .collect();
    let mut centered: Option<CenteredRows> = Some(CenteredRows {
        reference: Vec::new(),
        per_cut: vec![Vec::new(); cuts.len()],
    });
    let mut wire_totals = vec![0u64; cuts.len()];
    let mut f32_totals = vec![0u64; cuts.len()];
    let mut ref_classes: Vec<usize> = Vec::with_capacity(inputs);
    let mut margins: Vec<f64> = Vec::with_capacity(inputs);

    let batches = inputs.div_ceil(AGREEMENT_BATCH);
    for b in 0..batches {
        let n = AGREEMENT_BATCH.min(inputs - b * AGREEMENT_BATCH);
        // Batch seeds spread apart, so that two seeds never share a batch of inputs (seed + b
        // would: seed 8's first batch is seed 7's second).
        let batch_seed = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(b as u64);
        let mut x = random_inputs(model, n, batch_seed)?;
        if input_kind == InputKind::Smooth {
            smooth(&mut x, batch_seed);
        }
        let reference = full.run(&views(&x))?.outputs;
        let ref_top = reference
            .iter()
            .find(|(name, _)| *name == output)
            .map(|(_, t)| top1(t))
            .unwrap_or_default();
        if ref_top.len() != n {
            return Err(ExecError::NotBatched(output.clone()));
        }
        ref_classes.extend(ref_top.iter().map(|t| t.0));
        let ref_out = reference.iter().find(|(name, _)| *name == output);
        if ref_out.is_some_and(|(_, t)| t.len() / n > CENTERED_MAX_ELEMENTS) {
            centered = None;
        }
        if let (Some(c), Some((_, t))) = (centered.as_mut(), ref_out) {
            CenteredRows::push(&mut c.reference, t);
        }
        margins.extend(ref_top.iter().map(|t| t.1));
        for (k, runner) in runners.iter().enumerate() {
            let head = runner.run_head(&x)?.outputs;
            let sent = runner.sent(&head);
            let mut received: NamedTensors = Vec::with_capacity(sent.len());
            for (name, t) in sent {
                let Some(data) = t.as_f32() else {
                    received.push((name, t));
                    continue;
                };
                let enc = own.get_mut(name.as_str()).unwrap_or(&mut encoder);
                let encoded = enc.encode(data, &t.shape).map_err(codec_err(&name))?;
                wire_totals[k] += encoded.wire_len() as u64;
                f32_totals[k] += 4 * data.len() as u64;
                let valid = encoded.validate(&limits).map_err(codec_err(&name))?;
                let mut out = vec![0f32; data.len()];
                decoder
                    .decode_into(&valid, &mut out)
                    .map_err(codec_err(&name))?;
                received.push((name, Tensor::f32(t.shape.clone(), out)?));
            }
            let got = runner.merge(&head, runner.run_tail(&received)?.outputs)?;
            let (abs, rel) = compare_outputs(&reference, &got)?;
            let got_out = got.iter().find(|(name, _)| *name == output);
            let got_top = got_out.map(|(_, t)| top1(t)).unwrap_or_default();
            if let (Some(c), Some((_, t))) = (centered.as_mut(), got_out) {
                CenteredRows::push(&mut c.per_cut[k], t);
            }
            let c = &mut per_cut[k];
            c.max_abs_err = c.max_abs_err.max(abs);
            c.max_rel_err = c.max_rel_err.max(rel);
            for (r, g) in ref_top.iter().zip(&got_top) {
                c.inputs += 1;
                if r.0 == g.0 {
                    c.agree += 1;
                } else {
                    c.worst_disagreement_margin =
                        Some(c.worst_disagreement_margin.unwrap_or(0.0).max(r.1));
                }
            }
        }
        progress(b + 1, batches);
    }

    for (k, c) in per_cut.iter_mut().enumerate() {
        c.f32_bytes_per_sample = f32_totals[k] / inputs as u64;
        c.wire_bytes_per_sample = wire_totals[k] as f64 / inputs as f64;
        c.ratio = if wire_totals[k] > 0 {
            f32_totals[k] as f64 / wire_totals[k] as f64
        } else {
            0.0
        };
        c.agreement_pct = pct(c.agree, c.inputs);
    }
    let centered = centered.map(|c| c.agreement());
    if let Some((pcts, _)) = &centered {
        for (c, p) in per_cut.iter_mut().zip(pcts) {
            c.centered_agreement_pct = Some(*p);
        }
    }
    let agree = per_cut.iter().map(|c| c.agree).sum();
    let compared = per_cut.iter().map(|c| c.inputs).sum();
    let mut counts = std::collections::HashMap::new();
    for c in &ref_classes {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let majority = counts.values().copied().max().unwrap_or(0);
    margins.sort_unstable_by(f64::total_cmp);
    Ok(AgreementReport {
        engine: engine.kind().to_string(),
        codec: opts.codec,
        per_tensor: opts.per_tensor.clone(),
        input_kind,
        output,
        inputs,
        batch: AGREEMENT_BATCH.min(inputs),
        cuts: per_cut,
        agree,
        compared,
        agreement_pct: pct(agree, compared),
        reference_classes: counts.len(),
        majority_class_pct: pct(majority, ref_classes.len()),
        input_dependent: counts.len() > 1,
        median_margin: margins.get(margins.len() / 2).copied().unwrap_or(0.0),
        centered_agreement_pct: centered
            .as_ref()
            .map(|(p, _)| p.iter().sum::<f64>() / p.len().max(1) as f64),
        centered_reference_classes: centered.map(|(_, k)| k),
    })
}

/// Rewrites float inputs `[N, ...]` as [`InputKind::Smooth`] samples (the shape is kept).
fn smooth(inputs: &mut NamedTensors, seed: u64) {
    use std::f32::consts::TAU;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_5a0f);
    for (_, t) in inputs.iter_mut() {
        let shape = t.shape.clone();
        let Some(data) = t.as_f32() else { continue };
        let n = shape.first().copied().unwrap_or(1).max(1);
        let per = data.len() / n;
        // [N, C, H, W] -> channels C, plane H x W; [N, C, L] -> C, 1 x L; [N, L] -> 1, 1 x L.
        let (h, w) = match shape.len() {
            0..=2 => (1, per),
            3 => (1, shape[2]),
            _ => (shape[shape.len() - 2], shape[shape.len() - 1]),
        };
        let plane = (h * w).max(1);
        let channels = per / plane;
        let mut out = Vec::with_capacity(data.len());
        for _ in 0..n {
            let contrast: f32 = rng.random_range(0.5..2.0);
            let waves: Vec<[f32; 4]> = (0..3)
                .map(|_| {
                    [
                        rng.random_range(0.0..3.0),
                        rng.random_range(0.0..3.0),
                        rng.random_range(0.0..TAU),
                        rng.random_range(0.2..1.0),
                    ]
                })
                .collect();
            for _ in 0..channels {
                let offset: f32 = rng.random_range(-1.0..1.0);
                let gains: Vec<f32> = waves.iter().map(|_| rng.random_range(-1.0..1.0)).collect();
                for i in 0..h {
                    for j in 0..w {
                        let (y, x) = (i as f32 / h as f32, j as f32 / w as f32);
                        let wave: f32 = waves
                            .iter()
                            .zip(&gains)
                            .map(|(&[fy, fx, phase, amp], g)| {
                                g * amp * (TAU * (fy * y + fx * x) + phase).sin()
                            })
                            .sum();
                        out.push(
                            offset + contrast * wave / 3.0 + 0.1 * (rng.random::<f32>() - 0.5),
                        );
                    }
                }
            }
            out.resize(out.len() + per - channels * plane, 0.0);
        }
        if let Ok(s) = Tensor::f32(shape, out) {
            *t = s;
        }
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top1_per_sample_with_margin() {
        let t = Tensor::f32(vec![2, 4], vec![0.0, 3.0, 1.0, 2.0, 5.0, 5.0, 5.0, 5.0]).unwrap();
        let r = top1(&t);
        assert_eq!(r[0].0, 1);
        assert!((r[0].1 - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r[1], (0, 0.0));
    }
}
