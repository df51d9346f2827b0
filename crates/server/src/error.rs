//! The crate's one error type.

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
            SchedError::QueueFull { .. } => Internal,
            SchedError::TooManyRows { .. } | SchedError::ZeroRows => Caller,
            SchedError::ZeroLimit { .. } => Internal,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            SchedError::QueueFull { .. } => "queue_full",
            SchedError::TooManyRows { .. } => "too_many_rows",
            SchedError::ZeroRows => "zero_rows",
            SchedError::ZeroLimit { .. } => "zero_limit",
        }
    }
}
