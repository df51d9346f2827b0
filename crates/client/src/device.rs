//! [`Device`]: the device's own engine running heads, tails and whole models, optionally slowed
//! down to emulate a slower device.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_runtime::{ModelRuntime, NamedTensors, PartRunner, views};

use crate::ClientError;

/// The device side of the model: parts run on its engine, off the async threads.
///
/// On one machine a "device" and the server run at the same speed, so every plan would keep the
/// work local. `slowdown` X > 1 makes every run take X times as long as it did (it sleeps the
/// extra `(X - 1) * t`), so experiments emulate a phone several times slower than the server
/// without stealing CPU from it; the planner is told the same X.
#[derive(Debug, Clone)]
pub struct Device {
    runtime: Arc<ModelRuntime>,
    slowdown: f64,
}

impl Device {
    /// Errors when `slowdown` is not finite or below 1.
    pub fn new(runtime: Arc<ModelRuntime>, slowdown: f64) -> Result<Self, ClientError> {
        if !(slowdown.is_finite() && slowdown >= 1.0) {
            return Err(ClientError::Config {
                name: "device_slowdown",
                reason: format!("{slowdown} (must be finite and at least 1)"),
            });
        }
        Ok(Self { runtime, slowdown })
    }

    /// The model runtime (prepared model, engine, part cache).
    pub fn runtime(&self) -> &Arc<ModelRuntime> {
        &self.runtime
    }

    /// The emulated slowdown factor.
    pub fn slowdown(&self) -> f64 {
        self.slowdown
    }

    /// Loads (or takes from the cache) the part `get` names, on a blocking thread.
    pub async fn part(
        &self,
        get: impl FnOnce(&ModelRuntime) -> Result<Arc<PartRunner>, loadpart_runtime::RuntimeError>
        + Send
        + 'static,
    ) -> Result<Arc<PartRunner>, ClientError> {
        let rt = self.runtime.clone();
        Ok(tokio::task::spawn_blocking(move || get(&rt))
            .await
            .map_err(|e| ClientError::BadInput(format!("device task failed: {e}")))??)
    }

    /// Runs `part` on `inputs` and returns its outputs and the emulated device time, which is
    /// also how long this call took: the run's wall time times the slowdown, or, with `target`
    /// (the profiled time of the part times the slowdown), at least `target`.
    ///
    /// `target` is for several emulated devices sharing one core: their runs slow each other
    /// down, and scaling that contention by the slowdown would make each device look slower than
    /// it is. Sleeping up to the profiled time instead keeps each device as fast as one alone
    /// (as long as the real runs fit in it).
    pub async fn run(
        &self,
        part: Arc<PartRunner>,
        inputs: Arc<NamedTensors>,
        target: Option<Duration>,
    ) -> Result<(NamedTensors, Duration), ClientError> {
        let (out, took) = tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let out = part.run(&views(&inputs));
            (out, start.elapsed())
        })
        .await
        .map_err(|e| ClientError::BadInput(format!("device task failed: {e}")))?;
        let out = out?;
        let extra = match target {
            Some(t) => t.saturating_sub(took),
            None => took.mul_f64(self.slowdown - 1.0),
        };
        if !extra.is_zero() {
            tokio::time::sleep(extra).await;
        }
        Ok((out.outputs, took + extra))
    }
}
