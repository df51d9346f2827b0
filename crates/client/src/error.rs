//! The crate's one error type.

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
