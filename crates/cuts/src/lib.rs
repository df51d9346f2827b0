//! Pure DAG cut theory for partitioned inference, with no ONNX in sight.
//!
//! A model is a DAG of *stages* ([`Node`]) connected by activation *tensors* ([`Tensor`]). A
//! partition runs a downward-closed set of stages, the *head*, on the device and the rest, the
//! *tail*, on a server; the tensors crossing between them form the *cut*. This crate builds and
//! validates such DAGs ([`DagBuilder`]), computes canonical cuts ([`Dag::cut_of`]), validates
//! arbitrary proposed cuts ([`Dag::validate_cut`]), and decomposes the space of all cuts at
//! articulation tensors into blocks whose inner cuts can be listed or searched ([`CutSpace`]).
//!
//! It exists separately from the ONNX graph crate so the planner can depend on cut theory alone
//! and so the theory is tested on small hand-built DAGs.
#![forbid(unsafe_code)]

mod cut;
mod cut_id;
mod dag;
mod error;
mod nodeset;
mod request;
mod space;

pub use cut::{Cut, ValidCut, cut_id};
pub use cut_id::CutId;
pub use dag::{Dag, DagBuilder, Node, NodeId, Tensor, TensorId};
pub use error::CutError;
pub use nodeset::NodeSet;
pub use request::RequestCut;
pub use space::{Block, BlockCuts, Boundary, Candidate, CandidateKind, CutCount, CutSpace};

#[cfg(test)]
mod tests;
