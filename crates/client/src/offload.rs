//! Offloading: the head on the device, the call, the reply, and the fallback to the device
//! when the server refuses, is late, or fails, so that a request always returns its outputs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_cuts::CutId;
use loadpart_plan::{Breakdown, CutPosition, Decision, Estimate, TensorEncoding};
use loadpart_proto::inference::ModelInferResponse;
use loadpart_runtime::{NamedTensors, Tensor};
use tonic::Code;

use crate::link_use::Soon;
use crate::shared::{Shared, local_outcome, us};
use crate::wire::{self, RequestMeta};
use crate::{
    ClientError, Failure, FallbackReason, InferOptions, InferOutcome, LocalReason, Measured,
    Offload, Route, ServerTimings,
};

impl Shared {
    /// A cut the caller forced while there is no plan (the server has no profile, or has not
    /// been reached): offloaded as asked, with nothing predicted. Its deadline comes from the
    /// device profile's whole-model time, as a planned request's does from the planner's.
    pub(crate) async fn offload_unplanned(
        &self,
        id: &CutId,
        inputs: Arc<NamedTensors>,
        opts: &InferOptions,
        estimate: Estimate,
        start: Instant,
    ) -> Result<InferOutcome, ClientError> {
        let dag = self.device.runtime().prepared().stages.dag();
        let cut = dag.cut_by_id(id).map_err(|e| ClientError::BadCut {
            cut: id.to_string(),
            reason: e.to_string(),
        })?;
        let canonical = cut.id(dag);
        let policy = format!("fixed:{id}");
        let decision = Decision {
            position: CutPosition {
                candidate_index: None,
                head_fraction: cut.head.len() as f64 / dag.node_count().max(1) as f64,
            },
            cut,
            predicted: Breakdown::default(),
            objective_us: 0.0,
            decision_ns: 0,
        };
        if decision.cut.is_full_local() || !self.breaker.lock().allows_offload() {
            let why = if decision.cut.is_full_local() {
                Route::Local
            } else {
                Route::LocalOnly {
                    why: LocalReason::BackingOff,
                }
            };
            let (outputs, dev) = self.run_full(inputs).await?;
            self.count(|st| match why {
                Route::Local => st.local += 1,
                _ => st.local_only += 1,
            });
            return Ok(local_outcome(
                outputs,
                policy,
                canonical,
                why,
                Breakdown::default(),
                estimate,
                dev,
                start,
            ));
        }
        let local_us: f64 = self
            .device_profile
            .nodes
            .iter()
            .filter_map(|n| n.time_us.first())
            .sum::<f64>()
            * self.device.slowdown();
        let deadline = self.deadline(local_us, &inputs);
        let asked = Asked {
            opts,
            policy: &policy,
            deadline,
            start,
            encodings: None,
        };
        let mut o = self.offload(&decision, &canonical, inputs, &asked).await?;
        o.estimate = estimate;
        Ok(o)
    }

    /// Head here, tail on the server; on any failure the tail (or the whole model) here. In
    /// steps: run the head, encode what it sends, call the server, read the reply (or the
    /// failure), and fall back to the device.
    pub(crate) async fn offload(
        &self,
        decision: &Decision,
        cut: &CutId,
        inputs: Arc<NamedTensors>,
        asked: &Asked<'_>,
    ) -> Result<InferOutcome, ClientError> {
        let (deadline, start) = (asked.deadline, asked.start);
        // No bandwidth probe may start while the head runs: the upload follows at once.
        let soon = self.link_use.soon();
        let head = self.run_head(decision, cut, &inputs).await?;
        let sent: &[(String, Tensor)] = head.sent.as_deref().unwrap_or(&inputs);
        let raw_plain = decision.cut.is_full_offload() && asked.opts.raw_inputs;
        let encoded = if raw_plain {
            wire::raw_tensors(sent)?
        } else {
            self.with_encoder(|enc| wire::encode_tensors_as(enc, sent, &|n| asked.encoding(n)))?
        };
        let mut measured = Measured {
            device_us: us(head.took),
            encode_us: us(encoded.encode),
            ..Measured::default()
        };
        let sent_bytes = encoded.bytes;
        let (result, call) = self
            .call(cut, &head.kept, encoded, raw_plain, deadline, soon)
            .await;
        // Only an offload predicted to answer within its deadline says something about the
        // risk the prediction misses (see `Misses`); one expected to be late is no news, and
        // raw FP32 inputs are not what the prediction priced (it prices encoded tensors).
        let p = &decision.predicted;
        let predicted_call = p.upload + p.rtt + p.queue + p.server + p.decode + p.download;
        let informative = !raw_plain && predicted_call < us(deadline);
        // The miss rate learnt from this offload is its policy's own.
        let learn = informative.then_some(asked.policy);
        let observed = self.observe(cut, result, call, deadline, learn, sent_bytes, &head.kept);
        let why = match observed {
            Ok((outputs, reply)) => {
                self.count(|st| st.offloaded += 1);
                measured.network_us = (us(call.took) - reply.server_us).max(0.0);
                measured.rpc_us = us(call.took);
                measured.server = reply.timings;
                measured.total_us = us(start.elapsed());
                return Ok(InferOutcome {
                    outputs,
                    policy: asked.policy.to_string(),
                    cut: cut.clone(),
                    head_fraction: decision.position.head_fraction,
                    route: Route::Offloaded,
                    predicted: decision.predicted,
                    estimate: Estimate::idle(1.0),
                    measured,
                    sent_bytes,
                    received_bytes: reply.bytes,
                });
            }
            Err(why) => why,
        };
        tracing::debug!(cut = %cut, "offload failed ({why}); finishing on the device");
        measured.network_us = us(call.took);
        measured.rpc_us = us(call.took);
        let fb_start = Instant::now();
        let outputs = self
            .fall_back(decision, cut, inputs, head.sent, head.kept, asked)
            .await?;
        measured.fallback_us = us(fb_start.elapsed());
        measured.total_us = us(start.elapsed());
        Ok(InferOutcome {
            outputs,
            policy: asked.policy.to_string(),
            cut: cut.clone(),
            head_fraction: decision.position.head_fraction,
            route: Route::Fallback { why },
            predicted: decision.predicted,
            estimate: Estimate::idle(1.0),
            measured,
            sent_bytes,
            received_bytes: 0,
        })
    }

    /// The head of `cut` on the device: what it sends, and the model outputs it keeps. A full
    /// offload runs nothing and sends the inputs as they are, without a copy.
    async fn run_head(
        &self,
        decision: &Decision,
        cut: &CutId,
        inputs: &Arc<NamedTensors>,
    ) -> Result<HeadOut, ClientError> {
        let dag = self.device.runtime().prepared().stages.dag();
        let outputs = self.device.runtime().prepared().model.outputs();
        if decision.cut.is_full_offload() {
            let kept = inputs
                .iter()
                .filter(|(name, _)| outputs.contains(name))
                .cloned()
                .collect();
            return Ok(HeadOut {
                sent: None,
                kept,
                took: Duration::ZERO,
            });
        }
        let sent_names: Vec<&str> = decision
            .cut
            .sent_tensors(dag)
            .map(|t| dag.tensor(t).name.as_str())
            .collect();
        let c = cut.clone();
        let head = self.device.part(move |rt| rt.head(&c)).await?;
        let target = self.emulated(|_| decision.predicted.device);
        let (head_out, took) = self.device.run(head, inputs.clone(), target).await?;
        let (mut sent, mut kept): (NamedTensors, NamedTensors) = (Vec::new(), Vec::new());
        for (name, t) in head_out {
            match (sent_names.contains(&name.as_str()), outputs.contains(&name)) {
                (true, true) => {
                    kept.push((name.clone(), t.clone()));
                    sent.push((name, t));
                }
                (true, false) => sent.push((name, t)),
                (false, true) => kept.push((name, t)),
                (false, false) => {}
            }
        }
        Ok(HeadOut {
            sent: Some(sent),
            kept,
            took,
        })
    }

    /// Sends the encoded tensors of `cut` with `deadline`, asking for the model outputs the
    /// device did not `keep`. `soon` (held since before the head) is released once the upload
    /// has its ticket, so that no probe starts in between.
    async fn call(
        &self,
        cut: &CutId,
        kept: &NamedTensors,
        encoded: wire::EncodedCut,
        raw_plain: bool,
        deadline: Duration,
        soon: Soon<'_>,
    ) -> (CallResult, Call) {
        let wanted: Vec<String> = self
            .device
            .runtime()
            .prepared()
            .model
            .outputs()
            .iter()
            .filter(|o| !kept.iter().any(|(k, _)| k == *o))
            .cloned()
            .collect();
        let identity = self.device.runtime().identity();
        let req = wire::request(
            &RequestMeta {
                model: &self.config.model,
                identity: (!raw_plain).then_some(identity),
                cut: (!raw_plain).then_some(cut),
                outputs: if raw_plain { &[] } else { &wanted },
                timeout: Some(deadline),
            },
            encoded,
        );
        let mut request = tonic::Request::new(req);
        request.set_timeout(deadline);
        let ticket = self.link_use.begin();
        drop(soon);
        let started = Instant::now();
        let result = self.remote.infer.clone().model_infer(request).await;
        let took = started.elapsed();
        let alone = self.link_use.end(ticket);
        let call = Call {
            took,
            alone,
            at: Instant::now(),
        };
        (result, call)
    }

    /// Reads what `call` brought back: the model outputs (with what the device kept) and the
    /// reply's figures, or why the server did not answer. Either way the estimators, the miss
    /// rate (when `informative`) and the breaker learn from it.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call's parts, named at the one call site"
    )]
    fn observe(
        &self,
        cut: &CutId,
        result: CallResult,
        call: Call,
        deadline: Duration,
        learn: Option<&str>,
        sent_bytes: u64,
        kept: &NamedTensors,
    ) -> Result<(NamedTensors, ReplyFigures), FallbackReason> {
        let now = call.at;
        let mut pushback = None;
        let failure = match result {
            Ok(resp) => match wire::parse_reply(resp.into_inner()) {
                Ok(reply) => {
                    let server_us = reply.timings.map_or(0.0, |t| t.total_us());
                    {
                        let mut e = self.estimator.lock();
                        if let Some(policy) = learn {
                            e.misses.of(policy).observe(false, us(call.took), now);
                        }
                        if let Some(load) = &reply.load {
                            let _ = e.load.observe_report(load, now);
                        }
                        if let Some(t) = &reply.timings {
                            let _ = e.load.observe_own_batch(cut.as_str(), t.batch_size, now);
                        }
                        if call.alone {
                            let _ = e.link.observe_offload(&Offload {
                                sent_bytes,
                                received_bytes: reply.bytes,
                                total_elapsed: call.took,
                                server_time_us: server_us,
                                now,
                            });
                        }
                    }
                    self.breaker.lock().success();
                    let model = &self.device.runtime().prepared().model;
                    match merge(model.outputs(), kept.clone(), reply.outputs) {
                        Ok(outputs) => {
                            return Ok((
                                outputs,
                                ReplyFigures {
                                    server_us,
                                    timings: reply.timings,
                                    bytes: reply.bytes,
                                },
                            ));
                        }
                        Err(m) => (Failure::ServerError, FallbackReason::BadReply(m)),
                    }
                }
                Err(e) => (
                    Failure::ServerError,
                    FallbackReason::BadReply(e.to_string()),
                ),
            },
            Err(status) => {
                pushback = wire::pushback_from_status(&status);
                classify(&status, self, now, call.took >= deadline)
            }
        };
        let (kind, why) = failure;
        if let Some(policy) = learn
            && matches!(kind, Failure::Slow | Failure::Overloaded)
        {
            self.estimator
                .lock()
                .misses
                .of(policy)
                .observe(true, us(call.took), now);
        }
        match pushback {
            Some(wait) if kind == Failure::Overloaded => {
                self.breaker.lock().refused_with_pushback(now, wait);
            }
            _ => self.breaker.lock().failure(kind, now),
        }
        self.count(|st| {
            st.fallbacks += 1;
            if kind == Failure::Overloaded {
                st.overloaded += 1;
            }
        });
        Err(why)
    }

    /// Finishes on the device what the server did not: the tail of `cut` on the tensors the
    /// server would have decoded (so the result is the same whichever side computed it), or
    /// the whole model after a full offload.
    async fn fall_back(
        &self,
        decision: &Decision,
        cut: &CutId,
        inputs: Arc<NamedTensors>,
        sent: Option<NamedTensors>,
        kept: NamedTensors,
        asked: &Asked<'_>,
    ) -> Result<NamedTensors, ClientError> {
        let Some(sent) = sent else {
            return Ok(self.run_full(inputs).await?.0);
        };
        let sent =
            self.with_encoder(|enc| wire::quantized_copy(enc, &sent, &|n| asked.encoding(n)))?;
        let c = cut.clone();
        let tail = self.device.part(move |rt| rt.tail(&c)).await?;
        let target =
            self.emulated(|plan| (plan.local_device_us - decision.predicted.device).max(0.0));
        let (tail_out, _) = self.device.run(tail, Arc::new(sent), target).await?;
        let model = &self.device.runtime().prepared().model;
        merge(model.outputs(), kept, tail_out).map_err(ClientError::BadInput)
    }
}

/// What the caller asked of an offload: its options, the policy it is counted for (whose miss
/// rate it feeds), its deadline, and when the request started.
pub(crate) struct Asked<'a> {
    pub opts: &'a InferOptions,
    pub policy: &'a str,
    pub deadline: Duration,
    pub start: Instant,
    /// Per sent tensor, its encoding as the planner priced the cut; `None` sends every tensor
    /// with the configured encoding (a forced cut without a plan).
    pub encodings: Option<Vec<(String, TensorEncoding)>>,
}

impl Asked<'_> {
    /// How the tensor `name` is encoded: as planned, else as configured.
    fn encoding(&self, name: &str) -> TensorEncoding {
        self.encodings
            .as_ref()
            .and_then(|plan| plan.iter().find(|(n, _)| n == name))
            .map_or(TensorEncoding::Compressed, |(_, e)| *e)
    }
}

/// What the head left for the call.
struct HeadOut {
    /// The tensors to send; `None` for a full offload, which sends the inputs as they are.
    sent: Option<NamedTensors>,
    /// Model outputs the device computed itself (the head's, or inputs that are outputs).
    kept: NamedTensors,
    /// The head's device time (emulated, with a slowdown).
    took: Duration,
}

/// What the server sent back.
type CallResult = Result<tonic::Response<ModelInferResponse>, tonic::Status>;

/// How a call went.
#[derive(Debug, Clone, Copy)]
struct Call {
    /// From sending to the answer (or the failure).
    took: Duration,
    /// Whether the call had the link to itself (only then is it a bandwidth sample).
    alone: bool,
    /// When it came back.
    at: Instant,
}

/// What a reply says besides its outputs.
struct ReplyFigures {
    /// The server's own time for the request, µs.
    server_us: f64,
    timings: Option<ServerTimings>,
    /// Bytes of the reply.
    bytes: u64,
}

/// What a failed call means for the breaker and the outcome; a refusal's load report is fed to
/// the estimator.
fn classify(
    status: &tonic::Status,
    s: &Shared,
    now: Instant,
    timed_out: bool,
) -> (Failure, FallbackReason) {
    if status.code() == Code::ResourceExhausted
        && let Some(load) = wire::load_from_status(status)
    {
        let _ = s.estimator.lock().load.observe_report(&load, now);
    }
    failure_of(status, timed_out)
}

/// What a failed call's status means. A call cancelled when its deadline had passed
/// (`timed_out`) was slow, not cut off: tonic reports its own client-side timeout as CANCELLED
/// "Timeout expired", and counting that as a lost connection would open the breaker on a merely
/// busy server.
fn failure_of(status: &tonic::Status, timed_out: bool) -> (Failure, FallbackReason) {
    let msg = || format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::ResourceExhausted => (
            Failure::Overloaded,
            FallbackReason::Overloaded(status.message().to_string()),
        ),
        Code::DeadlineExceeded => (Failure::Slow, FallbackReason::DeadlineExceeded),
        Code::Cancelled if timed_out => (Failure::Slow, FallbackReason::DeadlineExceeded),
        Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted => {
            (Failure::Unreachable, FallbackReason::Unreachable(msg()))
        }
        _ => (Failure::ServerError, FallbackReason::ServerError(msg())),
    }
}

/// The model's outputs in model order, from what the device kept and what came back.
fn merge(order: &[String], kept: NamedTensors, got: NamedTensors) -> Result<NamedTensors, String> {
    let mut pool: Vec<(String, Tensor)> = kept.into_iter().chain(got).collect();
    order
        .iter()
        .map(|name| {
            let i = pool
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| format!("output {name:?} is missing"))?;
            Ok(pool.swap_remove(i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: f32) -> Tensor {
        Tensor::f32(vec![1], vec![v]).unwrap()
    }

    #[test]
    fn a_call_cancelled_at_its_deadline_was_slow_and_an_early_cancel_unreachable() {
        let timeout = tonic::Status::cancelled("Timeout expired");
        assert_eq!(
            failure_of(&timeout, true),
            (Failure::Slow, FallbackReason::DeadlineExceeded)
        );
        assert_eq!(failure_of(&timeout, false).0, Failure::Unreachable);
        let refused = tonic::Status::resource_exhausted("queue full");
        assert_eq!(
            failure_of(&refused, true),
            (
                Failure::Overloaded,
                FallbackReason::Overloaded("queue full".into())
            )
        );
        let late = tonic::Status::deadline_exceeded("late");
        assert_eq!(failure_of(&late, false).0, Failure::Slow);
        let bad = tonic::Status::invalid_argument("no such cut");
        assert_eq!(failure_of(&bad, true).0, Failure::ServerError);
    }

    #[test]
    fn merge_orders_outputs_and_names_a_missing_one() {
        let order = ["y1".to_string(), "y2".to_string()];
        let m = merge(
            &order,
            vec![("y2".into(), t(2.0))],
            vec![("y1".into(), t(1.0))],
        )
        .unwrap();
        assert_eq!(m[0].0, "y1");
        assert_eq!(m[1].1.as_f32().unwrap(), [2.0]);
        let e = merge(&order, vec![], vec![("y1".into(), t(1.0))]).unwrap_err();
        assert!(e.contains("y2"), "{e}");
    }
}
