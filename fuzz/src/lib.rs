//! `src/text` compiled on its own for fuzzing.
//!
//! The pipeline's sources are included unchanged by path; only the crate's error type is
//! replaced by a copy without the model variants, so that a fuzz build does not have to compile
//! candle, tokenizers and tonic (an hour of the machine's two cores with sanitizers) to fuzz
//! code that uses none of them. `src/text` refers to nothing else from the crate.
pub mod error {
    pub type Result<T, E = Error> = std::result::Result<T, E>;

    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        #[error("{field}: {reason}")]
        InvalidArgument { field: String, reason: String },
    }

    impl Error {
        pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
            Error::InvalidArgument {
                field: field.into(),
                reason: reason.into(),
            }
        }
    }
}

pub use error::{Error, Result};

#[path = "../../src/text/mod.rs"]
pub mod text;

use text::PreparedText;

/// Invariants every prepared text must hold, whatever the input.
pub fn check(p: &PreparedText) {
    let mut last = 0;
    for c in &p.cuts {
        assert!(c.range.start <= c.range.end && c.range.end <= p.decoded.len());
        assert!(
            p.decoded.is_char_boundary(c.range.start) && p.decoded.is_char_boundary(c.range.end)
        );
        assert!(c.range.start >= last, "cuts overlap");
        last = c.range.end;
    }
    for r in &p.kept {
        assert!(
            r.end <= p.decoded.len()
                && p.decoded.is_char_boundary(r.start)
                && p.decoded.is_char_boundary(r.end)
        );
    }
    for s in &p.pii {
        assert_eq!(&p.redacted[s.redacted.clone()], s.kind.placeholder());
        assert!(s.original.end <= p.text.len() && p.text.is_char_boundary(s.original.start));
    }
    for s in &p.sentences {
        assert_eq!(&p.redacted[s.range.clone()], s.text);
        assert!(!s.text.trim().is_empty());
    }
    assert!(p.features.caps_ratio.is_finite() && p.features.type_token_ratio.is_finite());
    if let Some(call) = &p.call {
        let total: f64 = call.speakers.iter().map(|s| s.talk_ratio).sum();
        assert!(
            call.speakers.is_empty() || total == 0.0 || (total - 1.0).abs() < 1e-6,
            "ratios sum {total}"
        );
        for s in &call.speakers {
            assert!(s.talk_time_s >= 0.0 && s.talk_time_s.is_finite());
        }
    }
}
