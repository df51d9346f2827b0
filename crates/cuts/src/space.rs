//! The candidate-cut space of a DAG: articulation tensors, the blocks between them, and the cuts
//! inside each block.
//!
//! # Why every cut lies inside one block
//!
//! Let `A_t` be the ancestor closure of the producer of an articulation tensor `t` (so
//! `C(A_t) = {t}`), or `∅` for an articulation input. Claim: for every downset `H`, either
//! `H ⊆ A_t` or `A_t ⊆ H`.
//!
//! Proof. Every node `m` lies on some input-to-output path: it reads at least one tensor, whose
//! producers lead back to a model input, and it leads to an output (the builder rejects dead
//! nodes). `C(A_t)` separates inputs from outputs (a path starts on the device side and ends on the
//! server side or at an output, and the tensor where it leaves the device side, or the output
//! itself, is in `C`), so every such path passes through `t`. Suppose `m ∈ H \ A_t`. On a path
//! through `m`, `t` is either before `m` or after it. After `m` would make `m` an ancestor of
//! `t`'s producer, so `m ∈ A_t`: excluded. So `t` comes before `m`, and `t`'s producer is an
//! ancestor of `m`; `H` is downward closed, so it contains that producer and all its ancestors:
//! `A_t ⊆ H`. Hence if `H ⊄ A_t` then `A_t ⊆ H`. ∎
//!
//! The articulation downsets are therefore totally ordered by inclusion (apply the claim to
//! `H = A_u`), and together with `∅` and the set of all nodes they form a chain
//! `∅ = B_0 ⊂ B_1 ⊂ … ⊂ B_m = all`. Every downset `H` has a largest `B_i ⊆ H`, and by the claim
//! `H ⊆ B_{i+1}`. So each cut is a boundary `B_i` or lies strictly inside exactly one block
//! `B_{i+1} \ B_i`, and inside a block the downsets are `B_i ∪ S` for the downsets `S` of the
//! block's own order (every predecessor of a block node is in `B_i` or in the block, because
//! `B_{i+1}` is a downset). Enumerating each block's downsets thus covers every cut exactly once.

use crate::{Cut, Dag, NodeId, NodeSet, TensorId};

/// A cut that separates two blocks: full offload, an articulation cut, or full local.
#[derive(Debug, Clone)]
pub struct Boundary {
    /// The cut.
    pub cut: Cut,
    /// The articulation tensor when the cut is a single tensor `{t}`.
    pub articulation: Option<TensorId>,
}

/// The region between two consecutive boundaries.
#[derive(Debug, Clone)]
pub struct Block {
    /// Index of the boundary where the block starts (its head is the block's lower bound).
    pub start: usize,
    /// Index of the boundary where it ends (`start + 1`).
    pub end: usize,
    /// The block's nodes (`B_end \ B_start`), in topological order.
    pub nodes: Vec<NodeId>,
    /// The cuts strictly inside the block.
    pub cuts: BlockCuts,
}

/// The cuts strictly inside a block (neither boundary).
#[derive(Debug, Clone)]
pub enum BlockCuts {
    /// All of them, in enumeration order (smaller heads tend to come first).
    Enumerated(Vec<Cut>),
    /// More than the enumeration cap; the planner searches such a block exactly with a min s-t cut
    /// per decision instead of a list.
    TooMany {
        /// A lower bound on the count (the cap plus one).
        at_least: usize,
    },
}

/// How many cuts a block holds, for `loadpart inspect`. Serializes as `{"exact": n}` or
/// `{"at_least": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutCount {
    /// Exactly this many.
    Exact(usize),
    /// At least this many (enumeration stopped at the cap).
    AtLeast(usize),
}

impl Block {
    /// The number of cuts strictly inside the block.
    pub fn cut_count(&self) -> CutCount {
        match &self.cuts {
            BlockCuts::Enumerated(c) => CutCount::Exact(c.len()),
            BlockCuts::TooMany { at_least } => CutCount::AtLeast(*at_least),
        }
    }
}

/// What a candidate cut is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateKind {
    /// `H = ∅`: the inputs are sent.
    FullOffload,
    /// A single articulation tensor.
    Articulation(TensorId),
    /// A cut strictly inside block `block` (usually several tensors).
    Inner {
        /// Index into [`CutSpace::blocks`].
        block: usize,
    },
    /// `H` = all nodes: nothing is sent.
    FullLocal,
}

impl std::fmt::Display for CandidateKind {
    /// The label reports and plots use: `full-offload`, `articulation`, `block N`, `full-local`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CandidateKind::FullOffload => f.write_str("full-offload"),
            CandidateKind::Articulation(_) => f.write_str("articulation"),
            CandidateKind::Inner { block } => write!(f, "block {block}"),
            CandidateKind::FullLocal => f.write_str("full-local"),
        }
    }
}

/// One entry of [`CutSpace::all_candidate_cuts`].
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The cut.
    pub cut: &'a Cut,
    /// What it is.
    pub kind: CandidateKind,
}

/// The decomposition of a DAG into boundaries and blocks, with each block's cuts.
#[derive(Debug, Clone)]
pub struct CutSpace {
    articulation: Vec<TensorId>,
    boundaries: Vec<Boundary>,
    blocks: Vec<Block>,
}

impl CutSpace {
    /// Analyzes `dag`. Blocks with more than `max_cuts_per_block` inner cuts are reported as
    /// [`BlockCuts::TooMany`] instead of listed. Cost: about `O(N·(N+T))` for the articulation
    /// search plus `O(cap·(N+T))` per block.
    pub fn analyze(dag: &Dag, max_cuts_per_block: usize) -> CutSpace {
        let n = dag.node_count();
        let mut boundaries: Vec<Boundary> = Vec::new();
        let mut articulation = Vec::new();

        let empty = dag.cut_of(NodeSet::empty(n));
        let input_art = match empty.tensors.as_slice() {
            [t] => Some(*t),
            _ => None,
        };
        articulation.extend(input_art);
        boundaries.push(Boundary {
            cut: empty,
            articulation: input_art,
        });
        for (i, node) in dag.nodes().iter().enumerate() {
            let anc = dag.ancestors(NodeId(i as u32));
            for &t in &node.outputs {
                if is_articulation(dag, anc, t) {
                    articulation.push(t);
                    boundaries.push(Boundary {
                        cut: dag.cut_of(anc.clone()),
                        articulation: Some(t),
                    });
                }
            }
        }
        if boundaries.last().is_none_or(|b| b.cut.head.len() != n) {
            boundaries.push(Boundary {
                cut: dag.cut_of(NodeSet::full(n)),
                articulation: None,
            });
        }
        let blocks = (0..boundaries.len() - 1)
            .map(|i| {
                let mut nodes = boundaries[i + 1].cut.head.clone();
                nodes.difference_with(&boundaries[i].cut.head);
                let nodes: Vec<NodeId> = nodes.iter().collect();
                let cuts =
                    enumerate_block(dag, &boundaries[i].cut.head, &nodes, max_cuts_per_block);
                Block {
                    start: i,
                    end: i + 1,
                    nodes,
                    cuts,
                }
            })
            .collect();
        CutSpace {
            articulation,
            boundaries,
            blocks,
        }
    }

    /// Articulation tensors (single-tensor cuts), in topological order.
    pub fn articulation_tensors(&self) -> &[TensorId] {
        &self.articulation
    }

    /// Boundaries: full offload, the articulation cuts, full local (without repeats), ordered by
    /// inclusion of their heads.
    pub fn boundaries(&self) -> &[Boundary] {
        &self.boundaries
    }

    /// Blocks; block `i` lies between boundaries `i` and `i + 1`.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Every listed cut in model order: boundary 0, block 0's cuts, boundary 1, …, full local.
    /// Cuts of [`BlockCuts::TooMany`] blocks are not listed. No cut appears twice.
    pub fn all_candidate_cuts(&self) -> impl Iterator<Item = Candidate<'_>> + '_ {
        self.boundaries.iter().enumerate().flat_map(move |(i, b)| {
            let kind = if b.cut.is_full_offload() {
                CandidateKind::FullOffload
            } else if b.cut.is_full_local() {
                CandidateKind::FullLocal
            } else {
                CandidateKind::Articulation(b.articulation.expect("inner boundary is articulation"))
            };
            let inner: &[Cut] = match self.blocks.get(i).map(|bl| &bl.cuts) {
                Some(BlockCuts::Enumerated(c)) => c,
                _ => &[],
            };
            std::iter::once(Candidate { cut: &b.cut, kind }).chain(inner.iter().map(move |c| {
                Candidate {
                    cut: c,
                    kind: CandidateKind::Inner { block: i },
                }
            }))
        })
    }

    /// Whether every block was enumerated, so [`CutSpace::all_candidate_cuts`] lists every cut.
    pub fn is_complete(&self) -> bool {
        self.blocks
            .iter()
            .all(|b| matches!(b.cuts, BlockCuts::Enumerated(_)))
    }
}

/// Whether `{t}` is the cut of `anc`, the ancestor closure of `t`'s producer.
fn is_articulation(dag: &Dag, anc: &NodeSet, t: TensorId) -> bool {
    let leaves = |x: TensorId| {
        let tensor = dag.tensor(x);
        tensor.is_output || tensor.consumers.iter().any(|&c| !anc.contains(c))
    };
    if !leaves(t) {
        return false;
    }
    dag.inputs().iter().all(|&x| !leaves(x))
        && anc
            .iter()
            .flat_map(|m| dag.node(m).outputs.iter().copied())
            .all(|o| o == t || !leaves(o))
}

/// Enumerates the downsets `S` of the block (other than `∅` and the whole block) and returns the
/// cuts `base ∪ S`, or `TooMany` past `cap`.
fn enumerate_block(dag: &Dag, base: &NodeSet, nodes: &[NodeId], cap: usize) -> BlockCuts {
    // Local predecessor lists: indices into `nodes` (predecessors outside the block are in `base`).
    let local: Vec<Vec<usize>> = nodes
        .iter()
        .map(|&m| {
            dag.predecessors(m)
                .filter_map(|p| nodes.iter().position(|&q| q == p))
                .collect()
        })
        .collect();
    let mut state = Enumeration {
        dag,
        local: &local,
        nodes,
        chosen: vec![false; nodes.len()],
        head: base.clone(),
        cap,
        found: Vec::new(),
        overflow: false,
    };
    state.visit(0, 0);
    if state.overflow {
        BlockCuts::TooMany { at_least: cap + 1 }
    } else {
        BlockCuts::Enumerated(state.found)
    }
}

struct Enumeration<'a> {
    dag: &'a Dag,
    local: &'a [Vec<usize>],
    nodes: &'a [NodeId],
    chosen: Vec<bool>,
    head: NodeSet,
    cap: usize,
    found: Vec<Cut>,
    overflow: bool,
}

impl Enumeration<'_> {
    /// Decides node `i` onwards; `count` nodes are chosen so far. Excluding a node first makes
    /// smaller heads come out first.
    fn visit(&mut self, i: usize, count: usize) {
        if self.overflow {
            return;
        }
        if i == self.nodes.len() {
            if count > 0 && count < self.nodes.len() {
                if self.found.len() == self.cap {
                    self.overflow = true;
                    return;
                }
                self.found.push(self.dag.cut_of(self.head.clone()));
            }
            return;
        }
        self.visit(i + 1, count);
        if self.local[i].iter().all(|&p| self.chosen[p]) {
            self.chosen[i] = true;
            self.head.insert(self.nodes[i]);
            self.visit(i + 1, count + 1);
            self.head.remove(self.nodes[i]);
            self.chosen[i] = false;
        }
    }
}
