//! Offline harnesses for partitioned models: conformance, codec accuracy and profiling.
//!
//! Built on the serving runtime (`loadpart-runtime`): [`Split`] loads a cut's head and tail and
//! runs them as the device and the server would, [`check_split`] checks that head + tail
//! computes what the whole model computes, [`codec_agreement`] measures what the codec costs in
//! top-1 agreement, and [`profile_model`] measures the costs the planner needs. Only the CLI,
//! tests and benches use it; servers and clients use the runtime. It knows nothing of networks.
#![forbid(unsafe_code)]

mod accuracy;
mod check;
mod error;
mod inputs;
mod inspect;
mod profile;
mod profile_cache;
mod split;

pub use accuracy::{
    AGREEMENT_BATCH, AgreementOptions, AgreementReport, CENTERED_MAX_ELEMENTS, Compression,
    CutAgreement, EncodeOptions, FullOffload, Granularity, InputKind, Precision, codec_agreement,
    codec_agreement_with, sample_cuts,
};
pub use check::{
    CheckOptions, CheckReport, CutFailure, check_split, check_split_batches, compare_outputs,
};
pub use error::ExecError;
pub use inputs::{NamedTensors, random_inputs, reference_input};
pub use inspect::{BlockReport, CutReport, ModelReport, inspect};
pub use loadpart_graph::{Prepared, randomize_for_checks};
pub use loadpart_runtime::views;
pub use profile::{CodecFloors, ProfileEffort, ProfileOptions, TIGHTER_ZSTD_LEVELS, profile_model};
pub use profile_cache::{
    Lookup, Measured, ProfileCache, ProfileKey, default_dir, host_name, server_batch_sizes,
};
pub use split::Split;
