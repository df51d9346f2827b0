//! `loadpart bench run` (the evaluation's sweeps) and `loadpart bench report` (their tables and
//! figures). One job per file: `config` (the TOML grid), `results` (the resumable results
//! file), `link`
//! (netns test bed or linkem), `loadgen_thread`, `policies` (what each round sends), `cell` (one
//! cell), `run` (model by model), `security` (TLS and tokens when asked), `record`, `stats`,
//! `analysis` (what the results say), `report` (Markdown) and `plot` (SVG).

mod analysis;
mod background;
mod cell;
mod config;
pub mod evaluation;
pub mod fixed_cuts;
pub mod link;
mod loadgen_thread;
mod plot;
pub mod policies;
pub mod record;
pub mod report;
pub mod results;
mod run;
mod security;
pub(crate) mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use loadpart_engine::{Engine, EngineKind};

use config::Sweep;
pub use report::ReportArgs;
use results::{Line, Results};

use crate::pinning;

/// Measure every policy against the others under the same conditions, over a sweep of models x
/// bandwidths x load levels x device slowdowns x repetitions. One measured client goes
/// round-robin over the policies request by request (local, server-raw, server, neurosurgeon,
/// loadpart-original, loadpart, oracle, and the planner's top cuts forced) while the load
/// generator loads the server at a fraction of its capacity (measured at the start of the
/// sweep). The device's link is the netns test bed where root and tc are available, else a
/// linkem pacing relay (the output says which). Results go to a JSON-lines file; a stopped sweep
/// run again with the same --out continues where it left off.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The sweep, a TOML file (see configs/sweep-smoke.toml); flags below override its keys.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Results file (JSON lines), appended to and resumed from.
    #[arg(long, default_value = "target/bench/results.jsonl")]
    out: PathBuf,
    /// Models (repeat), instead of the file's.
    #[arg(long = "model")]
    models: Vec<String>,
    /// Link rates, Mbit/s, comma separated.
    #[arg(long, value_delimiter = ',')]
    bandwidth_mbit: Vec<f64>,
    /// Load levels as fractions of capacity, comma separated.
    #[arg(long, value_delimiter = ',')]
    load: Vec<f64>,
    /// Device slowdowns, comma separated.
    #[arg(long, value_delimiter = ',')]
    device_slowdown: Vec<f64>,
    #[arg(long)]
    repetitions: Option<usize>,
    /// Requests per policy per cell repetition.
    #[arg(long)]
    requests: Option<usize>,
    /// The planner's top cuts forced per cell.
    #[arg(long)]
    top_cuts: Option<usize>,
    /// Seconds of settling before each cell.
    #[arg(long)]
    settle_s: Option<f64>,
    /// auto, testbed or linkem.
    #[arg(long)]
    link: Option<String>,
    /// TLS and device tokens on (true) or off (false), instead of the file's `security`.
    #[arg(long)]
    security: Option<bool>,
    /// Stop after this many cell repetitions (run a long sweep in parts).
    #[arg(long)]
    max_cells: Option<usize>,
}

impl RunArgs {
    /// The sweep: the file, or the defaults, with the flags on top.
    fn sweep(&self) -> Result<Sweep> {
        let mut s = match &self.config {
            Some(p) => Sweep::from_file(p)?,
            None => {
                anyhow::ensure!(!self.models.is_empty(), "give --config or --model");
                toml::from_str::<Sweep>("models = []")?
            }
        };
        if !self.models.is_empty() {
            s.models.clone_from(&self.models);
        }
        if !self.bandwidth_mbit.is_empty() {
            s.bandwidths_mbit.clone_from(&self.bandwidth_mbit);
        }
        if !self.load.is_empty() {
            s.loads.clone_from(&self.load);
        }
        if !self.device_slowdown.is_empty() {
            s.device_slowdowns.clone_from(&self.device_slowdown);
        }
        s.repetitions = self.repetitions.unwrap_or(s.repetitions);
        s.requests = self.requests.unwrap_or(s.requests);
        s.top_cuts = self.top_cuts.unwrap_or(s.top_cuts);
        s.settle_s = self.settle_s.unwrap_or(s.settle_s);
        s.security = self.security.unwrap_or(s.security);
        if let Some(l) = &self.link {
            s.link.clone_from(l);
        }
        s.check()?;
        Ok(s)
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let sweep = args.sweep()?;
    let delay = std::time::Duration::from_secs_f64(sweep.link_delay_ms * 1e-3);
    let (mut kind, mut note) = link::choose(&sweep.link, sweep.port, delay)?;
    if matches!(kind, link::LinkKind::Testbed { .. }) && !link::inside_testbed() {
        eprintln!("link: {} (entering it)", kind.describe());
        match link::run_inside(&kind, sweep.bandwidths_mbit[0])? {
            Some(code) => return Ok(code),
            None if sweep.link == "auto" => {
                kind = link::LinkKind::Linkem { delay };
                note =
                    Some("the netns test bed could not be made: using linkem pacing relays".into());
            }
            None => anyhow::bail!("the netns test bed could not be made"),
        }
    }
    if let Some(n) = note {
        eprintln!("note: {n}");
    }
    eprintln!("link: {}", kind.describe());
    // The measured device (this thread and what it starts) on core 1; server and load generator
    // on core 0.
    let pinned = pinning::cores() >= 2 && pinning::pin_current(1);
    if !pinned {
        eprintln!("note: device and server are not pinned to separate cores; timings are noisier");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(sweep_all(args, sweep, kind, pinned))
}

async fn sweep_all(
    args: RunArgs,
    sweep: Sweep,
    kind: link::LinkKind,
    pinned: bool,
) -> Result<ExitCode> {
    let started = Instant::now();
    let mut results = Results::open(&args.out)?;
    let all: usize = sweep.models.iter().map(|m| sweep.cells(m).len()).sum();
    let not_done = sweep
        .models
        .iter()
        .flat_map(|m| sweep.cells(m))
        .filter(|c| !results.is_done(c))
        .count();
    let todo = args.max_cells.map_or(not_done, |m| not_done.min(m));
    eprintln!(
        "{} of {all} cell repetitions already in {}; running {todo} now",
        all - not_done,
        args.out.display()
    );
    results.append(&[Line::Session {
        started_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        link: kind.describe(),
        sweep: Box::new(sweep.clone()),
    }])?;
    let engine_kind: EngineKind = sweep
        .engine
        .parse()
        .map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let engine: Arc<dyn Engine> = Arc::from(loadpart_engine::engine_or_tract(engine_kind)?);
    let bar = crate::progress::Progress::new(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let mut ctx = run::RunCtx {
        sweep: &sweep,
        link: &kind,
        engine,
        pinned,
        bar: &bar,
        total: todo,
        done: 0,
        max_cells: args.max_cells,
    };
    for model in &sweep.models {
        run::run_model(&mut ctx, model, &mut results).await?;
    }
    bar.finish();
    let left = all.saturating_sub(results.done_count());
    eprintln!(
        "ran {} cell repetitions in {:.0} s ({}); {left} left{}",
        ctx.done,
        started.elapsed().as_secs_f64(),
        kind.describe(),
        if left > 0 {
            ": run the same command again to continue"
        } else {
            ""
        }
    );
    println!(
        "results: {} (report: loadpart bench report --results {})",
        args.out.display(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
