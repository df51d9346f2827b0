//! `PlanProblem`: a random DAG, random profiles and random conditions, with a brute-force
//! reference that evaluates the latency model on every downset directly from the profiles.

use loadpart_cuts::{Dag, DagBuilder, NodeId, NodeSet, TensorId};
use loadpart_plan::synth::{self, SplitMix64};
use loadpart_plan::{Estimate, ModelProfile, Planner, PlannerOptions, PolicyKind};
use std::sync::Arc;

/// Shapes the generator mixes.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Chains, diamonds, nested branches, dense blocks, extra inputs and outputs, composed.
    Structured,
    /// Each node reads 1-3 recent tensors; unread tensors become outputs.
    Random,
}

/// One generated case. Everything derives from the seeds, so a failure is replayed from its
/// `Debug` output.
#[derive(Debug, Clone, Copy)]
pub struct PlanProblem {
    pub dag_seed: u64,
    pub max_nodes: usize,
    pub style: Style,
    pub cost_seed: u64,
    pub max_cuts_per_block: usize,
    pub prune: bool,
}

pub struct Built {
    pub dag: Dag,
    pub device: ModelProfile,
    pub server: ModelProfile,
    pub estimate: Estimate,
}

struct Gen {
    b: DagBuilder,
    consumed: Vec<bool>,
    count: usize,
}

impl Gen {
    fn input(&mut self, name: &str) -> TensorId {
        self.consumed.push(false);
        self.b.add_input(name)
    }

    fn node(&mut self, ins: &[TensorId]) -> TensorId {
        self.count += 1;
        for &t in ins {
            self.consumed[t.index()] = true;
        }
        let name = format!("n{}", self.count);
        let outs = vec![format!("t{}", self.count)];
        let (_, o) = self.b.add_node(name, ins, outs).unwrap();
        self.consumed.push(false);
        o[0]
    }

    fn chain(&mut self, x: TensorId, n: usize) -> TensorId {
        (0..n).fold(x, |t, _| self.node(&[t]))
    }

    /// Marks every unread tensor as an output, and now and then a read one too (an auxiliary
    /// output that the model also uses, or even an input passed through).
    fn finish(mut self, rng: &mut SplitMix64) -> Dag {
        for (i, &c) in self.consumed.iter().enumerate() {
            if !c || rng.below(15) == 0 {
                self.b.mark_output(TensorId(i as u32)).unwrap();
            }
        }
        self.b.build().unwrap()
    }
}

fn structured(rng: &mut SplitMix64, max_nodes: usize) -> Dag {
    let mut g = Gen {
        b: DagBuilder::new(),
        consumed: Vec::new(),
        count: 0,
    };
    let x = g.input("x");
    let mut extra_input = (rng.below(3) == 0).then(|| g.input("x2"));
    let mut t = g.node(&[x]);
    while g.count < max_nodes {
        if let Some(x2) = extra_input
            && rng.below(3) == 0
        {
            t = g.node(&[t, x2]);
            extra_input = None;
            continue;
        }
        match rng.below(6) {
            0 => t = g.chain(t, 1 + rng.below(3)),
            1 => {
                // Diamond: 2-4 branches of 0-3 stages (0 = identity skip), then a join.
                let branches: Vec<TensorId> = (0..2 + rng.below(3))
                    .map(|_| g.chain(t, rng.below(4)))
                    .collect();
                t = g.node(&branches);
            }
            2 => {
                // Nested: one branch holds a diamond of its own.
                let a = g.node(&[t]);
                let inner: Vec<TensorId> = (0..2).map(|_| g.chain(a, 1 + rng.below(2))).collect();
                let joined = g.node(&inner);
                let other = g.chain(t, rng.below(3));
                t = g.node(&[joined, other]);
            }
            3 => {
                // Dense block: each layer reads the block input and every earlier feature.
                let mut feats = vec![t];
                for _ in 0..2 + rng.below(3) {
                    let f = g.node(&feats);
                    let f = g.chain(f, rng.below(2));
                    feats.push(f);
                }
                t = g.node(&feats);
            }
            4 => {
                // An auxiliary output leaves the main path.
                let aux = g.chain(t, 1 + rng.below(2));
                let _ = aux;
                t = g.node(&[t]);
            }
            _ => {
                // Multi-output stage: two tensors from one node, both used.
                g.count += 1;
                let name = format!("n{}", g.count);
                let outs = vec![format!("t{}a", g.count), format!("t{}b", g.count)];
                g.consumed[t.index()] = true;
                let (_, o) = g.b.add_node(name, &[t], outs).unwrap();
                g.consumed.extend([false, false]);
                let l = g.chain(o[0], rng.below(2));
                let r = g.chain(o[1], rng.below(2));
                t = g.node(&[l, r]);
            }
        }
    }
    if rng.below(3) == 0 {
        // Two heads at the end.
        g.node(&[t]);
        g.node(&[t]);
    }
    if let Some(x2) = extra_input {
        g.node(&[t, x2]);
    }
    g.finish(rng)
}

fn random(rng: &mut SplitMix64, max_nodes: usize) -> Dag {
    let mut g = Gen {
        b: DagBuilder::new(),
        consumed: Vec::new(),
        count: 0,
    };
    let mut pool = vec![g.input("x")];
    if rng.below(3) == 0 {
        pool.push(g.input("x2"));
    }
    let n = 1 + rng.below(max_nodes);
    for _ in 0..n {
        let window = pool.len().min(5);
        let mut ins = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let t = pool[pool.len() - 1 - rng.below(window)];
            if !ins.contains(&t) {
                ins.push(t);
            }
        }
        let t = g.node(&ins);
        pool.push(t);
    }
    g.finish(rng)
}

impl PlanProblem {
    pub fn build(&self) -> Built {
        let mut rng = SplitMix64::new(self.dag_seed);
        let dag = match self.style {
            Style::Structured => structured(&mut rng, self.max_nodes),
            Style::Random => random(&mut rng, self.max_nodes),
        };
        let mut rng = SplitMix64::new(self.cost_seed);
        let sizes: &[usize] = match rng.below(3) {
            0 => &[1],
            1 => &[1, 2, 4, 8],
            _ => &[2, 3, 8],
        };
        let (mut device, mut server) = synth::random_profiles(&dag, &mut rng, sizes);
        // Sizes spread wide (100 B to 300 kB) so that cuts through small branch tensors compete.
        for (d, s) in device.tensors.iter_mut().zip(server.tensors.iter_mut()) {
            let elements = rng.log_uniform(1e2, 3e5) as u64;
            for t in [d, s] {
                t.elements_per_sample = elements;
                t.bytes_per_sample = 4 * elements;
            }
        }
        // Conditions balanced so that local, offload and inner cuts all win sometimes.
        let up = rng.log_uniform(1e5, 1e9);
        let estimate = Estimate {
            uplink_bytes_per_s: up,
            downlink_bytes_per_s: up * rng.uniform(1.0, 4.0),
            rtt_us: rng.log_uniform(10.0, 5_000.0),
            queue_us: if rng.below(3) == 0 {
                0.0
            } else {
                rng.log_uniform(10.0, 10_000.0)
            },
            server_slowdown: rng.uniform(0.5, 4.0),
            server_batch: rng.uniform(0.5, 10.0),
            device_slowdown: rng.uniform(0.5, 4.0),
        };
        Built {
            dag,
            device,
            server,
            estimate,
        }
    }

    pub fn planner(&self, b: &Built) -> Arc<Planner> {
        let options = PlannerOptions {
            max_cuts_per_block: self.max_cuts_per_block,
            prune_dominated: self.prune,
        };
        Arc::new(Planner::new(b.dag.clone(), &b.device, &b.server, options).unwrap())
    }

    /// Brute force over every downset of the whole DAG: `(min T, loadpart-original's objective)`,
    /// or `None` when there are too many downsets to try.
    pub fn reference(&self, b: &Built) -> Option<(f64, f64)> {
        let model = Reference::new(b);
        let mut heads = Vec::new();
        all_downsets(
            &b.dag,
            0,
            &mut NodeSet::empty(b.dag.node_count()),
            &mut heads,
            200_000,
        )?;
        let full = heads.iter().map(|h| model.latency(h, &b.estimate));
        let best = full.fold(f64::INFINITY, f64::min);
        let belief = Estimate {
            rtt_us: 0.0,
            queue_us: 0.0,
            downlink_bytes_per_s: f64::INFINITY,
            server_batch: 1.0,
            ..b.estimate
        };
        let n = b.dag.node_count();
        let offload = heads
            .iter()
            .filter(|h| h.len() < n)
            .map(|h| model.latency(h, &belief))
            .fold(f64::INFINITY, f64::min)
            + b.estimate.queue_us;
        let local = model.latency(&NodeSet::full(n), &b.estimate);
        let original = if local < offload { local } else { offload };
        Some((best, original))
    }

    /// Compares the solver with the reference; `Err` describes the first mismatch.
    pub fn check(&self) -> Result<(), String> {
        let b = self.build();
        let Some((best, original)) = self.reference(&b) else {
            return Ok(());
        };
        let planner = self.planner(&b);
        let close = |a: f64, e: f64| (a - e).abs() <= 1e-9 * e.abs().max(1.0);
        let d = planner.decide(&b.estimate);
        if !close(d.objective_us, best) || !close(d.predicted.total(), best) {
            return Err(format!(
                "loadpart: solver {} / predicted {} vs brute force {best} (cut {})",
                d.objective_us,
                d.predicted.total(),
                d.cut.id(&b.dag)
            ));
        }
        let conditions = b.estimate.into();
        let o = PolicyKind::LoadpartOriginal
            .build(planner.clone())
            .unwrap()
            .decide(&conditions);
        if !close(o.objective_us, original) {
            return Err(format!(
                "loadpart-original: solver {} vs brute force {original}",
                o.objective_us
            ));
        }
        Ok(())
    }
}

/// Every downset, by deciding nodes in topological order; `None` past `cap`.
pub fn all_downsets(
    dag: &Dag,
    i: usize,
    head: &mut NodeSet,
    out: &mut Vec<NodeSet>,
    cap: usize,
) -> Option<()> {
    if i == dag.node_count() {
        if out.len() == cap {
            return None;
        }
        out.push(head.clone());
        return Some(());
    }
    all_downsets(dag, i + 1, head, out, cap)?;
    let n = NodeId(i as u32);
    if dag.predecessors(n).all(|p| head.contains(p)) {
        head.insert(n);
        all_downsets(dag, i + 1, head, out, cap)?;
        head.remove(n);
    }
    Some(())
}

/// The latency model written out from the definition, straight from the profiles.
struct Reference<'a> {
    b: &'a Built,
}

impl<'a> Reference<'a> {
    fn new(b: &'a Built) -> Self {
        Self { b }
    }

    /// The node's time in a whole batch of `k`: a request waits for its batch.
    fn server_per_request(&self, name: &str, k: f64) -> f64 {
        let p = &self.b.server;
        let t = p.tail_node_times(name).unwrap();
        let sizes: Vec<f64> = p.batch_sizes.iter().map(|&x| x as f64).collect();
        let (first, last) = (sizes[0], *sizes.last().unwrap());
        if k <= first {
            return t[0] * k / first;
        }
        if k >= last {
            return t[t.len() - 1] * k / last;
        }
        let mut time = t[t.len() - 1];
        for i in 0..sizes.len() {
            if sizes[i] == k {
                time = t[i];
                break;
            }
            if i + 1 < sizes.len() && sizes[i] < k && k < sizes[i + 1] {
                let a = (k - sizes[i]) / (sizes[i + 1] - sizes[i]);
                time = t[i] + a * (t[i + 1] - t[i]);
                break;
            }
        }
        time
    }

    fn latency(&self, head: &NodeSet, e: &Estimate) -> f64 {
        let dag = &self.b.dag;
        let device: f64 = head
            .iter()
            .map(|n| {
                let name = &dag.node(n).name;
                self.b.device.node_times(name).unwrap()[0] / self.b.device.batch_sizes[0] as f64
            })
            .sum::<f64>()
            * e.device_slowdown;
        if head.len() == dag.node_count() {
            return device;
        }
        let mut total = device + e.rtt_us + e.queue_us;
        let k = e.server_batch.max(1.0);
        for (i, node) in dag.nodes().iter().enumerate() {
            if !head.contains(NodeId(i as u32)) {
                total += e.server_slowdown * self.server_per_request(&node.name, k);
            }
        }
        for t in dag.tensors() {
            let info = self
                .b
                .device
                .tensors
                .iter()
                .find(|x| x.name == t.name)
                .unwrap();
            let available = t.producer.is_none_or(|p| head.contains(p));
            if !available {
                if t.is_output {
                    total += info.bytes_per_sample as f64 * 1e6 / e.downlink_bytes_per_s;
                }
                continue;
            }
            if !t.consumers.iter().any(|&c| !head.contains(c)) {
                continue;
            }
            let up = 1e6 / e.uplink_bytes_per_s;
            total += match &info.codec {
                None => info.bytes_per_sample as f64 * up,
                Some(c) => {
                    let raw = info.bytes_per_sample as f64;
                    let q = (info.elements_per_sample + c.header_bytes) as f64;
                    let quant = e.device_slowdown * c.encode_ns_per_byte * raw / 1e3
                        + c.decode_ns_per_byte * raw / 1e3;
                    let plain = q * up;
                    let packed = e.device_slowdown * c.compress_ns_per_byte * q / 1e3
                        + c.decompress_ns_per_byte * q / 1e3
                        + q / c.ratio * up;
                    quant + plain.min(packed)
                }
            };
        }
        total
    }
}
