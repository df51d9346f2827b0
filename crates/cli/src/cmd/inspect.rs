//! `loadpart inspect`: the model's stages, tensors, blocks and candidate cuts.

use std::process::ExitCode;

use anyhow::Result;
use loadpart_bench::outln;
use loadpart_exec::ModelReport;
use loadpart_graph::load_model;

/// Show a model's structure: stages (fused operators), blocks between articulation tensors, and
/// how many candidate cuts each block holds.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model (path, zoo:NAME, or light model name).
    model: String,
    /// Also list every candidate cut (tensor names).
    #[arg(long)]
    cuts: bool,
    /// Blocks with more inner cuts than this are not enumerated; the planner searches them
    /// exactly with a min s-t cut per decision instead.
    #[arg(long, default_value_t = 10_000)]
    max_cuts_per_block: usize,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = load_model(&args.model)?;
    let report = loadpart_exec::inspect(&model, args.max_cuts_per_block, args.cuts)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&report);
    Ok(ExitCode::SUCCESS)
}

fn print_text(r: &ModelReport) {
    outln!("model sha256 {}  opset {}", &r.hash[..16], r.opset);
    outln!(
        "inputs  {}",
        r.inputs
            .iter()
            .map(|(n, d)| format!("{n} {d:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!(
        "outputs {}",
        r.outputs
            .iter()
            .map(|(n, d)| format!("{n} {d:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!(
        "{} ONNX nodes ({} constant: weights and shape arithmetic, never cut) -> {} stages",
        r.onnx_nodes,
        r.constant_nodes,
        r.stages
    );
    outln!(
        "{} articulation tensors split the model into {} blocks; {} candidate cuts in all",
        r.articulation_tensors,
        r.blocks.len(),
        r.candidate_cuts
    );
    outln!(
        "{:>5}  {:>6}  {:>10}  from -> to",
        "block",
        "stages",
        "inner cuts"
    );
    for b in &r.blocks {
        let count = if b.exact {
            b.inner_cuts.to_string()
        } else {
            format!(">={}", b.inner_cuts)
        };
        outln!(
            "{:>5}  {:>6}  {:>10}  {} -> {}",
            b.index,
            b.stages,
            count,
            b.from,
            b.to
        );
    }
    let exploding = r.blocks.iter().filter(|b| !b.exact).count();
    if exploding > 0 {
        outln!(
            "{exploding} block(s) have too many cuts to list; the planner still searches them exactly, \
             per decision, as a minimum s-t cut (closure constraints as infinite edges, one node per tensor \
             so a tensor read by several tail stages is paid once)."
        );
    }
    for c in &r.cuts {
        outln!("{:<14} {:>10} B  {}", c.kind, c.bytes_per_sample, c.id);
    }
}
