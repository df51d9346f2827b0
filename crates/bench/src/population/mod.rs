//! `loadpart bench population`: many devices sharing one server, each its own client with its
//! own estimators and link, all running one policy (or half `loadpart`, half `neurosurgeon`),
//! to see whether load-aware devices together do better than load-unaware ones or herd.
//!
//! Devices cost their core nothing but encoding and sending: each device run is computed once
//! for the whole experiment and replayed (`loadpart_client::RunMemo`), and lasts its profiled
//! time times the device's slowdown (slept), so that 32 devices fit on one core while the
//! server has the other. Frames arrive on seeded Poisson traces, the same for every policy and
//! admission setting of a repetition, into a one-slot queue per device. One file: `config`
//! (the grid, committed before the runs), `device` (a device's frames), `run` (one run),
//! `record` (the results file's lines), `report` (tables and the comparison).

pub mod config;
pub mod device;
pub mod record;
pub mod report;
pub mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use loadpart_client::RunMemo;
use loadpart_engine::Engine;
use loadpart_graph::{Prepared, load_model, randomize_for_checks};

use crate::{outln, pinning};
use config::Population;
use record::Line;

/// Many devices sharing one server, each with its own client, estimators and link (linkem with
/// a propagation delay), all with one policy per run (`loadpart`, `neurosurgeon`, or `mix`:
/// half each), at several population sizes, with the server's admission control on and off.
/// Frames arrive open-loop (seeded Poisson, the same traces for every policy) into a one-slot
/// queue per device. Devices are emulated several times slower than the server, as phones are
/// (their runs replayed and slept, so that they cost their core nothing). Prints per size,
/// admission setting and policy the latency (mean, p95, p99), goodput (frames within 1.5x the
/// device's best on an idle server), churn and the server's utilization, and `loadpart`
/// against `neurosurgeon` with 95% bootstrap intervals. Results go to a JSON-lines file that a
/// stopped run resumes.
#[derive(Debug, clap::Args)]
pub struct PopulationArgs {
    /// The experiment, a TOML file (see configs/population-smoke.toml); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Results file (JSON lines), appended to and resumed from.
    #[arg(long, default_value = "target/bench/population.jsonl")]
    out: PathBuf,
    /// Run at most this many runs now (the file resumes the rest).
    #[arg(long)]
    max_runs: Option<usize>,
    /// Only print the report of the results file.
    #[arg(long)]
    report_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PopulationArgs) -> Result<ExitCode> {
    let population = match &args.config {
        Some(path) => Population::from_file(path)?,
        None => Population::default(),
    };
    population.check()?;
    if !args.report_only {
        // The devices on core 1 (this thread and every thread it makes), the server on core 0.
        let pinned = pinning::cores() >= 2 && pinning::pin_current(1);
        if !pinned {
            eprintln!("note: server and devices are not pinned to separate cores");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(experiment(&args, population, pinned))?;
    }
    let lines: Vec<Line> = if args.out.exists() {
        crate::jsonl::read(&args.out)?
    } else {
        Vec::new()
    };
    let summary = report::summarize(&lines);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", report::markdown(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

async fn experiment(args: &PopulationArgs, population: Population, pinned: bool) -> Result<()> {
    let done: std::collections::HashSet<String> = if args.out.exists() {
        crate::jsonl::read::<Line>(&args.out)?
            .into_iter()
            .filter_map(|l| match l {
                Line::Done { key, .. } => Some(key),
                _ => None,
            })
            .collect()
    } else {
        Default::default()
    };
    let todo: Vec<config::Run> = population
        .runs()
        .into_iter()
        .filter(|r| !done.contains(&r.key()))
        .take(args.max_runs.unwrap_or(usize::MAX))
        .collect();
    eprintln!(
        "{} runs of {} to go ({} done in {})",
        todo.len(),
        population.runs().len(),
        done.len(),
        args.out.display()
    );
    if todo.is_empty() {
        return Ok(());
    }
    let model = load_model(&population.model)?;
    let model = match population.randomize_seed {
        Some(seed) => randomize_for_checks(&model, seed)?,
        None => model,
    };
    let prepared = Arc::new(Prepared::new(&model)?);
    let engine: Arc<dyn Engine> = Arc::from(loadpart_engine::engine_or_tract(
        population.engine.parse()?,
    )?);
    let device_profile = crate::profiles::device_profile(engine.clone(), prepared.clone()).await?;
    crate::jsonl::append(
        &args.out,
        &[Line::Session {
            started_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            population: Box::new(population.clone()),
        }],
    )?;
    let shared = run::Shared {
        population,
        engine,
        prepared,
        device_profile,
        memo: Arc::new(RunMemo::default()),
        pinned,
    };
    for (i, r) in todo.iter().enumerate() {
        let started = Instant::now();
        let lines = run::run(&shared, r).await?;
        crate::jsonl::append(&args.out, &lines)?;
        let s = report::summarize(&lines);
        for row in &s.rows {
            outln!(
                "[{}/{}] {} ({:.0} s): mean {:.1} ms, p95 {:.1} ms, goodput {:.1}%, churn {:.1}%, offloaded {:.1}%, fallback {:.1}%, utilization {:.2}",
                i + 1,
                todo.len(),
                r.key(),
                started.elapsed().as_secs_f64(),
                row.mean_ms,
                row.p95_ms,
                row.goodput_pct,
                row.churn_pct,
                row.offloaded_pct,
                row.fallback_pct,
                row.utilization
            );
        }
    }
    Ok(())
}
