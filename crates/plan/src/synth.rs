//! Synthetic DAGs shaped like well-known CNNs, random profiles and random conditions, for
//! benchmarks and tests until real profiles exist. Deterministic for a given seed.

use crate::{
    Estimate, ModelProfile, NodeCost, PlanError, Planner, PlannerOptions, TensorCodec, TensorInfo,
};
use loadpart_cuts::{Dag, DagBuilder, TensorId};

/// A tiny deterministic PRNG (SplitMix64): enough for synthetic costs, no dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in `[lo, hi)` (both > 0).
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Adds nodes with generated names; keeps shape builders short.
#[derive(Debug)]
pub struct Shaper {
    b: DagBuilder,
    count: usize,
}

impl Default for Shaper {
    fn default() -> Self {
        Self::new()
    }
}

impl Shaper {
    /// An empty DAG.
    pub fn new() -> Self {
        Self {
            b: DagBuilder::new(),
            count: 0,
        }
    }

    /// A model input.
    pub fn input(&mut self, name: &str) -> TensorId {
        self.b.add_input(name)
    }

    /// A one-output stage reading `inputs`; returns its output.
    pub fn stage(&mut self, kind: &str, inputs: &[TensorId]) -> TensorId {
        self.count += 1;
        let name = format!("{kind}_{}", self.count);
        let (_, out) = self
            .b
            .add_node(name.clone(), inputs, vec![format!("{name}:0")])
            .expect("inputs exist");
        out[0]
    }

    /// `n` stages in a line after `x`.
    pub fn chain(&mut self, kind: &str, x: TensorId, n: usize) -> TensorId {
        (0..n).fold(x, |t, _| self.stage(kind, &[t]))
    }

    /// Marks `outputs` and builds the DAG.
    pub fn finish(mut self, outputs: &[TensorId]) -> Dag {
        for &o in outputs {
            self.b.mark_output(o).expect("tensor exists");
        }
        self.b.build().expect("synthetic DAGs are valid")
    }
}

/// ResNet-50-like: stem, 16 bottleneck blocks (3-stage main path; a 1-stage projection on the
/// skip path at the first block of each of the 4 stages, identity otherwise; then an add), head.
/// 72 stages.
pub fn resnet50_like() -> Dag {
    let mut s = Shaper::new();
    let x = s.input("input");
    let mut t = s.chain("stem", x, 2);
    for (stage, blocks) in [3, 4, 6, 3].into_iter().enumerate() {
        for b in 0..blocks {
            let main = s.chain(&format!("conv{stage}"), t, 3);
            let skip = if b == 0 { s.stage("proj", &[t]) } else { t };
            t = s.stage("add", &[main, skip]);
        }
    }
    let y = s.chain("head", t, 2);
    s.finish(&[y])
}

/// Inception-v1-like: stem, 9 blocks of 4 branches of 1, 2, 2 and 2 stages joined by a concat,
/// pools between groups, head. 80 stages.
pub fn inception_v1_like() -> Dag {
    let mut s = Shaper::new();
    let x = s.input("input");
    let mut t = s.chain("stem", x, 4);
    for i in 0..9 {
        let b1 = s.stage("b1", &[t]);
        let b2 = s.chain("b2", t, 2);
        let b3 = s.chain("b3", t, 2);
        let b4 = s.chain("b4", t, 2);
        t = s.stage("concat", &[b1, b2, b3, b4]);
        if i == 1 || i == 6 {
            t = s.stage("pool", &[t]);
        }
    }
    let y = s.chain("head", t, 2);
    s.finish(&[y])
}

/// DenseNet-121-like: stem, 4 dense blocks of 6/12/24/16 layers, each layer BN-conv-BN-conv
/// reading the running concat and a concat of (running concat, new features); transitions of two
/// stages between blocks; head. 301 stages, 58 concats.
pub fn densenet121_like() -> Dag {
    let mut s = Shaper::new();
    let x = s.input("input");
    let mut t = s.chain("stem", x, 2);
    for (i, layers) in [6, 12, 24, 16].into_iter().enumerate() {
        for _ in 0..layers {
            let f = s.chain("layer", t, 4);
            t = s.stage("concat", &[t, f]);
        }
        if i < 3 {
            t = s.chain("transition", t, 2);
        }
    }
    let y = s.chain("head", t, 3);
    s.finish(&[y])
}

/// DenseNet-121 as torchvision exports it: each layer concatenates the block input and every
/// earlier layer's features, so a cut inside a block sends many tensors. 305 stages.
pub fn densenet121_all_concat_like() -> Dag {
    let mut s = Shaper::new();
    let x = s.input("input");
    let mut t = s.chain("stem", x, 2);
    for (i, layers) in [6, 12, 24, 16].into_iter().enumerate() {
        let mut features = vec![t];
        for l in 0..layers {
            let cat = if l == 0 {
                t
            } else {
                s.stage("concat", &features)
            };
            features.push(s.chain("layer", cat, 4));
        }
        t = s.stage("concat", &features);
        if i < 3 {
            t = s.chain("transition", t, 2);
        }
    }
    let y = s.chain("head", t, 3);
    s.finish(&[y])
}

/// Random device and server profiles for `dag`: device times 20 µs-2 ms per stage, a server 3-20x
/// faster whose batch time grows sublinearly over `batch_sizes`, tensors of 1 K-1 M elements with
/// codec costs (the model inputs without a codec, i.e. sent raw, one time in four).
pub fn random_profiles(
    dag: &Dag,
    rng: &mut SplitMix64,
    batch_sizes: &[usize],
) -> (ModelProfile, ModelProfile) {
    let mut device = Vec::new();
    let mut server = Vec::new();
    for n in dag.nodes() {
        let d = rng.log_uniform(20.0, 2000.0);
        device.push(NodeCost {
            name: n.name.clone(),
            time_us: vec![d],
            tail_time_us: None,
        });
        let base = d / rng.uniform(3.0, 20.0);
        let growth = rng.uniform(0.2, 1.0);
        let tail: Vec<f64> = batch_sizes
            .iter()
            .map(|&b| base * (1.0 + growth * (b as f64 - 1.0)))
            .collect();
        // The server's head calibration differs, so a planner that read it for tails would
        // not match the reference.
        server.push(NodeCost {
            name: n.name.clone(),
            time_us: tail.iter().map(|t| t * rng.uniform(0.8, 1.25)).collect(),
            tail_time_us: Some(tail),
        });
    }
    let tensors: Vec<TensorInfo> = dag
        .tensors()
        .iter()
        .map(|t| {
            let elements = rng.log_uniform(1e3, 1e6) as u64;
            let codec = (!t.is_input || rng.below(4) != 0).then(|| TensorCodec {
                ratio: rng.uniform(0.8, 4.0),
                header_bytes: 8,
                encode_ns_per_byte: rng.uniform(0.05, 1.0),
                decode_ns_per_byte: rng.uniform(0.05, 1.0),
                compress_ns_per_byte: rng.uniform(0.5, 8.0),
                decompress_ns_per_byte: rng.uniform(0.2, 3.0),
                tighter: Vec::new(),
            });
            TensorInfo {
                name: t.name.clone(),
                bytes_per_sample: 4 * elements,
                elements_per_sample: elements,
                codec,
            }
        })
        .collect();
    let profile = |host: &str, batch_sizes: Vec<usize>, nodes| ModelProfile {
        role: None,
        threads: None,
        model_hash: "synthetic".into(),
        engine: "synthetic".into(),
        host: host.into(),
        batch_sizes,
        nodes,
        tensors: tensors.clone(),
        validation: None,
    };
    (
        profile("device", vec![1], device),
        profile("server", batch_sizes.to_vec(), server),
    )
}

/// Random conditions: uplink 100 kB/s-100 MB/s, downlink 1-4x that, RTT up to 50 ms, queue up to
/// 100 ms, slowdown 1-4, batch 1-8, device slowdown 0.5-2.
pub fn random_estimate(rng: &mut SplitMix64) -> Estimate {
    let up = rng.log_uniform(1e5, 1e8);
    Estimate {
        uplink_bytes_per_s: up,
        downlink_bytes_per_s: up * rng.uniform(1.0, 4.0),
        rtt_us: rng.uniform(0.0, 50_000.0),
        queue_us: rng.uniform(0.0, 100_000.0),
        server_slowdown: rng.uniform(1.0, 4.0),
        server_batch: rng.uniform(1.0, 8.0),
        device_slowdown: rng.uniform(0.5, 2.0),
    }
}

/// A planner over `dag` on [`random_profiles`] drawn from `seed`, the server profiled at
/// `batch_sizes`: the setup of the decision-time benchmarks.
pub fn synthetic_planner(
    dag: Dag,
    seed: u64,
    batch_sizes: &[usize],
    options: PlannerOptions,
) -> Result<Planner, PlanError> {
    let mut rng = SplitMix64::new(seed);
    let (device, server) = random_profiles(&dag, &mut rng, batch_sizes);
    Planner::new(dag, &device, &server, options)
}

/// `n` conditions from [`random_estimate`], drawn from `seed`.
pub fn random_estimates(seed: u64, n: usize) -> Vec<Estimate> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| random_estimate(&mut rng)).collect()
}
