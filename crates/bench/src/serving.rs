//! `loadpart bench serving`: what serving costs around the model. The same model runs in this
//! process (the engine called directly, closed loop, at batch 1 and at a larger batch) and
//! behind `loadpart serve` in a child process, driven over gRPC the way a third-party KServe v2
//! client drives it (one tensor in `raw_input_contents`, closed loop at each concurrency), one
//! after the other in one run, so that the ratio is measured on the same machine in the same
//! minute. CPU time per inference (server process and driver) shows where the cores went.

pub(crate) mod child;
mod driver;
mod in_process;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use loadpart_engine::{EngineKind, Spinning};
use loadpart_graph::{Prepared, load_model, randomize_for_checks};

use crate::outln;
use crate::remote_model::noise_inputs;
pub use report::{Level, ServingReport};

/// Serving overhead: in-process inference against `loadpart serve` over gRPC, side by side.
///
/// First the model runs in this process (ONNX Runtime with its defaults: one intra-op thread
/// per core, spinning) at each --batch, closed loop, for --duration seconds each: the best a
/// server could do on this machine. Then `loadpart serve` starts in a child process with the
/// same model file (seeded random weights, dynamic batch) and its defaults plus any --serve-arg,
/// and a closed-loop KServe v2 client (one FP32 tensor in raw_input_contents, as tritonclient
/// and MLServer's clients send it; one HTTP/2 connection) keeps --concurrency requests in
/// flight. Prints inferences/s, p50 and p99 per level, the ratio of served throughput to the
/// best in-process throughput, and CPU ms per inference of the server process and the driver.
///
/// The driver shares the machine with the server (as any client on the same host would); pin
/// them apart with `taskset` on the command and --server-cpus when cores allow.
#[derive(Debug, clap::Args)]
pub struct ServingArgs {
    /// The model: a path to an .onnx file, zoo:NAME, or a light model name.
    #[arg(long, default_value = "squeezenet")]
    pub model: String,
    /// Seed of the random weights both sides run (model-zoo light models ship constant ones).
    #[arg(long, default_value_t = 1)]
    pub randomize_seed: u64,
    /// Requests in flight at each served level (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<usize>,
    /// Batch sizes of the in-process baseline (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pub batch: Vec<usize>,
    /// Seconds measured per level.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds run before each level's measurement starts (not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// The `loadpart` binary to serve with (default: this one).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// An argument passed on to `loadpart serve` (repeat; e.g. --serve-arg=--spinning=off).
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// Run the server under `taskset -c CPUS` (e.g. 0), to keep it apart from the driver.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Rounds of every level, the two sides alternating; each level reports its best round
    /// (other tenants of a shared machine only ever slow a level down).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Skip the in-process baseline (ratios are then not printed).
    #[arg(long)]
    pub no_baseline: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the comparison and prints it.
pub fn run(args: ServingArgs) -> Result<ExitCode> {
    let report = measure(&args)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// Measures both sides; see [`ServingArgs`].
pub fn measure(args: &ServingArgs) -> Result<ServingReport> {
    ensure!(args.duration > 0.0, "--duration must be positive");
    ensure!(
        args.concurrency.iter().all(|&c| c > 0) && args.batch.iter().all(|&b| b > 0),
        "--concurrency and --batch take positive numbers"
    );
    let model = load_model(&args.model)?;
    let model = randomize_for_checks(&model, args.randomize_seed)?;
    let prepared = Prepared::new(&model)?;
    let bytes = prepared.model.to_bytes();
    let inputs = noise_inputs(&prepared, args.randomize_seed)?;
    let dir = tempdir()?;
    let name = "model";
    let path = dir.join(format!("{name}.onnx"));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;

    let measure_for = Duration::from_secs_f64(args.duration);
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let loaded = if args.no_baseline {
        None
    } else {
        let engine = loadpart_engine::engine(EngineKind::Ort)?;
        let opts = loadpart_engine::LoadOptions {
            spinning: Spinning::On,
            ..Default::default()
        };
        Some(engine.load(&bytes, &opts)?)
    };
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("finding this binary")?,
    };
    let server =
        child::ServerProcess::start(&bin, &path, &args.serve_args, args.server_cpus.as_deref())?;
    let request = driver::whole_model_request(name, &inputs)?;
    // Rounds alternate the two sides, so that a slow spell of a shared machine does not land
    // on one side only.
    let mut in_process = vec![Vec::new(); args.batch.len()];
    let mut served = vec![Vec::new(); args.concurrency.len()];
    for round in 0..args.rounds.max(1) {
        if let Some(model) = &loaded {
            for (i, &b) in args.batch.iter().enumerate() {
                tracing::info!(round, batch = b, "in-process");
                let level = in_process::measure(model.as_ref(), &inputs, b, warmup, measure_for)?;
                in_process[i].push(level);
            }
        }
        for (i, &c) in args.concurrency.iter().enumerate() {
            tracing::info!(round, concurrency = c, "served");
            served[i].push(driver::measure(&server, &request, c, warmup, measure_for)?);
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ServingReport::new(
        args.model.clone(),
        args.serve_args.clone(),
        in_process.into_iter().filter_map(Level::best_of).collect(),
        served.into_iter().filter_map(Level::best_of).collect(),
    ))
}

/// A fresh directory for the model file the server loads.
fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("loadpart-serving-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// CPU time (user + system) the process `pid` has used so far, from `/proc/PID/stat`; `None`
/// where that file does not exist (not Linux).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI that matters here.
    Some(Duration::from_millis(ticks * 10))
}
