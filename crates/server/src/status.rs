//! Every error to a gRPC status, in one place and exhaustively (no wildcard arm), plus the
//! stable label a failure metric uses.

use loadpart_errors::{Classify, ErrorKind};
use tonic::{Code, Status};

use crate::error::{SchedError, ServerError};

/// The gRPC code for `e`.
pub fn code(e: &ServerError) -> Code {
    match e {
        ServerError::UnknownModel { .. } => Code::NotFound,
        ServerError::IdentityMismatch { .. } => Code::FailedPrecondition,
        ServerError::CutChecksum { .. }
        | ServerError::InvalidRequest(_)
        | ServerError::Codec { .. }
        | ServerError::Cut(_) => Code::InvalidArgument,
        ServerError::Sched(s) => match s {
            SchedError::QueueFull { .. } | SchedError::WouldMissDeadline { .. } => {
                Code::ResourceExhausted
            }
            SchedError::TooManyRows { .. } | SchedError::ZeroRows => Code::InvalidArgument,
            SchedError::ZeroLimit { .. } => Code::Internal,
        },
        ServerError::OverFairShare(_) => Code::ResourceExhausted,
        ServerError::DeadlineExceeded { .. } => Code::DeadlineExceeded,
        ServerError::Runtime(r) => by_kind(r.kind()),
        ServerError::Execution { kind, .. } => by_kind(*kind),
        ServerError::ModelLoad { .. } => Code::FailedPrecondition,
        ServerError::ShuttingDown => Code::Unavailable,
        ServerError::Config(_) | ServerError::Io(_) => Code::Internal,
    }
}

/// For errors of lower layers, classified only by kind: a caller's mistake is INVALID_ARGUMENT,
/// a model the engine cannot handle FAILED_PRECONDITION, the rest INTERNAL.
fn by_kind(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Caller => Code::InvalidArgument,
        ErrorKind::Model => Code::FailedPrecondition,
        ErrorKind::Engine | ErrorKind::Internal => Code::Internal,
    }
}

/// The status sent for `e`: its code and its message.
pub fn to_status(e: &ServerError) -> Status {
    Status::new(code(e), e.to_string())
}

/// The stable snake_case label of `e`, for failure metrics.
pub fn label(e: &ServerError) -> &'static str {
    e.label()
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Self {
        to_status(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_protocol() {
        let unknown = ServerError::UnknownModel {
            name: "x".into(),
            served: "a".into(),
        };
        assert_eq!(code(&unknown), Code::NotFound);
        let mismatch = ServerError::IdentityMismatch {
            model: "m".into(),
            sent: "aa".into(),
            served: "bb".into(),
        };
        assert_eq!(code(&mismatch), Code::FailedPrecondition);
        assert!(to_status(&mismatch).message().contains("aa"));
        assert!(to_status(&mismatch).message().contains("bb"));
        let full = ServerError::Sched(SchedError::QueueFull { max_queue_len: 3 });
        assert_eq!(code(&full), Code::ResourceExhausted);
        assert_eq!(label(&full), "queue_full");
        let over = ServerError::OverFairShare(crate::fair_share::ShareRefusal::Queued {
            device: "d".into(),
            queued: 2,
            active: 3,
            retry_ms: 5,
        });
        assert_eq!(code(&over), Code::ResourceExhausted);
        assert_eq!(label(&over), "over_fair_share");
        assert!(to_status(&over).message().contains("fair share"));
        assert_eq!(
            code(&ServerError::DeadlineExceeded { waited_us: 1 }),
            Code::DeadlineExceeded
        );
        assert_eq!(
            code(&ServerError::InvalidRequest("x".into())),
            Code::InvalidArgument
        );
    }
}
