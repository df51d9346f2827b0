//! What one level measured, and the table of a run.

use std::time::Duration;

use serde::Serialize;

use crate::loadgen::quantile;
use crate::outln;

/// Which side a level measured.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelKind {
    /// The engine called in this process, `batch` rows per run.
    InProcess { batch: usize },
    /// `loadpart serve` over gRPC with `concurrency` requests in flight, one row each.
    Served { concurrency: usize },
}

/// Throughput, latency and CPU of one level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub kind: LevelKind,
    pub inferences: usize,
    pub inferences_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU time per inference of the process doing the inference (this one in-process, the
    /// server's when served), ms.
    pub cpu_ms_per_inference: Option<f64>,
    /// CPU time per inference of the driver (this process) when served, ms.
    pub driver_cpu_ms_per_inference: Option<f64>,
    /// Means of what the server reported in its replies, when served.
    pub server: Option<ServerTimes>,
    /// Inferences/s of every round of this level (the level is its best round).
    pub rounds_per_s: Vec<f64>,
}

/// Means over the replies of the timings a loadpart server reports in each reply.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerTimes {
    /// Rows of the batch the request ran in.
    pub batch_rows: f64,
    /// From arrival at the scheduler to the start of its batch, ms.
    pub queue_ms: f64,
    /// Decoding its tensors, ms.
    pub decode_ms: f64,
    /// Its batch's run, ms.
    pub compute_ms: f64,
}

impl Level {
    /// A level from each run's latency (`rows` inferences per run) over `elapsed`.
    pub fn new(
        kind: LevelKind,
        latencies_ms: &[f64],
        rows: usize,
        elapsed: Duration,
        cpu: Option<Duration>,
        driver_cpu: Option<Duration>,
    ) -> Level {
        let inferences = latencies_ms.len() * rows;
        let per = |d: Option<Duration>| {
            d.filter(|_| inferences > 0)
                .map(|d| d.as_secs_f64() * 1e3 / inferences as f64)
        };
        Level {
            kind,
            inferences,
            inferences_per_s: inferences as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: quantile(latencies_ms, 0.5),
            p99_ms: quantile(latencies_ms, 0.99),
            cpu_ms_per_inference: per(cpu),
            driver_cpu_ms_per_inference: per(driver_cpu),
            server: None,
            rounds_per_s: vec![inferences as f64 / elapsed.as_secs_f64().max(1e-9)],
        }
    }

    /// The round with the most inferences/s, listing every round's; `None` without rounds.
    pub fn best_of(rounds: Vec<Level>) -> Option<Level> {
        let all: Vec<f64> = rounds.iter().map(|l| l.inferences_per_s).collect();
        let mut best = rounds
            .into_iter()
            .max_by(|a, b| a.inferences_per_s.total_cmp(&b.inferences_per_s))?;
        best.rounds_per_s = all;
        Some(best)
    }

    fn label(&self) -> String {
        match self.kind {
            LevelKind::InProcess { batch } => format!("in-process, batch {batch}"),
            LevelKind::Served { concurrency } => format!("served, concurrency {concurrency}"),
        }
    }
}

/// A run: the baseline levels, the served levels and how they compare.
#[derive(Debug, Clone, Serialize)]
pub struct ServingReport {
    pub model: String,
    pub serve_args: Vec<String>,
    pub in_process: Vec<Level>,
    pub served: Vec<Level>,
    /// The best in-process throughput over the batch sizes measured.
    pub best_in_process_per_s: Option<f64>,
    /// Served throughput over the best in-process throughput, per served level.
    pub served_ratio: Vec<Option<f64>>,
    /// Served p50 at concurrency 1 minus in-process p50 at batch 1, ms.
    pub p50_gap_ms: Option<f64>,
}

impl ServingReport {
    pub fn new(
        model: String,
        serve_args: Vec<String>,
        in_process: Vec<Level>,
        served: Vec<Level>,
    ) -> Self {
        let best = in_process
            .iter()
            .map(|l| l.inferences_per_s)
            .max_by(f64::total_cmp);
        let served_ratio = served
            .iter()
            .map(|l| best.map(|b| l.inferences_per_s / b))
            .collect();
        let p50_of = |want: fn(&LevelKind) -> bool, levels: &[Level]| {
            levels.iter().find(|l| want(&l.kind)).map(|l| l.p50_ms)
        };
        let p50_gap_ms = p50_of(
            |k| matches!(k, LevelKind::Served { concurrency: 1 }),
            &served,
        )
        .zip(p50_of(
            |k| matches!(k, LevelKind::InProcess { batch: 1 }),
            &in_process,
        ))
        .map(|(s, i)| s - i);
        ServingReport {
            model,
            serve_args,
            in_process,
            served,
            best_in_process_per_s: best,
            served_ratio,
            p50_gap_ms,
        }
    }

    /// The table on standard output.
    pub fn print(&self) {
        let args = if self.serve_args.is_empty() {
            "defaults".to_string()
        } else {
            self.serve_args.join(" ")
        };
        outln!("model {}; loadpart serve with {args}", self.model);
        outln!(
            "{:<26} {:>8} {:>8} {:>8} {:>13} {:>11} {:>11}  {}",
            "",
            "inf/s",
            "p50 ms",
            "p99 ms",
            "x in-process",
            "CPU ms/inf",
            "driver ms",
            "inf/s by round"
        );
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let rows = self
            .in_process
            .iter()
            .map(|l| (l, None))
            .chain(self.served.iter().zip(self.served_ratio.iter().copied()));
        for (l, ratio) in rows {
            outln!(
                "{:<26} {:>8.1} {:>8.2} {:>8.2} {:>13} {:>11} {:>11}  {}",
                l.label(),
                l.inferences_per_s,
                l.p50_ms,
                l.p99_ms,
                ratio.map_or("-".to_string(), |r| format!("{r:.2}")),
                ms(l.cpu_ms_per_inference),
                ms(l.driver_cpu_ms_per_inference),
                l.rounds_per_s
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        for l in &self.served {
            if let Some(s) = &l.server {
                outln!(
                    "  {}: server says mean batch {:.1} rows, queue {:.2} ms, decode {:.2} ms, \
                     run {:.2} ms",
                    l.label(),
                    s.batch_rows,
                    s.queue_ms,
                    s.decode_ms,
                    s.compute_ms
                );
            }
        }
        if let Some(g) = self.p50_gap_ms {
            outln!("p50 served at concurrency 1 minus in-process at batch 1: {g:+.2} ms");
        }
    }
}
