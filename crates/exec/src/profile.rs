//! Measuring what the planner needs: per-stage times per batch size, tensor sizes, and how well
//! summed stage times predict real head and tail times.
//!
//! Fused kernels make per-operator times meaningless, so costs are measured as they run: each
//! block between two consecutive boundary cuts (articulation tensors) runs as its own segment,
//! which makes the time of any head or tail that ends on a boundary a sum of measured segments.
//! Inside blocks that hold multi-tensor cuts, each stage is also timed alone, and those times
//! only split the block's measured time among its stages. The profile then checks itself on a
//! sample of real heads and tails.

use std::collections::HashMap;
use std::time::Duration;

use loadpart_codec::{EncodeOptions, measure};

use loadpart_cuts::{Cut, CutSpace, NodeId};
use loadpart_engine::{Engine, LoadOptions, Tensor, time_runs};
use loadpart_graph::onnx::DataType;
use loadpart_graph::{OnnxModel, PartKind, Shapes};
use loadpart_plan::{
    ModelProfile, NodeCost, ProfileValidation, TensorCodec, TensorInfo, ValidationSample,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::index::sample};

use crate::inputs::{NamedTensors, random_inputs, views};
use crate::{ExecError, Prepared, SplitRunner};

/// How to profile.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Batch sizes to time (strictly increasing). A device usually profiles `[1]`.
    pub batch_sizes: Vec<usize>,
    /// Untimed runs before timing each part.
    pub warmup: usize,
    /// Timed runs per part and batch size; the fastest counts.
    pub runs: usize,
    /// Number of random cuts whose real head and tail times are compared with the prediction.
    pub validate_cuts: usize,
    pub seed: u64,
    pub max_cuts_per_block: usize,
    pub load: LoadOptions,
    /// Measure quantization and compression of every activation (real values from one run).
    pub codec: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            batch_sizes: vec![1],
            warmup: 3,
            runs: 10,
            validate_cuts: 10,
            seed: 11,
            max_cuts_per_block: 10_000,
            load: LoadOptions::default(),
            codec: true,
        }
    }
}

/// Profiles `prepared` on `engine`. `progress(step, done, total)` reports each timed part.
pub fn profile_model(
    engine: &dyn Engine,
    prepared: &Prepared,
    host: &str,
    opts: &ProfileOptions,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ModelProfile, ExecError> {
    if opts.batch_sizes.is_empty()
        || opts.batch_sizes.windows(2).any(|w| w[0] >= w[1])
        || opts.runs == 0
    {
        return Err(ExecError::Options(format!(
            "batch sizes must be strictly increasing and runs > 0, got {:?} and {}",
            opts.batch_sizes, opts.runs
        )));
    }
    let model = &prepared.model;
    let sg = &prepared.stages;
    let dag = sg.dag();
    let space = sg.cut_space(opts.max_cuts_per_block);
    let shapes: Vec<Shapes> = opts
        .batch_sizes
        .iter()
        .map(|b| Shapes::infer(model, *b))
        .collect::<Result<_, _>>()?;
    let overhead_us = run_overhead_us(engine, opts)?;
    let timer = Timer {
        engine,
        model,
        shapes: &shapes,
        opts,
        overhead_us,
    };

    let mut times = vec![vec![0.0; opts.batch_sizes.len()]; dag.node_count()];
    let blocks = space.blocks();
    let total = blocks.len();
    for (i, block) in blocks.iter().enumerate() {
        let bounds = space.boundaries();
        let from = sg.names(&bounds[block.start].cut.tensors);
        let to = sg.names(&bounds[block.end].cut.tensors);
        let block_us = timer.segment(&from, &to)?;
        let weights: Vec<Vec<f64>> = if block.nodes.len() == 1 {
            vec![vec![1.0; opts.batch_sizes.len()]]
        } else {
            block
                .nodes
                .iter()
                .map(|n| timer.stage(sg, *n))
                .collect::<Result<_, _>>()?
        };
        for b in 0..opts.batch_sizes.len() {
            let sum: f64 = weights
                .iter()
                .map(|w| w[b])
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            for (n, w) in block.nodes.iter().zip(&weights) {
                times[n.index()][b] = block_us[b] * w[b] / sum;
            }
        }
        progress("timing blocks", i + 1, total);
    }

    let codecs = if opts.codec {
        codec_costs(engine, prepared, opts, progress)?
    } else {
        Default::default()
    };
    let nodes = dag
        .nodes()
        .iter()
        .zip(times)
        .map(|(n, t)| NodeCost {
            name: n.name.clone(),
            time_us: t,
        })
        .collect();
    let tensors = dag
        .tensors()
        .iter()
        .map(|t| {
            let ty = shapes[0].try_get(&t.name)?;
            let b0 = opts.batch_sizes[0];
            Ok(TensorInfo {
                name: t.name.clone(),
                bytes_per_sample: (ty.bytes() / b0) as u64,
                elements_per_sample: (ty.elements() / b0) as u64,
                codec: codecs.get(&t.name).cloned(),
            })
        })
        .collect::<Result<_, ExecError>>()?;
    let mut profile = ModelProfile {
        model_hash: model.hash().to_string(),
        engine: engine.kind().to_string(),
        host: host.to_string(),
        batch_sizes: opts.batch_sizes.clone(),
        nodes,
        tensors,
        validation: None,
    };
    profile.validation = Some(validate(&timer, prepared, &space, &profile, progress)?);
    Ok(profile)
}

/// Times parts of one model at every profiled batch size.
struct Timer<'a> {
    engine: &'a dyn Engine,
    model: &'a OnnxModel,
    shapes: &'a [Shapes],
    opts: &'a ProfileOptions,
    overhead_us: f64,
}

impl Timer<'_> {
    /// Time (µs, fastest run, less the fixed run overhead) of the segment computing `to` from
    /// `from`, per batch size.
    fn segment(&self, from: &[String], to: &[String]) -> Result<Vec<f64>, ExecError> {
        let part = self.model.segment(from, to, true)?;
        if part.is_empty() {
            return Ok(vec![0.0; self.shapes.len()]);
        }
        let loaded = self.engine.load(&part.to_bytes(), &self.opts.load)?;
        self.shapes
            .iter()
            .map(|s| {
                let inputs = self.filled(&part.inputs, s)?;
                let t = time_runs(
                    loaded.as_ref(),
                    &views(&inputs),
                    self.opts.warmup,
                    self.opts.runs,
                )?;
                Ok((fastest_us(t) - self.overhead_us).max(0.0))
            })
            .collect()
    }

    /// Time of one stage alone, per batch size.
    fn stage(&self, sg: &loadpart_graph::StageGraph, n: NodeId) -> Result<Vec<f64>, ExecError> {
        let node = sg.dag().node(n);
        self.segment(&sg.names(&node.inputs), &sg.names(&node.outputs))
    }

    /// Seeded random values for the named tensors at this batch size.
    fn filled(&self, names: &[String], shapes: &Shapes) -> Result<NamedTensors, ExecError> {
        let mut rng = StdRng::seed_from_u64(self.opts.seed);
        names
            .iter()
            .map(|name| {
                let ty = shapes.try_get(name)?;
                let n = ty.elements();
                let t = match ty.elem {
                    DataType::Float => Tensor::f32(
                        ty.dims.clone(),
                        (0..n).map(|_| rng.random::<f32>()).collect(),
                    )?,
                    _ => Tensor::i64(ty.dims.clone(), vec![0; n])?,
                };
                Ok((name.clone(), t))
            })
            .collect()
    }
}

/// Quantization and compression costs of every activation, measured on the values one real
/// run at batch 1 produces (a random input; weights as in the model).
fn codec_costs(
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
    let probe = model.extract(PartKind::Segment, model.inputs(), &wanted, true)?;
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
            let s = measure(data, &t.shape, &encode, 3)
                .map_err(|e| ExecError::Options(format!("codec on '{name}': {e}")))?;
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

/// The fastest of several runs, µs. On a shared machine other work only ever adds time, so the
/// minimum estimates a part's own cost best; validation uses the same statistic.
fn fastest_us(t: Vec<Duration>) -> f64 {
    t.into_iter().min().unwrap_or_default().as_secs_f64() * 1e6
}

/// Fixed cost of one engine run (a one-element Relu), µs: subtracted from every timed segment so
/// that a part made of many segments is not charged that cost once per segment.
fn run_overhead_us(engine: &dyn Engine, opts: &ProfileOptions) -> Result<f64, ExecError> {
    let model = loadpart_graph::zoo::tiny_relu();
    let loaded = engine.load(&prost_bytes(&model), &opts.load)?;
    let x = Tensor::f32(vec![1, 1], vec![0.5])?;
    let t = time_runs(
        loaded.as_ref(),
        &[("x", x.view())],
        opts.warmup.max(3),
        opts.runs.max(20),
    )?;
    Ok(fastest_us(t))
}

fn prost_bytes(m: &loadpart_graph::onnx::ModelProto) -> Vec<u8> {
    prost::Message::encode_to_vec(m)
}

/// Compares predicted (summed stage times) and measured head and tail times on random cuts.
fn validate(
    timer: &Timer<'_>,
    prepared: &Prepared,
    space: &CutSpace,
    profile: &ModelProfile,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<ProfileValidation, ExecError> {
    let opts = timer.opts;
    let cuts: Vec<&Cut> = space
        .all_candidate_cuts()
        .map(|c| c.cut)
        .filter(|c| !c.is_full_local() && !c.is_full_offload())
        .collect();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let picked = sample(&mut rng, cuts.len(), opts.validate_cuts.min(cuts.len()));
    let dag = prepared.stages.dag();
    let mut samples = Vec::new();
    let total = picked.len();
    for (done, i) in picked.into_iter().enumerate() {
        let cut = cuts[i];
        let names = prepared.stages.names(&cut.tensors);
        let runner = SplitRunner::load(timer.engine, &prepared.model, &names, &opts.load)?;
        for (b, &batch) in opts.batch_sizes.iter().enumerate() {
            let inputs = random_inputs(&prepared.model, batch, opts.seed)?;
            let mut head_t = Vec::new();
            let mut tail_t = Vec::new();
            for k in 0..opts.warmup + opts.runs {
                let (cut_tensors, th) = runner.run_head(&inputs)?;
                let (_, tt) = runner.run_tail(&cut_tensors)?;
                if k >= opts.warmup {
                    head_t.push(th);
                    tail_t.push(tt);
                }
            }
            let (mut head_pred, mut tail_pred) = (0.0, 0.0);
            for (n, cost) in dag
                .nodes()
                .iter()
                .enumerate()
                .map(|(n, _)| NodeId(n as u32))
                .zip(&profile.nodes)
            {
                if cut.head.contains(n) {
                    head_pred += cost.time_us[b];
                } else {
                    tail_pred += cost.time_us[b];
                }
            }
            let id = cut.id(dag);
            samples.push(ValidationSample {
                cut: id.clone(),
                part: "head".into(),
                batch_size: batch,
                predicted_us: head_pred,
                measured_us: fastest_us(head_t),
            });
            samples.push(ValidationSample {
                cut: id,
                part: "tail".into(),
                batch_size: batch,
                predicted_us: tail_pred,
                measured_us: fastest_us(tail_t),
            });
        }
        progress("validating cuts", done + 1, total);
    }
    let errors: Vec<f64> = samples
        .iter()
        .map(|s| 100.0 * (s.predicted_us - s.measured_us).abs() / s.measured_us.max(1e-9))
        .collect();
    let mean = if errors.is_empty() {
        0.0
    } else {
        errors.iter().sum::<f64>() / errors.len() as f64
    };
    let max = errors.iter().fold(0.0f64, |m, e| m.max(*e));
    Ok(ProfileValidation {
        mean_error_pct: mean,
        max_error_pct: max,
        samples,
    })
}
