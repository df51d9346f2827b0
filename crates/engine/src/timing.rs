//! Repeated timed runs for profiling: warm-up first (allocators, lazily built plans, caches),
//! then the runs that count. Times are the backend's own [`crate::RunOutput::elapsed`], so input
//! checking and output hand-over are excluded.

use std::time::Duration;

use crate::{EngineError, Model, TensorRef};

/// Runs `model` `warmup` times untimed, then `runs` times, and returns the `runs` elapsed times
/// in run order. Stops at the first error.
pub fn time_runs(
    model: &dyn Model,
    inputs: &[(&str, TensorRef<'_>)],
    warmup: usize,
    runs: usize,
) -> Result<Vec<Duration>, EngineError> {
    for _ in 0..warmup {
        model.run(inputs)?;
    }
    (0..runs).map(|_| Ok(model.run(inputs)?.elapsed)).collect()
}
