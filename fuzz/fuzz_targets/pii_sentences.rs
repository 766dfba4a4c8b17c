#![no_main]
//! Plain text: normalisation, PII redaction, sentence splitting, language, features; and the
//! email quote/signature finder on the same text.
use libfuzzer_sys::fuzz_target;
use rapport_fuzz::text::{email, pii, prepare, Channel, RawText};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = prepare(&RawText::new(Channel::Plain, data)) {
        rapport_fuzz::check(&p);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let r = pii::redact(s);
        for span in &r.spans {
            assert_eq!(&r.text[span.redacted.clone()], span.kind.placeholder());
        }
        let cuts = email::find_cuts(s);
        for c in &cuts {
            assert!(
                c.range.end <= s.len()
                    && s.is_char_boundary(c.range.start)
                    && s.is_char_boundary(c.range.end)
            );
        }
        let _ = email::kept_ranges(s, &cuts);
    }
});
