//! `loadpart split`: write the head and tail of a cut as standard ONNX files.

use crate::output::outln;
use std::process::ExitCode;

use anyhow::{Context, Result};
use loadpart_graph::{StageGraph, make_batch_dynamic};
use serde::Serialize;

use crate::source::load_model;

/// Split a model at a cut into DIR/head.onnx (inputs -> cut tensors) and DIR/tail.onnx (cut
/// tensors -> outputs), standalone models any ONNX runtime loads. DIR/cut.json lists the
/// tensors, and those a part passes through unchanged (a cut tensor that is also a model input
/// or output) which the caller forwards itself.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model (path, zoo:NAME, or light model name).
    model: String,
    /// Cut tensor names, comma separated (see `loadpart inspect MODEL --cuts`).
    #[arg(long, value_delimiter = ',', required = true)]
    cut: Vec<String>,
    /// Output directory.
    #[arg(short, long)]
    output: std::path::PathBuf,
    /// Declare dim 0 symbolic and rewrite batch-1 Reshape targets so the parts take any batch.
    #[arg(long)]
    dynamic_batch: bool,
}

#[derive(Serialize)]
struct CutFile<'a> {
    cut: &'a [String],
    head_inputs: &'a [String],
    head_passthrough: &'a [String],
    tail_outputs: &'a [String],
    tail_passthrough: &'a [String],
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut model = load_model(&args.model)?;
    if args.dynamic_batch {
        model = make_batch_dynamic(&model)?;
    }
    let sg = StageGraph::build(&model)?;
    let names: Vec<&str> = args.cut.iter().map(String::as_str).collect();
    sg.validate_cut(&names)?;
    let head = model.head(&args.cut, args.dynamic_batch)?;
    let tail = model.tail(&args.cut, args.dynamic_batch)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    for (file, part) in [("head.onnx", &head), ("tail.onnx", &tail)] {
        let path = args.output.join(file);
        std::fs::write(&path, part.to_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        outln!(
            "{}: {} nodes, inputs {:?}, outputs {:?}",
            path.display(),
            part.model.graph.as_ref().map_or(0, |g| g.node.len()),
            part.inputs,
            part.outputs
        );
    }
    let meta = CutFile {
        cut: &args.cut,
        head_inputs: &head.inputs,
        head_passthrough: &head.passthrough,
        tail_outputs: &tail.outputs,
        tail_passthrough: &tail.passthrough,
    };
    std::fs::write(
        args.output.join("cut.json"),
        serde_json::to_string_pretty(&meta)?,
    )?;
    Ok(ExitCode::SUCCESS)
}
