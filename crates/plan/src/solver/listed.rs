//! A block whose inner cuts are listed: per-cut, parameter-independent sums, so a decision is a
//! short scan.

use crate::conditions::Rates;
use crate::tables::CostTables;
use loadpart_cuts::{Cut, Dag, NodeId};

/// Block-local, parameter-independent coordinates of each surviving cut, as parallel arrays.
///
/// For a cut with head `B ∪ S` (B the block's lower boundary, S a downset of the block):
/// `device[c]` = Σ device time over S; `server[c·nb + b]` = Σ whole-batch server time at batch
/// size `b` over the block nodes outside S; `download[c]` = f32 bytes of model outputs written by
/// block nodes outside S; `sent` = the tensors the cut sends. The rest of the latency is common to
/// every cut of the block.
#[derive(Debug, Clone)]
pub(crate) struct ListedBlock {
    /// Index of each surviving cut in the block's enumerated list.
    pub index: Vec<u32>,
    device: Vec<f64>,
    server: Vec<f64>,
    download: Vec<f64>,
    sent_start: Vec<u32>,
    sent: Vec<u32>,
    nb: usize,
}

struct Row {
    device: f64,
    server: Vec<f64>,
    download: f64,
    sent: Vec<u32>,
}

impl Row {
    /// Whether `self` costs at most `other` for every admissible parameter value: every
    /// coefficient is multiplied by a non-negative rate, and tensor costs are non-negative.
    fn dominates(&self, other: &Row) -> bool {
        self.device <= other.device
            && self.download <= other.download
            && self.server.iter().zip(&other.server).all(|(a, b)| a <= b)
            && is_sorted_subset(&self.sent, &other.sent)
    }
}

fn is_sorted_subset(a: &[u32], b: &[u32]) -> bool {
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
    }
    true
}

impl ListedBlock {
    /// Precomputes the block's cuts; with `prune`, drops every cut that another one dominates
    /// (no worse in any coordinate), which keeps the optimum exact.
    pub fn new(dag: &Dag, t: &CostTables, nodes: &[NodeId], cuts: &[Cut], prune: bool) -> Self {
        let nb = t.batch_sizes.len();
        let rows: Vec<Row> = cuts
            .iter()
            .map(|cut| {
                let mut row = Row {
                    device: 0.0,
                    server: vec![0.0; nb],
                    download: 0.0,
                    sent: cut.sent_tensors(dag).map(|t| t.0).collect(),
                };
                for &n in nodes {
                    if cut.head.contains(n) {
                        row.device += t.device_us[n.index()];
                    } else {
                        for (b, s) in row.server.iter_mut().enumerate() {
                            *s += t.server_us[b][n.index()];
                        }
                        for &o in &dag.node(n).outputs {
                            row.download += t.download_bytes[o.index()];
                        }
                    }
                }
                row
            })
            .collect();
        let keep: Vec<usize> = (0..rows.len())
            .filter(|&a| {
                !prune
                    || !rows.iter().enumerate().any(|(b, rb)| {
                        b != a && rb.dominates(&rows[a]) && (b < a || !rows[a].dominates(rb))
                    })
            })
            .collect();
        let mut out = ListedBlock {
            index: Vec::with_capacity(keep.len()),
            device: Vec::with_capacity(keep.len()),
            server: Vec::with_capacity(keep.len() * nb),
            download: Vec::with_capacity(keep.len()),
            sent_start: vec![0],
            sent: Vec::new(),
            nb,
        };
        for a in keep {
            let r = &rows[a];
            out.index.push(a as u32);
            out.device.push(r.device);
            out.server.extend_from_slice(&r.server);
            out.download.push(r.download);
            out.sent.extend_from_slice(&r.sent);
            out.sent_start.push(out.sent.len() as u32);
        }
        out
    }

    /// The block-local part of the best surviving cut: `(cost µs, position in this list)`, given
    /// each tensor's transfer cost `tensor_cost` at these rates. `None` when the list is empty.
    pub fn scan(&self, r: &Rates, tensor_cost: &[f64]) -> Option<(f64, usize)> {
        let mut best: Option<(f64, usize)> = None;
        for c in 0..self.index.len() {
            let s = &self.server[c * self.nb..(c + 1) * self.nb];
            let mut v = r.dev_scale * self.device[c]
                + r.server(s[r.lo], s[r.hi])
                + self.download[c] * r.down_us_per_byte;
            for &t in &self.sent[self.sent_start[c] as usize..self.sent_start[c + 1] as usize] {
                v += tensor_cost[t as usize];
            }
            if best.is_none_or(|(b, _)| v < b) {
                best = Some((v, c));
            }
        }
        best
    }
}
