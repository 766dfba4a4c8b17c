//! Text handling before the encoder: language detection (channel parsing, sentences, PII and
//! lexical features come with the text-pipeline work).
pub mod language;

pub use language::{detect_language, Language};
