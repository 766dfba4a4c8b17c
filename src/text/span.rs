//! Byte ranges into a text, with what they are.
use std::ops::Range;

/// Why a stretch of the decoded text is not the customer's own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CutKind {
    /// A quoted earlier message: "> ..." lines, "On ... wrote:" / "... писал(а):" and what follows,
    /// an Outlook "From: / Sent:" (От: / Отправлено:) history block.
    Quote,
    /// Forwarded history ("---------- Forwarded message ----------", "Пересылаемое сообщение").
    Forward,
    /// A signature: after "-- ", after a sign-off, "Sent from my iPhone" and the like.
    Signature,
    /// A legal or confidentiality disclaimer.
    Disclaimer,
    /// A turn by somebody other than the customer (agent, bot, system) in a chat or transcript.
    OtherSpeaker,
}

impl CutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CutKind::Quote => "quote",
            CutKind::Forward => "forward",
            CutKind::Signature => "signature",
            CutKind::Disclaimer => "disclaimer",
            CutKind::OtherSpeaker => "other_speaker",
        }
    }
}

/// A stretch of the decoded text that was cut, as a byte range into [`super::PreparedText::decoded`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub kind: CutKind,
    pub range: Range<usize>,
}

/// Clamps `i` to `text.len()` and moves it back to a char boundary.
pub(crate) fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
