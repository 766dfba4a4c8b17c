//! The one place library errors become gRPC status codes.
use tonic::{Code, Status};

use crate::Error;

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::Overloaded(_) => Code::ResourceExhausted,
            Error::Cancelled(_) => Code::DeadlineExceeded,
            Error::Unavailable(_) => Code::Unavailable,
            Error::NotFound(_) => Code::NotFound,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::Aborted(_) => Code::Aborted,
            Error::Model(_)
            | Error::Store(_)
            | Error::Tokenizer(_)
            | Error::Candle(_)
            | Error::Io { .. } => Code::Internal,
        };
        if code == Code::Internal {
            tracing::error!(error = %e, "internal error");
        }
        Status::new(code, e.to_string())
    }
}
