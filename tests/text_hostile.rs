//! Hostile input: the text pipeline answers with a clear error or a safe result, never a panic
//! or a hang. Each test bounds its own time generously (dev profile, shared 2-core machine).
use std::time::{Duration, Instant};

use rapport::text::{
    prepare, prepare_with, Channel, EmailFormat, Options, RawText, TranscriptFormat,
};
use rapport::Error;

fn timed<T>(limit_s: u64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(limit_s), "took {took:?}");
    out
}

fn invalid_argument(e: Error) -> (String, String) {
    match e {
        Error::InvalidArgument { field, reason } => (field, reason),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn ten_megabyte_email_is_processed_in_linear_time() {
    let paragraph = "Hello, my order 48213 has not arrived. Call me on +7 916 123-45-67 or write to a.b@example.com. Mr. Smith said it ships today!\n\n";
    let mut body = String::new();
    while body.len() < 10 << 20 {
        body.push_str(paragraph);
    }
    body.push_str("On Mon, 3 Jun 2024, Support wrote:\n> old\n");
    let p = timed(120, || {
        prepare(&RawText::new(
            Channel::Email(EmailFormat::Plain),
            body.clone(),
        ))
    })
    .unwrap();
    assert_eq!(p.cuts.len(), 1);
    assert!(p.pii.len() > 100_000);
    assert!(!p.redacted.contains("916 123"));
}

#[test]
fn ten_megabyte_pathological_lines() {
    // No whitespace at all; alternating quote lines; endless dots and digits.
    for body in [
        "a".repeat(10 << 20),
        "> q\nown\n".repeat((10 << 20) / 8),
        "1.".repeat(5 << 20),
        "4111 ".repeat(2 << 20),
        "On x wrote:\n".repeat((10 << 20) / 12),
    ] {
        let p = timed(120, || {
            prepare(&RawText::new(
                Channel::Email(EmailFormat::Plain),
                body.as_bytes(),
            ))
        })
        .unwrap();
        assert!(p.decoded.len() <= body.len());
    }
}

#[test]
fn oversized_input_is_refused() {
    let body = vec![b'a'; 33 << 20];
    let (field, reason) =
        invalid_argument(prepare(&RawText::new(Channel::Plain, body)).unwrap_err());
    assert_eq!(field, "body");
    assert!(reason.contains("exceeds"), "{reason}");
    let small = Options {
        max_input_bytes: 10,
        ..Options::default()
    };
    assert!(prepare_with(&RawText::new(Channel::Plain, "0123456789ab"), &small).is_err());
}

#[test]
fn invalid_utf8_everywhere() {
    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    for channel in [
        Channel::Plain,
        Channel::Email(EmailFormat::Plain),
        Channel::Email(EmailFormat::Html),
        Channel::Chat,
        Channel::Transcript(TranscriptFormat::Auto),
    ] {
        let p = prepare(&RawText::new(channel, garbage.clone())).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("replaced")),
            "{channel:?}: {:?}",
            p.warnings
        );
    }
    // A MIME message whose parts lie about their charset or hold broken bytes.
    let mut mime = b"From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbroken \xff\xfe\xc3\x28 bytes\r\n--B\r\nContent-Type: text/plain; charset=x-unknown-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--B--\r\n".to_vec();
    mime.extend_from_slice(&garbage);
    let p = prepare(&RawText::new(Channel::Email(EmailFormat::Rfc822), mime)).unwrap();
    assert!(p.text.contains("broken"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("replaced") || w.contains("charset")),
        "{:?}",
        p.warnings
    );
    // A declared charset the caller got wrong is an error naming the field.
    let (field, _) = invalid_argument(
        prepare(&RawText::new(Channel::Plain, "x").with_charset("no-such-charset")).unwrap_err(),
    );
    assert_eq!(field, "charset");
    // Not a message at all.
    assert!(prepare(&RawText::new(
        Channel::Email(EmailFormat::Rfc822),
        Vec::<u8>::new()
    ))
    .is_err());
}

#[test]
fn deeply_nested_multiparts() {
    let depth = 5_000;
    let mut m = String::from("From: a@b.c\r\nMIME-Version: 1.0\r\n");
    for i in 0..depth {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    m.push_str("Content-Type: text/plain\r\n\r\nThe innermost words.\r\n");
    for i in (0..depth).rev() {
        m.push_str(&format!("--b{i}--\r\n"));
    }
    let p = timed(60, || {
        prepare(&RawText::new(
            Channel::Email(EmailFormat::Rfc822),
            m.clone(),
        ))
    })
    .unwrap();
    assert!(p.text.contains("The innermost words.") || p.text.is_empty());
    // Nested message/rfc822 attachments.
    let mut n = String::new();
    for _ in 0..2_000 {
        n.push_str("From: a@b.c\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    n.push_str("From: a@b.c\r\n\r\ninner\r\n");
    timed(60, || {
        prepare(&RawText::new(Channel::Email(EmailFormat::Rfc822), n))
    })
    .unwrap();
}

#[test]
fn deeply_nested_html_and_json() {
    let html = format!(
        "{}deep words{}",
        "<div><blockquote>".repeat(100_000),
        "</blockquote></div>".repeat(100_000)
    );
    timed(60, || {
        prepare(&RawText::new(Channel::Email(EmailFormat::Html), html))
    })
    .unwrap();
    let unclosed = "<div>".repeat(200_000) + "text";
    timed(60, || {
        prepare(&RawText::new(Channel::Email(EmailFormat::Html), unclosed))
    })
    .unwrap();
    let json = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(prepare(&RawText::new(Channel::Chat, json.clone())).is_err());
    assert!(prepare(&RawText::new(
        Channel::Transcript(TranscriptFormat::Json),
        json
    ))
    .is_err());
}

#[test]
fn zero_width_and_bidi_controls() {
    // Zero-width characters hiding an e-mail address and a card; a right-to-left override
    // reversing text on screen.
    let text = "my mail is iv\u{200B}an@exa\u{200C}mple.com, card 4111\u{200D}1111\u{2060}1111\u{FEFF}1111 \u{202E}sdrawkcab\u{202C} \u{2066}x\u{2069}";
    let p = prepare(&RawText::new(Channel::Plain, text)).unwrap();
    assert!(!p.decoded.contains([
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{202E}', '\u{202C}',
        '\u{2066}', '\u{2069}'
    ]));
    assert_eq!(p.redacted, "my mail is [EMAIL], card [CARD] sdrawkcab x");
    assert!(p.warnings.iter().any(|w| w.contains("bidirectional")));
    assert!(p.warnings.iter().any(|w| w.contains("zero-width")));
    // Only controls: a safe, empty result.
    let p = prepare(&RawText::new(
        Channel::Plain,
        "\u{200B}\u{202E}\u{0000}".repeat(1000),
    ))
    .unwrap();
    assert!(p.text.is_empty() && p.sentences.is_empty());
    // In a chat JSON string too.
    let p = prepare(&RawText::new(
        Channel::Chat,
        r#"[{"role":"customer","text":"he\u200bllo \u202eworld"}]"#,
    ))
    .unwrap();
    assert_eq!(p.text, "hello world");
}

#[test]
fn transcript_with_overlapping_times() {
    // Everyone talks at once for the whole call, and one segment lies entirely inside another.
    let json = r#"[
        {"speaker":"Agent","start":0,"end":100,"text":"a very long agent turn that never ends"},
        {"speaker":"Customer","start":0,"end":100,"text":"the customer talks over the whole call too"},
        {"speaker":"Customer","start":10,"end":20,"text":"and again inside the same span"},
        {"speaker":"Third","start":50,"end":50,"text":"zero length"}
    ]"#;
    let p = prepare(&RawText::new(
        Channel::Transcript(TranscriptFormat::Json),
        json,
    ))
    .unwrap();
    let call = p.call.unwrap();
    assert!(call.overlaps >= 2);
    let sum: f64 = call.speakers.iter().map(|s| s.talk_ratio).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    assert!(call
        .speakers
        .iter()
        .all(|s| s.talk_time_s >= 0.0 && s.overlap_s >= 0.0));
    // 100k segments all overlapping: linear, not quadratic.
    let mut big = String::from("[");
    for i in 0..100_000 {
        big.push_str(&format!(
            "{}{{\"speaker\":\"S{}\",\"start\":{},\"end\":1000,\"text\":\"w w w\"}}",
            if i > 0 { "," } else { "" },
            i % 50,
            i % 7
        ));
    }
    big.push(']');
    timed(60, || {
        prepare(&RawText::new(
            Channel::Transcript(TranscriptFormat::Json),
            big,
        ))
    })
    .unwrap();
}

#[test]
fn transcript_with_negative_or_broken_times() {
    let neg = r#"[{"speaker":"A","start":-5,"end":2,"text":"hi"}]"#;
    let (field, reason) = invalid_argument(
        prepare(&RawText::new(
            Channel::Transcript(TranscriptFormat::Json),
            neg,
        ))
        .unwrap_err(),
    );
    assert_eq!(field, "segments[0].start");
    assert!(reason.contains("negative"), "{reason}");
    let nan = r#"[{"speaker":"A","start":"NaN","end":2,"text":"hi"}]"#;
    let (field, _) = invalid_argument(
        prepare(&RawText::new(
            Channel::Transcript(TranscriptFormat::Json),
            nan,
        ))
        .unwrap_err(),
    );
    assert_eq!(field, "segments[0].start");
    let huge = r#"[{"speaker":"A","start":1e300,"end":1e301,"text":"hi"}]"#;
    assert!(prepare(&RawText::new(
        Channel::Transcript(TranscriptFormat::Json),
        huge
    ))
    .is_err());
    // An end before its start: clamped, with a warning.
    let back = r#"[{"speaker":"A","start":5,"end":2,"text":"hi there"},{"speaker":"B","start":6,"end":8,"text":"yes"}]"#;
    let p = prepare(&RawText::new(
        Channel::Transcript(TranscriptFormat::Json),
        back,
    ))
    .unwrap();
    assert!(p.warnings.iter().any(|w| w.contains("ended before")));
    // SRT with a broken and a negative-looking cue time.
    let srt = "1\n00:00:0x,000 --> 00:00:02,000\nAgent: hi\n";
    let (_, reason) = invalid_argument(
        prepare(&RawText::new(
            Channel::Transcript(TranscriptFormat::Srt),
            srt,
        ))
        .unwrap_err(),
    );
    assert!(reason.contains("line 2"), "{reason}");
    let vtt = "WEBVTT\n\n-00:01.000 --> 00:02.000\n<v A>hi\n";
    assert!(prepare(&RawText::new(
        Channel::Transcript(TranscriptFormat::WebVtt),
        vtt
    ))
    .is_err());
}

#[test]
fn empty_and_whitespace_inputs() {
    for channel in [
        Channel::Plain,
        Channel::Email(EmailFormat::Plain),
        Channel::Email(EmailFormat::Html),
        Channel::Chat,
        Channel::Transcript(TranscriptFormat::Auto),
        Channel::Transcript(TranscriptFormat::Lines),
    ] {
        for body in ["", "   \n\n\t", "\u{FEFF}"] {
            let p = prepare(&RawText::new(channel, body)).unwrap();
            assert!(p.text.trim().is_empty(), "{channel:?}");
            assert_eq!(p.language.code, "und");
        }
    }
}
