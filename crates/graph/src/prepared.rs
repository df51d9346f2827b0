//! A model made ready for partitioned execution, the same way on every device and server.

use crate::{
    GraphError, OnnxModel, StageGraph, make_batch_dynamic, randomize_weights, strip_final_softmax,
};

/// A model whose batch dimension is dynamic, with its stage DAG built. Device and server prepare
/// the same file the same way, so their cut ids and identities agree across processes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub model: OnnxModel,
    pub stages: StageGraph,
}

impl Prepared {
    /// Makes the batch dimension dynamic (identity kept) and builds the stage DAG.
    pub fn new(model: &OnnxModel) -> Result<Self, GraphError> {
        let model = make_batch_dynamic(model)?;
        let stages = StageGraph::build(&model)?;
        Ok(Self { model, stages })
    }

    /// The identity of the model that runs (see [`OnnxModel::hash`]).
    pub fn identity(&self) -> &str {
        self.model.hash()
    }
}

/// A test aid, not a serving step: `model` with seeded random weights (see
/// [`randomize_weights`]) and without a final Softmax (see [`strip_final_softmax`]), so that
/// outputs depend on the input and on every node. The model-zoo light models fill every weight
/// with one constant, and comparing their outputs would prove nothing. The result is a new
/// model with a new identity.
pub fn randomize_for_checks(model: &OnnxModel, seed: u64) -> Result<OnnxModel, GraphError> {
    strip_final_softmax(&randomize_weights(model, seed)?)
}
