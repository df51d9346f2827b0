//! `loadpart split`: write the head and tail of a cut as standard ONNX files.

use std::process::ExitCode;

use anyhow::{Context, Result};
use loadpart_bench::outln;
use loadpart_graph::load_model;
use loadpart_graph::{BatchDim, StageGraph, make_batch_dynamic};
use serde::Serialize;

/// Split a model at a cut into DIR/head.onnx (inputs -> cut tensors) and DIR/tail.onnx (cut
/// tensors -> outputs), standalone models any ONNX runtime loads. Only parts that compute
/// something are written: at full offload there is no head (send the model inputs), at full
/// local no tail. DIR/cut.json lists the files written, the tensors, and those a part passes
/// through unchanged (a cut tensor that is also a model input or output) which the caller
/// forwards itself. Parts keep the source's batch dimension (dynamic stays dynamic).
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
    /// For a model exported with a fixed batch of 1: declare dim 0 symbolic and rewrite batch-1
    /// Reshape targets so the parts take any batch. A model whose batch is already dynamic
    /// gives dynamic parts without it.
    #[arg(long)]
    dynamic_batch: bool,
}

#[derive(Serialize)]
struct CutFile<'a> {
    cut: &'a [String],
    /// `head.onnx`, or null when the head computes nothing (full offload).
    head_file: Option<&'static str>,
    /// `tail.onnx`, or null when the tail computes nothing (full local).
    tail_file: Option<&'static str>,
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
    let batch = if args.dynamic_batch {
        BatchDim::Dynamic
    } else {
        BatchDim::Source
    };
    let head = model.head(&args.cut, batch)?;
    let tail = model.tail(&args.cut, batch)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut written = [None, None];
    for (i, (file, part)) in [("head.onnx", &head), ("tail.onnx", &tail)]
        .into_iter()
        .enumerate()
    {
        if part.is_empty() {
            outln!(
                "{file}: not written, the {} computes nothing ({})",
                if i == 0 { "head" } else { "tail" },
                if i == 0 {
                    "full offload: the device sends the model inputs"
                } else {
                    "full local: the device computes every output"
                }
            );
            continue;
        }
        written[i] = Some(file);
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
        head_file: written[0],
        tail_file: written[1],
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
