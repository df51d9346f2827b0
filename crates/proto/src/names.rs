//! The names loadpart adds to the Open Inference Protocol: request and response parameters and
//! gRPC metadata keys. Server and client both use these constants, so the two sides cannot drift.

/// Request parameter: hex SHA-256 of the model the device ran its head on; a partitioned request
/// whose identity differs from the server's model is refused (FAILED_PRECONDITION).
pub const MODEL_IDENTITY: &str = "loadpart_model_identity";
/// Request parameter: the cut's checksum (`CutId::checksum_hex`), an optional double check.
pub const CUT_CHECKSUM: &str = "loadpart_cut_checksum";
/// Request parameter: how long the server may take, µs (Triton's schedule-policy extension).
pub const TIMEOUT: &str = "timeout";

/// Response parameter: time this request waited in the server's queue, µs.
pub const QUEUE_US: &str = "loadpart_queue_us";
/// Response parameter: time this request waited for its part (a cold tail being built) before
/// it was queued, µs. Not load: other requests do not see it, and it is not in the queue wait.
pub const PART_US: &str = "loadpart_part_us";
/// Response parameter: time spent decoding this request's cut tensors, µs.
pub const DECODE_US: &str = "loadpart_decode_us";
/// Response parameter: execution time of the batch this request ran in, µs.
pub const COMPUTE_US: &str = "loadpart_compute_us";
/// Response parameter: rows (requests) in that batch.
pub const BATCH_SIZE: &str = "loadpart_batch_size";

/// Response parameters carrying the load report (`loadpart.v1.LoadReport`'s fields by name).
pub mod load {
    /// Seconds the window covers.
    pub const WINDOW_S: &str = "loadpart_load_window_s";
    /// Mean queue wait, µs.
    pub const QUEUE_WAIT_MEAN_US: &str = "loadpart_load_queue_wait_mean_us";
    /// 95th percentile of the queue waits, µs.
    pub const QUEUE_WAIT_P95_US: &str = "loadpart_load_queue_wait_p95_us";
    /// Measured / profiled execution time.
    pub const SLOWDOWN: &str = "loadpart_load_slowdown";
    /// Requests completed per second.
    pub const REQUESTS_PER_S: &str = "loadpart_load_requests_per_s";
    /// Mean requests per batch.
    pub const MEAN_BATCH_SIZE: &str = "loadpart_load_mean_batch_size";
    /// Requests waiting now.
    pub const QUEUE_LENGTH: &str = "loadpart_load_queue_length";
    /// Requests accepted and not yet answered now.
    pub const IN_FLIGHT: &str = "loadpart_load_in_flight";
    /// Executors the server has.
    pub const EXECUTORS: &str = "loadpart_load_executors";
    /// Executors running a batch now.
    pub const EXECUTORS_BUSY: &str = "loadpart_load_executors_busy";
    /// How long a request arriving now would wait for an executor, µs (absent when unknown).
    pub const BACKLOG_US: &str = "loadpart_load_backlog_us";
    /// The backlog's time average over the window, µs (absent when unknown).
    pub const BACKLOG_MEAN_US: &str = "loadpart_load_backlog_mean_us";
}

/// gRPC metadata a device names itself by (self-declared: with device tokens the server uses the
/// token's name instead).
pub const DEVICE_HEADER: &str = "loadpart-device";

/// Response parameters carrying the calling device's fair share (`loadpart.v1.DeviceShare`).
pub mod share {
    /// Devices active on the server, this one included.
    pub const ACTIVE_DEVICES: &str = "loadpart_share_active_devices";
    /// This device's requests admitted and not yet answered.
    pub const QUEUED: &str = "loadpart_share_queued";
    /// The most it may have queued (absent: no per-device limit now).
    pub const QUEUED_LIMIT: &str = "loadpart_share_queued_limit";
    /// Requests per second admitted for it.
    pub const ADMITTED_PER_S: &str = "loadpart_share_admitted_per_s";
    /// Its admitted-rate limit, requests per second (absent: none now).
    pub const RATE_LIMIT_PER_S: &str = "loadpart_share_rate_limit_per_s";
}

/// gRPC trailer metadata on a RESOURCE_EXHAUSTED status: the encoded `loadpart.v1.LoadReport`,
/// so that a refused device learns why without another call.
pub const LOAD_REPORT_METADATA: &str = "loadpart-load-report-bin";

/// gRPC's server pushback (gRFC A6) on a refusal: milliseconds the caller should wait before
/// trying again (sent when a device is over its fair share).
pub const RETRY_PUSHBACK_METADATA: &str = "grpc-retry-pushback-ms";
