#![no_main]
//! Chats: JSON or "[12:01] Name: text" lines, with or without a named customer.
use libfuzzer_sys::fuzz_target;
use rapport_fuzz::text::{prepare, Channel, RawText};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut raw = RawText::new(Channel::Chat, body);
    if sel & 1 == 1 {
        raw = raw.with_customer("Customer");
    }
    if let Ok(p) = prepare(&raw) {
        rapport_fuzz::check(&p);
    }
});
