//! [`Device`]: the device's own engine running heads, tails and whole models, optionally slowed
//! down to emulate a slower device.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_runtime::{ModelRuntime, NamedTensors, PartRunner, PartSpec, views};
use parking_lot::Mutex;

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
    /// Runs replayed instead of computed (see [`RunMemo`]).
    memo: Option<Arc<RunMemo>>,
}

/// Device runs computed once per part and replayed after: for experiments with many emulated
/// devices on one core, whose compute is emulated anyway (each run sleeps its profiled time
/// times the slowdown, `ClientConfig::emulate_from_profile`) and whose inputs are one fixed
/// input, so that the devices cost their core nothing but encoding and sending. Shared by every
/// device of an experiment (`ClientConfig::replay_device_runs`). A real device never uses it:
/// outputs are those of the first input each part ran on.
#[derive(Debug, Default)]
pub struct RunMemo {
    runs: Mutex<HashMap<PartSpec, (NamedTensors, Duration)>>,
}

impl RunMemo {
    /// `part`'s outputs on `inputs` and how long computing them took: computed on the first
    /// call for the part, replayed after.
    fn run(
        &self,
        part: &PartRunner,
        inputs: &NamedTensors,
    ) -> Result<(NamedTensors, Duration), ClientError> {
        if let Some((out, took)) = self.runs.lock().get(part.spec()) {
            return Ok((out.clone(), *took));
        }
        let start = Instant::now();
        let out = part.run(&views(inputs))?.outputs;
        let took = start.elapsed();
        self.runs
            .lock()
            .insert(part.spec().clone(), (out.clone(), took));
        Ok((out, took))
    }
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
        Ok(Self {
            runtime,
            slowdown,
            memo: None,
        })
    }

    /// This device with its runs replayed from `memo` (see [`RunMemo`]).
    pub fn replaying(mut self, memo: Option<Arc<RunMemo>>) -> Self {
        self.memo = memo;
        self
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
        let memo = self.memo.clone();
        let (outputs, took) = tokio::task::spawn_blocking(move || match memo {
            Some(m) => m.run(&part, &inputs),
            None => {
                let start = Instant::now();
                let out = part.run(&views(&inputs))?;
                Ok((out.outputs, start.elapsed()))
            }
        })
        .await
        .map_err(|e| ClientError::BadInput(format!("device task failed: {e}")))??;
        let extra = match target {
            Some(t) => t.saturating_sub(took),
            None => took.mul_f64(self.slowdown - 1.0),
        };
        if extra.is_zero() {
            return Ok((outputs, took));
        }
        // The timer wakes up to a millisecond late: count the time the device really took, so
        // that the emulation's overshoot is not mistaken for the client's own overhead.
        let slept = Instant::now();
        tokio::time::sleep(extra).await;
        Ok((outputs, took + slept.elapsed()))
    }
}
