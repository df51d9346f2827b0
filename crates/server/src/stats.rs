//! Triton's cumulative per-model statistics (the `statistics` extension): counts and durations
//! since start, per model and per batch size.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadpart_proto::inference::{
    InferBatchStatistics, InferStatistics, ModelStatistics, StatisticDuration,
};

/// A count and a summed duration.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    count: u64,
    ns: u64,
}

impl Acc {
    fn add(&mut self, n: u64, d: Duration) {
        self.count += n;
        self.ns = self
            .ns
            .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    }
    fn proto(self) -> Option<StatisticDuration> {
        Some(StatisticDuration {
            count: self.count,
            ns: self.ns,
        })
    }
}

/// Per batch size: input (decode), infer and output (split, serialize) durations.
#[derive(Debug, Clone, Copy, Default)]
struct BatchAcc {
    input: Acc,
    infer: Acc,
    output: Acc,
}

/// One model's cumulative statistics.
#[derive(Debug, Default)]
pub struct ModelStats {
    success: Acc,
    fail: Acc,
    queue: Acc,
    compute_input: Acc,
    compute_infer: Acc,
    compute_output: Acc,
    inference_count: u64,
    execution_count: u64,
    last_inference_ms: u64,
    batches: BTreeMap<u64, BatchAcc>,
}

/// What one request cost, per phase, as the executor measured it.
#[derive(Debug, Clone, Copy)]
pub struct RequestCost {
    /// Arrival to reply.
    pub total: Duration,
    /// Arrival to leaving the queue.
    pub queue: Duration,
    /// Decoding its inputs into the batch buffer.
    pub input: Duration,
    /// Its batch's engine run.
    pub infer: Duration,
    /// Splitting and serializing its outputs.
    pub output: Duration,
}

impl ModelStats {
    /// A request answered with its outputs.
    pub fn success(&mut self, c: &RequestCost) {
        self.success.add(1, c.total);
        self.queue.add(1, c.queue);
        self.compute_input.add(1, c.input);
        self.compute_infer.add(1, c.infer);
        self.compute_output.add(1, c.output);
        self.last_inference_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
    }

    /// A request answered with an error, after `d` in the server.
    pub fn fail(&mut self, d: Duration) {
        self.fail.add(1, d);
    }

    /// One batch of `rows` rows ran, with these summed phase times.
    pub fn batch(&mut self, rows: usize, input: Duration, infer: Duration, output: Duration) {
        self.inference_count += rows as u64;
        self.execution_count += 1;
        let b = self.batches.entry(rows as u64).or_default();
        b.input.add(1, input);
        b.infer.add(1, infer);
        b.output.add(1, output);
    }

    /// Triton's message for model `name`.
    pub fn proto(&self, name: &str) -> ModelStatistics {
        ModelStatistics {
            name: name.to_string(),
            version: "1".into(),
            last_inference: self.last_inference_ms,
            inference_count: self.inference_count,
            execution_count: self.execution_count,
            inference_stats: Some(InferStatistics {
                success: self.success.proto(),
                fail: self.fail.proto(),
                queue: self.queue.proto(),
                compute_input: self.compute_input.proto(),
                compute_infer: self.compute_infer.proto(),
                compute_output: self.compute_output.proto(),
                cache_hit: Acc::default().proto(),
                cache_miss: Acc::default().proto(),
            }),
            batch_stats: self
                .batches
                .iter()
                .map(|(&batch_size, b)| InferBatchStatistics {
                    batch_size,
                    compute_input: b.input.proto(),
                    compute_infer: b.infer.proto(),
                    compute_output: b.output.proto(),
                })
                .collect(),
            memory_usage: Vec::new(),
            response_stats: Default::default(),
        }
    }
}
