//! Brute-force verification of the solver on a real model, block by block.
//!
//! The whole cut space of a real model is too large to enumerate, but each block's is usually
//! small. Every cut lies in one block (between two boundaries, see [`loadpart_cuts::CutSpace`]), so
//! agreeing on every block's optimum means agreeing on the model's optimum.

use crate::{Estimate, Planner};
use loadpart_cuts::{Dag, NodeId, NodeSet};
use serde::Serialize;

/// The solver's and brute force's optimum over one block's cuts (boundaries included).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BlockCheck {
    /// Block index.
    pub block: usize,
    /// Downsets of the block tried by brute force; `None` when there were more than the limit and
    /// the block was skipped.
    pub downsets: Option<usize>,
    /// The solver's optimum, µs.
    pub solver_us: f64,
    /// The brute-force optimum from the direct cost definition, µs (NaN when skipped).
    pub brute_force_us: f64,
}

impl BlockCheck {
    /// Whether both agree to 1e-9 relative (true for skipped blocks).
    pub fn agrees(&self) -> bool {
        self.downsets.is_none()
            || (self.solver_us - self.brute_force_us).abs()
                <= 1e-9 * self.brute_force_us.abs().max(1.0)
    }
}

/// Compares, for every block of `planner`, the solver's optimum under `e` with a brute force over
/// every downset of the block evaluated from the definition. Blocks with more than
/// `max_downsets` downsets are skipped.
pub fn brute_force_blocks(planner: &Planner, e: &Estimate, max_downsets: usize) -> Vec<BlockCheck> {
    let solver = planner.block_optima(e);
    let space = planner.space();
    space
        .blocks()
        .iter()
        .enumerate()
        .map(|(j, block)| {
            let base = &space.boundaries()[block.start].cut.head;
            let mut best = f64::INFINITY;
            let mut count = 0usize;
            let mut head = base.clone();
            let complete = visit(
                planner.dag(),
                &block.nodes,
                0,
                &mut head,
                &mut |h| {
                    count += 1;
                    best = best.min(planner.predict(h, e).total());
                },
                &mut (max_downsets as isize),
            );
            BlockCheck {
                block: j,
                downsets: complete.then_some(count),
                solver_us: solver[j],
                brute_force_us: if complete { best } else { f64::NAN },
            }
        })
        .collect()
}

/// Calls `f` on every downset `base ∪ S` of the block; false once `budget` runs out.
fn visit(
    dag: &Dag,
    nodes: &[NodeId],
    i: usize,
    head: &mut NodeSet,
    f: &mut dyn FnMut(&NodeSet),
    budget: &mut isize,
) -> bool {
    if i == nodes.len() {
        *budget -= 1;
        if *budget < 0 {
            return false;
        }
        f(head);
        return true;
    }
    if !visit(dag, nodes, i + 1, head, f, budget) {
        return false;
    }
    let n = nodes[i];
    if dag.predecessors(n).all(|p| head.contains(p)) {
        head.insert(n);
        let ok = visit(dag, nodes, i + 1, head, f, budget);
        head.remove(n);
        return ok;
    }
    true
}
