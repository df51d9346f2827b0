//! [`Client`]: one device's connection to one server and model; decides, runs, offloads, and
//! finishes locally whenever the server cannot. The shared state is [`crate::shared`]; the
//! offload and its fallback are [`crate::offload`].

use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use loadpart_codec::Encoder;
use loadpart_cuts::CutId;
use loadpart_plan::{Estimate, Hysteresis, ModelProfile, Planner};
use loadpart_runtime::{ModelRuntime, NamedTensors};
use tokio::task::JoinHandle;

use crate::background;
use crate::link_use::LinkUse;
use crate::offload::Asked;
use crate::shared::{ClientStats, FetchError, Shared, local_outcome};
use crate::{
    Breaker, ClientConfig, ClientError, Device, Estimator, InferOptions, InferOutcome, LocalReason,
    Remote, Route,
};

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
        let device = Device::new(runtime, config.device_slowdown)?
            .replaying(config.replay_device_runs.clone());
        // Every call names the device, so that the server's fair share and metrics count it.
        let mut access = config.access.clone();
        if !config.device_name.is_empty() {
            access.device = Some(config.device_name.clone());
        }
        let remote = Remote::with_access(&config.server, config.max_message_bytes, &access)?;
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
        s.estimator
            .lock()
            .to_plan_estimate(Instant::now(), &s.config.fallbacks)
    }

    /// Counts so far.
    pub fn stats(&self) -> ClientStats {
        let mut st = *self.shared.stats.lock();
        st.breaker_opened = self.shared.breaker.lock().times_opened();
        st
    }

    /// Whether the server said it has no profile of the model: planned requests run locally
    /// (forced cuts still offload) until it has one.
    pub fn server_has_no_profile(&self) -> bool {
        self.shared.plan().is_none() && self.shared.profile_missing.load(Ordering::Relaxed)
    }

    /// Whether the circuit breaker currently lets requests through to the server.
    pub fn offloading(&self) -> bool {
        self.shared.breaker.lock().allows_offload()
    }

    /// Waits until the server's profile is known (or the server said it has none) and every
    /// estimate (bandwidth both ways, RTT, load) is fresh, at most `timeout`: a device that has
    /// just started knows nothing and would plan with the pessimistic fallbacks. Returns
    /// whether everything is fresh.
    pub async fn wait_for_estimates(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let e = self.shared.estimator.lock().estimate(now);
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
        let _ = self
            .shared
            .estimator
            .lock()
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
            let e = s.estimator.lock();
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
        let policy_name = s.policy_key(opts);
        let decision = s.decide(&plan, opts, estimate, &policy_name)?;
        let dag = planner.dag();
        let cut = decision.cut.id(dag);
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
        if !s.breaker.lock().allows_offload() {
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
        let deadline = s.deadline(local_us, &inputs);
        let asked = Asked {
            opts,
            policy: &policy_name,
            deadline,
            start,
            // Every policy's cut is sent as the planner prices it at the current estimate.
            encodings: Some(planner.encoding_plan(&decision.cut, &estimate)),
        };
        let mut o = s.offload(&decision, &cut, inputs, &asked).await?;
        o.estimate = estimate;
        o.measured.decide_us = decision.decision_ns as f64 * 1e-3;
        Ok(o)
    }
}
