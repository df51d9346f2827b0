//! [`Shared`]: what one client's requests and background tasks share (configuration, device,
//! server stubs, the plan once the server profile is known, estimators, breaker, counts), and
//! the steps every request takes before it offloads: decide, or run on the device.

use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadpart_codec::Encoder;
use loadpart_cuts::CutId;
use loadpart_plan::{
    Breakdown, Conditions, Decision, Estimate, Hysteresis, ModelProfile, PerCut, Planner,
    PlannerOptions, Policy, PolicyKind,
};
use loadpart_proto::loadpart::ServerProfileRequest;
use loadpart_runtime::NamedTensors;
use tonic::Code;

use crate::link_use::LinkUse;
use crate::{
    Breaker, ClientConfig, ClientError, Device, Estimator, InferOptions, InferOutcome, LocalReason,
    Measured, Remote, Route,
};

/// The planner and default policy, once the server's profile is known.
#[derive(Debug)]
pub(crate) struct Plan {
    pub planner: Arc<Planner>,
    pub policy: Box<dyn Policy>,
    /// The whole model's predicted time on this (emulated) device, µs.
    pub local_device_us: f64,
}

/// Counts of what the client did, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Inferences that ran entirely on the device by plan.
    pub local: u64,
    /// Inferences that ran on the device without trying the server.
    pub local_only: u64,
    /// Inferences whose tail the server ran.
    pub offloaded: u64,
    /// Offloads that failed and finished on the device.
    pub fallbacks: u64,
    /// Of those, refusals for load.
    pub overloaded: u64,
    /// Times the circuit breaker opened.
    pub breaker_opened: u64,
}

/// Everything one client's requests and background tasks share.
pub(crate) struct Shared {
    pub config: ClientConfig,
    pub device: Device,
    pub device_profile: ModelProfile,
    pub remote: Remote,
    pub plan: RwLock<Option<Arc<Plan>>>,
    pub estimator: Mutex<Estimator>,
    pub breaker: Mutex<Breaker>,
    /// Calls moving data now: probes wait for an idle link, and only calls that had it alone
    /// become bandwidth samples.
    pub link_use: LinkUse,
    /// The server answered that it has no profile of the model (nothing to plan with until
    /// it has one).
    pub profile_missing: std::sync::atomic::AtomicBool,
    /// This device's randomised hysteresis on `loadpart`'s picks (margin 0: off).
    pub hysteresis: Hysteresis,
    /// Encoders kept between requests (see [`Shared::with_encoder`]).
    pub encoders: Mutex<Vec<Encoder>>,
    pub stats: Mutex<ClientStats>,
}

/// Why the server profile could not be fetched.
pub(crate) enum FetchError {
    /// The server is not there (yet): retry later.
    Unreachable(String),
    /// The server serves the model but has no profile of it (it was started without one and
    /// without measuring one): nothing to plan with, but forced cuts still offload.
    Missing(String),
    /// The server answered, and the answer cannot be used.
    Fatal(ClientError),
}

impl Shared {
    pub(crate) fn plan(&self) -> Option<Arc<Plan>> {
        self.plan.read().clone()
    }

    /// Runs `f` with an encoder of the pool (a new one when every one is in use) and puts it
    /// back: encoders keep buffers between requests.
    pub(crate) fn with_encoder<R>(
        &self,
        f: impl FnOnce(&mut Encoder) -> Result<R, ClientError>,
    ) -> Result<R, ClientError> {
        let mut enc = match self.encoders.lock().pop() {
            Some(e) => e,
            None => Encoder::new(self.config.codec)?,
        };
        let r = f(&mut enc);
        self.encoders.lock().push(enc);
        r
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut ClientStats)) {
        f(&mut self.stats.lock());
    }

    /// With `emulate_from_profile`, the emulated duration of a device run: `us(plan)` in µs
    /// (device times from the planner include the slowdown).
    pub(crate) fn emulated(&self, us: impl FnOnce(&Plan) -> f64) -> Option<Duration> {
        if !self.config.emulate_from_profile {
            return None;
        }
        let t = us(&*self.plan()?);
        (t.is_finite() && t >= 0.0).then(|| Duration::from_secs_f64(t * 1e-6))
    }

    /// Asks the server for its profile of the model and checks it is for the same model.
    pub(crate) async fn fetch_server_profile(&self) -> Result<ModelProfile, FetchError> {
        let model = &self.config.model;
        let mut req = tonic::Request::new(ServerProfileRequest {
            model_name: model.clone(),
        });
        req.set_timeout(Duration::from_secs(2));
        let r = match self.remote.loadpart.clone().get_server_profile(req).await {
            Ok(r) => r.into_inner(),
            Err(s)
                if matches!(
                    s.code(),
                    Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
                ) =>
            {
                return Err(FetchError::Unreachable(format!(
                    "{:?}: {}",
                    s.code(),
                    s.message()
                )));
            }
            Err(s) if s.code() == Code::FailedPrecondition => {
                return Err(FetchError::Missing(s.message().to_string()));
            }
            Err(s) => {
                return Err(FetchError::Fatal(ClientError::ServerProfile {
                    model: model.clone(),
                    reason: format!("{:?}: {}", s.code(), s.message()),
                }));
            }
        };
        let device = self.device.runtime().identity();
        if r.model_identity != device {
            return Err(FetchError::Fatal(ClientError::IdentityMismatch {
                model: model.clone(),
                server: r.model_identity,
                device: device.to_string(),
            }));
        }
        serde_json::from_str(&r.profile_json).map_err(|e| {
            FetchError::Fatal(ClientError::ServerProfile {
                model: model.clone(),
                reason: format!("unreadable profile: {e}"),
            })
        })
    }

    /// Builds the planner from both profiles and makes it current.
    pub(crate) fn install_plan(&self, server: &ModelProfile) -> Result<(), ClientError> {
        let dag = self.device.runtime().prepared().stages.dag().clone();
        let planner = Arc::new(Planner::new(
            dag,
            &self.device_profile,
            server,
            PlannerOptions::default(),
        )?);
        let policy = self.config.policy.build(planner.clone())?;
        let device_only = Estimate {
            device_slowdown: self.config.device_slowdown,
            ..Estimate::idle(1.0)
        };
        let local_device_us = planner
            .predict(&planner.full_local().head, &device_only)
            .device;
        *self.plan.write() = Some(Arc::new(Plan {
            planner,
            policy,
            local_device_us,
        }));
        Ok(())
    }

    /// The model's inputs from `given`, in model order; errors name what is missing or extra.
    pub(crate) fn order_inputs(
        &self,
        mut given: NamedTensors,
    ) -> Result<NamedTensors, ClientError> {
        let want = self.device.runtime().prepared().model.inputs();
        let mut out = Vec::with_capacity(want.len());
        for name in want {
            let i = given
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| ClientError::BadInput(format!("model input {name:?} not given")))?;
            let (n, t) = given.swap_remove(i);
            check_input(&self.device.runtime().prepared().model, &n, &t)?;
            out.push((n, t));
        }
        if let Some((extra, _)) = given.first() {
            return Err(ClientError::BadInput(format!(
                "{extra:?} is not an input of the model (inputs: {})",
                want.join(", ")
            )));
        }
        Ok(out)
    }

    /// An offload's deadline for a request of `inputs` whose local-only time is `local_us` per
    /// row (see [`offload_deadline`]).
    pub(crate) fn deadline(&self, local_us: f64, inputs: &NamedTensors) -> Duration {
        let rows = inputs
            .first()
            .and_then(|(_, t)| t.shape.first().copied())
            .unwrap_or(1);
        offload_deadline(
            local_us,
            rows,
            self.config.deadline_factor,
            self.config.min_deadline,
        )
    }

    /// The name a request with `opts` is counted under (its outcome's `policy`, and the key of
    /// the miss rate it learns from and is priced with): `fixed:CUT` for a forced cut, else the
    /// policy asked for, else the client's.
    pub(crate) fn policy_key(&self, opts: &InferOptions) -> String {
        match (&opts.cut, &opts.policy) {
            (Some(c), _) => format!("fixed:{c}"),
            (None, Some(p)) => p.to_string(),
            (None, None) => self.config.policy.to_string(),
        }
    }

    /// The cut for a request with `opts`, counted under `policy` (see [`Shared::policy_key`]).
    pub(crate) fn decide(
        &self,
        plan: &Plan,
        opts: &InferOptions,
        estimate: Estimate,
        policy: &str,
    ) -> Result<Decision, ClientError> {
        let conditions = Conditions {
            estimate,
            truth: opts.truth,
        };
        let custom: Option<Box<dyn Policy>> = match (&opts.cut, &opts.policy) {
            (Some(cut), _) => Some(
                PolicyKind::Fixed(cut.to_string())
                    .build(plan.planner.clone())
                    .map_err(|e| ClientError::BadCut {
                        cut: cut.to_string(),
                        reason: e.to_string(),
                    })?,
            ),
            (None, Some(p)) => Some(p.build(plan.planner.clone())?),
            (None, None) => None,
        };
        // The server's load per cut: the batch a request at each cut would join (a cut that
        // other traffic uses batches, one nobody uses runs alone), the queue it finds on
        // arrival (joining a forming batch, a share of the backlog, or queueing behind all of
        // it); and how often offloads missed lately. Copied out, so the estimator is not
        // locked while the planner works.
        let (batches, queue, waits, risk) = {
            let e = self.estimator.lock();
            let now = Instant::now();
            (
                e.load.cut_batches(now),
                e.load.queue_outlook(now),
                e.load.cut_waits(now),
                e.misses.risk(policy, now),
            )
        };
        let policy = custom.as_deref().unwrap_or(&*plan.policy);
        let batch_of = |c: &CutId| batches.get(c.as_str());
        let wait_of = |c: &CutId| waits.get(c.as_str());
        let backlog_share_of = |c: &CutId| waits.backlog_share(c.as_str());
        let per_cut = PerCut {
            batch_of: &batch_of,
            queue,
            wait_of: &wait_of,
            backlog_share_of: &backlog_share_of,
            risk,
        };
        let best = if batches.is_empty() && queue.is_none() && waits.is_empty() && risk.is_none() {
            policy.decide(&conditions)
        } else {
            policy.decide_per_cut(&conditions, &per_cut)
        };
        // Hysteresis applies to `loadpart`'s own picks only: a forced cut is the caller's,
        // and other policies are baselines measured as published.
        if self.hysteresis.margin() <= 0.0 || opts.cut.is_some() {
            return Ok(best);
        }
        let name = policy.name();
        if name != "loadpart" {
            return Ok(best);
        }
        Ok(self.hysteresis.choose(&name, best, |cut| {
            plan.planner.price(cut, &conditions.estimate, &per_cut)
        }))
    }

    pub(crate) async fn run_full(
        &self,
        inputs: Arc<NamedTensors>,
    ) -> Result<(NamedTensors, Duration), ClientError> {
        let full = self.device.part(|rt| rt.full()).await?;
        let target = self.emulated(|plan| plan.local_device_us);
        self.device.run(full, inputs, target).await
    }

    pub(crate) async fn run_local(
        &self,
        inputs: Arc<NamedTensors>,
        start: Instant,
        why: LocalReason,
        estimate: Estimate,
        predicted: Option<Breakdown>,
    ) -> Result<InferOutcome, ClientError> {
        let (outputs, dev) = self.run_full(inputs).await?;
        self.count(|st| st.local_only += 1);
        // Full local's id: the model outputs' cut.
        let cut = match self.plan() {
            Some(plan) => plan.planner.full_local().id(plan.planner.dag()),
            None => CutId::from_names(self.device.runtime().prepared().model.outputs()),
        };
        Ok(local_outcome(
            outputs,
            self.config.policy.to_string(),
            cut,
            Route::LocalOnly { why },
            predicted.unwrap_or_default(),
            estimate,
            dev,
            start,
        ))
    }
}

/// The outcome of an inference that ran entirely on the device for `dev`.
#[allow(
    clippy::too_many_arguments,
    reason = "one outcome's fields, named at the call"
)]
pub(crate) fn local_outcome(
    outputs: NamedTensors,
    policy: String,
    cut: CutId,
    route: Route,
    predicted: Breakdown,
    estimate: Estimate,
    dev: Duration,
    start: Instant,
) -> InferOutcome {
    InferOutcome {
        outputs,
        policy,
        cut,
        head_fraction: 1.0,
        route,
        predicted,
        estimate,
        measured: Measured {
            device_us: us(dev),
            total_us: us(start.elapsed()),
            ..Measured::default()
        },
        sent_bytes: 0,
        received_bytes: 0,
    }
}

/// Microseconds in `d`.
pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Checks `t` against the model's declaration of input `name`: element type, rank and every
/// fixed dimension but the batch. A bad input is the caller's error here, before anything is
/// offloaded: sent, it would be refused by the server and counted against the server (opening
/// the breaker for every later request).
fn check_input(
    model: &loadpart_graph::OnnxModel,
    name: &str,
    t: &loadpart_runtime::Tensor,
) -> Result<(), ClientError> {
    use loadpart_graph::onnx::DataType;
    let Some((elem, dims)) = model.declared(name) else {
        return Ok(());
    };
    let want = match elem {
        DataType::Int64 | DataType::Int32 => loadpart_engine::DType::I64,
        _ => loadpart_engine::DType::F32,
    };
    let shape = |d: &[Option<usize>]| {
        let d: Vec<String> = d
            .iter()
            .map(|x| x.map_or("?".into(), |n| n.to_string()))
            .collect();
        format!("[{}]", d.join(","))
    };
    if t.dtype() != want {
        return Err(ClientError::BadInput(format!(
            "input {name:?} is {}, the model takes {want}",
            t.dtype()
        )));
    }
    let fits = t.shape.len() == dims.len()
        && dims
            .iter()
            .zip(&t.shape)
            .skip(1)
            .all(|(d, &n)| d.is_none_or(|d| d == n));
    if !fits || t.shape.first() == Some(&0) {
        return Err(ClientError::BadInput(format!(
            "input {name:?} has shape {:?}, the model takes {} (any batch size)",
            t.shape,
            shape(&dims)
        )));
    }
    Ok(())
}

/// An offload's deadline: `factor` times the local-only time of the whole request, at least
/// `floor`, at most an hour. Profiles and plans are per row, and a request of `rows` rows runs
/// all of them if it falls back, so its local time is `rows` times one row's: a deadline for
/// one row made the server refuse a 4-row SqueezeNet request as certain to miss it (86 ms
/// predicted, 80 ms left).
pub(crate) fn offload_deadline(
    local_us_per_row: f64,
    rows: usize,
    factor: f64,
    floor: Duration,
) -> Duration {
    let secs = local_us_per_row * rows.max(1) as f64 * factor * 1e-6;
    let secs = if secs.is_nan() {
        3600.0
    } else {
        secs.clamp(0.0, 3600.0)
    };
    floor.max(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_covers_every_row_of_the_request() {
        let floor = Duration::from_millis(50);
        let one = offload_deadline(40_000.0, 1, 2.0, floor);
        assert_eq!(one, Duration::from_millis(80));
        assert_eq!(offload_deadline(40_000.0, 4, 2.0, floor), one * 4);
        assert_eq!(
            offload_deadline(40_000.0, 0, 2.0, floor),
            one,
            "0 rows count as 1"
        );
        assert_eq!(offload_deadline(1_000.0, 1, 2.0, floor), floor);
        let hour = Duration::from_secs(3600);
        assert_eq!(offload_deadline(f64::INFINITY, 1, 2.0, floor), hour);
        assert_eq!(offload_deadline(f64::NAN, 1, 2.0, floor), hour);
        assert_eq!(offload_deadline(-5.0, 1, 2.0, floor), floor);
    }
}
