//! The text pipeline's corpus: realistic emails, MIME messages, chats and call transcripts in
//! English and Russian (`tests/corpus/`), each with what a person would check
//! (`tests/corpus/cases.toml`): the kept text, the kinds of what was cut, the language, the
//! placeholders of redacted data, the talk ratio within a tolerance.
//!
//! MIME fixtures are readable UTF-8 templates; the harness produces the real bytes:
//! `{{enc:CHARSET:TRANSFER}}...{{/enc}}` encodes a body with encoding_rs into CHARSET
//! (windows-1251, koi8-r, utf-8) and then TRANSFER (8bit, base64, quoted-printable);
//! `{{hdr:CHARSET:text}}` writes an RFC 2047 encoded word; `{{raw:ff fe}}` writes raw bytes.
use std::collections::BTreeMap;
use std::path::Path;

use rapport::text::{prepare, Channel, EmailFormat, PreparedText, RawText, TranscriptFormat};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    channel: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    charset: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    lang_supported: Option<bool>,
    #[serde(default)]
    kept: Option<String>,
    #[serde(default)]
    kept_has: Vec<String>,
    #[serde(default)]
    kept_lacks: Vec<String>,
    #[serde(default)]
    cuts: Option<Vec<String>>,
    #[serde(default)]
    redacted_has: Vec<String>,
    #[serde(default)]
    redacted_lacks: Vec<String>,
    #[serde(default)]
    mixed: Option<bool>,
    #[serde(default)]
    sentences: Option<Vec<String>>,
    #[serde(default)]
    talk_ratio: BTreeMap<String, f64>,
    #[serde(default)]
    tolerance: Option<f64>,
    #[serde(default)]
    timed: Option<bool>,
    #[serde(default)]
    interruptions: Option<usize>,
    #[serde(default)]
    roles: BTreeMap<String, String>,
    #[serde(default)]
    features_min: BTreeMap<String, f64>,
    #[serde(default)]
    features_eq: BTreeMap<String, f64>,
    #[serde(default)]
    warnings_has: Vec<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    customer_turns: Option<usize>,
    #[serde(default)]
    one_word_turns: Option<usize>,
    #[serde(default)]
    fillers_min: BTreeMap<String, usize>,
    #[serde(default)]
    latency: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn channel(s: &str) -> Channel {
    match s {
        "plain" => Channel::Plain,
        "email/plain" => Channel::Email(EmailFormat::Plain),
        "email/html" => Channel::Email(EmailFormat::Html),
        "email/rfc822" => Channel::Email(EmailFormat::Rfc822),
        "chat" => Channel::Chat,
        "transcript" => Channel::Transcript(TranscriptFormat::Auto),
        "transcript/json" => Channel::Transcript(TranscriptFormat::Json),
        "transcript/vtt" => Channel::Transcript(TranscriptFormat::WebVtt),
        "transcript/srt" => Channel::Transcript(TranscriptFormat::Srt),
        "transcript/lines" => Channel::Transcript(TranscriptFormat::Lines),
        other => panic!("unknown channel {other}"),
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (n, chunk) in bytes.chunks(3).enumerate() {
        if n > 0 && n % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn quoted_printable(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut col = 0;
    for &b in bytes {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
            col = 0;
            continue;
        }
        let enc = if (b == b' ' || b.is_ascii_graphic()) && b != b'=' {
            vec![b]
        } else {
            format!("={b:02X}").into_bytes()
        };
        if col + enc.len() > 73 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        col += enc.len();
        out.extend_from_slice(&enc);
    }
    out
}

fn encode(charset: &str, text: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("charset");
    let (bytes, _, bad) = enc.encode(text);
    assert!(!bad, "{text:?} is not representable in {charset}");
    bytes.into_owned()
}

/// Expands the template markers of a MIME fixture into real bytes.
fn build_mime(template: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.extend_from_slice(rest[..i].replace('\n', "\r\n").as_bytes());
        let after = &rest[i + 2..];
        let close = after.find("}}").expect("}}");
        let tag = &after[..close];
        rest = &after[close + 2..];
        let parts: Vec<&str> = tag.splitn(3, ':').collect();
        match parts[0] {
            "enc" => {
                let end = rest.find("{{/enc}}").expect("{{/enc}}");
                let body = &rest[..end];
                rest = &rest[end + "{{/enc}}".len()..];
                let bytes = encode(parts[1], body);
                match parts[2] {
                    "base64" => out.extend_from_slice(base64(&bytes).as_bytes()),
                    "quoted-printable" => out.extend_from_slice(&quoted_printable(&bytes)),
                    _ => {
                        let crlf: Vec<u8> = bytes
                            .iter()
                            .flat_map(|&b| {
                                if b == b'\n' {
                                    vec![b'\r', b'\n']
                                } else {
                                    vec![b]
                                }
                            })
                            .collect();
                        out.extend_from_slice(&crlf)
                    }
                }
            }
            "hdr" => {
                let bytes = encode(parts[1], parts[2]);
                out.extend_from_slice(format!("=?{}?B?{}?=", parts[1], base64(&bytes)).as_bytes());
            }
            "raw" => {
                for h in parts[1].split_whitespace() {
                    out.push(u8::from_str_radix(h, 16).expect("hex"));
                }
            }
            other => panic!("unknown marker {other}"),
        }
    }
    out.extend_from_slice(rest.replace('\n', "\r\n").as_bytes());
    out
}

fn feature(p: &PreparedText, name: &str) -> f64 {
    let f = &p.features;
    (match name {
        "words" => f.words as f32,
        "pronoun_i" => f.pronoun_i as f32,
        "pronoun_we" => f.pronoun_we as f32,
        "pronoun_you" => f.pronoun_you as f32,
        "you_formal" => f.you_formal as f32,
        "you_informal" => f.you_informal as f32,
        "you_capitalised" => f.you_capitalised as f32,
        "hedges" => f.hedges as f32,
        "intensifiers" => f.intensifiers as f32,
        "politeness" => f.politeness as f32,
        "apologies" => f.apologies as f32,
        "thanks" => f.thanks as f32,
        "negations" => f.negations as f32,
        "urgency" => f.urgency as f32,
        "imperatives" => f.imperatives as f32,
        "questions" => f.questions as f32,
        "exclamations" => f.exclamations as f32,
        "numbers" => f.numbers as f32,
        "emoji" => f.emoji as f32,
        "emoji_positive" => f.emoji_positive as f32,
        "emoji_negative" => f.emoji_negative as f32,
        "emoticons_positive" => f.emoticons_positive as f32,
        "emoticons_negative" => f.emoticons_negative as f32,
        "elongations" => f.elongations as f32,
        "repeated_punctuation" => f.repeated_punctuation as f32,
        "caps_words" => f.caps_words as f32,
        "caps_ratio" => f.caps_ratio,
        "fillers" => f.fillers as f32,
        other => panic!("unknown feature {other}"),
    }) as f64
}

fn check(name: &str, c: &Case, p: &PreparedText) -> Vec<String> {
    let mut errs = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            errs.push(format!("{name}: {what}"));
        }
    };
    if let Some(lang) = &c.lang {
        expect(
            &p.language.code == lang,
            format!(
                "language {} (conf {:.2}), expected {lang}",
                p.language.code, p.language.confidence
            ),
        );
    }
    if let Some(s) = c.lang_supported {
        expect(
            p.language.supported == s,
            format!(
                "language supported = {}, expected {s}",
                p.language.supported
            ),
        );
    }
    if let Some(k) = &c.kept {
        expect(
            p.text.trim() == k.trim(),
            format!(
                "kept text\n--- got ---\n{}\n--- expected ---\n{}",
                p.text, k
            ),
        );
    }
    for h in &c.kept_has {
        expect(
            p.text.contains(h.as_str()),
            format!("kept text lacks {h:?}; got {:?}", p.text),
        );
    }
    for h in &c.kept_lacks {
        expect(
            !p.text.contains(h.as_str()),
            format!("kept text has {h:?}; got {:?}", p.text),
        );
    }
    if let Some(cuts) = &c.cuts {
        let got: Vec<&str> = p.cuts.iter().map(|c| c.kind.as_str()).collect();
        expect(got == *cuts, format!("cuts {got:?}, expected {cuts:?}"));
    }
    for h in &c.redacted_has {
        expect(
            p.redacted.contains(h.as_str()),
            format!("redacted lacks {h:?}; got {:?}", p.redacted),
        );
    }
    for h in &c.redacted_lacks {
        expect(
            !p.redacted.contains(h.as_str()),
            format!("redacted still has {h:?}; got {:?}", p.redacted),
        );
        for t in &p.turns {
            expect(
                !t.text.contains(h.as_str()),
                format!("a turn still has {h:?}"),
            );
        }
    }
    if let Some(m) = c.mixed {
        expect(
            p.languages.mixed == m,
            format!(
                "mixed = {}, expected {m}; {:?}",
                p.languages.mixed, p.languages
            ),
        );
    }
    if let Some(s) = &c.sentences {
        let got: Vec<&str> = p.sentences.iter().map(|s| s.text.as_str()).collect();
        expect(got == *s, format!("sentences {got:#?}"));
    }
    let tol = c.tolerance.unwrap_or(0.02);
    if let Some(call) = &p.call {
        for (spk, want) in &c.talk_ratio {
            match call.speakers.iter().find(|s| &s.speaker == spk) {
                Some(s) => expect(
                    (s.talk_ratio - want).abs() <= tol,
                    format!(
                        "{spk} talk ratio {:.3}, expected {want}±{tol}",
                        s.talk_ratio
                    ),
                ),
                None => expect(false, format!("no speaker {spk}")),
            }
        }
        for (spk, want) in &c.fillers_min {
            let got = call
                .speakers
                .iter()
                .find(|s| &s.speaker == spk)
                .map_or(0, |s| s.fillers);
            expect(
                got >= *want,
                format!("{spk} fillers {got}, expected >= {want}"),
            );
        }
        for (spk, want) in &c.latency {
            let got = call
                .speakers
                .iter()
                .find(|s| &s.speaker == spk)
                .and_then(|s| s.mean_response_latency_s);
            expect(
                got.is_some_and(|g| (g - want).abs() <= 0.05),
                format!("{spk} latency {got:?}, expected {want}"),
            );
        }
        if let Some(t) = c.timed {
            expect(call.timed == t, format!("timed = {}", call.timed));
        }
        if let Some(i) = c.interruptions {
            expect(
                call.interruptions == i,
                format!("interruptions {}, expected {i}", call.interruptions),
            );
        }
    } else {
        expect(
            c.talk_ratio.is_empty() && c.timed.is_none(),
            "no call metrics".into(),
        );
    }
    if let Some(chat) = &p.chat {
        if let Some(n) = c.customer_turns {
            expect(
                chat.customer_turns == n,
                format!("customer turns {}, expected {n}", chat.customer_turns),
            );
        }
        if let Some(n) = c.one_word_turns {
            expect(
                chat.one_word_turns == n,
                format!("one-word turns {}, expected {n}", chat.one_word_turns),
            );
        }
        for (who, want) in &c.latency {
            let got = match who.as_str() {
                "agent" => chat.agent_response_latency_s,
                _ => chat.customer_response_latency_s,
            };
            expect(
                got.is_some_and(|g| (g - want).abs() <= 0.5),
                format!("{who} latency {got:?}, expected {want}"),
            );
        }
    }
    for (spk, role) in &c.roles {
        let got = p
            .turns
            .iter()
            .find(|t| &t.speaker == spk)
            .map(|t| t.role.as_str());
        expect(
            got == Some(role.as_str()),
            format!("{spk} role {got:?}, expected {role}"),
        );
    }
    for (f, min) in &c.features_min {
        let v = feature(p, f);
        expect(v >= *min, format!("feature {f} = {v}, expected >= {min}"));
    }
    for (f, want) in &c.features_eq {
        let v = feature(p, f);
        expect(
            (v - want).abs() < 1e-6,
            format!("feature {f} = {v}, expected {want}"),
        );
    }
    for w in &c.warnings_has {
        expect(
            p.warnings.iter().any(|x| x.contains(w.as_str())),
            format!("no warning containing {w:?}: {:?}", p.warnings),
        );
    }
    if let Some(s) = &c.subject {
        expect(
            p.subject.as_deref() == Some(s.as_str()),
            format!("subject {:?}", p.subject),
        );
    }
    errs
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let cases: Cases =
        toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    assert!(
        cases.case.len() >= 60,
        "the corpus has {} cases",
        cases.case.len()
    );
    let mut errors = Vec::new();
    for c in &cases.case {
        let path = dir.join(&c.file);
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let body = if c.file.ends_with(".eml") {
            build_mime(std::str::from_utf8(&raw).unwrap())
        } else {
            raw
        };
        let mut input = RawText::new(channel(&c.channel), body);
        input.customer = c.customer.clone();
        input.charset = c.charset.clone();
        match prepare(&input) {
            Ok(p) => errors.extend(check(&c.file, c, &p)),
            Err(e) => errors.push(format!("{}: error {e}", c.file)),
        }
    }
    assert!(
        errors.is_empty(),
        "{} failure(s):\n{}",
        errors.len(),
        errors.join("\n\n")
    );
}

/// Every fixture file is used by a case (so the corpus and its expectations stay together).
#[test]
fn every_fixture_has_a_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let cases: Cases =
        toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    for sub in ["email", "html", "mime", "chat", "transcript", "plain"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let name = format!("{sub}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                cases.case.iter().any(|c| c.file == name),
                "{name} has no case"
            );
        }
    }
}
