//! What the results say, before any rendering: cells and their records, paired comparisons
//! between variants, the best fixed cut, prediction error. The Markdown report and the figures
//! both read it.

use std::collections::BTreeSet;

use super::record::Record;
use super::stats::{ci95, mean};

/// A cell without its repetition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellAt {
    pub slowdown: f64,
    pub mbit: f64,
    pub load: f64,
    /// `constant`, `square` or `trace`.
    pub shape: &'static str,
}

impl CellAt {
    fn of(r: &Record) -> Self {
        Self {
            slowdown: r.cell.device_slowdown,
            mbit: r.cell.mbit,
            load: r.cell.load,
            shape: match r.cell.shape.as_str() {
                "square" => "square",
                "trace" => "trace",
                _ => "constant",
            },
        }
    }

    /// The load as a table shows it: the level, or the peak and the shape.
    pub fn load_label(&self) -> String {
        match self.shape {
            "constant" => format!("{}", self.load),
            s => format!("{} {s}", self.load),
        }
    }
}

/// The records of one cell (all repetitions).
pub struct CellData<'a> {
    pub at: CellAt,
    pub records: Vec<&'a Record>,
}

impl<'a> CellData<'a> {
    pub fn reps(&self) -> BTreeSet<usize> {
        self.records.iter().map(|r| r.cell.rep).collect()
    }

    /// Records of `variant` (a label), or of the best fixed cut for `"best-fixed"`.
    pub fn of(&self, variant: &str) -> Vec<&'a Record> {
        if variant == "best-fixed" {
            let Some(cut) = self.best_fixed_cut() else {
                return Vec::new();
            };
            return self
                .records
                .iter()
                .filter(|r| is_fixed(r) && fixed_cut(r) == cut)
                .copied()
                .collect();
        }
        self.records
            .iter()
            .filter(|r| r.variant == variant)
            .copied()
            .collect()
    }

    /// The fixed cut (a forced top cut, full local or encoded full offload) with the least mean
    /// latency over every repetition: the best fixed cut in hindsight.
    pub fn best_fixed_cut(&self) -> Option<String> {
        let cuts: BTreeSet<&str> = self
            .records
            .iter()
            .filter(|r| is_fixed(r))
            .map(|r| fixed_cut(r))
            .collect();
        cuts.into_iter()
            .map(|c| {
                let v: Vec<f64> = self
                    .records
                    .iter()
                    .filter(|r| is_fixed(r) && fixed_cut(r) == c)
                    .map(|r| r.measured.total)
                    .collect();
                (c, mean(&v))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c.to_string())
    }

    /// Mean latency of `variant` per repetition, in repetition order (repetitions without it
    /// are left out).
    pub fn rep_means(&self, variant: &str) -> Vec<(usize, f64)> {
        let rs = self.of(variant);
        self.reps()
            .into_iter()
            .filter_map(|rep| {
                let v: Vec<f64> = rs
                    .iter()
                    .filter(|r| r.cell.rep == rep)
                    .map(|r| r.measured.total)
                    .collect();
                (!v.is_empty()).then(|| (rep, mean(&v)))
            })
            .collect()
    }

    /// `f(a, b)` per repetition that has both, with its mean and interval.
    fn paired(&self, a: &str, b: &str, f: impl Fn(f64, f64) -> f64) -> (f64, f64) {
        let bm = self.rep_means(b);
        let v: Vec<f64> = self
            .rep_means(a)
            .into_iter()
            .filter_map(|(rep, x)| bm.iter().find(|(r, _)| *r == rep).map(|&(_, y)| f(x, y)))
            .collect();
        (mean(&v), ci95(&v))
    }
}

/// A forced cut, or a policy that is one fixed cut (local, encoded full offload).
pub fn is_fixed(r: &Record) -> bool {
    forced(r) || r.variant == "local" || r.variant == "server"
}

/// A cut forced by the harness: one of the planner's top cuts, or a declared fixed cut.
fn forced(r: &Record) -> bool {
    r.variant.starts_with("top") || r.variant.starts_with("fixed")
}

/// The cut a fixed variant asked for (a request that fell back reports the cut it ran, full
/// local): `fixed:CUT` for a forced cut, else the policy (`local`, `server`).
pub fn fixed_cut(r: &Record) -> &str {
    if forced(r) { &r.policy } else { &r.variant }
}

/// The cells of `records`, sorted by slowdown, bandwidth and load.
pub fn cells<'a>(records: &[&'a Record]) -> Vec<CellData<'a>> {
    let mut ats: Vec<CellAt> = Vec::new();
    for r in records {
        let at = CellAt::of(r);
        if !ats.contains(&at) {
            ats.push(at);
        }
    }
    ats.sort_by(|a, b| {
        (a.slowdown, a.mbit, a.load, a.shape)
            .partial_cmp(&(b.slowdown, b.mbit, b.load, b.shape))
            .expect("finite cells")
    });
    ats.into_iter()
        .map(|at| CellData {
            at,
            records: records
                .iter()
                .filter(|r| CellAt::of(r) == at)
                .copied()
                .collect(),
        })
        .collect()
}

/// Mean |measured - predicted| / measured, %.
pub fn prediction_error(rs: &[&Record]) -> f64 {
    let v: Vec<f64> = rs
        .iter()
        .filter(|r| r.measured.total > 0.0)
        .map(|r| 100.0 * (r.measured.total - r.predicted.total).abs() / r.measured.total)
        .collect();
    mean(&v)
}

/// What the comparison table holds for one cell, % (mean, CI half-width).
pub struct Versus {
    pub vs_neurosurgeon: (f64, f64),
    pub vs_original: (f64, f64),
    pub gap_best: (f64, f64),
    pub gap_oracle: (f64, f64),
}

pub fn versus(c: &CellData<'_>) -> Versus {
    let reduction = |a: f64, b: f64| 100.0 * (1.0 - a / b);
    let gap = |a: f64, b: f64| 100.0 * (a / b - 1.0);
    Versus {
        vs_neurosurgeon: c.paired("loadpart", "neurosurgeon", reduction),
        vs_original: c.paired("loadpart", "loadpart-original", reduction),
        gap_best: c.paired("loadpart", "best-fixed", gap),
        gap_oracle: c.paired("loadpart", "oracle", gap),
    }
}
