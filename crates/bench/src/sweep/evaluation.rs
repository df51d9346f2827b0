//! The evaluation's statistics over a sweep's records: paired per round (the same round of a
//! cell repetition, under the same server state), pooled over cells, with 95% bootstrap
//! intervals clustered by repetition; the best fixed cut chosen on held-out repetitions; and an
//! equivalence test against it.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;

use super::analysis::{fixed_cut, is_fixed};
use super::record::Record;
use super::stats::{ci95, mean, quantile};

/// Bootstrap draws for every interval.
pub const DRAWS: usize = 2000;

/// A reduction in % (positive: the first variant is faster) with its 95% interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reduction {
    pub pct: f64,
    pub ci: [f64; 2],
}

impl Reduction {
    const NONE: Reduction = Reduction {
        pct: f64::NAN,
        ci: [f64::NAN, f64::NAN],
    };
}

/// A cell without its repetition: the key records are grouped by.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub struct CellKey {
    pub model: String,
    pub slowdown: f64,
    pub mbit: f64,
    pub load: f64,
    pub shape: String,
}

impl CellKey {
    fn of(r: &Record) -> Self {
        Self {
            model: r.cell.model.clone(),
            slowdown: r.cell.device_slowdown,
            mbit: r.cell.mbit,
            load: r.cell.load,
            shape: r.cell.shape.clone(),
        }
    }

    /// A short label: `resnet50 x4 20M u0.6` (and the shape when it varies).
    pub fn label(&self) -> String {
        let m = self.model.rsplit(['/', ':']).next().unwrap_or(&self.model);
        let shape = if self.shape == "constant" {
            String::new()
        } else {
            format!(" {}", self.shape)
        };
        format!(
            "{m} x{} {}M L{}{shape}",
            self.slowdown, self.mbit, self.load
        )
    }

    /// Whether the cell carries load (its level, or its peak when it varies, above 0).
    pub fn loaded(&self) -> bool {
        self.load > 0.0
    }

    pub fn varies(&self) -> bool {
        self.shape != "constant"
    }
}

/// One cell's records by repetition.
pub struct Cell<'a> {
    pub key: CellKey,
    pub reps: BTreeMap<usize, Vec<&'a Record>>,
}

impl<'a> Cell<'a> {
    /// The latencies (ms) of `variant` in repetition `rep`, by round.
    fn rounds(&self, rep: usize, variant: &str) -> BTreeMap<usize, f64> {
        self.reps.get(&rep).map_or_else(BTreeMap::new, |rs| {
            rs.iter()
                .filter(|r| r.variant == variant)
                .map(|r| (r.round, r.measured.total))
                .collect()
        })
    }

    fn latencies(&self, rep: usize, variant: &str) -> Vec<f64> {
        self.rounds(rep, variant).into_values().collect()
    }

    /// Per-round log ratios `ln(a / b)` of repetition `rep`.
    fn log_ratios(&self, rep: usize, a: &str, b: &str) -> Vec<f64> {
        let (ra, rb) = (self.rounds(rep, a), self.rounds(rep, b));
        ra.iter()
            .filter_map(|(round, &x)| {
                let y = *rb.get(round)?;
                (x > 0.0 && y > 0.0).then(|| (x / y).ln())
            })
            .collect()
    }

    /// The fixed variants (forced cuts, local, full offload) by the cut they force.
    fn fixed_variants(&self) -> BTreeMap<String, String> {
        self.reps
            .values()
            .flatten()
            .filter(|r| is_fixed(r))
            .map(|r| (fixed_cut(r).to_string(), r.variant.clone()))
            .collect()
    }

    /// The fixed variant with the least mean latency over the repetitions other than
    /// `held_out`: the best fixed cut chosen without looking at the repetition it is scored on.
    pub fn best_fixed_without(&self, held_out: usize) -> Option<String> {
        self.fixed_variants()
            .into_values()
            .map(|v| {
                let lat: Vec<f64> = self
                    .reps
                    .keys()
                    .filter(|&&rep| rep != held_out)
                    .flat_map(|&rep| self.latencies(rep, &v))
                    .collect();
                (v, mean(&lat))
            })
            .filter(|(_, m)| m.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(v, _)| v)
    }

    /// `variant`'s gap to the best fixed cut chosen on the other repetitions, per repetition:
    /// `mean(variant) / mean(best) - 1`, %.
    pub fn loo_gaps(&self, variant: &str) -> Vec<f64> {
        self.reps
            .keys()
            .filter_map(|&rep| {
                let best = self.best_fixed_without(rep)?;
                let (a, b) = (
                    mean(&self.latencies(rep, variant)),
                    mean(&self.latencies(rep, &best)),
                );
                (a.is_finite() && b > 0.0).then(|| 100.0 * (a / b - 1.0))
            })
            .collect()
    }

    /// The mean reduction of `a` against `b` in this cell, paired by repetition: `100 × (1 -
    /// mean(a) / mean(b))` per repetition, averaged.
    pub fn reduction(&self, a: &str, b: &str) -> (f64, f64) {
        let v: Vec<f64> = self
            .reps
            .keys()
            .filter_map(|&rep| {
                let (x, y) = (mean(&self.latencies(rep, a)), mean(&self.latencies(rep, b)));
                (x.is_finite() && y > 0.0).then(|| 100.0 * (1.0 - x / y))
            })
            .collect();
        (mean(&v), ci95(&v))
    }
}

/// The records grouped into cells, in sweep order.
pub fn cells<'a>(records: &[&'a Record]) -> Vec<Cell<'a>> {
    let mut out: Vec<Cell<'a>> = Vec::new();
    for r in records {
        let key = CellKey::of(r);
        match out.iter_mut().find(|c| c.key == key) {
            Some(c) => c.reps.entry(r.cell.rep).or_default().push(r),
            None => out.push(Cell {
                key,
                reps: BTreeMap::from([(r.cell.rep, vec![*r])]),
            }),
        }
    }
    out.sort_by(|a, b| {
        a.key
            .partial_cmp(&b.key)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Every repetition index present in `cells`.
fn reps_of(cells: &[&Cell<'_>]) -> Vec<usize> {
    let s: BTreeSet<usize> = cells.iter().flat_map(|c| c.reps.keys().copied()).collect();
    s.into_iter().collect()
}

/// `stat` of a draw of repetitions, and its 95% bootstrap interval over `DRAWS` resamplings of
/// the repetitions (with replacement; each repetition spans every cell).
fn bootstrap(reps: &[usize], seed: u64, stat: impl Fn(&[usize]) -> f64) -> Reduction {
    let point = stat(reps);
    if reps.is_empty() || !point.is_finite() {
        return Reduction::NONE;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draws: Vec<f64> = (0..DRAWS)
        .map(|_| {
            let pick: Vec<usize> = (0..reps.len())
                .map(|_| reps[rng.random_range(0..reps.len())])
                .collect();
            stat(&pick)
        })
        .filter(|x| x.is_finite())
        .collect();
    draws.sort_by(f64::total_cmp);
    if draws.is_empty() {
        return Reduction {
            pct: point,
            ci: [f64::NAN, f64::NAN],
        };
    }
    let at = |q: f64| draws[((q * (draws.len() - 1) as f64).round()) as usize];
    Reduction {
        pct: point,
        ci: [at(0.025), at(0.975)],
    }
}

/// The pooled mean reduction of `a` against `b` over `cells`: `100 × (1 - exp(mean ln(a/b)))`
/// over every paired round (a geometric mean, so that slow and fast cells weigh alike).
pub fn mean_reduction(cells: &[&Cell<'_>], a: &str, b: &str, seed: u64) -> Reduction {
    let stat = |reps: &[usize]| {
        let logs: Vec<f64> = reps
            .iter()
            .flat_map(|&rep| cells.iter().flat_map(move |c| c.log_ratios(rep, a, b)))
            .collect();
        100.0 * (1.0 - mean(&logs).exp())
    };
    bootstrap(&reps_of(cells), seed, stat)
}

/// The pooled p95 reduction of `a` against `b`: per cell the ratio of the two p95 latencies
/// over the drawn repetitions, their geometric mean over cells.
pub fn p95_reduction(cells: &[&Cell<'_>], a: &str, b: &str, seed: u64) -> Reduction {
    let stat = |reps: &[usize]| {
        let logs: Vec<f64> = cells
            .iter()
            .filter_map(|c| {
                let xa: Vec<f64> = reps.iter().flat_map(|&r| c.latencies(r, a)).collect();
                let xb: Vec<f64> = reps.iter().flat_map(|&r| c.latencies(r, b)).collect();
                let (pa, pb) = (quantile(&xa, 0.95), quantile(&xb, 0.95));
                (pa > 0.0 && pb > 0.0).then(|| (pa / pb).ln())
            })
            .collect();
        100.0 * (1.0 - mean(&logs).exp())
    };
    bootstrap(&reps_of(cells), seed, stat)
}

/// The cell where `a` gains most on `b` (mean reduction, paired by repetition).
pub fn best_cell(cells: &[&Cell<'_>], a: &str, b: &str) -> Option<(String, f64)> {
    cells
        .iter()
        .map(|c| (c.key.label(), c.reduction(a, b).0))
        .filter(|(_, r)| r.is_finite())
        .max_by(|x, y| x.1.total_cmp(&y.1))
}

/// Share of `variant`'s requests that finished on the device after the server refused, was
/// late or failed, %.
pub fn fallback_pct(cells: &[&Cell<'_>], variant: &str) -> f64 {
    let rs: Vec<&Record> = cells
        .iter()
        .flat_map(|c| c.reps.values().flatten().copied())
        .filter(|r| r.variant == variant)
        .collect();
    if rs.is_empty() {
        return f64::NAN;
    }
    100.0 * rs.iter().filter(|r| r.route == "fallback").count() as f64 / rs.len() as f64
}

/// Whether `variant` is equivalent to the best fixed cut (chosen on held-out repetitions) in
/// `cell` within `margin_pct`: the upper end of the 95% interval of its gap is at most the
/// margin (one-sided non-inferiority; faster is fine). `None` with fewer than two repetitions.
pub fn equivalent(cell: &Cell<'_>, variant: &str, margin_pct: f64) -> Option<bool> {
    let gaps = cell.loo_gaps(variant);
    (gaps.len() >= 2).then(|| mean(&gaps) + ci95(&gaps) <= margin_pct)
}

/// The pooled reduction of `a` against the best fixed cut chosen on held-out repetitions, over
/// `cells`: per repetition and cell, `ln(mean(a) / mean(best))`, geometric mean over both.
pub fn loo_best_fixed_reduction(cells: &[&Cell<'_>], a: &str, seed: u64) -> Reduction {
    let stat = |reps: &[usize]| {
        let logs: Vec<f64> = reps
            .iter()
            .flat_map(|&rep| {
                cells.iter().filter_map(move |c| {
                    let best = c.best_fixed_without(rep)?;
                    let (x, y) = (mean(&c.latencies(rep, a)), mean(&c.latencies(rep, &best)));
                    (x > 0.0 && y > 0.0).then(|| (x / y).ln())
                })
            })
            .collect();
        100.0 * (1.0 - mean(&logs).exp())
    };
    bootstrap(&reps_of(cells), seed, stat)
}

#[cfg(test)]
mod tests {
    use super::super::config::Cell as SweepCell;
    use super::super::record::{LoadNow, Parts};
    use super::*;

    fn record(rep: usize, load: f64, round: usize, variant: &str, ms: f64) -> Record {
        Record {
            cell: SweepCell {
                model: "m".into(),
                device_slowdown: 4.0,
                mbit: 20.0,
                load,
                shape: "constant".into(),
                rep,
            },
            round,
            t: round as f64,
            variant: variant.into(),
            policy: if variant.starts_with("top") {
                format!("fixed:{variant}")
            } else {
                variant.into()
            },
            cut: String::new(),
            head_fraction: 0.5,
            route: if ms > 150.0 { "fallback" } else { "offloaded" }.into(),
            why: String::new(),
            refused: false,
            predicted: Parts::default(),
            measured: Parts {
                total: ms,
                ..Parts::default()
            },
            estimate_mbit: 20.0,
            estimate_queue_ms: 0.0,
            load: LoadNow::default(),
            top1_match: true,
            sent_bytes: 0,
        }
    }

    #[test]
    fn pooled_paired_reductions_and_the_held_out_best_fixed_cut() {
        let mut rs = Vec::new();
        for rep in 0..4 {
            for round in 0..10 {
                // loadpart 80 ms, neurosurgeon 100 ms in the loaded cell; equal when idle.
                rs.push(record(rep, 0.9, round, "loadpart", 80.0));
                rs.push(record(rep, 0.9, round, "neurosurgeon", 100.0));
                rs.push(record(rep, 0.9, round, "local", 90.0));
                // top1 is the best fixed cut; slower in the last repetition.
                let top = if rep == 3 { 80.0 } else { 78.0 };
                rs.push(record(rep, 0.9, round, "top1", top));
                rs.push(record(rep, 0.0, round, "loadpart", 50.0));
                rs.push(record(rep, 0.0, round, "neurosurgeon", 50.0));
            }
        }
        let refs: Vec<&Record> = rs.iter().collect();
        let cs = cells(&refs);
        assert_eq!(cs.len(), 2);
        let loaded: Vec<&Cell> = cs.iter().filter(|c| c.key.loaded()).collect();
        let idle: Vec<&Cell> = cs.iter().filter(|c| !c.key.loaded()).collect();
        let r = mean_reduction(&loaded, "loadpart", "neurosurgeon", 1);
        assert!((r.pct - 20.0).abs() < 1e-9, "{r:?}");
        assert!((r.ci[0] - 20.0).abs() < 1e-9 && (r.ci[1] - 20.0).abs() < 1e-9);
        let q = p95_reduction(&loaded, "loadpart", "neurosurgeon", 1);
        assert!((q.pct - 20.0).abs() < 1e-9, "{q:?}");
        let placebo = mean_reduction(&idle, "loadpart", "neurosurgeon", 1);
        assert!(placebo.pct.abs() < 1e-9);
        let (label, best) = best_cell(&loaded, "loadpart", "neurosurgeon").unwrap();
        assert!(
            (best - 20.0).abs() < 1e-9 && label.contains("L0.9"),
            "{label}"
        );
        // Held out repetition 3 picks top1 (78 ms on the others), which scored 80 there.
        let c = loaded[0];
        assert_eq!(c.best_fixed_without(3).as_deref(), Some("top1"));
        let gaps = c.loo_gaps("loadpart");
        assert_eq!(gaps.len(), 4);
        assert!(gaps[3].abs() < 1e-9);
        assert!((gaps[0] - 100.0 * (80.0 / 78.0 - 1.0)).abs() < 1e-9);
        assert_eq!(equivalent(c, "loadpart", 5.0), Some(true));
        assert_eq!(equivalent(c, "neurosurgeon", 5.0), Some(false));
        assert_eq!(fallback_pct(&loaded, "loadpart"), 0.0);
        let lbf = loo_best_fixed_reduction(&loaded, "loadpart", 1);
        assert!(lbf.pct.is_finite());
    }
}
