//! `loadpart profile`: measure stage times per batch size and tensor sizes.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result};
use loadpart_bench::outln;
use loadpart_bench::progress::Progress;
use loadpart_engine::{LoadOptions, Spinning};
use loadpart_exec::{CodecFloors, ProfileOptions, profile_model};
use loadpart_graph::Prepared;
use loadpart_plan::ProfileRole;

use crate::model_args::ModelArgs;

/// Profile a model on this machine: the time of every stage at each batch size (measured per
/// block between articulation tensors, so fused kernels are timed as they run, and calibrated
/// against real heads and tails at up to --anchors boundaries), tensor sizes, codec costs, and a
/// check of predicted against measured head and tail times on random cuts. A device
/// profiles batch 1; a server profiles the batch sizes its batcher forms.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Batch sizes to time, comma separated, increasing.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch_sizes: Vec<usize>,
    /// Timed runs per part and batch size (the fastest counts: other load only adds time).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Untimed warm-up runs before each timing.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Most boundaries where a real head and tail are timed to calibrate the summed block times
    /// (each costs about one whole-model run per timed run; 0 = block sums only).
    #[arg(long, default_value_t = 24)]
    anchors: usize,
    /// Random cuts whose real head and tail times are compared with the prediction.
    #[arg(long, default_value_t = 10)]
    validate_cuts: usize,
    /// Threads per run (0 = engine default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Which side the profile is for: `device` (heads, usually batch 1) or `server` (tails, at
    /// the batch sizes the server forms). Recorded in the profile; the planner refuses a device
    /// profile in the server's place. Default: device for batch size 1 alone, else server.
    #[arg(long)]
    role: Option<RoleArg>,
    /// Profile the model with seeded random weights (and no final Softmax), as `loadpart serve
    /// --randomize-seed` serves it (the profile is then for that model identity).
    #[arg(long)]
    randomize_seed: Option<u64>,
    /// Code widths (bits, 2..=8, comma separated) the planner may send cut tensors with, besides
    /// 8: each is measured at two zstd levels, and on slow links the planner picks the encoding
    /// that makes the upload fastest. Fewer bits cost accuracy: list only widths that `loadpart
    /// check-codec --bits B` showed to keep top-1 agreement, or give per-tensor floors with
    /// --codec-floors.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    codec_bits: Vec<u8>,
    /// Per-tensor code-width floors (`loadpart check-codec --choose-bits ... --floors-out
    /// FILE`): a listed tensor is measured at its own floor instead of --codec-bits.
    #[arg(long)]
    codec_floors: Option<std::path::PathBuf>,
    /// Host name recorded in the profile.
    #[arg(long, env = "HOSTNAME", default_value = "localhost")]
    host: String,
    /// Output JSON file.
    #[arg(short, long)]
    output: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Device,
    Server,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let role = match args.role {
        Some(RoleArg::Device) => ProfileRole::Device,
        Some(RoleArg::Server) => ProfileRole::Server,
        None if args.batch_sizes == [1] => ProfileRole::Device,
        None => ProfileRole::Server,
    };
    let model = args.model.load()?;
    let model = match args.randomize_seed {
        Some(seed) => loadpart_graph::randomize_for_checks(&model, seed)?,
        None => model,
    };
    let engine = args.model.engine()?;
    let prepared = Prepared::new(&model)?;
    let opts = ProfileOptions {
        batch_sizes: args.batch_sizes.clone(),
        warmup: args.warmup,
        runs: args.runs,
        anchors: args.anchors,
        validate_cuts: args.validate_cuts,
        codec_bits: args.codec_bits.clone(),
        codec_floors: args
            .codec_floors
            .as_deref()
            .map(CodecFloors::load)
            .transpose()?,
        role,
        load: LoadOptions {
            intra_threads: args.threads,
            // Measured as the role runs: a server's executors spin, a device's workers sleep.
            spinning: match role {
                ProfileRole::Server => Spinning::On,
                ProfileRole::Device => Spinning::Off,
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let bar = Progress::new(std::io::stderr().is_terminal());
    let profile = profile_model(
        engine.as_ref(),
        &prepared,
        &args.host,
        &opts,
        &mut |s, d, t| bar.update(s, d, t),
    )?;
    bar.finish();
    std::fs::write(&args.output, serde_json::to_string_pretty(&profile)?)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let total: Vec<String> = (0..profile.batch_sizes.len())
        .map(|b| {
            format!(
                "batch {}: {:.0} us",
                profile.batch_sizes[b],
                profile.nodes.iter().map(|n| n.time_us[b]).sum::<f64>()
            )
        })
        .collect();
    outln!(
        "wrote {} ({} stages; whole model {})",
        args.output.display(),
        profile.nodes.len(),
        total.join(", ")
    );
    if let Some(v) = &profile.validation {
        outln!(
            "predicted vs measured time over {} heads and tails: mean error {:.1}%, max {:.1}%; head + tail: mean {:.1}%, max {:.1}%",
            v.samples.len(),
            v.mean_error_pct,
            v.max_error_pct,
            v.split_mean_error_pct,
            v.split_max_error_pct
        );
    }
    Ok(ExitCode::SUCCESS)
}
