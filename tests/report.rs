//! The profile card (`rapport report`): messages ingested through a real tiny-model server into
//! a SQLite store, the card written by the binary from that store, then rendered in headless
//! Chromium (Debian's `chromium`): a PNG screenshot, no console errors, the radar chart and the
//! five traits in the DOM, the customer's language, no raw e-mail address and nothing loaded
//! from the network.
mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

use common::server::{start, tiny_model_and_heads};
use rapport::proto::v1 as pb;

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

/// Debian's chromium, installed by scripts/setup-chromium.sh (run by scripts/test.sh).
fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "missing prerequisite: `chromium` is not on PATH; run scripts/test.sh (it runs \
             scripts/setup-chromium.sh, which installs Debian's chromium package)"
        )
    })
}

/// What one headless Chromium run gave: its stdout (the DOM with `--dump-dom`) and the console
/// messages it logged.
struct Rendered {
    stdout: String,
    console: Vec<String>,
}

/// Runs headless Chromium on `page` with console logging to stderr, plus `extra` flags.
fn chromium_run(page: &Path, extra: &[String]) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url)
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed ({}): {stderr}",
        out.status
    );
    Rendered {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: console_messages(&stderr),
    }
}

/// Console messages in Chromium's stderr log (`--enable-logging=stderr`): lines such as
/// `[pid:tid:time:INFO:CONSOLE:1] "Uncaught ReferenceError: ...", source: file:///... (1)`. The
/// card has no script, so any console message at all is an error.
fn console_messages(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

fn screenshot(page: &Path, png: &Path) -> Vec<String> {
    let r = chromium_run(page, &[format!("--screenshot={}", png.display())]);
    r.console
}

fn dump_dom(page: &Path) -> Rendered {
    chromium_run(page, &["--dump-dom".to_string()])
}

/// The detector itself: a page with a script error and a console.error is caught, a clean page
/// is not.
#[test]
fn console_error_detector_catches_a_broken_page() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('deliberate'); \
         notAFunction();</script></body></html>",
    )
    .unwrap();
    let clean = dir.path().join("clean.html");
    std::fs::write(
        &clean,
        "<!DOCTYPE html><html><body><p>fine</p></body></html>",
    )
    .unwrap();
    let errors = dump_dom(&broken).console;
    assert!(
        errors.iter().any(|l| l.contains("deliberate")),
        "console.error not caught: {errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError") && l.contains("notAFunction")),
        "script error not caught: {errors:?}"
    );
    let clean = dump_dom(&clean);
    assert!(clean.console.is_empty(), "{:?}", clean.console);
    assert!(clean.stdout.contains("<p>fine</p>"), "{}", clean.stdout);
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn message(id: &str, at: i64, channel: pb::Channel, role: pb::Role, text: &str) -> pb::Message {
    pb::Message {
        id: id.into(),
        conversation_id: format!("conv-{}", at / (7 * 86_400)),
        channel: channel as i32,
        role: role as i32,
        timestamp: Some(pbjson_types::Timestamp {
            seconds: at,
            nanos: 0,
        }),
        text: text.into(),
        ..Default::default()
    }
}

const EMAIL: &str = "olivia.hart@example.com";

const ENGLISH: &[&str] = &[
    "Hello, I ordered the standing desk three weeks ago and it still has not shipped. Could you tell me what is going on? You can reach me at olivia.hart@example.com.",
    "Thank you for the quick reply. I understand there were delays, but I need the desk before the end of the month because I start a new job from home.",
    "I checked the tracking number you sent and it shows nothing at all. Is the number correct? I would appreciate a clear answer with a date.",
    "Good morning. The desk arrived today, thank you. Unfortunately one of the legs is scratched and the control panel does not light up.",
    "I have attached photos of the scratch and the panel. I would prefer a replacement part rather than returning the whole desk, which is very heavy.",
    "Please confirm whether the replacement panel is covered by the warranty. I registered the product on your website the day it arrived.",
    "Thanks, the new panel works perfectly. I really appreciate how patiently your colleague walked me through the installation on the phone.",
    "One more question: do you sell a cable tray that fits this model? I would like to keep the cables tidy under the desk.",
    "I ordered the cable tray and a monitor arm. Could you combine the shipping so that both arrive together? Please write to olivia.hart@example.com with the details.",
    "The monitor arm arrived but the cable tray did not. The packing list says both were in the box, so something must have gone wrong at the warehouse.",
    "I am getting a little frustrated, to be honest. This is the third problem with one order and each time I have to explain everything again.",
    "Thank you for the apology and the discount code. That is a fair gesture and I will use it for the chair I have been looking at.",
    "Hi again. Is the ergonomic chair in grey in stock? The website says two to three weeks, but last time the estimate was not accurate.",
    "I went ahead and ordered the chair. Please make sure the delivery company calls me before they come, as I am not always at home in the afternoon.",
    "The chair was delivered this morning and it is wonderful. The courier was polite and called in advance exactly as I asked.",
    "I wanted to leave some feedback: the products are excellent, but communication about delays could be better. A short email would have saved me several calls.",
    "Could you update my delivery address? I am moving to a new flat next month and I want the remaining order to go there.",
    "My new address is confirmed in my account now. Please double check that the open order uses it before it ships.",
    "Everything arrived at the new flat, thank you. I am very happy with the whole setup and I have recommended your shop to two colleagues.",
    "Last question for now: how long is the warranty on the chair mechanism? I like to keep track of these things in a spreadsheet.",
];

const RUSSIAN: &[&str] = &[
    "Здравствуйте! Я заказал холодильник две недели назад, но до сих пор нет информации о доставке. Подскажите, пожалуйста, когда его привезут?",
    "Спасибо за ответ. Мне важно получить холодильник до выходных, потому что старый уже не работает.",
    "Добрый день. Курьер не приехал в назначенное время, и никто не позвонил. Я прождал дома весь день.",
    "Прошу перенести доставку на субботу, с десяти до двух. Напишите мне на ivan.petrov@example.com, когда всё будет согласовано.",
    "Холодильник привезли, спасибо. Но на дверце вмятина, фотографии прикладываю к письму.",
    "Я бы хотел заменить дверцу, а не возвращать весь холодильник. Это возможно по гарантии?",
    "Благодарю за быстрое решение вопроса. Мастер приехал вовремя и всё аккуратно поменял.",
    "Подскажите, есть ли у вас фильтры для воды к этой модели? Хочу заказать сразу два.",
    "Фильтры получил, всё подошло. Спасибо, что учли мою просьбу о звонке перед доставкой.",
    "Хочу оставить отзыв: техника отличная, но о задержках лучше сообщать заранее, а не после звонка клиента.",
    "Добрый вечер. Можно ли оформить рассрочку на стиральную машину из вашего каталога?",
    "Оформил заказ на стиральную машину. Пожалуйста, привезите её вместе с установкой.",
];

async fn ingest(server: &common::server::TestServer, customer: &str, messages: Vec<pb::Message>) {
    let r = server
        .profiles()
        .ingest_messages(pb::IngestMessagesRequest {
            customer_id: customer.into(),
            messages,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.accepted > 0, "{r:?}");
}

/// Spread over `weeks` weeks before now, at varied hours; every third an e-mail, the rest
/// chats, each answered by an agent a few minutes earlier.
fn conversation(prefix: &str, texts: &[&str], weeks: i64) -> Vec<pb::Message> {
    let start = now() - weeks * 7 * 86_400;
    let step = weeks * 7 * 86_400 / texts.len() as i64;
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let at = start + i as i64 * step + (i as i64 % 5) * 3_600;
        let channel = if i % 3 == 0 {
            pb::Channel::Email
        } else {
            pb::Channel::Chat
        };
        out.push(message(
            &format!("{prefix}-agent-{i}"),
            at - 600,
            channel,
            pb::Role::Agent,
            "Thank you for your message, let me look into it.",
        ));
        out.push(message(
            &format!("{prefix}-{i}"),
            at,
            channel,
            pb::Role::Customer,
            text,
        ));
    }
    out
}

fn report(store: &str, heads: &Path, args: &[&str], out: &Path) {
    let o = Command::new(BIN)
        .arg("report")
        .args(args)
        .args(["--store", store, "--heads-dir"])
        .arg(heads)
        .arg("--out")
        .arg(out)
        .env_remove("RAPPORT_CONFIG")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "rapport report {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The page loads nothing: no src= or href= at all, no CSS url(), no import, no http(s)://.
fn assert_self_contained(html: &str) {
    for bad in [
        "src=", "href=", "url(", "@import", "http://", "https://", "<script", "<link",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
}

/// Renders `page`: a valid PNG of more than `min_bytes`, no console errors; returns the DOM.
fn render(page: &Path, png: &Path, min_bytes: usize) -> String {
    let console = screenshot(page, png);
    assert!(console.is_empty(), "console errors: {console:?}");
    let bytes = std::fs::read(png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {}",
        png.display()
    );
    assert!(bytes.len() > min_bytes, "{} bytes only", bytes.len());
    let dom = dump_dom(page);
    assert!(dom.console.is_empty(), "console errors: {:?}", dom.console);
    dom.stdout
}

#[tokio::test]
async fn cards_render_in_headless_chromium_in_the_customers_language() {
    let chromium = chromium(); // fail first, before any work, if it is missing
    assert!(chromium.is_file());
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let store = format!("sqlite:{}", dir.path().join("profiles.db").display());
    let server = start(&model, &heads, &["--store", &store]).await;
    let words: usize = ENGLISH.iter().map(|t| t.split_whitespace().count()).sum();
    assert!(words >= 300, "{words} words");
    ingest(&server, "cust-en", conversation("en", ENGLISH, 8)).await;
    ingest(&server, "cust-ru", conversation("ru", RUSSIAN, 5)).await;
    // Ten more customers, some brief and some wordy, so that `rapport segment` has enough
    // profiles to cluster.
    for c in 0..10 {
        let texts: Vec<&str> = if c % 2 == 0 {
            ENGLISH[c..c + 4].to_vec()
        } else {
            vec!["ok", "thanks!!", "where is it", "???"]
        };
        ingest(
            &server,
            &format!("cust-{c}"),
            conversation(&format!("c{c}"), &texts, 3),
        )
        .await;
    }

    // The cards, written by the binary from the same store while the server runs.
    let en = dir.path().join("card-en.html");
    let ru = dir.path().join("card-ru.html");
    let segments = dir.path().join("segments.html");
    report(&store, &heads, &["cust-en"], &en);
    report(&store, &heads, &["cust-ru"], &ru);
    let o = Command::new(BIN)
        .args(["segment", "--store", &store, "--heads-dir"])
        .arg(&heads)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    report(&store, &heads, &["--segments"], &segments);
    server.stop().await.unwrap();

    let en_html = std::fs::read_to_string(&en).unwrap();
    let ru_html = std::fs::read_to_string(&ru).unwrap();
    for html in [&en_html, &ru_html] {
        assert_self_contained(html);
        // Redacted: the addresses the customers wrote never reach the page.
        assert!(!html.contains(EMAIL) && !html.contains("@example.com"));
        assert!(!html.contains("ivan.petrov@"));
    }
    // Evidence snippets are on the page (redacted, escaped).
    assert!(en_html.contains("<blockquote>"), "no evidence snippets");

    let en_dom = render(&en, &dir.path().join("card-en.png"), 10_000);
    assert!(en_dom.contains("<svg id=\"radar\""), "no radar chart");
    assert!(en_dom.contains("id=\"disc-quadrant\""));
    assert!(en_dom.contains("id=\"timeline-chart\""));
    assert_eq!(en_dom.matches("class=\"trait-label").count(), 5);
    for label in [
        "Openness",
        "Conscientiousness",
        "Extraversion",
        "Agreeableness",
        "Neuroticism",
    ] {
        assert!(en_dom.contains(label), "no {label}");
    }
    assert!(en_dom.contains("<html lang=\"en\">"));
    assert!(en_dom.contains("What these estimates are and are not"));
    assert!(en_dom.contains("not a diagnosis"));
    // ~500 words: the tiny estimator (estimates from 50 words) gives the traits an interval.
    assert!(en_dom.contains("class=\"band\""));
    assert!(en_dom.matches("<rect class=\"week\"").count() >= 5);

    let ru_dom = render(&ru, &dir.path().join("card-ru.png"), 10_000);
    assert!(ru_dom.contains("<html lang=\"ru\">"));
    assert!(ru_dom.contains("<svg id=\"radar\""));
    assert_eq!(ru_dom.matches("class=\"trait-label").count(), 5);
    for label in [
        "Большая пятёрка",
        "Открытость опыту",
        "Добросовестность",
        "Экстраверсия",
        "Доброжелательность",
        "Нейротизм",
        "Рекомендации",
        "Предпочтения в общении",
        "Что эти оценки значат и чего не значат",
    ] {
        assert!(ru_dom.contains(label), "no {label}");
    }
    assert!(!ru_dom.contains("Openness"));

    // --lang overrides the customer's language.
    let en_of_ru = dir.path().join("card-ru-in-en.html");
    report(&store, &heads, &["cust-ru", "--lang", "en"], &en_of_ru);
    let html = std::fs::read_to_string(&en_of_ru).unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Openness"));

    // The segments overview: the clusters of the `rapport segment` run, and the lifecycle
    // stages with twelve customers.
    let seg_html = std::fs::read_to_string(&segments).unwrap();
    assert_self_contained(&seg_html);
    let seg_dom = render(&segments, &dir.path().join("segments.png"), 1_000);
    assert!(seg_dom.contains("id=\"clusters\""), "{seg_dom}");
    assert!(
        seg_dom.matches("<svg class=\"centre\"").count() >= 2,
        "no segments drawn: {seg_dom}"
    );
    assert!(seg_dom.contains("Lifecycle stages"));
    assert!(seg_dom.contains("12 customers"), "{seg_dom}");
}

/// A customer the store does not hold: the command fails, naming it.
#[tokio::test]
async fn unknown_customer_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let store = format!("sqlite:{}", dir.path().join("profiles.db").display());
    // Let the server create the store.
    let server = start(&model, &heads, &["--store", &store]).await;
    server.stop().await.unwrap();
    let o = Command::new(BIN)
        .args(["report", "nobody", "--store", &store, "--heads-dir"])
        .arg(&heads)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no profile"), "{stderr}");
}
