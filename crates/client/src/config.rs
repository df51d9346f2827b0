//! [`ClientConfig`] and per-call [`InferOptions`].

use std::time::Duration;

use loadpart_codec::EncodeOptions;
use loadpart_cuts::CutId;
use loadpart_plan::{Estimate, PolicyKind};
use loadpart_proto::DEFAULT_MAX_MESSAGE_BYTES;

use crate::{BreakerConfig, EstimatorConfig, Fallbacks};

/// How a device talks to its server and decides.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server, `http://host:port`.
    pub server: String,
    /// The model's name on the server.
    pub model: String,
    /// This device's name, sent as `loadpart-device` metadata (logs, and later per-device
    /// limits); empty sends none.
    pub device_name: String,
    /// The policy that picks each request's cut (default `loadpart`).
    pub policy: PolicyKind,
    /// Emulated device slowdown, at least 1 (see [`crate::Device`]); the planner is told the same.
    pub device_slowdown: f64,
    /// Emulate the slowdown from the device profile: each run lasts at least its profiled time
    /// times `device_slowdown` (see [`crate::Device::run`]) instead of its own time times the
    /// slowdown. For several emulated devices on one core.
    pub emulate_from_profile: bool,
    /// Experiments only: replay each device run from this memo instead of computing it (see
    /// [`crate::RunMemo`]), with `emulate_from_profile` for the time it takes.
    pub replay_device_runs: Option<std::sync::Arc<crate::RunMemo>>,
    /// How cut tensors are encoded (default uint8 + zstd-1, as profiled).
    pub codec: EncodeOptions,
    /// Smoothing and ageing of the estimates. Its `device_slowdown` is overwritten by the one
    /// above.
    pub estimator: EstimatorConfig,
    /// What to plan with while an estimate is unknown.
    pub fallbacks: Fallbacks,
    /// When to stop offloading to a failing server and when to try again.
    pub breaker: BreakerConfig,
    /// An offload's deadline is this many times the predicted local-only latency (default 2):
    /// past it, finishing locally is faster than waiting.
    pub deadline_factor: f64,
    /// Randomised hysteresis against herding, the largest margin (default 0: off). Each
    /// device draws its own margin uniformly from `[0, hysteresis]` and keeps its previous
    /// `loadpart` cut while that cut is predicted within the margin of the best (see
    /// [`loadpart_plan::Hysteresis`]), so devices that see the same load do not all move at
    /// once.
    pub hysteresis: f64,
    /// The shortest deadline (default 50 ms), so that a tiny model is not refused for jitter.
    pub min_deadline: Duration,
    /// Run the background estimators (load watch, link probes, health checks). Off only in tests
    /// that drive the client by hand.
    pub background: bool,
    /// Interval the load watch asks for (default 100 ms).
    pub watch_interval: Duration,
    /// Largest gRPC message either way.
    pub max_message_bytes: usize,
    /// TLS trust and bearer token for every call (default: plaintext, no token).
    pub access: crate::Access,
}

impl ClientConfig {
    /// Defaults for `model` on the server at `server`.
    pub fn new(server: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            model: model.into(),
            device_name: String::new(),
            policy: PolicyKind::Loadpart,
            device_slowdown: 1.0,
            emulate_from_profile: false,
            replay_device_runs: None,
            codec: EncodeOptions::default(),
            estimator: EstimatorConfig::default(),
            fallbacks: Fallbacks::default(),
            breaker: BreakerConfig::default(),
            deadline_factor: 2.0,
            hysteresis: 0.0,
            min_deadline: Duration::from_millis(50),
            background: true,
            watch_interval: Duration::from_millis(100),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            access: crate::Access::default(),
        }
    }
}

/// Per-call overrides, for experiments.
#[derive(Debug, Clone, Default)]
pub struct InferOptions {
    /// Decide with this policy instead of the configured one.
    pub policy: Option<PolicyKind>,
    /// Use this cut, whatever the policy says.
    pub cut: Option<CutId>,
    /// Plan with this bandwidth both ways (bytes/s) instead of the estimate.
    pub bandwidth_bytes_per_s: Option<f64>,
    /// The true conditions, for the `oracle` policy.
    pub truth: Option<Estimate>,
    /// Send a full offload's inputs as plain FP32 instead of encoded (how a standard client
    /// sends them).
    pub raw_inputs: bool,
}
