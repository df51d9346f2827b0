//! Measuring what the planner needs: per-stage times per batch size, tensor sizes, codec costs,
//! and how well summed stage times predict real head and tail times.
//!
//! Fused kernels make per-operator times meaningless, so costs are measured as they run:
//! - each block between two consecutive boundary cuts (articulation tensors) runs as its own
//!   segment, which gives the blocks' relative costs;
//! - real heads and tails, run one after the other as device and server run them, are timed at
//!   up to [`ProfileOptions::anchors`] boundaries; between two such anchors the measured time is
//!   split among the blocks by their segment times ([`calibrate`]). This gives two calibrations
//!   of every stage, as part of a head (the device's cost) and as part of a tail (the server's);
//! - inside blocks that hold multi-tensor cuts, each stage is also timed alone, and those times
//!   only split the block's cost among its stages.
//!
//! The profile then checks itself on a sample of random cuts ([`validate`]).

mod calibrate;
mod codec_costs;
mod floors;
pub use codec_costs::TIGHTER_ZSTD_LEVELS;
pub use floors::CodecFloors;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use loadpart_engine::{Engine, LoadOptions, Model, Tensor, time_runs};
use loadpart_graph::onnx::DataType;
use loadpart_graph::{OnnxModel, Shapes, StageGraph};
use loadpart_plan::{ModelProfile, NodeCost, TensorInfo};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::inputs::{NamedTensors, random_inputs, views};
use loadpart_cuts::CutId;
use loadpart_graph::BatchDim;
use loadpart_plan::{ProfileRole, ThreadSettings};

use crate::{ExecError, Prepared, Split};

/// How to profile.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Batch sizes to time (strictly increasing). A device usually profiles `[1]`.
    pub batch_sizes: Vec<usize>,
    /// Untimed runs before timing each part.
    pub warmup: usize,
    /// Timed runs per part and batch size; the fastest counts.
    pub runs: usize,
    /// Most inner boundaries where a real head and tail are timed to calibrate the summed
    /// segment times (each costs about one whole-model run per timed run); 0 trusts the
    /// segment sums alone.
    pub anchors: usize,
    /// Number of random cuts whose real head and tail times are compared with the prediction.
    pub validate_cuts: usize,
    pub seed: u64,
    pub max_cuts_per_block: usize,
    pub load: LoadOptions,
    /// Measure quantization and compression of every activation (real values from one run).
    pub codec: bool,
    /// Bit widths per code the planner may send (each 2..=8; 8 is always allowed). Fewer bits
    /// cost accuracy: list only widths that `loadpart check-codec --bits` showed to keep the
    /// model's top-1 agreement. Each width is measured at the zstd levels in
    /// [`TIGHTER_ZSTD_LEVELS`], so that the planner can trade bytes for time per bandwidth.
    pub codec_bits: Vec<u8>,
    /// Per tensor, the fewest bits its codes may have: a listed tensor is measured at its
    /// floor (and 8) instead of at `codec_bits`.
    pub codec_floors: Option<CodecFloors>,
    /// Which side the profile is for (recorded in it; the planner checks it).
    pub role: ProfileRole,
}

/// How much time a profile may take, against how precise it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileEffort {
    /// For a first start that nobody wants to wait for: 6 calibration anchors, one warm-up and
    /// four timed runs, no self-check (about a minute for ResNet-50 at batch sizes 1-8 on two
    /// cores, a few seconds for small models).
    #[default]
    Quick,
    /// 24 anchors, three warm-ups and ten timed runs, and a check on 10 random cuts: several
    /// times longer.
    Fine,
}

impl ProfileEffort {
    /// As written in cache keys and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileEffort::Quick => "quick",
            ProfileEffort::Fine => "fine",
        }
    }
}

impl std::fmt::Display for ProfileEffort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProfileEffort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quick" => Ok(ProfileEffort::Quick),
            "fine" => Ok(ProfileEffort::Fine),
            _ => Err(format!("unknown profile effort {s:?} (quick or fine)")),
        }
    }
}

impl ProfileOptions {
    /// These options with the runs, anchors and checks of `effort`.
    pub fn with_effort(self, effort: ProfileEffort) -> Self {
        let (warmup, runs, anchors, validate_cuts) = match effort {
            ProfileEffort::Quick => (1, 4, 6, 0),
            ProfileEffort::Fine => (3, 10, 24, 10),
        };
        Self {
            warmup,
            runs,
            anchors,
            validate_cuts,
            ..self
        }
    }
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            batch_sizes: vec![1],
            warmup: 3,
            runs: 10,
            anchors: 24,
            validate_cuts: 10,
            seed: 11,
            max_cuts_per_block: 10_000,
            load: LoadOptions::default(),
            codec: true,
            codec_bits: vec![8],
            codec_floors: None,
            role: ProfileRole::Device,
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
    codec_costs::tighter_ladder(&opts.codec_bits)?;
    if let Some(f) = &opts.codec_floors {
        f.check_model(prepared.identity())?;
    }
    if opts.batch_sizes.is_empty()
        || opts.batch_sizes[0] == 0
        || opts.batch_sizes.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(ExecError::BatchSizes {
            got: opts.batch_sizes.clone(),
            increasing: true,
        });
    }
    if opts.runs == 0 {
        return Err(ExecError::Count {
            what: "timed runs",
            got: 0,
        });
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
    let timer = Timer::new(engine, prepared, &shapes, opts)?;
    let nb = opts.batch_sizes.len();
    let blocks = space.blocks();
    let bounds = space.boundaries();

    // Segment time of every block, and each stage's share of its block.
    let mut segments = vec![vec![0.0; blocks.len()]; nb];
    let mut shares: Vec<Vec<Vec<f64>>> = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let from = sg.names(&bounds[block.start].cut.tensors);
        let to = sg.names(&bounds[block.end].cut.tensors);
        for (b, t) in timer.segment(&from, &to)?.into_iter().enumerate() {
            segments[b][i] = t;
        }
        shares.push(if block.nodes.len() == 1 {
            vec![vec![1.0; nb]]
        } else {
            block
                .nodes
                .iter()
                .map(|n| timer.stage(sg, *n))
                .collect::<Result<_, _>>()?
        });
        progress("timing blocks", i + 1, blocks.len());
    }

    // Real heads and tails at the anchors; block i lies between boundaries i and i + 1.
    let points = if opts.anchors == 0 {
        Vec::new()
    } else {
        calibrate::anchor_points(blocks.len(), opts.anchors)
    };
    let mut head_anchors = vec![Vec::with_capacity(points.len()); nb];
    let mut tail_anchors = vec![Vec::with_capacity(points.len()); nb];
    for (done, &k) in points.iter().enumerate() {
        let measured = timer.split(&bounds[k].cut.id(dag))?;
        for (b, (head_us, tail_us)) in measured.into_iter().enumerate() {
            head_anchors[b].push((k, head_us));
            tail_anchors[b].push((k, tail_us));
        }
        progress("timing heads and tails", done + 1, points.len());
    }
    let mut head_cost = Vec::with_capacity(nb);
    let mut tail_cost = Vec::with_capacity(nb);
    for b in 0..nb {
        if points.is_empty() {
            head_cost.push(segments[b].clone());
            tail_cost.push(segments[b].clone());
            continue;
        }
        head_cost.push(calibrate::calibrate(&segments[b], &head_anchors[b]));
        // A tail from boundary k costs (whole tail) - (blocks before k): cumulate from the front.
        let whole = tail_anchors[b][0].1;
        let before: Vec<(usize, f64)> = tail_anchors[b]
            .iter()
            .map(|&(k, t)| (k, whole - t))
            .collect();
        tail_cost.push(calibrate::calibrate(&segments[b], &before));
    }

    let mut head_times = vec![vec![0.0; nb]; dag.node_count()];
    let mut tail_times = vec![vec![0.0; nb]; dag.node_count()];
    for (i, block) in blocks.iter().enumerate() {
        for b in 0..nb {
            let sum: f64 = shares[i]
                .iter()
                .map(|w| w[b])
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            for (n, w) in block.nodes.iter().zip(&shares[i]) {
                head_times[n.index()][b] = head_cost[b][i] * w[b] / sum;
                tail_times[n.index()][b] = tail_cost[b][i] * w[b] / sum;
            }
        }
    }

    let codecs = if opts.codec {
        codec_costs::codec_costs(engine, prepared, opts, progress)?
    } else {
        Default::default()
    };
    let nodes = dag
        .nodes()
        .iter()
        .zip(head_times.into_iter().zip(tail_times))
        .map(|(n, (head, tail))| NodeCost {
            name: n.name.clone(),
            tail_time_us: (!points.is_empty()).then_some(tail),
            time_us: head,
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
        role: Some(opts.role),
        threads: Some(ThreadSettings {
            intra_threads: opts.load.intra_threads,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }),
        batch_sizes: opts.batch_sizes.clone(),
        nodes,
        tensors,
        validation: None,
    };
    profile.validation = Some(validate::validate(
        &timer, prepared, &space, &profile, progress,
    )?);
    Ok(profile)
}

/// Times parts of one model at every profiled batch size.
struct Timer<'a> {
    engine: &'a dyn Engine,
    prepared: &'a Prepared,
    model: &'a OnnxModel,
    shapes: &'a [Shapes],
    opts: &'a ProfileOptions,
    overhead_us: f64,
    /// The whole model, run alongside heads and tails as their yardstick.
    whole: Arc<dyn Model>,
    /// Seeded random model inputs per batch size.
    inputs: Vec<NamedTensors>,
    /// Whole-model time per batch size, µs (fastest run).
    whole_us: Vec<f64>,
}

impl<'a> Timer<'a> {
    fn new(
        engine: &'a dyn Engine,
        prepared: &'a Prepared,
        shapes: &'a [Shapes],
        opts: &'a ProfileOptions,
    ) -> Result<Self, ExecError> {
        let model = &prepared.model;
        let overhead_us = run_overhead_us(engine, opts)?;
        let whole = engine.load(&model.to_bytes(), &opts.load)?;
        let inputs: Vec<NamedTensors> = opts
            .batch_sizes
            .iter()
            .map(|&b| random_inputs(model, b, opts.seed))
            .collect::<Result<_, _>>()?;
        let whole_us = inputs
            .iter()
            .map(|x| {
                let t = time_runs(whole.as_ref(), &views(x), opts.warmup, opts.runs)?;
                Ok(fastest_us(t))
            })
            .collect::<Result<_, ExecError>>()?;
        Ok(Self {
            engine,
            prepared,
            model,
            shapes,
            opts,
            overhead_us,
            whole,
            inputs,
            whole_us,
        })
    }

    /// Time (µs, fastest run, less the fixed run overhead) of the segment computing `to` from
    /// `from`, per batch size.
    fn segment(&self, from: &[String], to: &[String]) -> Result<Vec<f64>, ExecError> {
        let part = self.model.segment(from, to, BatchDim::Dynamic)?;
        if part.is_empty() {
            return Ok(vec![0.0; self.shapes.len()]);
        }
        let inputs: Vec<String> = part.inputs.clone();
        let loaded = self.engine.load(
            &loadpart_runtime::part_bytes(self.engine, part),
            &self.opts.load,
        )?;
        self.shapes
            .iter()
            .map(|s| {
                let inputs = self.filled(&inputs, s)?;
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
    fn stage(&self, sg: &StageGraph, n: loadpart_cuts::NodeId) -> Result<Vec<f64>, ExecError> {
        let node = sg.dag().node(n);
        self.segment(&sg.names(&node.inputs), &sg.names(&node.outputs))
    }

    /// Head and tail times of `cut` per batch size, µs, as shares of the whole model's time.
    ///
    /// Each timed round runs the whole model, the head, then the tail (head and tail alternate
    /// as on a device that offloads and a server that serves it, so neither finds caches warmed
    /// by a previous run of itself). The median over rounds of head / whole and tail / whole,
    /// times the profile's whole-model time ([`Timer::whole_us`]), is the result: this machine's
    /// speed drifts by 20-40% over tens of seconds (shared hosts), and the ratio to a run made
    /// moments earlier cancels that drift where a raw time would not.
    fn split(&self, cut: &CutId) -> Result<Vec<(f64, f64)>, ExecError> {
        let runner = Split::load(self.engine, self.prepared, cut, &self.opts.load)?;
        self.inputs
            .iter()
            .zip(&self.whole_us)
            .map(|(inputs, &whole_us)| {
                let mut head_r = Vec::with_capacity(self.opts.runs);
                let mut tail_r = Vec::with_capacity(self.opts.runs);
                for k in 0..self.opts.warmup + self.opts.runs {
                    let whole = self.whole.run(&views(inputs))?.elapsed.as_secs_f64();
                    let head = runner.run_head(inputs)?;
                    let th = head.elapsed;
                    let tt = runner.run_tail(&runner.sent(&head.outputs))?.elapsed;
                    if k >= self.opts.warmup {
                        head_r.push(th.as_secs_f64() / whole.max(1e-12));
                        tail_r.push(tt.as_secs_f64() / whole.max(1e-12));
                    }
                }
                Ok((median(head_r) * whole_us, median(tail_r) * whole_us))
            })
            .collect()
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

/// The middle value (upper median), 0 for none.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The fastest of several runs, µs. On a shared machine other work only ever adds time, so the
/// minimum estimates a part's own cost best; validation uses the same statistic.
fn fastest_us(t: Vec<Duration>) -> f64 {
    t.into_iter().min().unwrap_or_default().as_secs_f64() * 1e6
}

/// Fixed cost of one engine run (a one-element Relu), µs: subtracted from every timed segment so
/// that stage shares are not skewed toward equal by that cost.
fn run_overhead_us(engine: &dyn Engine, opts: &ProfileOptions) -> Result<f64, ExecError> {
    let model = loadpart_graph::zoo::tiny_relu();
    let loaded = engine.load(&prost::Message::encode_to_vec(&model), &opts.load)?;
    let x = Tensor::f32(vec![1, 1], vec![0.5])?;
    let t = time_runs(
        loaded.as_ref(),
        &[("x", x.view())],
        opts.warmup.max(3),
        opts.runs.max(20),
    )?;
    Ok(fastest_us(t))
}
