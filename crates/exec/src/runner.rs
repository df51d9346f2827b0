//! Loading and running the head and tail of one cut.

use std::sync::Arc;
use std::time::Duration;

use loadpart_engine::{Engine, EngineKind, LoadOptions, Model, Tensor};
use loadpart_graph::{
    OnnxModel, Part, StageGraph, insert_layout_relays, make_batch_dynamic, randomize_weights,
    strip_final_softmax,
};

use crate::ExecError;
use crate::inputs::{NamedTensors, views};

/// A model made ready for partitioned execution: batch made dynamic, weights optionally
/// randomised, stage DAG built. Device and server prepare the same file the same way, so cut
/// ids agree across processes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub model: OnnxModel,
    pub stages: StageGraph,
}

impl Prepared {
    /// `randomize_seed`: replace constant-fill weights by seeded random ones (see
    /// [`randomize_weights`]) and drop a final Softmax (see [`strip_final_softmax`]), so that
    /// outputs depend on the input and on every node. Such a model is for checking, not serving.
    pub fn new(model: &OnnxModel, randomize_seed: Option<u64>) -> Result<Self, ExecError> {
        let model = make_batch_dynamic(model)?;
        let model = match randomize_seed {
            Some(seed) => strip_final_softmax(&randomize_weights(&model, seed)?)?,
            None => model,
        };
        let stages = StageGraph::build(&model)?;
        Ok(Self { model, stages })
    }
}

/// The bytes to load `part` from on `engine`: ONNX Runtime gets layout relays (see
/// [`insert_layout_relays`]), which change no values.
pub(crate) fn part_bytes(engine: &dyn Engine, mut part: Part) -> Vec<u8> {
    if engine.kind() == EngineKind::Ort {
        insert_layout_relays(&mut part);
    }
    part.to_bytes()
}

/// One loaded part: its inputs and the engine's runnable (`None`: nothing to compute).
struct LoadedPart {
    inputs: Vec<String>,
    model: Option<Arc<dyn Model>>,
}

impl LoadedPart {
    fn load(engine: &dyn Engine, part: Part, opts: &LoadOptions) -> Result<Self, ExecError> {
        let inputs = part.inputs.clone();
        let model = if part.is_empty() {
            None
        } else {
            Some(engine.load(&part_bytes(engine, part), opts)?)
        };
        Ok(Self { inputs, model })
    }

    /// Runs the part on `available` tensors and returns `wanted` in order, forwarding
    /// passthrough tensors from the inputs.
    fn run(
        &self,
        available: &[(String, Tensor)],
        wanted: &[String],
        what: &'static str,
    ) -> Result<(NamedTensors, Duration), ExecError> {
        let (mut produced, elapsed) = match &self.model {
            Some(m) => {
                let inputs: Vec<_> = views(available)
                    .into_iter()
                    .filter(|(n, _)| self.inputs.iter().any(|i| i == n))
                    .collect();
                let out = m.run(&inputs)?;
                (out.outputs, out.elapsed)
            }
            None => (Vec::new(), Duration::ZERO),
        };
        let mut result = Vec::with_capacity(wanted.len());
        for name in wanted {
            if let Some(pos) = produced.iter().position(|(n, _)| n == name) {
                result.push(produced.swap_remove(pos));
            } else if let Some((_, t)) = available.iter().find(|(n, _)| n == name) {
                result.push((name.clone(), t.clone()));
            } else {
                return Err(ExecError::MissingTensor {
                    part: what,
                    tensor: name.clone(),
                });
            }
        }
        Ok((result, elapsed))
    }
}

/// The head and tail of one cut, loaded on an engine.
pub struct SplitRunner {
    cut: Vec<String>,
    outputs: Vec<String>,
    head: LoadedPart,
    tail: LoadedPart,
}

impl SplitRunner {
    /// Extracts (with a dynamic batch) and loads the head and tail of `cut`.
    pub fn load(
        engine: &dyn Engine,
        model: &OnnxModel,
        cut: &[String],
        opts: &LoadOptions,
    ) -> Result<Self, ExecError> {
        let head = LoadedPart::load(engine, model.head(cut, true)?, opts)?;
        let tail = LoadedPart::load(engine, model.tail(cut, true)?, opts)?;
        Ok(Self {
            cut: cut.to_vec(),
            outputs: model.outputs().to_vec(),
            head,
            tail,
        })
    }

    pub fn cut(&self) -> &[String] {
        &self.cut
    }

    /// The device side: model inputs -> cut tensors (in cut order), and the engine time.
    pub fn run_head(
        &self,
        inputs: &[(String, Tensor)],
    ) -> Result<(NamedTensors, Duration), ExecError> {
        self.head.run(inputs, &self.cut, "head")
    }

    /// The server side: cut tensors -> model outputs (in model order), and the engine time.
    pub fn run_tail(
        &self,
        cut_tensors: &[(String, Tensor)],
    ) -> Result<(NamedTensors, Duration), ExecError> {
        self.tail.run(cut_tensors, &self.outputs, "tail")
    }

    /// Head then tail.
    pub fn run(&self, inputs: &[(String, Tensor)]) -> Result<NamedTensors, ExecError> {
        let (cut, _) = self.run_head(inputs)?;
        Ok(self.run_tail(&cut)?.0)
    }
}
