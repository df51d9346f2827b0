//! [`Client`]: one device's connection to one server and model; decides, runs, offloads, and
//! finishes locally whenever the server cannot.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use loadpart_codec::Encoder;
use loadpart_cuts::CutId;
use loadpart_plan::{
    Breakdown, Conditions, CutPosition, Decision, Estimate, Hysteresis, ModelProfile, PerCut,
    Planner, PlannerOptions, Policy, PolicyKind,
};
use loadpart_proto::loadpart::ServerProfileRequest;
use loadpart_runtime::{ModelRuntime, NamedTensors, Tensor};
use tokio::task::JoinHandle;
use tonic::Code;

use crate::background;
use crate::link_use::LinkUse;
use crate::wire::{self, RequestMeta};
use crate::{
    Breaker, ClientConfig, ClientError, Device, Estimator, Failure, FallbackReason, InferOptions,
    InferOutcome, LocalReason, Measured, Offload, Remote, Route,
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
    hysteresis: Hysteresis,
    encoders: Mutex<Vec<Encoder>>,
    stats: Mutex<ClientStats>,
}

/// One device's client for one model on one server.
///
/// Cheap to share: `infer` takes `&self` and may run concurrently. Background tasks (load watch,
/// link probes, health checks, fetching the server profile while the server is unreachable) run
/// until the client is dropped.
pub struct Client {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.shared.config.server)
            .field("model", &self.shared.config.model)
            .finish()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Locks a mutex, taking the data even if another thread panicked holding it (every update
/// here leaves the data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    /// A client running `runtime`'s model on this device, planned with `device_profile` (this
    /// device's, measured with the same engine, threads and core pinning as the runs) and the
    /// server's profile: `server_profile` when given, else fetched from the server.
    ///
    /// A server that cannot be reached now is not an error: inferences run locally and the
    /// profile is fetched when the server answers. A server running another model is.
    pub async fn connect(
        mut config: ClientConfig,
        runtime: Arc<ModelRuntime>,
        device_profile: ModelProfile,
        server_profile: Option<ModelProfile>,
    ) -> Result<Self, ClientError> {
        config.estimator.device_slowdown = config.device_slowdown;
        if !(config.deadline_factor.is_finite() && config.deadline_factor >= 1.0) {
            return Err(ClientError::Config {
                name: "deadline_factor",
                reason: format!("{} (must be at least 1)", config.deadline_factor),
            });
        }
        if !(0.0..=1.0).contains(&config.hysteresis) {
            return Err(ClientError::Config {
                name: "hysteresis",
                reason: format!("{} (must be from 0 to 1)", config.hysteresis),
            });
        }
        let identity = runtime.identity().to_string();
        if device_profile.model_hash != identity {
            return Err(ClientError::Config {
                name: "device_profile",
                reason: format!(
                    "profiled model {} but this device runs {identity}",
                    device_profile.model_hash
                ),
            });
        }
        let device = Device::new(runtime, config.device_slowdown)?;
        let remote = Remote::with_access(&config.server, config.max_message_bytes, &config.access)?;
        let encoder = Encoder::new(config.codec)?;
        let shared = Arc::new(Shared {
            estimator: Mutex::new(Estimator::new(config.estimator)?),
            breaker: Mutex::new(Breaker::new(config.breaker)),
            link_use: LinkUse::default(),
            profile_missing: Default::default(),
            hysteresis: Hysteresis::drawn(config.hysteresis, rand::random::<f64>()),
            config,
            device,
            device_profile,
            remote,
            plan: RwLock::new(None),
            encoders: Mutex::new(vec![encoder]),
            stats: Mutex::new(ClientStats::default()),
        });
        let profile = match server_profile {
            Some(p) => Some(p),
            None => match shared.fetch_server_profile().await {
                Ok(p) => Some(p),
                Err(FetchError::Fatal(e)) => return Err(e),
                Err(FetchError::Missing(why)) => {
                    shared.profile_missing.store(true, Ordering::Relaxed);
                    tracing::warn!(
                        server = %shared.config.server,
                        "{why}: planned requests run locally, forced cuts still offload"
                    );
                    None
                }
                Err(FetchError::Unreachable(why)) => {
                    tracing::warn!(
                        server = %shared.config.server,
                        "server profile not fetched ({why}); running locally until it is"
                    );
                    None
                }
            },
        };
        if let Some(p) = profile {
            shared.install_plan(&p)?;
        }
        let tasks = if shared.config.background {
            background::spawn(&shared)
        } else {
            Vec::new()
        };
        Ok(Self { shared, tasks })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The planner, once the server's profile is known.
    pub fn planner(&self) -> Option<Arc<Planner>> {
        self.shared.plan().map(|p| p.planner.clone())
    }

    /// What the planner would be told now.
    pub fn estimate(&self) -> Estimate {
        let s = &self.shared;
        lock(&s.estimator).to_plan_estimate(Instant::now(), &s.config.fallbacks)
    }

    /// Counts so far.
    pub fn stats(&self) -> ClientStats {
        let mut st = *lock(&self.shared.stats);
        st.breaker_opened = lock(&self.shared.breaker).times_opened();
        st
    }

    /// Whether the server said it has no profile of the model: planned requests run locally
    /// (forced cuts still offload) until it has one.
    pub fn server_has_no_profile(&self) -> bool {
        self.shared.plan().is_none() && self.shared.profile_missing.load(Ordering::Relaxed)
    }

    /// Whether the circuit breaker currently lets requests through to the server.
    pub fn offloading(&self) -> bool {
        lock(&self.shared.breaker).allows_offload()
    }

    /// Waits until the server's profile is known (or the server said it has none) and every
    /// estimate (bandwidth both ways, RTT, load) is fresh, at most `timeout`: a device that has
    /// just started knows nothing and would plan with the pessimistic fallbacks. Returns
    /// whether everything is fresh.
    pub async fn wait_for_estimates(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let e = lock(&self.shared.estimator).estimate(now);
            let planned = self.shared.plan().is_some() || self.server_has_no_profile();
            let fresh = planned
                && e.uplink_bytes_per_s.is_fresh()
                && e.downlink_bytes_per_s.is_fresh()
                && e.rtt_us.is_fresh()
                && e.queue_us.is_fresh();
            if fresh || now >= end {
                return fresh;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Loads and warms the heads of the cuts the planner is likely to choose, so that the first
    /// request at each does not pay for building its part: the `per_condition` best cuts under
    /// the current estimate and under a link ten times slower and faster and a loaded server.
    /// Returns how many heads were warmed. Needs the server profile (0 without it).
    pub async fn warm_up_likely_cuts(&self, per_condition: usize) -> Result<usize, ClientError> {
        let Some(plan) = self.shared.plan() else {
            return Ok(0);
        };
        let e = self.estimate();
        let conditions = [
            e,
            Estimate {
                uplink_bytes_per_s: e.uplink_bytes_per_s / 10.0,
                downlink_bytes_per_s: e.downlink_bytes_per_s / 10.0,
                ..e
            },
            Estimate {
                uplink_bytes_per_s: e.uplink_bytes_per_s * 10.0,
                downlink_bytes_per_s: e.downlink_bytes_per_s * 10.0,
                ..e
            },
            Estimate {
                queue_us: e.queue_us.max(100_000.0),
                server_slowdown: e.server_slowdown.max(2.0),
                ..e
            },
        ];
        let planner = &plan.planner;
        let mut cuts: Vec<CutId> = Vec::new();
        for c in &conditions {
            let decided = planner.decide(c).cut;
            let ranked = planner.ranked_candidates(c);
            let best = std::iter::once(decided)
                .chain(ranked.iter().map(|k| k.candidate.cut.clone()))
                .filter(|k| !k.is_full_local() && !k.is_full_offload())
                .take(per_condition);
            for k in best {
                let id = k.id(planner.dag());
                if !cuts.contains(&id) {
                    cuts.push(id);
                }
            }
        }
        for id in &cuts {
            let c = id.clone();
            let head = self.shared.device.part(move |rt| rt.head(&c)).await?;
            tokio::task::spawn_blocking(move || head.warm_up(&[1]))
                .await
                .map_err(|e| ClientError::BadInput(format!("device task failed: {e}")))??;
        }
        self.shared.device.part(|rt| rt.full()).await?;
        Ok(cuts.len())
    }

    /// Feeds the estimators a load report the caller got elsewhere (tests, a shared watcher).
    pub fn observe_load(&self, sample: &crate::LoadSample) {
        let _ = lock(&self.shared.estimator)
            .load
            .observe_report(sample, Instant::now());
    }

    /// Runs one inference on `inputs` (every model input by name, batch 1 or more): decides the
    /// cut, runs the head, offloads the tail, and merges the outputs. Whatever the server does,
    /// the outputs come back: a failed offload finishes on the device.
    pub async fn infer(
        &self,
        inputs: NamedTensors,
        opts: &InferOptions,
    ) -> Result<InferOutcome, ClientError> {
        let start = Instant::now();
        let s = &self.shared;
        let inputs = Arc::new(s.order_inputs(inputs)?);
        let mut estimate = {
            let e = lock(&s.estimator);
            e.to_plan_estimate(start, &s.config.fallbacks)
        };
        if let Some(b) = opts.bandwidth_bytes_per_s {
            estimate.uplink_bytes_per_s = b;
            estimate.downlink_bytes_per_s = b;
        }
        let Some(plan) = s.plan() else {
            // Nothing to plan with; a cut the caller forced needs no plan.
            return match &opts.cut {
                Some(id) => s.offload_unplanned(id, inputs, opts, estimate, start).await,
                None => {
                    s.run_local(inputs, start, LocalReason::NoServerProfile, estimate, None)
                        .await
                }
            };
        };
        let planner = &plan.planner;
        let decision = s.decide(&plan, opts, estimate)?;
        let dag = planner.dag();
        let cut = decision.cut.id(dag);
        let policy_name = opts
            .cut
            .as_ref()
            .map(|c| format!("fixed:{c}"))
            .or_else(|| opts.policy.as_ref().map(|p| p.to_string()))
            .unwrap_or_else(|| plan.policy.name());
        if decision.cut.is_full_local() {
            let (outputs, dev) = s.run_full(inputs).await?;
            s.count(|st| st.local += 1);
            return Ok(local_outcome(
                outputs,
                policy_name,
                cut,
                Route::Local,
                decision.predicted,
                estimate,
                dev,
                start,
            ));
        }
        if !lock(&s.breaker).allows_offload() {
            let local = planner.predict(&planner.full_local().head, &estimate);
            return s
                .run_local(
                    inputs,
                    start,
                    LocalReason::BackingOff,
                    estimate,
                    Some(local),
                )
                .await
                .map(|mut o| {
                    o.policy = policy_name;
                    o
                });
        }
        let local_us = planner
            .predict(&planner.full_local().head, &estimate)
            .total();
        let deadline = s.config.min_deadline.max(Duration::from_secs_f64(
            (local_us * s.config.deadline_factor * 1e-6).min(3600.0),
        ));
        let mut o = s
            .offload(&decision, &cut, inputs, opts, deadline, start)
            .await?;
        o.policy = policy_name;
        o.estimate = estimate;
        Ok(o)
    }
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
        self.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, f: impl FnOnce(&mut ClientStats)) {
        f(&mut lock(&self.stats));
    }

    /// With `emulate_from_profile`, the emulated duration of a device run: `us(plan)` in µs
    /// (device times from the planner include the slowdown).
    fn emulated(&self, us: impl FnOnce(&Plan) -> f64) -> Option<Duration> {
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
        *self.plan.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(Plan {
            planner,
            policy,
            local_device_us,
        }));
        Ok(())
    }

    /// The model's inputs from `given`, in model order; errors name what is missing or extra.
    fn order_inputs(&self, mut given: NamedTensors) -> Result<NamedTensors, ClientError> {
        let want = self.device.runtime().prepared().model.inputs();
        let mut out = Vec::with_capacity(want.len());
        for name in want {
            let i = given
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| ClientError::BadInput(format!("model input {name:?} not given")))?;
            out.push(given.swap_remove(i));
        }
        if let Some((extra, _)) = given.first() {
            return Err(ClientError::BadInput(format!(
                "{extra:?} is not an input of the model (inputs: {})",
                want.join(", ")
            )));
        }
        Ok(out)
    }

    fn decide(
        &self,
        plan: &Plan,
        opts: &InferOptions,
        estimate: Estimate,
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
        // other traffic uses batches, one nobody uses runs alone), and the queue it finds on
        // arrival; and how often offloads missed lately. Copied out, so the estimator is not
        // locked while the planner works.
        let (batches, queue, risk) = {
            let e = lock(&self.estimator);
            let now = Instant::now();
            (
                e.load.cut_batches(now),
                e.load.queue_outlook(now),
                e.misses.risk(now),
            )
        };
        let policy = custom.as_deref().unwrap_or(&*plan.policy);
        let batch_of = |c: &CutId| batches.get(c.as_str());
        let per_cut = PerCut {
            batch_of: &batch_of,
            queue,
            risk,
        };
        let best = if batches.is_empty() && queue.is_none() && risk.is_none() {
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

    async fn run_full(
        &self,
        inputs: Arc<NamedTensors>,
    ) -> Result<(NamedTensors, Duration), ClientError> {
        let full = self.device.part(|rt| rt.full()).await?;
        let target = self.emulated(|plan| plan.local_device_us);
        self.device.run(full, inputs, target).await
    }

    async fn run_local(
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

    /// A cut the caller forced while there is no plan (the server has no profile, or has not
    /// been reached): offloaded as asked, with nothing predicted. Its deadline comes from the
    /// device profile's whole-model time, as a planned request's does from the planner's.
    async fn offload_unplanned(
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
        if decision.cut.is_full_local() || !lock(&self.breaker).allows_offload() {
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
        let deadline = self.config.min_deadline.max(Duration::from_secs_f64(
            (local_us * self.config.deadline_factor * 1e-6).clamp(0.0, 3600.0),
        ));
        let mut o = self
            .offload(&decision, &canonical, inputs, opts, deadline, start)
            .await?;
        o.policy = policy;
        o.estimate = estimate;
        Ok(o)
    }

    /// Head here, tail on the server; on any failure the tail (or the whole model) here.
    async fn offload(
        &self,
        decision: &Decision,
        cut: &CutId,
        inputs: Arc<NamedTensors>,
        opts: &InferOptions,
        deadline: Duration,
        start: Instant,
    ) -> Result<InferOutcome, ClientError> {
        // No bandwidth probe may start while the head runs: the upload follows at once.
        let soon = self.link_use.soon();
        let dag = self.device.runtime().prepared().stages.dag();
        let model = &self.device.runtime().prepared().model;
        let full_offload = decision.cut.is_full_offload();
        let sent_names: Vec<String> = decision
            .cut
            .sent_tensors(dag)
            .map(|t| dag.tensor(t).name.clone())
            .collect();
        // The head: every cut tensor (sent ones, and model outputs the device keeps). A full
        // offload sends the inputs as they are, without a copy.
        let mut kept: NamedTensors = Vec::new();
        let (head_sent, device_time) = if full_offload {
            for (name, t) in inputs.iter() {
                if model.outputs().contains(name) {
                    kept.push((name.clone(), t.clone()));
                }
            }
            (None, Duration::ZERO)
        } else {
            let c = cut.clone();
            let head = self.device.part(move |rt| rt.head(&c)).await?;
            let target = self.emulated(|_| decision.predicted.device);
            let (head_out, took) = self.device.run(head, inputs.clone(), target).await?;
            let mut sent: NamedTensors = Vec::with_capacity(sent_names.len());
            for (name, t) in head_out {
                match (sent_names.contains(&name), model.outputs().contains(&name)) {
                    (true, true) => {
                        kept.push((name.clone(), t.clone()));
                        sent.push((name, t));
                    }
                    (true, false) => sent.push((name, t)),
                    (false, true) => kept.push((name, t)),
                    (false, false) => {}
                }
            }
            (Some(sent), took)
        };
        let sent: &[(String, Tensor)] = head_sent.as_deref().unwrap_or(&inputs);
        let wanted: Vec<String> = model
            .outputs()
            .iter()
            .filter(|o| !kept.iter().any(|(k, _)| k == *o))
            .cloned()
            .collect();
        let encoded = if full_offload && opts.raw_inputs {
            wire::raw_tensors(sent)?
        } else {
            let mut enc = match lock(&self.encoders).pop() {
                Some(e) => e,
                None => Encoder::new(self.config.codec)?,
            };
            let r = wire::encode_tensors(&mut enc, sent);
            lock(&self.encoders).push(enc);
            r?
        };
        let encode_time = encoded.encode;
        let sent_bytes = encoded.bytes;
        let raw_plain = full_offload && opts.raw_inputs;
        let identity = self.device.runtime().identity().to_string();
        let req = wire::request(
            &RequestMeta {
                model: &self.config.model,
                identity: (!raw_plain).then_some(identity.as_str()),
                cut: (!raw_plain).then_some(cut),
                outputs: if raw_plain { &[] } else { &wanted },
                timeout: Some(deadline),
            },
            encoded,
        );
        let mut request = tonic::Request::new(req);
        request.set_timeout(deadline);
        if !self.config.device_name.is_empty()
            && let Ok(v) = self.config.device_name.parse()
        {
            request
                .metadata_mut()
                .insert(loadpart_proto::names::DEVICE_HEADER, v);
        }
        let ticket = self.link_use.begin();
        drop(soon);
        let call_start = Instant::now();
        let result = self.remote.infer.clone().model_infer(request).await;
        let call = call_start.elapsed();
        let alone = self.link_use.end(ticket);
        let now = Instant::now();
        // Only an offload predicted to answer within its deadline says something about the
        // risk the prediction misses (see `Misses`); one expected to be late is no news, and
        // raw FP32 inputs are not what the prediction priced (it prices encoded tensors).
        let p = &decision.predicted;
        let predicted_call = p.upload + p.rtt + p.queue + p.server + p.decode + p.download;
        let informative = !raw_plain && predicted_call < us(deadline);
        let mut measured = Measured {
            device_us: us(device_time),
            encode_us: us(encode_time),
            ..Measured::default()
        };
        let failure = match result {
            Ok(resp) => match wire::parse_reply(resp.into_inner()) {
                Ok(reply) => {
                    let server_us = reply.timings.map_or(0.0, |t| t.total_us());
                    {
                        let mut e = lock(&self.estimator);
                        if informative {
                            e.misses.observe(false, us(call), now);
                        }
                        if let Some(load) = &reply.load {
                            let _ = e.load.observe_report(load, now);
                        }
                        if let Some(t) = &reply.timings {
                            let _ = e.load.observe_own_batch(cut.as_str(), t.batch_size, now);
                        }
                        if alone {
                            let _ = e.link.observe_offload(&Offload {
                                sent_bytes,
                                received_bytes: reply.bytes,
                                total_elapsed: call,
                                server_time_us: server_us,
                                now,
                            });
                        }
                    }
                    lock(&self.breaker).success();
                    match merge(model.outputs(), kept.clone(), reply.outputs) {
                        Ok(outputs) => {
                            self.count(|st| st.offloaded += 1);
                            measured.network_us = (us(call) - server_us).max(0.0);
                            measured.server = reply.timings;
                            measured.total_us = us(start.elapsed());
                            return Ok(InferOutcome {
                                outputs,
                                policy: String::new(),
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
                        Err(m) => (Failure::ServerError, FallbackReason::BadReply(m)),
                    }
                }
                Err(e) => (
                    Failure::ServerError,
                    FallbackReason::BadReply(e.to_string()),
                ),
            },
            Err(status) => classify(&status, self, now, call >= deadline),
        };
        let (kind, why) = failure;
        if informative && matches!(kind, Failure::Slow | Failure::Overloaded) {
            lock(&self.estimator).misses.observe(true, us(call), now);
        }
        lock(&self.breaker).failure(kind, now);
        tracing::debug!(cut = %cut, "offload failed ({why}); finishing on the device");
        self.count(|st| {
            st.fallbacks += 1;
            if kind == Failure::Overloaded {
                st.overloaded += 1;
            }
        });
        measured.network_us = us(call);
        let fb_start = Instant::now();
        let outputs = if full_offload {
            self.run_full(inputs).await?.0
        } else {
            // The tail runs on the tensors the server would have decoded, so the result is the
            // same whichever side computed it.
            let sent = {
                let mut enc = match lock(&self.encoders).pop() {
                    Some(e) => e,
                    None => Encoder::new(self.config.codec)?,
                };
                let r = wire::quantized_copy(&mut enc, sent);
                lock(&self.encoders).push(enc);
                r?
            };
            let c = cut.clone();
            let tail = self.device.part(move |rt| rt.tail(&c)).await?;
            let target =
                self.emulated(|plan| (plan.local_device_us - decision.predicted.device).max(0.0));
            let (tail_out, _) = self.device.run(tail, Arc::new(sent), target).await?;
            merge(model.outputs(), kept, tail_out).map_err(ClientError::BadInput)?
        };
        measured.fallback_us = us(fb_start.elapsed());
        measured.total_us = us(start.elapsed());
        Ok(InferOutcome {
            outputs,
            policy: String::new(),
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
}

/// The outcome of an inference that ran entirely on the device for `dev`.
#[allow(
    clippy::too_many_arguments,
    reason = "one outcome's fields, named at the call"
)]
fn local_outcome(
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
        let _ = lock(&s.estimator).load.observe_report(&load, now);
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

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
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
