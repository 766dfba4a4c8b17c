#![no_main]
//! Transcripts: the first byte picks auto-detection, JSON, WebVTT, SRT or "Speaker: text" lines.
use libfuzzer_sys::fuzz_target;
use rapport_fuzz::text::{prepare, Channel, RawText, TranscriptFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let format = match sel % 5 {
        0 => TranscriptFormat::Auto,
        1 => TranscriptFormat::Json,
        2 => TranscriptFormat::WebVtt,
        3 => TranscriptFormat::Srt,
        _ => TranscriptFormat::Lines,
    };
    if let Ok(p) = prepare(&RawText::new(Channel::Transcript(format), body)) {
        rapport_fuzz::check(&p);
    }
});
