//! Exact search of a block too large to list: a minimum s-t cut per decision.
//!
//! Project-selection construction. Source side = head (device), sink side = tail (server).
//! - Each block node `n`: edge `source -> n` with its tail cost (per-request server time and the
//!   download of outputs it writes: paid when `n` is in the tail), edge `n -> sink` with its head
//!   cost (device time: paid when `n` is in the head).
//! - Closure: `consumer -> producer` with infinite capacity, so a head node's predecessors are in
//!   the head (the source side is a downset).
//! - Each tensor read inside the block gets an auxiliary node `a_t`: `producer -> a_t` (or
//!   `source -> a_t` for a tensor from before the block) with the tensor's transfer cost, and
//!   `a_t -> consumer` infinite for every block consumer. If the tensor is available and any
//!   consumer is in the tail, `a_t` must be in the tail and the cost is paid exactly once; if all
//!   consumers are in the head, nothing is paid. A tensor with a single block consumer needs no
//!   auxiliary node: the edge `producer -> consumer` carries its cost directly.
//! - A tensor also read after the block is sent whenever it is available: its cost joins the
//!   producer's head cost.
//!
//! The capacity of a cut is then the block-local latency of the corresponding head, so the min
//! cut is the block's optimum over every downset, both block boundaries included.

use super::flow::{FlowBuilder, FlowGraph};
use crate::conditions::Rates;
use crate::tables::CostTables;
use loadpart_cuts::{Dag, NodeId, NodeSet, TensorId};

const SOURCE: usize = 0;
const SINK: usize = 1;

#[derive(Debug, Clone)]
struct BlockTensor {
    id: TensorId,
    /// Local index of the producer, `None` for a tensor written before the block.
    producer: Option<usize>,
    /// Local indices of block consumers.
    consumers: Vec<usize>,
    /// Whether a node after the block reads it.
    read_after: bool,
    /// Edge carrying its transfer cost, if it has block consumers and is not read after.
    edge: Option<usize>,
}

/// Static flow network of one block; capacities are filled per decision.
#[derive(Debug, Clone)]
pub(crate) struct FlowBlock {
    base: NodeSet,
    nodes: Vec<NodeId>,
    graph: FlowGraph,
    /// `source -> node` and `node -> sink` edges, per local node.
    src_edge: Vec<usize>,
    sink_edge: Vec<usize>,
    tensors: Vec<BlockTensor>,
    /// f32 bytes of model outputs each local node writes.
    download: Vec<f64>,
}

impl FlowBlock {
    /// `base`: the head of the block's lower boundary; `nodes`: the block's nodes.
    pub fn new(dag: &Dag, t: &CostTables, base: &NodeSet, nodes: &[NodeId]) -> Self {
        let mut local = vec![u32::MAX; dag.node_count()];
        for (i, n) in nodes.iter().enumerate() {
            local[n.index()] = i as u32;
        }
        let in_block = |n: NodeId| local[n.index()] != u32::MAX;
        let mut seen = vec![false; dag.tensors().len()];
        let mut tensors = Vec::new();
        for &n in nodes {
            let node = dag.node(n);
            for &id in node.inputs.iter().chain(&node.outputs) {
                if std::mem::replace(&mut seen[id.index()], true) {
                    continue;
                }
                let tensor = dag.tensor(id);
                tensors.push(BlockTensor {
                    id,
                    producer: tensor
                        .producer
                        .filter(|&p| in_block(p))
                        .map(|p| local[p.index()] as usize),
                    consumers: tensor
                        .consumers
                        .iter()
                        .filter(|&&c| in_block(c))
                        .map(|c| local[c.index()] as usize)
                        .collect(),
                    read_after: tensor
                        .consumers
                        .iter()
                        .any(|&c| !in_block(c) && !base.contains(c)),
                    edge: None,
                });
            }
        }
        let aux = tensors
            .iter()
            .filter(|x| !x.read_after && x.consumers.len() > 1)
            .count();
        let mut b = FlowBuilder::new(2 + nodes.len() + aux);
        let v = |i: usize| 2 + i;
        let src_edge = (0..nodes.len())
            .map(|i| b.edge(SOURCE, v(i), 0.0))
            .collect();
        let sink_edge = (0..nodes.len()).map(|i| b.edge(v(i), SINK, 0.0)).collect();
        for (i, &n) in nodes.iter().enumerate() {
            for p in dag.predecessors(n).filter(|&p| in_block(p)) {
                b.edge(v(i), v(local[p.index()] as usize), f64::INFINITY);
            }
        }
        let mut next_aux = 2 + nodes.len();
        for x in tensors.iter_mut() {
            if x.read_after || x.consumers.is_empty() {
                continue;
            }
            let from = x.producer.map_or(SOURCE, v);
            if let [c] = x.consumers[..] {
                // One consumer needs no auxiliary node: paid iff available and the consumer is in
                // the tail.
                x.edge = Some(b.edge(from, v(c), 0.0));
                continue;
            }
            let a = next_aux;
            next_aux += 1;
            x.edge = Some(b.edge(from, a, 0.0));
            for &c in &x.consumers {
                b.edge(a, v(c), f64::INFINITY);
            }
        }
        let download = nodes
            .iter()
            .map(|&n| {
                dag.node(n)
                    .outputs
                    .iter()
                    .map(|o| t.download_bytes[o.index()])
                    .sum()
            })
            .collect();
        FlowBlock {
            base: base.clone(),
            nodes: nodes.to_vec(),
            graph: b.build(),
            src_edge,
            sink_edge,
            tensors,
            download,
        }
    }

    /// The block-local cost of the best downset and its full head (base ∪ chosen block nodes).
    pub fn solve(&self, t: &CostTables, r: &Rates, tensor_cost: &[f64]) -> (f64, NodeSet) {
        let mut cap = self.graph.cap0.clone();
        let mut head_cost: Vec<f64> = self
            .nodes
            .iter()
            .map(|n| r.dev_scale * t.device_us[n.index()])
            .collect();
        for x in &self.tensors {
            if let (true, Some(p)) = (x.read_after, x.producer) {
                head_cost[p] += tensor_cost[x.id.index()];
            }
        }
        let mut total = 0.0;
        for (i, &n) in self.nodes.iter().enumerate() {
            let tail = self.tail_cost(t, r, i, n);
            let head = head_cost[i];
            // Flow that must cross this node anyway; pushing it now saves the solver the work.
            let both = tail.min(head);
            cap[self.src_edge[i]] = tail - both;
            cap[self.sink_edge[i]] = head - both;
            total += tail + head;
        }
        for x in &self.tensors {
            if let Some(e) = x.edge {
                cap[e] = tensor_cost[x.id.index()];
                total += cap[e];
            }
        }
        let eps = 1e-13 * total.max(f64::MIN_POSITIVE);
        let side = self.graph.min_cut(&mut cap, SOURCE, SINK, eps);
        let mut head = self.base.clone();
        let mut in_head = vec![false; self.nodes.len()];
        for (i, &n) in self.nodes.iter().enumerate() {
            if side[2 + i] {
                head.insert(n);
                in_head[i] = true;
            }
        }
        (self.local_cost(t, r, tensor_cost, &in_head), head)
    }

    fn tail_cost(&self, t: &CostTables, r: &Rates, i: usize, n: NodeId) -> f64 {
        r.server(t.server_us[r.lo][n.index()], t.server_us[r.hi][n.index()])
            + self.download[i] * r.down_us_per_byte
    }

    /// The block-local latency of the head `base ∪ {nodes[i] : in_head[i]}`, from the definition.
    fn local_cost(&self, t: &CostTables, r: &Rates, tensor_cost: &[f64], in_head: &[bool]) -> f64 {
        let mut v = 0.0;
        for (i, &n) in self.nodes.iter().enumerate() {
            v += if in_head[i] {
                r.dev_scale * t.device_us[n.index()]
            } else {
                self.tail_cost(t, r, i, n)
            };
        }
        for x in &self.tensors {
            let available = x.producer.is_none_or(|p| in_head[p]);
            if available && (x.read_after || x.consumers.iter().any(|&c| !in_head[c])) {
                v += tensor_cost[x.id.index()];
            }
        }
        v
    }
}
