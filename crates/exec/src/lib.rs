//! Runs partitioned models on an engine.
//!
//! This crate composes the ONNX graph crate (cuts, part extraction) with an engine: it loads a
//! head and a tail for a cut and runs them as the device and the server would
//! ([`SplitRunner`]), checks that head + tail computes what the whole model computes
//! ([`check_split`]), and measures the costs the planner needs ([`profile_model`]). It knows
//! nothing of networks.
#![forbid(unsafe_code)]

mod accuracy;
mod check;
mod error;
mod inputs;
mod profile;
mod runner;

pub use accuracy::{
    AGREEMENT_BATCH, AgreementReport, Compression, CutAgreement, EncodeOptions, Granularity,
    InputKind, Precision, codec_agreement, codec_agreement_with, sample_cuts,
};
pub use check::{
    CheckOptions, CheckReport, CutFailure, check_split, check_split_batches, compare_outputs,
};
pub use error::ExecError;
pub use inputs::{NamedTensors, random_inputs, reference_input};
pub use profile::{ProfileOptions, profile_model};
pub use runner::{Prepared, SplitRunner};
