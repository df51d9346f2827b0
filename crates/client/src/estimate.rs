//! The estimators, each pure and driven by `now`: see [`Estimator`] for the whole, and the
//! modules for each part.

mod cut_batches;
mod estimator;
mod ewma;
mod link;
mod load;
mod misses;
mod staleness;

pub use cut_batches::{CutBatches, CutWaits};
pub use estimator::{Estimates, Estimator, EstimatorConfig, Fallbacks};
pub use ewma::{Domain, Ewma, MAX_SAMPLE};
pub use link::{
    Direction, LinkConfig, LinkEstimates, LinkEstimator, MAX_PROBE_BYTES, MIN_BYTES_PER_S,
    MIN_PROBE_BYTES, Observed, Offload, Probe,
};
pub use load::{
    CutLoad, DeviceShare, FormingBatch, LoadConfig, LoadEstimates, LoadEstimator, LoadSample,
};
pub use misses::{Misses, PolicyMisses};
pub use staleness::{Reading, Safe, Staleness};
