//! What a population experiment shows: per population size and admission setting, each
//! policy's latency (mean, p95, p99 over every frame that ran), goodput (frames within their
//! SLO, dropped ones counted as missed), churn (a device's cut changing between its frames),
//! offloads, fallbacks, bytes and the server's utilization; and `loadpart` against
//! `neurosurgeon`, paired by repetition (the same arrival traces), with 95% bootstrap intervals
//! clustered by repetition.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::record::{Frame, Line};
use crate::sweep::stats::{mean, quantile, reduction_ci};

/// One policy at one population size and admission setting, over its repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRow {
    pub devices: usize,
    pub admission: bool,
    pub policy: String,
    pub repetitions: usize,
    pub frames: usize,
    pub mean_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Frames within their SLO over frames that arrived, %.
    pub goodput_pct: f64,
    /// Frames dropped from a device's one-slot queue, %.
    pub dropped_pct: f64,
    /// Consecutive frames of a device at different cuts, %.
    pub churn_pct: f64,
    pub offloaded_pct: f64,
    /// Offloads that finished on the device (refused, late or failed), % of frames.
    pub fallback_pct: f64,
    /// Bytes sent per frame that ran, KB.
    pub sent_kb: f64,
    /// The server's busy fraction over the measured seconds (mean over repetitions).
    pub utilization: f64,
}

/// `loadpart` against `neurosurgeon` at one population size and admission setting:
/// reductions in %, positive when `loadpart` is better, with 95% intervals as `[low, high]`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub n: usize,
    pub admission: bool,
    pub utilization_neurosurgeon: f64,
    pub mean_pct: f64,
    pub mean_ci: [f64; 2],
    pub p95_pct: f64,
    pub p95_ci: [f64; 2],
    /// Goodput of `loadpart` minus that of `neurosurgeon`, percentage points.
    pub goodput_pct: f64,
    /// `loadpart`'s churn, %.
    pub churn_pct: f64,
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub rows: Vec<PolicyRow>,
    pub comparisons: Vec<Comparison>,
}

type Group = (usize, bool, String);

/// Frames by group, then by repetition.
type Grouped<'a> = BTreeMap<Group, BTreeMap<usize, Vec<&'a Frame>>>;

/// The frames of completed runs, grouped by (devices, admission, policy) and repetition.
fn groups(lines: &[Line]) -> (Grouped<'_>, BTreeMap<String, f64>) {
    let done: HashSet<&str> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Done { key, .. } => Some(key.as_str()),
            _ => None,
        })
        .collect();
    let utilization: BTreeMap<String, f64> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Done {
                key, utilization, ..
            } => Some((key.clone(), *utilization)),
            _ => None,
        })
        .collect();
    let mut g: Grouped = BTreeMap::new();
    for l in lines {
        if let Line::Frame(f) = l
            && done.contains(f.run.key().as_str())
        {
            g.entry((f.run.devices, f.run.admission, f.run.policy.clone()))
                .or_default()
                .entry(f.run.rep)
                .or_default()
                .push(f);
        }
    }
    (g, utilization)
}

fn latencies(frames: &[&Frame]) -> Vec<f64> {
    frames.iter().filter_map(|f| f.latency_ms).collect()
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        f64::NAN
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// Share of consecutive frames of a device in a run (that ran) at different cuts, %.
fn churn(frames: &[&Frame]) -> f64 {
    let mut by_device: BTreeMap<(usize, usize), Vec<&Frame>> = BTreeMap::new();
    for f in frames.iter().filter(|f| f.latency_ms.is_some()) {
        by_device.entry((f.run.rep, f.device)).or_default().push(f);
    }
    let (mut changes, mut pairs) = (0, 0);
    for v in by_device.values_mut() {
        v.sort_by(|a, b| a.t.total_cmp(&b.t));
        pairs += v.len().saturating_sub(1);
        changes += v.windows(2).filter(|w| w[0].cut != w[1].cut).count();
    }
    pct(changes, pairs)
}

/// The report of the completed runs in `lines`.
pub fn summarize(lines: &[Line]) -> Summary {
    let (groups, utilization) = groups(lines);
    let mut rows = Vec::new();
    for ((devices, admission, policy), reps) in &groups {
        let all: Vec<&Frame> = reps.values().flatten().copied().collect();
        let ran: Vec<&Frame> = all
            .iter()
            .filter(|f| f.latency_ms.is_some())
            .copied()
            .collect();
        let lat = latencies(&all);
        let utils: Vec<f64> = reps
            .keys()
            .filter_map(|rep| {
                let key = super::config::Run {
                    devices: *devices,
                    policy: policy.clone(),
                    admission: *admission,
                    rep: *rep,
                }
                .key();
                utilization.get(&key).copied()
            })
            .collect();
        rows.push(PolicyRow {
            devices: *devices,
            admission: *admission,
            policy: policy.clone(),
            repetitions: reps.len(),
            frames: all.len(),
            mean_ms: mean(&lat),
            p95_ms: quantile(&lat, 0.95),
            p99_ms: quantile(&lat, 0.99),
            goodput_pct: pct(all.iter().filter(|f| f.met_slo()).count(), all.len()),
            dropped_pct: pct(all.len() - ran.len(), all.len()),
            churn_pct: churn(&all),
            offloaded_pct: pct(
                ran.iter().filter(|f| f.route == "offloaded").count(),
                ran.len(),
            ),
            fallback_pct: pct(
                ran.iter().filter(|f| f.route == "fallback").count(),
                ran.len(),
            ),
            sent_kb: mean(
                &ran.iter()
                    .map(|f| f.sent_bytes as f64 / 1e3)
                    .collect::<Vec<_>>(),
            ),
            utilization: mean(&utils),
        });
    }
    let mut comparisons = Vec::new();
    let row = |n: usize, adm: bool, p: &str| {
        rows.iter()
            .find(|r| r.devices == n && r.admission == adm && r.policy == p)
    };
    for ((n, adm, policy), reps) in &groups {
        if policy != "loadpart" {
            continue;
        }
        let Some(base) = groups.get(&(*n, *adm, "neurosurgeon".to_string())) else {
            continue;
        };
        let pairs: Vec<(Vec<f64>, Vec<f64>)> = reps
            .iter()
            .filter_map(|(rep, a)| Some((latencies(a), latencies(base.get(rep)?))))
            .collect();
        let seed = (*n as u64) << 1 | u64::from(*adm);
        let (m, m_lo, m_hi) = reduction_ci(&pairs, mean, 2000, seed);
        let (q, q_lo, q_hi) = reduction_ci(&pairs, |v| quantile(v, 0.95), 2000, seed);
        let (Some(lp), Some(ns)) = (row(*n, *adm, "loadpart"), row(*n, *adm, "neurosurgeon"))
        else {
            continue;
        };
        comparisons.push(Comparison {
            n: *n,
            admission: *adm,
            utilization_neurosurgeon: ns.utilization,
            mean_pct: m,
            mean_ci: [m_lo, m_hi],
            p95_pct: q,
            p95_ci: [q_lo, q_hi],
            goodput_pct: lp.goodput_pct - ns.goodput_pct,
            churn_pct: lp.churn_pct,
        });
    }
    Summary { rows, comparisons }
}

/// The summary as Markdown tables.
pub fn markdown(s: &Summary) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| N | admission | policy | reps | frames | mean ms | p95 ms | p99 ms | goodput % | dropped % | churn % | offloaded % | fallback % | KB sent | utilization |"
    );
    let _ = writeln!(
        md,
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in &s.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
            r.devices,
            if r.admission { "on" } else { "off" },
            r.policy,
            r.repetitions,
            r.frames,
            r.mean_ms,
            r.p95_ms,
            r.p99_ms,
            r.goodput_pct,
            r.dropped_pct,
            r.churn_pct,
            r.offloaded_pct,
            r.fallback_pct,
            r.sent_kb,
            r.utilization
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| N | admission | utilization (neurosurgeon) | mean reduction % [95% CI] | p95 reduction % [95% CI] | goodput +pp | loadpart churn % |"
    );
    let _ = writeln!(md, "|---:|---|---:|---|---|---:|---:|");
    for c in &s.comparisons {
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} | {:.1} [{:.1}, {:.1}] | {:.1} [{:.1}, {:.1}] | {:+.1} | {:.1} |",
            c.n,
            if c.admission { "on" } else { "off" },
            c.utilization_neurosurgeon,
            c.mean_pct,
            c.mean_ci[0],
            c.mean_ci[1],
            c.p95_pct,
            c.p95_ci[0],
            c.p95_ci[1],
            c.goodput_pct,
            c.churn_pct
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::super::config::Run;
    use super::*;

    fn frame(run: &Run, device: usize, t: f64, ms: Option<f64>, cut: &str) -> Line {
        Line::Frame(Box::new(Frame {
            run: run.clone(),
            device,
            policy: run.policy.clone(),
            t,
            latency_ms: ms,
            slo_ms: 100.0,
            cut: cut.into(),
            route: if ms.is_some() { "offloaded" } else { "dropped" }.into(),
            refused: false,
            predicted_ms: 50.0,
            sent_bytes: 1000,
        }))
    }

    fn done(run: &Run, utilization: f64) -> Line {
        Line::Done {
            run: run.clone(),
            key: run.key(),
            utilization,
            seconds: 10.0,
        }
    }

    #[test]
    fn rows_and_paired_comparisons_of_completed_runs() {
        let run = |policy: &str, rep| Run {
            devices: 2,
            policy: policy.into(),
            admission: false,
            rep,
        };
        let mut lines = Vec::new();
        for rep in 0..3 {
            let (lp, ns) = (run("loadpart", rep), run("neurosurgeon", rep));
            // loadpart: 60 ms, one cut change in two pairs, all within the SLO; neurosurgeon:
            // 120 ms and a drop, nothing within the SLO.
            lines.extend([
                frame(&lp, 0, 0.0, Some(60.0), "a"),
                frame(&lp, 0, 1.0, Some(60.0), "b"),
                frame(&lp, 0, 2.0, Some(60.0), "b"),
                frame(&lp, 1, 0.5, Some(60.0), "a"),
                done(&lp, 0.5),
                frame(&ns, 0, 0.0, Some(120.0), "a"),
                frame(&ns, 0, 1.0, None, ""),
                frame(&ns, 1, 0.5, Some(120.0), "a"),
                done(&ns, 0.9),
            ]);
        }
        // A run without its done line does not count.
        lines.push(frame(&run("loadpart", 9), 0, 0.0, Some(1.0), "a"));
        let s = summarize(&lines);
        assert_eq!(s.rows.len(), 2);
        let lp = &s.rows.iter().find(|r| r.policy == "loadpart").unwrap();
        assert_eq!((lp.repetitions, lp.frames), (3, 12));
        assert_eq!((lp.mean_ms, lp.goodput_pct), (60.0, 100.0));
        assert!((lp.churn_pct - 50.0).abs() < 1e-9, "{}", lp.churn_pct);
        let ns = &s.rows.iter().find(|r| r.policy == "neurosurgeon").unwrap();
        assert!((ns.dropped_pct - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(ns.goodput_pct, 0.0);
        let c = &s.comparisons[0];
        assert!((c.mean_pct - 50.0).abs() < 1e-9, "{c:?}");
        assert!((c.utilization_neurosurgeon - 0.9).abs() < 1e-9);
        assert_eq!(c.goodput_pct, 100.0);
        assert!(markdown(&s).contains("| 2 | off | loadpart | 3 | 12 | 60.0"));
    }
}
