//! The crate's error types: refused estimator samples, and what the client cannot do.

/// Why a sample was refused or an estimator could not be built.
///
/// Messages quote the value received.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EstimateError {
    /// A sample outside its meaningful range (NaN, infinite, negative, or zero where zero means
    /// nothing was measured); it was ignored and counted.
    #[error("bad {quantity} sample: {value} (must be finite and in range)")]
    BadSample {
        /// Which quantity (`uplink_bandwidth`, `rtt`, `server_time`, `slowdown`, ...).
        quantity: &'static str,
        /// The value received, in the quantity's unit (bytes/s, µs, factor); 0 for a zero
        /// byte count or duration.
        value: f64,
    },
    /// A configuration value that cannot work.
    #[error("bad estimator setting {name}: {reason}")]
    BadConfig {
        /// Which setting (`half_life`, `max_age`, `forget_after`).
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl loadpart_errors::Classify for EstimateError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            EstimateError::BadSample { .. } => Caller,
            EstimateError::BadConfig { .. } => Caller,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            EstimateError::BadSample { .. } => "bad_sample",
            EstimateError::BadConfig { .. } => "bad_config",
        }
    }
}

/// Why the client could not start or could not produce a result.
///
/// An inference that the server failed is not an error: it finishes on the device (see
/// [`crate::Route::Fallback`]). What is left here is what the device itself cannot do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not a valid endpoint.
    #[error("bad server address {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// TLS trust or a token that cannot be used (an unreadable CA file, a malformed token).
    #[error("bad access settings: {0}")]
    BadAccess(String),
    /// The server runs a different model than this device (other weights, other file).
    #[error(
        "the server's model {model:?} has identity {server}, this device's has {device}: both \
         must run the same model file with the same weights"
    )]
    IdentityMismatch {
        model: String,
        server: String,
        device: String,
    },
    /// The server profile cannot be used.
    #[error("server profile of {model:?}: {reason}")]
    ServerProfile { model: String, reason: String },
    /// Inputs that do not fit the model.
    #[error("bad input: {0}")]
    BadInput(String),
    /// A cut forced by the caller that is not a cut of the model.
    #[error("bad cut {cut:?}: {reason}")]
    BadCut { cut: String, reason: String },
    /// A configuration value that cannot work.
    #[error("bad client setting {name}: {reason}")]
    Config { name: &'static str, reason: String },
    /// The device could not run a part of the model (this is the last resort: nothing left to
    /// fall back on).
    #[error("running on the device: {0}")]
    Runtime(#[from] loadpart_runtime::RuntimeError),
    /// The planner refused the profiles.
    #[error(transparent)]
    Plan(#[from] loadpart_plan::PlanError),
    /// The codec refused a tensor or an option.
    #[error(transparent)]
    Codec(#[from] loadpart_codec::CodecError),
    /// A bad estimator setting.
    #[error(transparent)]
    Estimate(#[from] EstimateError),
}

impl loadpart_errors::Classify for ClientError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            ClientError::BadUrl { .. }
            | ClientError::BadAccess(_)
            | ClientError::BadInput(_)
            | ClientError::BadCut { .. }
            | ClientError::Config { .. } => Caller,
            ClientError::IdentityMismatch { .. } | ClientError::ServerProfile { .. } => Model,
            ClientError::Runtime(e) => e.kind(),
            ClientError::Plan(e) => e.kind(),
            ClientError::Codec(e) => e.kind(),
            ClientError::Estimate(e) => e.kind(),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ClientError::BadUrl { .. } => "bad_url",
            ClientError::BadAccess(_) => "bad_access",
            ClientError::IdentityMismatch { .. } => "identity_mismatch",
            ClientError::ServerProfile { .. } => "server_profile",
            ClientError::BadInput(_) => "bad_input",
            ClientError::BadCut { .. } => "bad_cut",
            ClientError::Config { .. } => "bad_config",
            ClientError::Runtime(e) => e.label(),
            ClientError::Plan(e) => e.label(),
            ClientError::Codec(e) => e.label(),
            ClientError::Estimate(e) => e.label(),
        }
    }
}
