//! A model's structure as data: stages, blocks between articulation tensors and candidate cuts,
//! what `loadpart inspect --json` prints and `loadpart.inspect` returns in Python.

use loadpart_cuts::{CutCount, CutId};
use loadpart_graph::{OnnxModel, Shapes, StageGraph};
use serde::Serialize;

use crate::ExecError;

/// What [`inspect`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// The model's identity (sha256 of graph and weights).
    pub hash: String,
    pub opset: i64,
    pub onnx_nodes: usize,
    /// Nodes computing weights or shape arithmetic: never cut.
    pub constant_nodes: usize,
    /// Fused operators the planner cuts between.
    pub stages: usize,
    /// Inputs and outputs with their shapes at batch 1.
    pub inputs: Vec<(String, Vec<usize>)>,
    pub outputs: Vec<(String, Vec<usize>)>,
    pub articulation_tensors: usize,
    pub candidate_cuts: usize,
    /// Whether every block's cuts could be listed.
    pub complete: bool,
    pub blocks: Vec<BlockReport>,
    /// Every candidate cut, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cuts: Vec<CutReport>,
}

/// The stages between two articulation cuts.
#[derive(Debug, Clone, Serialize)]
pub struct BlockReport {
    pub index: usize,
    /// The cuts it starts and ends at (their ids, or a count of tensors).
    pub from: String,
    pub to: String,
    pub stages: usize,
    /// Cuts inside the block: exact, or a lower bound when too many to list (the planner
    /// searches those exactly per decision, as a minimum s-t cut).
    pub inner_cuts: usize,
    pub exact: bool,
}

/// One candidate cut.
#[derive(Debug, Clone, Serialize)]
pub struct CutReport {
    /// full_offload, articulation, inner, ...
    pub kind: String,
    /// The tensors that cross it.
    pub tensors: Vec<String>,
    /// FP32 bytes those tensors hold per sample, before encoding.
    pub bytes_per_sample: usize,
    /// Its id, as `--cut` and `Client.infer(cut=...)` take it.
    pub id: String,
}

/// The structure of `model`; blocks with more than `max_cuts_per_block` inner cuts are not
/// listed; `with_cuts` lists every candidate cut.
pub fn inspect(
    model: &OnnxModel,
    max_cuts_per_block: usize,
    with_cuts: bool,
) -> Result<ModelReport, ExecError> {
    let shapes = Shapes::infer(model, 1)?;
    let sg = StageGraph::build(model)?;
    let space = sg.cut_space(max_cuts_per_block);
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
    let blocks = space
        .blocks()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (inner_cuts, exact) = match b.cut_count() {
                CutCount::Exact(n) => (n, true),
                CutCount::AtLeast(n) => (n, false),
            };
            BlockReport {
                index: i,
                from: label(b.start),
                to: label(b.end),
                stages: b.nodes.len(),
                inner_cuts,
                exact,
            }
        })
        .collect();
    let cuts = if with_cuts {
        space
            .all_candidate_cuts()
            .map(|c| {
                let tensors = sg.names(&c.cut.tensors);
                let bytes_per_sample = c
                    .cut
                    .sent_tensors(sg.dag())
                    .map(|t| {
                        shapes
                            .get(&sg.dag().tensor(t).name)
                            .map_or(0, |t| t.bytes())
                    })
                    .sum();
                CutReport {
                    kind: c.kind.to_string(),
                    id: CutId::from_names(&tensors).to_string(),
                    tensors,
                    bytes_per_sample,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ModelReport {
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
    })
}
