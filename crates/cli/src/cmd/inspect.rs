//! `loadpart inspect`: the model's stages, tensors, blocks and candidate cuts.

use std::process::ExitCode;

use anyhow::Result;
use loadpart_bench::outln;
use loadpart_cuts::{BlockCuts, CutCount, CutId};
use loadpart_graph::load_model;
use loadpart_graph::{Shapes, StageGraph};
use serde::Serialize;

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

#[derive(Serialize)]
struct Report {
    hash: String,
    opset: i64,
    onnx_nodes: usize,
    constant_nodes: usize,
    stages: usize,
    inputs: Vec<(String, Vec<usize>)>,
    outputs: Vec<(String, Vec<usize>)>,
    articulation_tensors: usize,
    candidate_cuts: usize,
    complete: bool,
    blocks: Vec<BlockReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cuts: Vec<CutReport>,
}

#[derive(Serialize)]
struct BlockReport {
    index: usize,
    from: String,
    to: String,
    stages: usize,
    inner_cuts: usize,
    exact: bool,
}

#[derive(Serialize)]
struct CutReport {
    kind: String,
    tensors: Vec<String>,
    bytes_per_sample: usize,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let model = load_model(&args.model)?;
    let shapes = Shapes::infer(&model, 1)?;
    let sg = StageGraph::build(&model)?;
    let space = sg.cut_space(args.max_cuts_per_block);
    let dims = |n: &String| shapes.get(n).map(|t| t.dims.clone()).unwrap_or_default();
    let bounds = space.boundaries();
    let label = |i: usize| {
        let names = sg.names(&bounds[i].cut.tensors);
        if names.len() > 2 {
            format!("{} tensors", names.len())
        } else {
            CutId::from_names(&names).to_string()
        }
    };
    let blocks: Vec<BlockReport> = space
        .blocks()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (inner, exact) = match b.cut_count() {
                CutCount::Exact(n) => (n, true),
                CutCount::AtLeast(n) => (n, false),
            };
            BlockReport {
                index: i,
                from: label(b.start),
                to: label(b.end),
                stages: b.nodes.len(),
                inner_cuts: inner,
                exact,
            }
        })
        .collect();
    let cuts = if args.cuts {
        space
            .all_candidate_cuts()
            .map(|c| {
                let tensors = sg.names(&c.cut.tensors);
                let bytes = c
                    .cut
                    .sent_tensors(sg.dag())
                    .map(|t| {
                        shapes
                            .get(&sg.dag().tensor(t).name)
                            .map_or(0, |t| t.bytes())
                    })
                    .sum();
                let kind = c.kind.to_string();
                CutReport {
                    kind,
                    tensors,
                    bytes_per_sample: bytes,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let report = Report {
        hash: model.hash().to_string(),
        opset: model.opset(),
        onnx_nodes: model.nodes().len(),
        constant_nodes: (0..model.nodes().len())
            .filter(|i| model.is_constant_node(*i))
            .count(),
        stages: sg.stages().len(),
        inputs: model
            .inputs()
            .iter()
            .map(|n| (n.clone(), dims(n)))
            .collect(),
        outputs: model
            .outputs()
            .iter()
            .map(|n| (n.clone(), dims(n)))
            .collect(),
        articulation_tensors: space.articulation_tensors().len(),
        candidate_cuts: space.all_candidate_cuts().count(),
        complete: space.is_complete(),
        blocks,
        cuts,
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&report, &space);
    Ok(ExitCode::SUCCESS)
}

fn print_text(r: &Report, space: &loadpart_cuts::CutSpace) {
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
    let exploding = space
        .blocks()
        .iter()
        .filter(|b| matches!(b.cuts, BlockCuts::TooMany { .. }))
        .count();
    if exploding > 0 {
        outln!(
            "{exploding} block(s) have too many cuts to list; the planner still searches them exactly, \
             per decision, as a minimum s-t cut (closure constraints as infinite edges, one node per tensor \
             so a tensor read by several tail stages is paid once)."
        );
    }
    for c in &r.cuts {
        outln!(
            "{:<14} {:>10} B  {}",
            c.kind,
            c.bytes_per_sample,
            CutId::from_names(&c.tensors)
        );
    }
}
