//! Encoder loading (hf-hub | local HF directory | packaged offline bundle) and the forward
//! pass: tokenize, BERT, masked mean pooling, L2 normalisation.
//!
//! ```no_run
//! use rapport::model::{Encoder, EncoderOptions, ModelSource};
//! let enc = Encoder::load(&ModelSource::default_bundle(), &EncoderOptions::default())?;
//! let a = enc.tokenize("Thanks, that solved it!")?;
//! let b = enc.tokenize("Спасибо, это помогло!")?;
//! let emb = enc.embed(&[&a, &b])?; // [2, 384], unit rows
//! # Ok::<(), rapport::Error>(())
//! ```
pub mod adapter;
pub mod cli;
pub mod cpu;
pub mod e5s1;
pub mod encoder;
pub mod export;
pub mod heads;
pub mod install;
pub mod source;

pub use adapter::Adapter;
pub use candle_core::{Device, Tensor};
pub use encoder::{
    parse_bert_config, token_span, Encoder, EncoderInfo, EncoderOptions, Precision, Tokenized,
};
pub use export::export_hf;
pub use heads::{HeadKind, HeadSet, LinearHead};
pub use source::{default_bundle_dir, resolve_hub, HfFiles, HubOptions, ModelSource};
