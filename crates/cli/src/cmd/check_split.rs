//! `loadpart check-split`: whole model vs head + tail for every candidate cut.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use loadpart_bench::outln;
use loadpart_bench::progress::Progress;
use loadpart_engine::LoadOptions;
use loadpart_exec::{CheckOptions, CheckReport, check_split_batches};

use crate::model_args::ModelArgs;
use crate::source::prepare_for_checks;

/// Check split execution: run the whole model and, for every candidate cut (or a sample), the
/// head then the tail on the same seeded random input, and compare the outputs.
///
/// Weights are randomised by default (seeded, He-scaled): model-zoo "light" models fill every
/// weight with one constant, which makes their outputs the same for any input, so a comparison
/// would prove nothing. Exits 1 when any cut fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Batch size of the check; a list (1,4) checks each size with every cut loaded once, and
    /// --json then prints an array with one report per size.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Check K cuts drawn at random (plus full offload and full local) instead of all.
    #[arg(long)]
    sample: Option<usize>,
    /// Keep the model's own weights instead of seeded random ones.
    #[arg(long)]
    keep_weights: bool,
    /// Seed for weights, inputs and sampling.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Largest accepted relative error: max |full - split| / max |full|, per output.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// Threads per run (0 = engine default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Machine-readable output: cuts_checked, max_rel_err, failures, ...
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = args.model.load()?;
    let engine = args.model.engine()?;
    let prepared = prepare_for_checks(&model, args.keep_weights, args.seed)?;
    let opts = CheckOptions {
        sample: args.sample,
        seed: args.seed,
        tolerance: args.tolerance,
        load: LoadOptions {
            intra_threads: args.threads,
            ..Default::default()
        },
        ..Default::default()
    };
    let bar = Progress::new(!args.json && std::io::stderr().is_terminal());
    let reports = check_split_batches(
        engine.as_ref(),
        &prepared,
        &args.batch,
        &opts,
        &mut |d, t| bar.update("checking cuts", d, t),
    )?;
    bar.finish();
    if args.json {
        match reports.as_slice() {
            [one] => outln!("{}", serde_json::to_string_pretty(one)?),
            all => outln!("{}", serde_json::to_string_pretty(all)?),
        }
    } else {
        for report in &reports {
            print_report(&args.model.model, report);
        }
    }
    Ok(if reports.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(model: &str, report: &CheckReport) {
    outln!(
        "{}: engine {}, batch {}: {} of {} cuts checked, max abs err {:.3e}, max rel err {:.3e} (tolerance {:.0e}), {} failures; outputs change by {:.2e} between two inputs",
        model,
        report.engine,
        report.batch,
        report.cuts_checked,
        report.cuts_total,
        report.max_abs_err,
        report.max_rel_err,
        report.tolerance,
        report.failures.len(),
        report.input_sensitivity
    );
    if report.input_sensitivity < 1e-3 {
        outln!(
            "  warning: the outputs barely depend on the input, so this check proves little (constant weights?)"
        );
    }
    for f in &report.failures {
        outln!("  FAILED {}: {}", f.cut, f.error);
    }
}
