//! Text clean-up shared by every channel: line endings, invisible and bidi control characters,
//! exotic spaces. Runs once, before any span is computed, so all spans refer to its output.

/// What [`normalize`] removed or changed, for the caller's warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NormalizeReport {
    /// Zero-width characters (ZWSP, ZWNJ, word joiner, BOM, soft hyphen; ZWJ outside emoji).
    pub zero_width: usize,
    /// Bidirectional controls (LRM, RLM, LRE..RLO, LRI..PDI, ALM): a spoofing vector, never text.
    pub bidi: usize,
    /// Other control characters (NUL, escape, ...), dropped.
    pub control: usize,
}

impl NormalizeReport {
    pub fn total(&self) -> usize {
        self.zero_width + self.bidi + self.control
    }
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

fn is_space_like(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Normalises `text`: CRLF and CR to LF, NBSP and other spaces to ' ', U+2028/2029 to '\n',
/// removes zero-width, bidi and control characters (keeping '\n' and '\t', and ZWJ between two
/// non-ASCII symbols, where it joins emoji).
pub fn normalize(text: &str) -> (String, NormalizeReport) {
    let mut out = String::with_capacity(text.len());
    let mut report = NormalizeReport::default();
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let mapped = match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                Some('\n')
            }
            '\n' | '\t' => Some(c),
            '\u{2028}' | '\u{2029}' => Some('\n'),
            '\u{200D}' => {
                let joins_symbols = prev.is_some_and(|p| !p.is_alphanumeric() && !p.is_ascii())
                    && chars
                        .peek()
                        .is_some_and(|n| !n.is_alphanumeric() && !n.is_ascii());
                if joins_symbols {
                    Some(c)
                } else {
                    report.zero_width += 1;
                    None
                }
            }
            c if is_bidi(c) => {
                report.bidi += 1;
                None
            }
            c if is_zero_width(c) => {
                report.zero_width += 1;
                None
            }
            c if is_space_like(c) => Some(' '),
            c if c.is_control() => {
                report.control += 1;
                None
            }
            c => Some(c),
        };
        if let Some(m) = mapped {
            out.push(m);
            prev = Some(m);
        }
    }
    (out, report)
}

/// Decodes bytes as UTF-8, replacing invalid sequences with U+FFFD; says whether any were.
pub fn decode_utf8_lossy(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_invisible_and_bidi() {
        let (t, r) = normalize("he\u{200B}llo\u{202E}dlrow\u{202C}\r\nnext\u{00A0}line\u{0000}");
        assert_eq!(t, "hellodlrow\nnext line");
        assert_eq!((r.zero_width, r.bidi, r.control), (1, 2, 1));
    }

    #[test]
    fn keeps_emoji_zwj() {
        let s = "family 👨\u{200D}👩\u{200D}👧 ok";
        assert_eq!(normalize(s).0, s);
        assert_eq!(normalize("при\u{200D}вет").0, "привет");
    }
}
