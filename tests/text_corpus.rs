//! The text pipeline's corpus: realistic emails, MIME messages, chats and call transcripts in
//! English and Russian (`tests/corpus/`), each with what a person would check
//! (`tests/corpus/cases.toml`): the kept text, the kinds of what was cut, the language, the
//! placeholders of redacted data, the talk ratio within a tolerance.
//!
//! MIME fixtures are readable UTF-8 templates that `common::mime` turns into the real bytes.
mod common;

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
            common::mime::build_mime(std::str::from_utf8(&raw).unwrap())
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
