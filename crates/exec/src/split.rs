//! Head and tail of one cut in one process, for the offline harnesses (checks, accuracy,
//! profiling). Serving goes through `loadpart-runtime` directly.

use loadpart_cuts::CutId;
use loadpart_engine::{Engine, LoadOptions};
use loadpart_graph::Prepared;
use loadpart_runtime::{NamedTensors, PartOutput, PartRunner, PartSpec, views};

use crate::ExecError;

/// The head and tail runners of one cut.
pub struct Split {
    cut: CutId,
    head: PartRunner,
    tail: PartRunner,
    outputs: Vec<String>,
}

impl Split {
    /// Extracts and loads the head and tail of `cut` (batch dimension dynamic).
    pub fn load(
        engine: &dyn Engine,
        prepared: &Prepared,
        cut: &CutId,
        opts: &LoadOptions,
    ) -> Result<Self, ExecError> {
        let head = PartRunner::load(engine, prepared, PartSpec::Head(cut.clone()), opts)?;
        let tail = PartRunner::load(engine, prepared, PartSpec::Tail(cut.clone()), opts)?;
        Ok(Self {
            cut: cut.clone(),
            head,
            tail,
            outputs: prepared.model.outputs().to_vec(),
        })
    }

    pub fn cut(&self) -> &CutId {
        &self.cut
    }

    /// The device side: model inputs -> every tensor of the cut (sent ones and outputs kept on
    /// the device), and the engine time.
    pub fn run_head(&self, inputs: &NamedTensors) -> Result<PartOutput, ExecError> {
        Ok(self.head.run(&views(inputs))?)
    }

    /// The tensors of `cut_tensors` that cross the network: those the tail reads.
    pub fn sent(&self, cut_tensors: &NamedTensors) -> NamedTensors {
        cut_tensors
            .iter()
            .filter(|(n, _)| self.tail.inputs().contains(n))
            .cloned()
            .collect()
    }

    /// The server side: the sent tensors -> the model outputs the head did not compute.
    pub fn run_tail(&self, sent: &NamedTensors) -> Result<PartOutput, ExecError> {
        Ok(self.tail.run(&views(sent))?)
    }

    /// The model's outputs in model order, from the head's kept outputs and the tail's.
    pub fn merge(
        &self,
        head: &NamedTensors,
        tail: NamedTensors,
    ) -> Result<NamedTensors, ExecError> {
        let mut tail = tail;
        self.outputs
            .iter()
            .map(|name| {
                if let Some(pos) = tail.iter().position(|(n, _)| n == name) {
                    Ok(tail.swap_remove(pos))
                } else if let Some(kept) = head.iter().find(|(n, _)| n == name) {
                    Ok(kept.clone())
                } else {
                    Err(ExecError::Runtime(
                        loadpart_runtime::RuntimeError::MissingTensor {
                            part: format!("split at {}", self.cut),
                            tensor: name.clone(),
                        },
                    ))
                }
            })
            .collect()
    }

    /// Head, then the tail on the sent tensors only, then the merge: what a device and a server
    /// compute together.
    pub fn run(&self, inputs: &NamedTensors) -> Result<NamedTensors, ExecError> {
        let head = self.run_head(inputs)?.outputs;
        let tail = self.run_tail(&self.sent(&head))?.outputs;
        self.merge(&head, tail)
    }
}
