//! rapport: tone and communication-style analysis as a gRPC service.
//!
//! Data flows one way: transport (`grpc`, CLI) -> `text` -> `engine`/`model` -> `analysis` ->
//! `profile` -> `store`.
//! Domain types live in the core modules; `grpc` converts at the edge.

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod grpc;
pub mod health;
pub mod hints;
pub mod live_eval;
pub mod load;
pub mod model;
pub mod nats;
pub mod profile;
pub mod profile_bench;
pub mod proto;
pub mod report;
pub mod score;
pub mod store;
pub mod text;
pub mod train;

pub use error::{Error, Result};

/// Crate version, reported by Info and in logs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
