//! The baseline: the engine called directly in this process, one run after another.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use loadpart_engine::{Model, Tensor, TensorData};
use loadpart_runtime::{NamedTensors, views};

use super::report::{Level, LevelKind};

/// Runs `model` on `batch` rows of `inputs` (batch-1 tensors, repeated) back to back: `warmup`
/// first, then `measure_for`; one row's latency is its run's.
pub fn measure(
    model: &dyn Model,
    inputs: &NamedTensors,
    batch: usize,
    warmup: Duration,
    measure_for: Duration,
) -> Result<Level> {
    let batched = inputs
        .iter()
        .map(|(n, t)| Ok((n.clone(), repeat_rows(t, batch)?)))
        .collect::<Result<NamedTensors>>()?;
    let run_inputs = views(&batched);
    let warm_until = Instant::now() + warmup;
    while Instant::now() < warm_until {
        model.run(&run_inputs)?;
    }
    let cpu0 = super::cpu_time("self");
    let start = Instant::now();
    let mut latencies_ms = Vec::new();
    while start.elapsed() < measure_for {
        let t = Instant::now();
        model.run(&run_inputs)?;
        latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let elapsed = start.elapsed();
    let cpu = super::cpu_time("self").zip(cpu0).map(|(b, a)| b - a);
    Ok(Level::new(
        LevelKind::InProcess { batch },
        &latencies_ms,
        batch,
        elapsed,
        cpu,
        None,
    ))
}

/// `t` (one row) repeated `rows` times along the first dimension.
fn repeat_rows(t: &Tensor, rows: usize) -> Result<Tensor> {
    if t.shape.first() != Some(&1) {
        bail!("expected a batch-1 input, got shape {:?}", t.shape);
    }
    let mut shape = t.shape.clone();
    shape[0] = rows;
    let data = match &t.data {
        TensorData::F32(v) => TensorData::F32(v.repeat(rows).into()),
        TensorData::I64(v) => TensorData::I64(v.repeat(rows).into()),
    };
    Ok(Tensor::new(shape, data)?)
}
