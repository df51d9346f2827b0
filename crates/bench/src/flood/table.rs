//! What a flood run shows: per phase, the well-behaved devices' latency and the flooder's
//! admitted and refused requests; over the run, the well-behaved p95 in flood phases over quiet
//! phases (the judged ratio).

use serde::Serialize;

use super::traffic::{Outcome, Phases, Sample};
use crate::loadgen::quantile;

/// One phase's figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseRow {
    pub phase: usize,
    pub flood: bool,
    /// Well-behaved devices: requests answered, their p50 and p95 latency (ms).
    pub good_ok: usize,
    pub good_p50_ms: f64,
    pub good_p95_ms: f64,
    /// Well-behaved requests refused (RESOURCE_EXHAUSTED) or failed otherwise (deadline, error,
    /// shed).
    pub good_refused: usize,
    pub good_failed: usize,
    /// The flooder: requests sent, answered, refused, failed otherwise.
    pub flood_sent: usize,
    pub flood_ok: usize,
    pub flood_refused: usize,
    pub flood_failed: usize,
    /// How fast refusals came back, p50 (ms).
    pub refusal_p50_ms: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub phases: Vec<PhaseRow>,
    /// Well-behaved p95 over every quiet phase, and over every flood phase (ms).
    pub quiet_p95_ms: f64,
    pub flood_p95_ms: f64,
    /// flood_p95 / quiet_p95 (0 when a side has no answer).
    pub p95_ratio: f64,
    pub good_refused: usize,
    pub flood_ok: usize,
    pub flood_refused: usize,
    /// The least rate limit (requests/s) the server reported to a well-behaved device in a
    /// reply: the share its rate is to be compared with (`None`: no limit reported).
    pub good_share_min_per_s: Option<f64>,
}

fn ms(v: &[f64], q: f64) -> f64 {
    quantile(v, q) * 1e-3
}

/// Summarises the well-behaved devices' and the flooder's samples over `phases` phases.
pub fn summarize(good: &[Sample], flood: &[Sample], phases: usize) -> Summary {
    let ok_latencies = |kind: Option<bool>, phase: Option<usize>| -> Vec<f64> {
        good.iter()
            .filter(|s| s.outcome == Outcome::Ok)
            .filter(|s| phase.is_none_or(|p| s.phase == p))
            .filter(|s| kind.is_none_or(|f| Phases::is_flood(s.phase) == f))
            .map(|s| s.latency_us)
            .collect()
    };
    let count = |v: &[Sample], p: usize, o: &[Outcome]| {
        v.iter()
            .filter(|s| s.phase == p && o.contains(&s.outcome))
            .count()
    };
    let failed = [Outcome::Deadline, Outcome::Error, Outcome::Shed];
    let rows: Vec<PhaseRow> = (0..phases)
        .map(|p| {
            let lat = ok_latencies(None, Some(p));
            let refusals: Vec<f64> = flood
                .iter()
                .filter(|s| s.phase == p && s.outcome == Outcome::Refused)
                .map(|s| s.latency_us)
                .collect();
            PhaseRow {
                phase: p + 1,
                flood: Phases::is_flood(p),
                good_ok: lat.len(),
                good_p50_ms: ms(&lat, 0.5),
                good_p95_ms: ms(&lat, 0.95),
                good_refused: count(good, p, &[Outcome::Refused]),
                good_failed: count(good, p, &failed),
                flood_sent: flood.iter().filter(|s| s.phase == p).count(),
                flood_ok: count(flood, p, &[Outcome::Ok]),
                flood_refused: count(flood, p, &[Outcome::Refused]),
                flood_failed: count(flood, p, &failed),
                refusal_p50_ms: ms(&refusals, 0.5),
            }
        })
        .collect();
    let quiet = ok_latencies(Some(false), None);
    let loud = ok_latencies(Some(true), None);
    let (quiet_p95_ms, flood_p95_ms) = (ms(&quiet, 0.95), ms(&loud, 0.95));
    Summary {
        quiet_p95_ms,
        flood_p95_ms,
        p95_ratio: if quiet.is_empty() || loud.is_empty() || quiet_p95_ms <= 0.0 {
            0.0
        } else {
            flood_p95_ms / quiet_p95_ms
        },
        good_refused: rows.iter().map(|r| r.good_refused).sum(),
        good_share_min_per_s: good
            .iter()
            .filter_map(|s| s.share_per_s)
            .min_by(f64::total_cmp),
        flood_ok: rows.iter().map(|r| r.flood_ok).sum(),
        flood_refused: rows.iter().map(|r| r.flood_refused).sum(),
        phases: rows,
    }
}

/// The table, one line per phase, then the pooled figures.
pub fn render(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>5} | {:>7} {:>8} {:>8} {:>7} {:>6} | {:>6} {:>8} {:>7} {:>6} {:>9}",
        "phase",
        "kind",
        "good ok",
        "p50 ms",
        "p95 ms",
        "refused",
        "failed",
        "flood",
        "admitted",
        "refused",
        "failed",
        "refuse ms"
    );
    for r in &s.phases {
        let _ = writeln!(
            out,
            "{:>5} {:>5} | {:>7} {:>8.2} {:>8.2} {:>7} {:>6} | {:>6} {:>8} {:>7} {:>6} {:>9.2}",
            r.phase,
            if r.flood { "flood" } else { "quiet" },
            r.good_ok,
            r.good_p50_ms,
            r.good_p95_ms,
            r.good_refused,
            r.good_failed,
            r.flood_sent,
            r.flood_ok,
            r.flood_refused,
            r.flood_failed,
            r.refusal_p50_ms,
        );
    }
    let _ = writeln!(
        out,
        "well-behaved p95: quiet {:.2} ms, flood {:.2} ms, ratio flood/quiet {:.3}; \
         flooder {} admitted, {} refused; well-behaved refused {}; least share reported to them \
         {}",
        s.quiet_p95_ms,
        s.flood_p95_ms,
        s.p95_ratio,
        s.flood_ok,
        s.flood_refused,
        s.good_refused,
        s.good_share_min_per_s
            .map_or("none".to_string(), |r| format!("{r:.1}/s"))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(phase: usize, ms: f64, outcome: Outcome) -> Sample {
        Sample {
            phase,
            latency_us: ms * 1e3,
            outcome,
            share_per_s: (outcome == Outcome::Ok).then_some(40.0 + ms),
        }
    }

    #[test]
    fn pools_quiet_and_flood_phases_and_counts_the_flooder() {
        let mut good = Vec::new();
        for i in 0..20 {
            good.push(s(0, 10.0 + f64::from(i), Outcome::Ok)); // quiet: 10..29
            good.push(s(1, 20.0 + 2.0 * f64::from(i), Outcome::Ok)); // flood: 20..58
            good.push(s(2, 10.0 + f64::from(i), Outcome::Ok));
        }
        good.push(s(1, 1.0, Outcome::Refused));
        let flood = vec![
            s(1, 5.0, Outcome::Ok),
            s(1, 0.5, Outcome::Refused),
            s(1, 0.7, Outcome::Refused),
            s(1, 0.0, Outcome::Shed),
        ];
        let sum = summarize(&good, &flood, 3);
        assert_eq!(sum.phases.len(), 3);
        assert_eq!(sum.quiet_p95_ms, 28.0);
        assert_eq!(sum.flood_p95_ms, 56.0);
        assert!((sum.p95_ratio - 2.0).abs() < 1e-9);
        let f = &sum.phases[1];
        assert!(f.flood);
        assert_eq!(
            (f.flood_sent, f.flood_ok, f.flood_refused, f.flood_failed),
            (4, 1, 2, 1)
        );
        assert_eq!(f.refusal_p50_ms, 0.5);
        assert_eq!((sum.good_refused, sum.flood_refused), (1, 2));
        assert_eq!(
            sum.good_share_min_per_s,
            Some(50.0),
            "the least a reply reported"
        );
        let table = render(&sum);
        assert_eq!(table.lines().count(), 5);
        assert!(table.contains("ratio flood/quiet 2.000"));
    }
}
