//! Throughput of the text pipeline alone (no encoder): `text::prepare` on realistic emails,
//! chats and transcripts from the test corpus, plus the time of each stage on the emails.
//!
//! Run (dev profile: the shared target dir is dev-only; dependencies are built at opt-level 3,
//! the crate itself at opt-level 1, so the figures are a lower bound):
//!   cargo bench --profile dev --bench text_pipeline
//! Set RAPPORT_BENCH_SECS to change the measuring time per case (default 3).
use std::path::Path;
use std::time::{Duration, Instant};

use rapport::text::{
    email, features, language, pii, prepare, sentences, Channel, EmailFormat, RawText,
    TranscriptFormat,
};

fn load(sub: &str, ext: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(sub);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn measure(name: &str, inputs: &[RawText], secs: f64) -> f64 {
    // Warm up (lazy regexes, lexicons).
    for i in inputs {
        let _ = prepare(i);
    }
    let start = Instant::now();
    let mut n = 0usize;
    let mut bytes = 0usize;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        for i in inputs {
            let p = prepare(i).expect("prepare");
            std::hint::black_box(&p);
            n += 1;
            bytes += i.body.len();
        }
    }
    let el = start.elapsed().as_secs_f64();
    let rate = n as f64 / el;
    println!(
        "{name:<34} {rate:>9.0} msgs/s  {:>8.1} µs/msg  {:>6.2} MB/s  (mean {:.0} bytes, {n} runs)",
        1e6 / rate,
        bytes as f64 / el / 1e6,
        bytes as f64 / n as f64
    );
    rate
}

fn stage(name: &str, texts: &[String], secs: f64, f: impl Fn(&str)) {
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        for t in texts {
            f(t);
            n += 1;
        }
    }
    println!(
        "  stage {name:<26} {:>8.1} µs/msg",
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    let secs: f64 = std::env::var("RAPPORT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let plain: Vec<RawText> = load("email", "txt")
        .into_iter()
        .map(|b| RawText::new(Channel::Email(EmailFormat::Plain), b))
        .collect();
    let html: Vec<RawText> = load("html", "html")
        .into_iter()
        .map(|b| RawText::new(Channel::Email(EmailFormat::Html), b))
        .collect();
    let chats: Vec<RawText> = load("chat", "txt")
        .into_iter()
        .chain(load("chat", "json"))
        .map(|b| RawText::new(Channel::Chat, b))
        .collect();
    let calls: Vec<RawText> = ["json", "vtt", "srt", "txt"]
        .iter()
        .flat_map(|e| load("transcript", e))
        .map(|b| RawText::new(Channel::Transcript(TranscriptFormat::Auto), b))
        .collect();
    // The same emails under a realistic quoted history of about 4 KB.
    let history: String = (0..40)
        .map(|i| format!("> line {i} of the earlier thread, with an address a{i}@example.com and more words.\n"))
        .collect();
    let threads: Vec<RawText> = plain
        .iter()
        .map(|r| {
            let mut b = r.body.clone();
            b.extend_from_slice(
                b"\nOn Mon, 3 Jun 2024 at 10:02, Support <support@example.com> wrote:\n",
            );
            b.extend_from_slice(history.as_bytes());
            RawText::new(Channel::Email(EmailFormat::Plain), b)
        })
        .collect();
    // Whole MIME messages (the fixtures without template markers).
    let mime: Vec<RawText> = load("mime", "eml")
        .into_iter()
        .filter(|b| !b.windows(2).any(|w| w == b"{{"))
        .map(|b| RawText::new(Channel::Email(EmailFormat::Rfc822), b))
        .collect();
    println!("text pipeline throughput (one thread)");
    let rate = measure(
        &format!("emails, text/plain ({})", plain.len()),
        &plain,
        secs,
    );
    measure(
        &format!("emails + 4 KB quoted thread ({})", threads.len()),
        &threads,
        secs,
    );
    measure(&format!("emails, text/html ({})", html.len()), &html, secs);
    measure(
        &format!("emails, message/rfc822 ({})", mime.len()),
        &mime,
        secs,
    );
    measure(&format!("chats ({})", chats.len()), &chats, secs);
    measure(&format!("call transcripts ({})", calls.len()), &calls, secs);

    // Stage breakdown on the plain-text emails.
    let decoded: Vec<String> = plain
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    let kept: Vec<String> = plain.iter().map(|r| prepare(r).unwrap().text).collect();
    let sup = vec!["en".to_string(), "ru".to_string()];
    stage("normalize", &decoded, secs / 3.0, |t| {
        let _ = std::hint::black_box(rapport::text::normalize::normalize(t));
    });
    stage("find_cuts", &decoded, secs / 3.0, |t| {
        let _ = std::hint::black_box(email::find_cuts(t));
    });
    stage("redact", &kept, secs / 3.0, |t| {
        let _ = std::hint::black_box(pii::redact(t));
    });
    stage("split_sentences", &kept, secs / 3.0, |t| {
        let _ = std::hint::black_box(sentences::split_sentences(t));
    });
    stage("language (detect_sentences)", &kept, secs / 3.0, |t| {
        let s = sentences::split_sentences(t);
        let _ = std::hint::black_box(language::detect_sentences(t, &s, None, &sup));
    });
    stage("whatlang::detect (whole only)", &kept, secs / 3.0, |t| {
        let _ = std::hint::black_box(whatlang::detect(t));
    });
    stage("features", &kept, secs / 3.0, |t| {
        let s = sentences::split_sentences(t);
        {
            let _ = std::hint::black_box(features::features(t, &s));
        };
    });
    // what a message costs when some head reads the lexical cues (sentences, features, cues)
    stage("cues (cues_of)", &kept, secs / 3.0, |t| {
        let _ = std::hint::black_box(rapport::text::cues::cues_of(t));
    });
    println!("budget: the encoder does 40-150 short msgs/s on 2 cores, i.e. 6.7-25 ms/msg; the pipeline takes {:.3} ms/msg = {:.2}% of the fastest encoder figure", 1e3 / rate, 100.0 * 150.0 / rate);
}
