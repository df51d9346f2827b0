//! `loadpart gen-model`: write one of the generated test models to a file.

use std::process::ExitCode;

use anyhow::{Context, Result};
use loadpart_bench::outln;
use loadpart_graph::zoo;

/// Write a generated model (random weights, dynamic batch) as an .onnx file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// chain, residual, inception, dense or two-io.
    name: String,
    /// Output file.
    #[arg(short, long)]
    output: std::path::PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = zoo::generate(&args.name)?;
    std::fs::write(&args.output, model.to_bytes())
        .with_context(|| format!("writing {}", args.output.display()))?;
    outln!(
        "wrote {} ({} nodes)",
        args.output.display(),
        model.nodes().len()
    );
    Ok(ExitCode::SUCCESS)
}
