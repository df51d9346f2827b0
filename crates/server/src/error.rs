//! The crate's errors: [`SchedError`] from the pure scheduling core, [`ServerError`] from
//! serving (which wraps it).

use loadpart_errors::Classify;

/// Why a request was refused or a scheduler could not be built.
///
/// Messages quote the limit and the value received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// The queue already holds `max_queue_len` live requests; the server answers
    /// RESOURCE_EXHAUSTED.
    #[error("queue full: {max_queue_len} requests are waiting (the limit)")]
    QueueFull {
        /// The configured limit, requests.
        max_queue_len: usize,
    },
    /// The queue ahead and the request's own batch are predicted to end after its deadline, so
    /// it is refused at arrival rather than queued to fail later; the server answers
    /// RESOURCE_EXHAUSTED.
    #[error(
        "cannot finish in time: predicted {predicted_us} µs (queue ahead and execution), \
         deadline in {budget_us} µs"
    )]
    WouldMissDeadline {
        /// Predicted time until the request's batch ends, µs.
        predicted_us: u64,
        /// Time left until its deadline at arrival, µs.
        budget_us: u64,
    },
    /// A request carries more rows than any batch may hold, so it could never run.
    #[error("request has {rows} rows but a batch holds at most {max_batch_rows}")]
    TooManyRows {
        /// Rows (samples along dim 0) in the request.
        rows: usize,
        /// The configured batch limit, rows.
        max_batch_rows: usize,
    },
    /// A request with no rows has nothing to run.
    #[error("request has 0 rows")]
    ZeroRows,
    /// A limit that must be positive was configured as zero.
    #[error("{name} must be positive, got 0")]
    ZeroLimit {
        /// Which limit (`max_batch_rows`, `max_queue_len`, `window`).
        name: &'static str,
    },
}

impl loadpart_errors::Classify for SchedError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            SchedError::QueueFull { .. } | SchedError::WouldMissDeadline { .. } => Internal,
            SchedError::TooManyRows { .. } | SchedError::ZeroRows => Caller,
            SchedError::ZeroLimit { .. } => Internal,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            SchedError::QueueFull { .. } => "queue_full",
            SchedError::WouldMissDeadline { .. } => "would_miss_deadline",
            SchedError::TooManyRows { .. } => "too_many_rows",
            SchedError::ZeroRows => "zero_rows",
            SchedError::ZeroLimit { .. } => "zero_limit",
        }
    }
}

/// Why the server refused or failed a request, or could not start.
///
/// The one error of the serving layer; [`crate::status`] maps every variant to a gRPC status
/// and a metric label. Messages say what was wrong and quote the value received.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No model of that name is served (NOT_FOUND).
    #[error("unknown model {name:?}; served models: {served}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The served names, joined by ", ".
        served: String,
    },
    /// A partitioned request's model identity differs from the served model (FAILED_PRECONDITION).
    #[error(
        "model identity mismatch for {model:?}: the request was made for model {sent}, the server runs {served}"
    )]
    IdentityMismatch {
        /// The model's name.
        model: String,
        /// Identity (hex SHA-256) the request declared.
        sent: String,
        /// Identity of the model the server runs.
        served: String,
    },
    /// The request's `loadpart_cut_checksum` is not the checksum of the cut its tensors name.
    #[error(
        "cut checksum mismatch: the request declared {sent}, its tensors name cut {cut} with checksum {expected}"
    )]
    CutChecksum {
        /// Declared checksum.
        sent: String,
        /// Checksum of the resolved cut.
        expected: String,
        /// The resolved cut's id.
        cut: String,
    },
    /// A malformed request: wrong input names, dtypes, shapes, byte lengths, parameters.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An encoded input failed codec validation (corrupt, truncated, inconsistent header).
    #[error("input {input:?}: {source}")]
    Codec {
        /// The input's name.
        input: String,
        /// What the codec found.
        #[source]
        source: loadpart_codec::CodecError,
    },
    /// The sent tensors do not form a cut of the model.
    #[error("not a valid cut of the model: {0}")]
    Cut(#[from] loadpart_cuts::CutError),
    /// Refused by the queue (full: RESOURCE_EXHAUSTED; too many rows: INVALID_ARGUMENT).
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// The calling device is over its fair share (RESOURCE_EXHAUSTED), refused before its
    /// request was decoded.
    #[error(transparent)]
    OverFairShare(#[from] crate::fair_share::ShareRefusal),
    /// The request's deadline passed before it could run (DEADLINE_EXCEEDED).
    #[error("deadline exceeded after {waited_us} µs in the server")]
    DeadlineExceeded {
        /// Time spent in the server before it was dropped, µs.
        waited_us: u64,
    },
    /// Building or running a part failed.
    #[error(transparent)]
    Runtime(#[from] loadpart_runtime::RuntimeError),
    /// A batch failed in the engine or runtime; every request of the batch gets this (the
    /// runtime's error, flattened so that it can be cloned).
    #[error("{message}")]
    Execution {
        /// The runtime error's kind.
        kind: loadpart_errors::ErrorKind,
        /// The runtime error's label.
        label: &'static str,
        /// The runtime error's message.
        message: String,
    },
    /// A model could not be loaded or prepared at start.
    #[error("loading model {source_spec:?}: {reason}")]
    ModelLoad {
        /// The model source as configured.
        source_spec: String,
        /// Why.
        reason: String,
    },
    /// The server is stopping and takes no new work (UNAVAILABLE).
    #[error("server is shutting down")]
    ShuttingDown,
    /// A configuration value is unusable.
    #[error("bad configuration: {0}")]
    Config(String),
    /// Binding or serving the socket failed.
    #[error("transport: {0}")]
    Io(#[from] std::io::Error),
}

impl loadpart_errors::Classify for ServerError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            ServerError::UnknownModel { .. }
            | ServerError::IdentityMismatch { .. }
            | ServerError::CutChecksum { .. }
            | ServerError::InvalidRequest(_)
            | ServerError::Codec { .. }
            | ServerError::Cut(_)
            | ServerError::DeadlineExceeded { .. } => Caller,
            ServerError::Sched(e) => e.kind(),
            ServerError::OverFairShare(_) => Caller,
            ServerError::Runtime(e) => e.kind(),
            ServerError::Execution { kind, .. } => *kind,
            ServerError::ModelLoad { .. } => Model,
            ServerError::ShuttingDown | ServerError::Config(_) | ServerError::Io(_) => Internal,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ServerError::UnknownModel { .. } => "unknown_model",
            ServerError::IdentityMismatch { .. } => "identity_mismatch",
            ServerError::CutChecksum { .. } => "cut_checksum",
            ServerError::InvalidRequest(_) => "invalid_request",
            ServerError::Codec { source, .. } => source.label(),
            ServerError::Cut(e) => e.label(),
            ServerError::Sched(e) => e.label(),
            ServerError::OverFairShare(_) => "over_fair_share",
            ServerError::DeadlineExceeded { .. } => "deadline_exceeded",
            ServerError::Runtime(e) => e.label(),
            ServerError::Execution { label, .. } => label,
            ServerError::ModelLoad { .. } => "model_load",
            ServerError::ShuttingDown => "shutting_down",
            ServerError::Config(_) => "bad_config",
            ServerError::Io(_) => "transport_io",
        }
    }
}

/// Shorthand for an [`ServerError::InvalidRequest`].
pub(crate) fn invalid(msg: impl Into<String>) -> ServerError {
    ServerError::InvalidRequest(msg.into())
}

impl ServerError {
    /// A cloneable copy of a runtime error, for every request of a failed batch.
    pub(crate) fn execution(e: &loadpart_runtime::RuntimeError) -> Self {
        ServerError::Execution {
            kind: e.kind(),
            label: e.label(),
            message: e.to_string(),
        }
    }

    /// A batch whose run panicked (a bug in an engine or in the server): INTERNAL for each of
    /// its requests, labelled `executor_panic` in the error metrics.
    pub(crate) fn panicked(what: &str) -> Self {
        ServerError::Execution {
            kind: loadpart_errors::ErrorKind::Internal,
            label: "executor_panic",
            message: format!("the batch's run panicked: {what}"),
        }
    }

    /// A request the server lost unanswered (its batch panicked outside the engine): INTERNAL.
    pub(crate) fn dropped() -> Self {
        ServerError::Execution {
            kind: loadpart_errors::ErrorKind::Internal,
            label: "dropped",
            message: "the server dropped this request unanswered (a failure inside the server; \
                      its log says which)"
                .to_string(),
        }
    }

    /// A copy for another request of the same batch (only batch-wide errors are copied).
    pub(crate) fn for_batchmate(&self) -> Self {
        match self {
            ServerError::Execution {
                kind,
                label,
                message,
            } => ServerError::Execution {
                kind: *kind,
                label,
                message: message.clone(),
            },
            other => ServerError::Execution {
                kind: other.kind(),
                label: other.label(),
                message: other.to_string(),
            },
        }
    }
}

/// The message of a caught panic's payload (a `&str` or a `String`, as `panic!` makes them).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
