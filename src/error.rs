//! The library's error type. `grpc::status` maps it to tonic codes at the edge.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent something we cannot accept; `field` names where (e.g. `messages[2].text`).
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// Admission control refused the work: the queue is full.
    #[error("overloaded: {0}")]
    Overloaded(String),

    /// The caller's deadline passed, or the caller went away, before the work ran.
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// Model files missing, corrupt, or inconsistent with each other.
    #[error("model error: {0}")]
    Model(String),

    /// Tokenizer failure on a text.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    #[error("inference error: {0}")]
    Candle(#[from] candle_core::Error),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The engine stopped (shutdown or a crashed inference thread), or the profile store cannot
    /// be reached.
    #[error("unavailable: {0}")]
    Unavailable(String),

    /// No such customer (or other named thing).
    #[error("not found: {0}")]
    NotFound(String),

    /// The request is well-formed but the system's state refuses it (no consent recorded,
    /// agents not profiled, no store configured).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),

    /// Another caller took the thing over (a live session resumed on a newer stream).
    #[error("aborted: {0}")]
    Aborted(String),

    /// The profile store failed in a way a retry will not fix.
    #[error("profile store error: {0}")]
    Store(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn model(msg: impl Into<String>) -> Self {
        Error::Model(msg.into())
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
