//! The exact solver: the minimum of the latency model over every cut of the DAG.
//!
//! The cut space is split at articulation tensors ([`CutSpace`]): every cut is a boundary (full
//! offload, an articulation cut, full local) or lies inside exactly one block. Boundaries cost
//! O(1) each from prefix/suffix sums. Listed blocks keep per-cut block-local sums and are scanned;
//! blocks too large to list are solved per decision by a min s-t cut ([`mincut`]). The per-request
//! work is therefore: one transfer cost per tensor, one scan over the boundaries, one short scan
//! per listed block, one max-flow per large block.

mod per_cut;
pub use per_cut::{OffloadRisk, PerCut, QueueOutlook};
mod flow;
mod listed;
mod mincut;

use crate::conditions::Rates;
use crate::tables::{CostTables, TensorEncoding};
use crate::{Breakdown, CutPosition, Decision, Estimate, ModelProfile, PlanError};
use listed::ListedBlock;
use loadpart_cuts::{BlockCuts, Candidate, Cut, CutSpace, Dag, NodeSet};
use mincut::FlowBlock;
use std::time::Instant;

/// How a [`Planner`] prepares its search.
#[derive(Debug, Clone, Copy)]
pub struct PlannerOptions {
    /// Blocks with more inner cuts than this are searched by min-cut per decision instead of
    /// listed. Listing costs memory and a scan per decision; min-cut a max-flow per decision.
    pub max_cuts_per_block: usize,
    /// Drop listed cuts that another cut of the same block beats for every parameter value.
    pub prune_dominated: bool,
}

impl Default for PlannerOptions {
    fn default() -> Self {
        Self {
            max_cuts_per_block: 256,
            prune_dominated: true,
        }
    }
}

/// Prefix/suffix sums at one boundary.
#[derive(Debug, Clone)]
struct BoundarySums {
    /// Device time of the boundary's head, µs (unscaled).
    device: f64,
    /// Whole-batch server time of the nodes outside the head, per server batch size, µs.
    server: Vec<f64>,
    /// f32 bytes of model outputs written outside the head.
    download: f64,
    /// Tensors the boundary cut sends.
    sent: Vec<u32>,
    /// Index in candidate order.
    position: usize,
}

#[derive(Debug, Clone)]
enum BlockSearch {
    Listed(ListedBlock),
    MinCut(Box<FlowBlock>),
}

/// How the planner searches one block on each decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockSearchKind {
    /// A scan of the listed cuts that no other cut dominates (`kept` of them).
    Scan {
        /// Cuts left after dropping dominated ones.
        kept: usize,
    },
    /// Too many cuts to list: an exact minimum s-t cut over the block's nodes and tensors, solved
    /// per decision (Dinic max-flow on a project-selection network).
    MinCut,
}

/// Where the optimum was found.
#[derive(Debug, Clone)]
enum Found {
    Boundary(usize),
    Listed { block: usize, cut: usize },
    MinCut(NodeSet),
}

/// The latency model of one model on one device/server pair, with everything that does not
/// depend on the request's conditions precomputed. Cheap to share between threads (`&self`).
#[derive(Debug, Clone)]
pub struct Planner {
    dag: Dag,
    space: CutSpace,
    tables: CostTables,
    sums: Vec<BoundarySums>,
    blocks: Vec<BlockSearch>,
    /// Tensors that some cut can send: the ones whose transfer cost each decision needs.
    sendable: Vec<u32>,
}

/// One candidate cut with its predicted latency.
#[derive(Debug, Clone)]
pub struct CandidateCost<'a> {
    /// Index in [`Planner::candidates`] order.
    pub index: usize,
    /// The candidate.
    pub candidate: Candidate<'a>,
    /// Its predicted latency under the full model.
    pub predicted: Breakdown,
}

impl Planner {
    /// Resolves the profiles against `dag` and precomputes the search.
    ///
    /// Errors: profiles of different models, bad batch sizes, a node or sendable tensor missing from
    /// a profile, or a negative/NaN cost (see [`PlanError`]).
    pub fn new(
        dag: Dag,
        device: &ModelProfile,
        server: &ModelProfile,
        options: PlannerOptions,
    ) -> Result<Self, PlanError> {
        let tables = CostTables::new(&dag, device, server)?;
        let space = CutSpace::analyze(&dag, options.max_cuts_per_block);
        let mut sums = Vec::new();
        let mut position = 0;
        for (i, b) in space.boundaries().iter().enumerate() {
            sums.push(boundary_sums(&dag, &tables, &b.cut, position));
            position += 1;
            if let Some(BlockCuts::Enumerated(c)) = space.blocks().get(i).map(|bl| &bl.cuts) {
                position += c.len();
            }
        }
        let blocks = space
            .blocks()
            .iter()
            .map(|bl| match &bl.cuts {
                BlockCuts::Enumerated(cuts) => BlockSearch::Listed(ListedBlock::new(
                    &dag,
                    &tables,
                    &bl.nodes,
                    cuts,
                    options.prune_dominated,
                )),
                BlockCuts::TooMany { .. } => BlockSearch::MinCut(Box::new(FlowBlock::new(
                    &dag,
                    &tables,
                    &space.boundaries()[bl.start].cut.head,
                    &bl.nodes,
                ))),
            })
            .collect();
        let sendable = (0..dag.tensors().len() as u32)
            .filter(|&t| !dag.tensors()[t as usize].consumers.is_empty())
            .collect();
        Ok(Self {
            dag,
            space,
            tables,
            sums,
            blocks,
            sendable,
        })
    }

    /// The DAG the planner was built for.
    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// The cut space (boundaries, blocks, listed cuts).
    pub fn space(&self) -> &CutSpace {
        &self.space
    }

    /// Every listed candidate cut, in model order (full offload first, full local last).
    pub fn candidates(&self) -> impl Iterator<Item = Candidate<'_>> + '_ {
        self.space.all_candidate_cuts()
    }

    /// The full-local cut (every node on the device).
    pub fn full_local(&self) -> &Cut {
        &self
            .space
            .boundaries()
            .last()
            .expect("at least two boundaries")
            .cut
    }

    /// The full-offload cut (the inputs are sent).
    pub fn full_offload(&self) -> &Cut {
        &self.space.boundaries()[0].cut
    }

    /// The predicted latency of the cut with head `head` (a downset of [`Planner::dag`]) under the
    /// full model.
    pub fn predict(&self, head: &NodeSet, e: &Estimate) -> Breakdown {
        self.tables.evaluate(&self.dag, head, &self.rates(e))
    }

    /// Per tensor `cut` sends (by name, in [`Cut::sent_tensors`] order), the encoding whose
    /// cost the planner predicts under `e`: uncompressed on a link fast enough (or with a device
    /// slow enough) that compressing costs more time than it saves, the default compression in
    /// between, a tighter one (fewer bits, a slower zstd level) on slow links. A client encodes
    /// accordingly, so that what it does is what was priced.
    pub fn encoding_plan(&self, cut: &Cut, e: &Estimate) -> Vec<(String, TensorEncoding)> {
        let r = self.rates(e);
        cut.sent_tensors(&self.dag)
            .map(|t| {
                let encoding = self.tables.tensors[t.0 as usize].encoding(&r);
                (self.dag.tensor(t).name.clone(), encoding)
            })
            .collect()
    }

    /// Every listed candidate with its predicted latency, in candidate order (for reports and
    /// plots; not the per-request path).
    pub fn evaluate_candidates(&self, e: &Estimate) -> Vec<CandidateCost<'_>> {
        let r = self.rates(e);
        self.candidates()
            .enumerate()
            .map(|(index, candidate)| CandidateCost {
                index,
                candidate,
                predicted: self.tables.evaluate(&self.dag, &candidate.cut.head, &r),
            })
            .collect()
    }

    /// How each block is searched per decision, for `inspect` and `plan` reports.
    pub fn block_searches(&self) -> Vec<BlockSearchKind> {
        self.blocks
            .iter()
            .map(|b| match b {
                BlockSearch::Listed(l) => BlockSearchKind::Scan {
                    kept: l.index.len(),
                },
                BlockSearch::MinCut(_) => BlockSearchKind::MinCut,
            })
            .collect()
    }

    /// Listed candidates sorted by predicted latency, best first (the runners-up of a report).
    pub fn ranked_candidates(&self, e: &Estimate) -> Vec<CandidateCost<'_>> {
        let mut v = self.evaluate_candidates(e);
        v.sort_by(|a, b| a.predicted.total().total_cmp(&b.predicted.total()));
        v
    }

    /// The cut with the least predicted latency under the full model, exactly, over every cut.
    pub fn decide(&self, e: &Estimate) -> Decision {
        let start = Instant::now();
        let r = self.rates(e);
        let (objective, found) = self.optimum(&r, true);
        self.finish(found, &r, objective, Breakdown::default(), start)
    }

    pub(crate) fn rates(&self, e: &Estimate) -> Rates {
        Rates::new(e, &self.tables.batch_sizes)
    }

    /// The decision for a fixed head, evaluated under `r`.
    pub(crate) fn fixed(&self, head: &NodeSet, r: &Rates, start: Instant) -> Decision {
        let predicted = self.tables.evaluate(&self.dag, head, r);
        let cut = self.dag.cut_of(head.clone());
        Decision {
            position: self.position_of(&cut, None),
            cut,
            objective_us: predicted.total(),
            predicted,
            decision_ns: start.elapsed().as_nanos() as u64,
        }
    }

    /// The minimum over every cut (over every cut but full local when `!allow_local`) of the model
    /// with rates `r`, and where it is.
    fn optimum(&self, r: &Rates, allow_local: bool) -> (f64, Found) {
        let tc = self.tensor_costs(r);
        let last = self.sums.len() - 1;
        let mut best = (f64::INFINITY, Found::Boundary(last));
        for i in 0..self.sums.len() {
            if i == last && !allow_local {
                continue;
            }
            let v = self.boundary_value(i, r, &tc);
            if v < best.0 {
                best = (v, Found::Boundary(i));
            }
        }
        for j in 0..self.blocks.len() {
            if let Some((v, found)) = self.inner_optimum(j, r, &tc)
                && v < best.0
            {
                best = (v, found);
            }
        }
        best
    }

    /// Each tensor's transfer cost (encode + upload + decode, µs) at these rates; 0 for tensors
    /// no cut sends.
    fn tensor_costs(&self, r: &Rates) -> Vec<f64> {
        let mut tc = vec![0.0; self.dag.tensors().len()];
        for &t in &self.sendable {
            tc[t as usize] = self.tables.tensors[t as usize].cost(r).total();
        }
        tc
    }

    /// Latency of boundary `i` from prefix/suffix sums (full local for the last one).
    fn boundary_value(&self, i: usize, r: &Rates, tc: &[f64]) -> f64 {
        let s = &self.sums[i];
        if i == self.sums.len() - 1 {
            return r.dev_scale * s.device;
        }
        let sent: f64 = s.sent.iter().map(|&t| tc[t as usize]).sum();
        r.rtt_us
            + r.queue_us
            + r.dev_scale * s.device
            + sent
            + r.server(s.server[r.lo], s.server[r.hi])
            + s.download * r.down_us_per_byte
    }

    /// The best cut strictly inside block `j` (it may also return one of the block's boundaries
    /// when that is no worse; never full local), or `None` when the block has no inner cut left.
    fn inner_optimum(&self, j: usize, r: &Rates, tc: &[f64]) -> Option<(f64, Found)> {
        let (lo, hi) = (&self.sums[j], &self.sums[j + 1]);
        let common = r.rtt_us
            + r.queue_us
            + r.dev_scale * lo.device
            + r.server(hi.server[r.lo], hi.server[r.hi])
            + hi.download * r.down_us_per_byte;
        match &self.blocks[j] {
            BlockSearch::Listed(l) => l.scan(r, tc).map(|(v, c)| {
                let cut = l.index[c] as usize;
                (common + v, Found::Listed { block: j, cut })
            }),
            BlockSearch::MinCut(f) => {
                let (v, head) = f.solve(&self.tables, r, tc);
                // The min-cut may return the block's upper boundary; when that is full local the
                // offload formula overstates it, and the boundary scan has it exactly. Every inner
                // cut then costs at least as much as full local, so dropping it stays exact.
                (head.len() < self.dag.node_count()).then_some((common + v, Found::MinCut(head)))
            }
        }
    }

    /// For each block: the solver's optimum over the block's cuts, both boundaries included, µs
    /// (for [`crate::verify`]).
    pub(crate) fn block_optima(&self, e: &Estimate) -> Vec<f64> {
        let r = self.rates(e);
        let tc = self.tensor_costs(&r);
        (0..self.blocks.len())
            .map(|j| {
                let ends = self
                    .boundary_value(j, &r, &tc)
                    .min(self.boundary_value(j + 1, &r, &tc));
                self.inner_optimum(j, &r, &tc)
                    .map_or(ends, |(v, _)| v.min(ends))
            })
            .collect()
    }

    fn found_cut(&self, found: Found) -> Cut {
        match found {
            Found::Boundary(i) => self.space.boundaries()[i].cut.clone(),
            Found::Listed { block, cut } => match &self.space.blocks()[block].cuts {
                BlockCuts::Enumerated(c) => c[cut].clone(),
                BlockCuts::TooMany { .. } => unreachable!("listed blocks are enumerated"),
            },
            Found::MinCut(head) => self.dag.cut_of(head),
        }
    }

    fn position_of(&self, cut: &Cut, found: Option<&Found>) -> CutPosition {
        let head_fraction = cut.head.len() as f64 / self.dag.node_count() as f64;
        let candidate_index = match found {
            Some(Found::Boundary(i)) => Some(self.sums[*i].position),
            Some(Found::Listed { block, cut }) => Some(self.sums[*block].position + 1 + cut),
            _ => self.candidates().position(|c| c.cut.head == cut.head),
        };
        CutPosition {
            candidate_index,
            head_fraction,
        }
    }

    /// Builds the decision for `found`; `extra` is added to the predicted breakdown (the queue of
    /// `loadpart-original`).
    fn finish(
        &self,
        found: Found,
        r: &Rates,
        objective: f64,
        extra: Breakdown,
        start: Instant,
    ) -> Decision {
        let position_hint = match &found {
            Found::MinCut(_) => None,
            f => Some(f.clone()),
        };
        let cut = self.found_cut(found);
        let mut predicted = self.tables.evaluate(&self.dag, &cut.head, r);
        predicted.queue += extra.queue;
        let position = match &position_hint {
            Some(f) => self.position_of(&cut, Some(f)),
            None => self.position_of(&cut, None),
        };
        Decision {
            cut,
            position,
            predicted,
            objective_us: objective,
            decision_ns: start.elapsed().as_nanos() as u64,
        }
    }

    /// `loadpart-original`'s rule; see [`crate::policy`].
    pub(crate) fn decide_original(&self, e: &Estimate) -> Decision {
        let start = Instant::now();
        let belief = Estimate {
            rtt_us: 0.0,
            queue_us: 0.0,
            downlink_bytes_per_s: f64::INFINITY,
            server_batch: 1.0,
            ..*e
        };
        let r = self.rates(&belief);
        let queue = self.rates(e).queue_us;
        let (v, found) = self.optimum(&r, false);
        let local = r.dev_scale * self.sums.last().expect("boundaries").device;
        if local < v + queue {
            let last = self.sums.len() - 1;
            self.finish(
                Found::Boundary(last),
                &r,
                local,
                Breakdown::default(),
                start,
            )
        } else {
            let extra = Breakdown {
                queue,
                ..Breakdown::default()
            };
            self.finish(found, &r, v + queue, extra, start)
        }
    }
}

fn boundary_sums(dag: &Dag, t: &CostTables, cut: &Cut, position: usize) -> BoundarySums {
    let mut s = BoundarySums {
        device: 0.0,
        server: vec![0.0; t.batch_sizes.len()],
        download: 0.0,
        sent: cut.sent_tensors(dag).map(|x| x.0).collect(),
        position,
    };
    for (i, node) in dag.nodes().iter().enumerate() {
        if cut.head.contains(loadpart_cuts::NodeId(i as u32)) {
            s.device += t.device_us[i];
        } else {
            for (b, v) in s.server.iter_mut().enumerate() {
                *v += t.server_us[b][i];
            }
            for &o in &node.outputs {
                s.download += t.download_bytes[o.index()];
            }
        }
    }
    s
}
