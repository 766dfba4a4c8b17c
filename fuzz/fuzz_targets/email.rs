#![no_main]
//! Email in all three content types: the first byte picks text/plain, text/html or message/rfc822.
use libfuzzer_sys::fuzz_target;
use rapport_fuzz::text::{prepare, Channel, EmailFormat, RawText};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let format = match sel % 3 {
        0 => EmailFormat::Plain,
        1 => EmailFormat::Html,
        _ => EmailFormat::Rfc822,
    };
    let mut raw = RawText::new(Channel::Email(format), body);
    if sel & 0x80 != 0 {
        raw = raw.with_charset(if sel & 0x40 != 0 {
            "windows-1251"
        } else {
            "koi8-r"
        });
    }
    if let Ok(p) = prepare(&raw) {
        rapport_fuzz::check(&p);
    }
});
