//! Executor threads: each takes a batch, decodes every request's inputs straight into one
//! buffer per input (rows appended, no per-request tensors), runs the whole model or the tail of
//! the batch's cut, splits the outputs by rows and answers each request.
//!
//! They are plain OS threads, not tokio tasks: a model run blocks a core for milliseconds to
//! seconds. Buffers and the codec's decoder are kept per thread and reused across batches.

use parking_lot::Mutex;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use loadpart_codec::{DecodeLimits, Decoder, validate};
use loadpart_engine::TensorRef;
use loadpart_runtime::{PartOutput, PartRunner, RuntimeError, split_rows};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{ServerError, panic_message};
use crate::jobs::{Done, Job, Ran, Reply, Timings, Work, micros};
use crate::monitor::Monitor;
use crate::registry::ServedModel;
use crate::stats::RequestCost;
use crate::validate::{Entry, InputData, ValidRequest};

mod stairs;

/// Starts `n` executor threads reading from `work`; each sends a [`Done`] on `done` after a
/// batch.
pub(crate) fn spawn(
    n: usize,
    work: mpsc::Receiver<Work>,
    done: UnboundedSender<Done>,
    monitor: Arc<Monitor>,
    limits: DecodeLimits,
) -> Result<Vec<std::thread::JoinHandle<()>>, ServerError> {
    let work = Arc::new(Mutex::new(work));
    (0..n)
        .map(|i| {
            let (work, done, monitor) = (work.clone(), done.clone(), monitor.clone());
            std::thread::Builder::new()
                .name(format!("loadpart-exec-{i}"))
                .spawn(move || {
                    let mut ex = Executor::new(monitor, limits);
                    loop {
                        // The lock is held only while waiting for the next batch.
                        let next = work.lock().recv();
                        let Ok(w) = next else { break };
                        let (seq, key) = (w.seq, w.batch.key.clone());
                        // A panic in the engine is answered inside `run`; one anywhere else
                        // (decoding, splitting outputs) drops the batch's requests, whose
                        // callers then hear that they were dropped. Either way this executor
                        // goes on: a thread that ended would leave the server short of one,
                        // and with one executor, stopped.
                        let ran = match catch_unwind(AssertUnwindSafe(|| ex.run(w))) {
                            Ok(ran) => ran,
                            Err(panic) => {
                                tracing::error!(
                                    executor = i,
                                    panic = %panic_message(panic.as_ref()),
                                    "a batch panicked outside the engine; its requests were \
                                     dropped, the executor goes on with fresh buffers"
                                );
                                ex = Executor::new(ex.monitor.clone(), limits);
                                None
                            }
                        };
                        ex.monitor.busy.fetch_sub(1, Ordering::Relaxed);
                        if done.send(Done { seq, key, ran }).is_err() {
                            break;
                        }
                    }
                })
                .map_err(ServerError::Io)
        })
        .collect()
}

struct Executor {
    /// One f32 buffer per input of the current batch; capacity kept across batches.
    bufs: Vec<Vec<f32>>,
    decoder: Decoder,
    monitor: Arc<Monitor>,
    limits: DecodeLimits,
}

impl Executor {
    fn new(monitor: Arc<Monitor>, limits: DecodeLimits) -> Self {
        Self {
            bufs: Vec::new(),
            decoder: Decoder::new(),
            monitor,
            limits,
        }
    }
}

/// A request whose inputs are in the batch buffers.
struct Admitted {
    job: Job,
    queue: Duration,
    decode: Duration,
}

impl Executor {
    /// Runs the batch and answers its requests; `None` when nothing ran (every request failed
    /// to decode, or the engine failed).
    fn run(&mut self, w: Work) -> Option<Ran> {
        let started = Instant::now();
        let first = w.batch.requests.first()?;
        let model = first.payload.req.model.clone();
        let entry = first.payload.req.entry.clone();
        // Every request of a batch has the same key, so the same part and input names.
        let part = first.payload.req.part.clone();
        let names: Vec<String> = first
            .payload
            .req
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .collect();
        let merged = !w.earlier.is_empty();
        let carried = if merged {
            self.forward(&model, w.earlier, w.dispatched)
        } else {
            None
        };
        let (mut admitted, forward_infer) = match carried {
            Some(c) => {
                self.start_buffers(&names, Some(&c.tensors));
                (c.admitted, c.infer)
            }
            None => {
                self.start_buffers(&names, None);
                (Vec::with_capacity(w.batch.requests.len()), Duration::ZERO)
            }
        };
        // Queue time runs until this executor starts the batch: a batch handed over ahead of
        // time waited in the channel too.
        for q in w.batch.requests {
            self.admit(q, started, &model.name, &mut admitted);
        }
        if admitted.is_empty() {
            return None;
        }
        let rows: Vec<usize> = admitted.iter().map(|a| a.job.req.rows).collect();
        let total: usize = rows.iter().sum();

        let runner = match (part, &entry) {
            (Some(p), _) => Ok(p),
            // Not loaded by the request path (a caller of the scheduler that skipped
            // `parts::ready`): load it here, blocking this executor.
            (None, Entry::Full) => model.runtime.full(),
            (None, Entry::Tail { cut, .. }) => model.runtime.tail(cut),
        };
        let t_run = Instant::now();
        // An engine is foreign code on inputs from the network: a panic in it fails this batch
        // (INTERNAL for each of its requests), not the server.
        let result = catch_unwind(AssertUnwindSafe(|| {
            runner.and_then(|r| self.run_part(&model, &r, &names, total))
        }));
        let infer = t_run.elapsed() + forward_infer;
        let result = match result {
            Ok(r) => r.map_err(|e| ServerError::execution(&e)),
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                tracing::error!(model = %model.name, panic = %what, "a batch panicked in the engine");
                Err(ServerError::panicked(&what))
            }
        };
        let out = match result {
            Ok(out) => out,
            Err(error) => {
                tracing::warn!(model = %model.name, %error, "batch failed");
                for a in admitted {
                    self.monitor
                        .record_failure(&model.name, a.job.req.arrival.elapsed());
                    let _ = a.job.reply.send(Err(error.for_batchmate()));
                }
                return None;
            }
        };

        let t_out = Instant::now();
        let per_request = match split_rows(out.outputs, &rows) {
            Ok(p) => p,
            Err(e) => {
                for a in admitted {
                    let _ = a.job.reply.send(Err(ServerError::execution(&e)));
                }
                return None;
            }
        };
        let output = t_out.elapsed();
        let now = Instant::now();
        // A staircase is not what the profile timed.
        let profiled = if merged {
            None
        } else {
            model.profiled_us(entry.head(), total)
        };
        let mut sum_input = Duration::ZERO;
        let mut answers = Vec::with_capacity(admitted.len());
        for (a, mut produced) in admitted.into_iter().zip(per_request) {
            sum_input += a.decode;
            let outputs = a
                .job
                .req
                .outputs
                .iter()
                .filter_map(|name| {
                    let pos = produced.iter().position(|(n, _)| n == name)?;
                    Some(produced.swap_remove(pos))
                })
                .collect();
            let timings = Timings {
                part_us: micros(a.job.req.part_wait),
                queue_us: micros(a.queue),
                decode_us: micros(a.decode),
                compute_us: micros(infer),
                batch_rows: total,
            };
            let cost = RequestCost {
                total: a.job.req.arrival.elapsed(),
                queue: a.queue,
                input: a.decode,
                infer,
                output,
            };
            self.monitor
                .record_request(&model.name, &a.job.req.key.cut, total, now, &cost);
            answers.push((a.job.reply, Reply { outputs, timings }));
        }
        // Recorded before anyone is answered, so that a client reading the statistics after its
        // reply sees its batch counted.
        self.monitor.record_batch(
            &model.name,
            now,
            total,
            infer,
            // No profile: the measured time stands in, so the slowdown stays 1.
            profiled.unwrap_or(infer.as_secs_f64() * 1e6),
            [sum_input, infer, output],
        );
        for (tx, reply) in answers {
            let _ = tx.send(Ok(reply));
        }
        // A staircase's time is not a batch time of its final key: do not learn from it.
        (!merged).then_some(Ran {
            rows: total,
            measured: started.elapsed(),
            infer,
            profiled_us: profiled,
        })
    }

    /// Runs `part` of `model` on the input buffers, which hold `rows` rows of each input in
    /// `names` (in order).
    fn run_part(
        &self,
        model: &ServedModel,
        part: &PartRunner,
        names: &[String],
        rows: usize,
    ) -> Result<PartOutput, RuntimeError> {
        let shapes: Vec<Vec<usize>> = names
            .iter()
            .map(|n| {
                let sample = model.sample_shape(n).unwrap_or(&[]);
                std::iter::once(rows)
                    .chain(sample.iter().copied())
                    .collect()
            })
            .collect();
        let views = names
            .iter()
            .zip(&shapes)
            .zip(&self.bufs)
            .map(|((n, s), b)| Ok((n.as_str(), TensorRef::f32(s, b)?)))
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        part.run(&views)
    }

    /// Decodes `q` into the input buffers and adds it to `admitted`, or answers its error.
    fn admit(
        &mut self,
        q: crate::batcher::Queued<Job>,
        dispatched: Instant,
        model: &str,
        admitted: &mut Vec<Admitted>,
    ) {
        let t0 = Instant::now();
        match self.decode(&q.payload.req) {
            Ok(()) => admitted.push(Admitted {
                job: q.payload,
                queue: dispatched.saturating_duration_since(q.arrival),
                decode: t0.elapsed(),
            }),
            Err(e) => {
                self.monitor.record_failure(model, q.arrival.elapsed());
                let _ = q.payload.reply.send(Err(e));
            }
        }
    }

    /// Appends `req`'s rows to the input buffers; on error the buffers are as before.
    fn decode(&mut self, req: &ValidRequest) -> Result<(), ServerError> {
        let marks: Vec<usize> = self.bufs.iter().map(Vec::len).collect();
        let result = self.decode_all(req);
        if result.is_err() {
            for (b, m) in self.bufs.iter_mut().zip(marks) {
                b.truncate(m);
            }
        }
        result
    }

    fn decode_all(&mut self, req: &ValidRequest) -> Result<(), ServerError> {
        for (input, buf) in req.inputs.iter().zip(self.bufs.iter_mut()) {
            match &input.data {
                InputData::RawF32(bytes) => append_le_f32(buf, bytes),
                InputData::Encoded(t) => {
                    let codec = |source| ServerError::Codec {
                        input: input.name.clone(),
                        source,
                    };
                    // Validated at the edge already; validating again is what lets the decoder
                    // accept it (a ValidTensor borrows the request) and costs one CRC pass.
                    let valid = validate(&t.header, &t.payload, &self.limits).map_err(codec)?;
                    let start = buf.len();
                    buf.resize(start + valid.elements(), 0.0);
                    self.decoder
                        .decode_into(&valid, &mut buf[start..])
                        .map_err(codec)?;
                }
            }
        }
        Ok(())
    }
}

/// Appends little-endian FP32 `bytes` (a whole number of values, as validated) to `buf`: one
/// memcpy on a little-endian host whatever the bytes' alignment (they are slices of a received
/// message, so often unaligned), else value by value.
fn append_le_f32(buf: &mut Vec<f32>, bytes: &[u8]) {
    let start = buf.len();
    let n = bytes.len() / 4;
    if cfg!(target_endian = "little") {
        if let Ok(values) = bytemuck::try_cast_slice::<u8, f32>(bytes) {
            buf.extend_from_slice(values);
            return;
        }
        buf.resize(start + n, 0.0);
        bytemuck::cast_slice_mut::<f32, u8>(&mut buf[start..]).copy_from_slice(&bytes[..n * 4]);
    } else {
        buf.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::append_le_f32;

    #[test]
    fn raw_values_append_from_any_alignment() {
        let values = [1.5f32, -2.25, 3.0e-7, f32::MAX];
        let mut bytes = vec![0u8];
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        // Offset 1: never 4-aligned.
        let mut buf = vec![9.0f32];
        append_le_f32(&mut buf, &bytes[1..]);
        assert_eq!(buf, [9.0, 1.5, -2.25, 3.0e-7, f32::MAX]);
    }
}
