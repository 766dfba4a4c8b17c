//! `rapport score` as users run it, through the built binary on the tiny generated model: every
//! input layout, CSV output, --fields / --compact, --keep-fields, stable key order, shards,
//! a run killed with SIGKILL and resumed, --server against a real server, --ingest.
mod common;

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

/// The tiny model and heads, written once for every test of this file, under cargo's scratch
/// folder for tests (a static is never dropped, so older runs' models are cleared here).
fn model() -> (&'static str, &'static Path) {
    static MODEL: OnceLock<(tempfile::TempDir, String, PathBuf)> = OnceLock::new();
    let (_, m, h) = MODEL.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for old in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let stale = old
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
            if stale
                && old
                    .file_name()
                    .to_string_lossy()
                    .starts_with("score-model-")
            {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("score-model-")
            .tempdir_in(root)
            .unwrap();
        let (m, h) = common::server::tiny_model_and_heads(dir.path());
        (dir, m, h)
    });
    (m, h)
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("score-test-")
        .tempdir()
        .unwrap()
}

/// `rapport score` with the tiny model and `args`.
fn score_cmd(args: &[&str]) -> Command {
    let (model, heads) = model();
    let mut cmd = Command::new(BIN);
    cmd.arg("score")
        .args(["--model", model, "--heads-dir"])
        .arg(heads)
        .args(["--store", "off", "--log", "warn"])
        .args(args);
    cmd
}

fn score(args: &[&str]) -> Output {
    let out = score_cmd(args).output().unwrap();
    assert!(
        out.status.success(),
        "score {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn write_jsonl(path: &Path, n: usize, customer: impl Fn(usize) -> Option<String>) -> Vec<String> {
    let texts = [
        "Thank you, that was very fast!",
        "My order is late again and nobody called me.",
        "Где мой заказ? Это ужасно.",
        "please help, the app is not working",
    ];
    let mut out = String::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("m{i:05}");
        let mut v = serde_json::json!({"id": id, "text": texts[i % texts.len()]});
        if let Some(c) = customer(i) {
            v["customerId"] = Value::String(c);
        }
        out += &v.to_string();
        out.push('\n');
        ids.push(id);
    }
    std::fs::write(path, out).unwrap();
    ids
}

#[test]
fn jsonl_ignores_unknown_fields_keeps_them_on_request_and_diffs_cleanly() {
    let dir = scratch();
    let input = dir.path().join("crm.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","text":"Thanks, that solved it!","crm_stage":"lead","score":{"nps":9}}"#,
            "\n",
            r#"{"id":"b","channel":"CHANNEL_EMAIL","email":{"subject":"Order","cc":"x@y"},"text":"Where is my refund?","exportedAt":"2026-01-01"}"#,
            "\n\n",
            r#"{"id":"c","text":""}"#,
            "\n",
            "not json\n",
        ),
    )
    .unwrap();
    let out1 = dir.path().join("one.jsonl");
    let out2 = dir.path().join("two.jsonl");
    score(&["--input", p(&input), "--output", p(&out1)]);
    score(&["--input", p(&input), "--output", p(&out2)]);
    let (a, b) = (std::fs::read(&out1).unwrap(), std::fs::read(&out2).unwrap());
    assert_eq!(a, b, "two runs differ");
    let v = lines(&out1);
    assert_eq!(v.len(), 4);
    // Unknown fields, top-level and nested, are ignored: both lines scored.
    assert!(v[0]["sentiment"]["label"].is_string(), "{}", v[0]);
    assert_eq!(v[1]["id"], "b");
    assert!(v[1]["language"]["code"].is_string(), "{}", v[1]);
    assert!(v[0].get("input").is_none());
    assert!(v[0].get("timings").is_none(), "timings only with --timings");
    assert_eq!(
        v[2],
        serde_json::json!({"id": "c", "line": 4, "error": "text: must not be empty"})
    );
    assert_eq!(v[3]["line"], 5);
    assert!(v[3]["error"]
        .as_str()
        .unwrap()
        .starts_with("not a Message in proto3 JSON: "));
    // Keys sorted at every level: a sorted map serialises each line back to itself.
    for line in String::from_utf8(a).unwrap().lines() {
        let reparsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&sorted(reparsed)).unwrap(), line);
    }

    let kept = dir.path().join("kept.jsonl");
    score(&[
        "--input",
        p(&input),
        "--output",
        p(&kept),
        "--keep-fields",
        "--timings",
    ]);
    let v = lines(&kept);
    assert_eq!(
        v[0]["input"],
        serde_json::json!({"crm_stage": "lead", "score": {"nps": 9}})
    );
    assert_eq!(
        v[1]["input"],
        serde_json::json!({"exportedAt": "2026-01-01"})
    );
    assert!(v[2].get("input").is_none());
    assert!(v[0]["timings"].is_object());
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut e: Vec<_> = m.into_iter().collect();
            e.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(e.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        o => o,
    }
}

#[test]
fn csv_in_with_column_flags_and_csv_out() {
    let dir = scratch();
    let input = dir.path().join("export.csv");
    std::fs::write(
        &input,
        "msg_id,body,client,chan,who,created,stage\n\
         1,\"Thanks, that was quick!\",c-1,email,customer,2026-11-02 09:00:00,lead\n\
         2,\"Line one.\nLine two, where is my order?\",c-2,Chat,client,1793610000,won\n\
         3,hello,c-3,fax,customer,,lost\n\
         4,,c-4,sms,agent,,lost\n",
    )
    .unwrap();
    let out = dir.path().join("scores.jsonl");
    let flags = [
        "--id-column",
        "msg_id",
        "--text-column",
        "body",
        "--customer-column",
        "client",
        "--channel-column",
        "chan",
        "--role-column",
        "who",
        "--timestamp-column",
        "created",
    ];
    let mut args = vec!["--input", p(&input), "--output", p(&out), "--keep-fields"];
    args.extend(flags);
    score(&args);
    let v = lines(&out);
    assert_eq!(v.len(), 4);
    assert_eq!(v[0]["id"], "1");
    assert_eq!(v[0]["input"], serde_json::json!({"stage": "lead"}));
    assert_eq!(v[1]["id"], "2");
    assert!(v[1]["text"]["redacted"]
        .as_str()
        .unwrap()
        .contains("where is my order?"));
    // A bad value names its column; the row's line in the file, the header being line 1.
    assert_eq!(v[2]["id"], "3");
    assert_eq!(v[2]["line"], 5);
    assert!(
        v[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("column \"chan\": unknown channel \"fax\""),
        "{}",
        v[2]
    );
    assert_eq!(v[3]["error"], "text: must not be empty");

    // A column named by a flag but missing is an error at once.
    let out_missing = score_cmd(&["--input", p(&input), "--text-column", "message"])
        .output()
        .unwrap();
    assert!(!out_missing.status.success());
    assert!(String::from_utf8_lossy(&out_missing.stderr).contains("no column \"message\""));

    // CSV out: the headline fields, one row per record, the extra column kept.
    let csv_out = dir.path().join("scores.csv");
    let mut args = vec![
        "--input",
        p(&input),
        "--output",
        p(&csv_out),
        "--keep-fields",
    ];
    args.extend(flags);
    score(&args);
    let mut r = csv::Reader::from_path(&csv_out).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "id",
        "line",
        "error",
        "language",
        "sentiment",
        "sentiment_score",
        "top_emotion",
        "top_emotion_probability",
        "politeness",
        "formality",
        "urgency",
        "toxicity",
        "input.stage",
    ] {
        assert!(header.iter().any(|h| h == col), "{col} not in {header:?}");
    }
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("id")], "1");
    assert_eq!(&rows[0][col("language")], "en");
    assert!(["negative", "neutral", "positive"].contains(&&rows[0][col("sentiment")]));
    assert!(rows[0][col("sentiment_score")].parse::<f32>().is_ok());
    assert_eq!(&rows[0][col("input.stage")], "lead");
    assert_eq!(&rows[2][col("line")], "5");
    assert!(rows[2][col("error")].contains("fax"));

    // --fields picks the CSV columns.
    let picked = dir.path().join("picked.csv");
    let mut args = vec![
        "--input",
        p(&input),
        "--output",
        p(&picked),
        "--fields",
        "sentiment.label,style.urgency.value",
    ];
    args.extend(flags);
    score(&args);
    let text = std::fs::read_to_string(&picked).unwrap();
    assert!(
        text.starts_with("id,line,error,sentiment.label,style.urgency.value\n"),
        "{text}"
    );
}

#[test]
fn mbox_eml_folder_and_transcript_folder() {
    let dir = scratch();
    let mbox = dir.path().join("inbox.mbox");
    std::fs::write(
        &mbox,
        "From anna@example.com Mon Nov  2 09:00:00 2026\n\
         From: Anna <anna@example.com>\n\
         Message-ID: <m1@example.com>\n\
         Date: Mon, 02 Nov 2026 09:00:00 +0000\n\
         Subject: Order\n\
         \n\
         My order is late.\n\
         >From now on I will shop elsewhere.\n\
         \n\
         From bob@example.com Mon Nov  2 10:00:00 2026\n\
         From: Bob <bob@example.com>\n\
         Subject: Thanks\n\
         \n\
         Thank you, it works.\n",
    )
    .unwrap();
    let out = dir.path().join("mbox.jsonl");
    score(&["--input", p(&mbox), "--output", p(&out)]);
    let v = lines(&out);
    assert_eq!(v.len(), 2, "{v:?}");
    // The Message-ID where there is one, else the mail's number.
    assert_eq!(v[0]["id"], "m1@example.com");
    assert_eq!(v[1]["id"], "#2");
    assert_eq!(v[0]["text"]["subject"], "Order");
    let redacted = v[0]["text"]["redacted"].as_str().unwrap();
    assert!(
        redacted.contains("My order is late.") && redacted.contains("From now on"),
        "{redacted}"
    );
    assert!(!redacted.contains(">From"), "{redacted}");

    let emls = dir.path().join("mails");
    std::fs::create_dir_all(emls.join("2026/11")).unwrap();
    let eml = |subject: &str, body: &str| {
        format!("From: x@example.com\r\nSubject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n")
    };
    std::fs::write(emls.join("b.eml"), eml("B", "Where is my refund?")).unwrap();
    std::fs::write(emls.join("2026/11/a.eml"), eml("A", "Thanks a lot!")).unwrap();
    std::fs::write(emls.join("notes.md"), "not a mail").unwrap();
    let out = dir.path().join("eml.jsonl");
    score(&["--input", p(&emls), "--output", p(&out)]);
    let v = lines(&out);
    let ids: Vec<&str> = v.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["2026/11/a.eml", "b.eml"]);
    assert_eq!(v[1]["text"]["redacted"], "Where is my refund?");

    let calls = dir.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    std::fs::write(
        calls.join("c1.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Agent>Hello, how can I help?\n\n\
         00:00:03.500 --> 00:00:06.000\n<v Customer>My order is late again.\n",
    )
    .unwrap();
    std::fs::write(
        calls.join("c2.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nAgent: Hi there.\n\n2\n00:00:02,500 --> 00:00:04,000\nCustomer: Thank you, it works now.\n",
    )
    .unwrap();
    std::fs::write(
        calls.join("c3.txt"),
        "Agent: Good morning.\nCustomer: please call me back\n",
    )
    .unwrap();
    let out = dir.path().join("calls.jsonl");
    score(&["--input", p(&calls), "--output", p(&out)]);
    let v = lines(&out);
    let ids: Vec<&str> = v.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c1.vtt", "c2.srt", "c3.txt"]);
    assert_eq!(
        v[0]["text"]["redacted"], "My order is late again.",
        "{}",
        v[0]
    );
    assert!(v[0]["text"]["call"].is_object(), "{}", v[0]);
    assert_eq!(v[2]["text"]["redacted"], "please call me back", "{}", v[2]);
}

#[test]
fn fields_and_compact_write_what_is_asked() {
    let dir = scratch();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        r#"{"id":"1","text":"My order is late again. Nobody called me. Please help!"}"#.to_string()
            + "\n",
    )
    .unwrap();
    let full = dir.path().join("full.jsonl");
    let compact = dir.path().join("compact.jsonl");
    let fields = dir.path().join("fields.jsonl");
    score(&["--input", p(&input), "--output", p(&full)]);
    score(&["--input", p(&input), "--output", p(&compact), "--compact"]);
    score(&[
        "--input",
        p(&input),
        "--output",
        p(&fields),
        "--fields",
        "sentiment.label,emotions.joy,label_signals.sentiment.negative.value",
    ]);
    let (full_len, compact_len) = (
        std::fs::metadata(&full).unwrap().len(),
        std::fs::metadata(&compact).unwrap().len(),
    );
    assert!(
        compact_len * 4 < full_len && compact_len < 2000,
        "compact {compact_len} bytes, full {full_len}"
    );
    eprintln!("one short message: {full_len} bytes in full, {compact_len} compact");
    let c = &lines(&compact)[0];
    assert!(!c.to_string().contains("\"evidence\""), "{c}");
    assert!(c.get("labelSignals").is_none());
    assert!(c["sentiment"]["label"].is_string());
    assert!(c["style"]["urgency"]["value"].is_number());
    let f = &lines(&fields)[0];
    let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["emotions", "id", "labelSignals", "sentiment"]);
    assert_eq!(f["sentiment"].as_object().unwrap().len(), 1);
    assert!(f["emotions"]["joy"].is_number());
    assert!(f["labelSignals"]["sentiment.negative"]["value"].is_number());

    let bad = score_cmd(&["--input", p(&input), "--fields", "sentimnt"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such field"));
}

#[test]
fn shards_cover_every_record_exactly_once() {
    let dir = scratch();
    let input = dir.path().join("in.jsonl");
    let ids = write_jsonl(&input, 300, |i| {
        (i % 3 == 0).then(|| format!("c{}", i % 17))
    });
    let mut seen = Vec::new();
    for i in 0..3 {
        let out = dir.path().join(format!("part-{i}.jsonl"));
        let summary = dir.path().join(format!("part-{i}.json"));
        let shard = format!("{i}/3");
        score(&[
            "--input",
            p(&input),
            "--output",
            p(&out),
            "--shard",
            &shard,
            "--compact",
            "--summary",
            p(&summary),
        ]);
        let part: Vec<String> = lines(&out)
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect();
        assert!(
            !part.is_empty() && part.len() < 300,
            "shard {i}: {}",
            part.len()
        );
        let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        assert_eq!(s["read"], 300);
        assert_eq!(s["scored"].as_u64().unwrap(), part.len() as u64);
        assert_eq!(
            s["skipped_by_shard"].as_u64().unwrap(),
            300 - part.len() as u64
        );
        seen.extend(part);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 300, "some record scored twice or never");
    assert_eq!(unique.len(), 300);
    assert_eq!(unique, ids.iter().collect());

    let bad = score_cmd(&["--input", p(&input), "--shard", "3/3"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("below N"));
}

/// Reads `<output>.checkpoint`'s consumed count, if it is there.
fn checkpoint_consumed(output: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(format!("{}.checkpoint", output.display())).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["consumed"].as_u64()
}

#[test]
fn a_run_killed_half_way_resumes_with_every_message_once_in_order() {
    let dir = scratch();
    let input = dir.path().join("in.jsonl");
    let output = dir.path().join("out.jsonl");
    let summary = dir.path().join("summary.json");
    let args: Vec<String> = [
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--checkpoint-seconds",
        "0",
        "--chunk",
        "8",
        "--compact",
        "--summary",
        p(&summary),
    ]
    .map(String::from)
    .to_vec();
    // Kill once a checkpoint shows progress. Should the machine be so fast that the run ends
    // first, try again with an input twice as large.
    let mut n = 3000;
    let ids = loop {
        let ids = write_jsonl(&input, n, |_| None);
        let mut child = score_cmd(&strs(&args))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let killed = loop {
            if checkpoint_consumed(&output).is_some_and(|c| c >= 40) {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                break true;
            }
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success());
                break false;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no checkpoint"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        if killed {
            break ids;
        }
        assert!(n < 50_000, "runs always finished before a kill");
        n *= 2;
    };
    let consumed = checkpoint_consumed(&output).unwrap();
    assert!(consumed < n as u64, "consumed {consumed} of {n}");

    // Other flags than the stopped run's are refused, naming what differs.
    let mut other = args.clone();
    other.retain(|a| a != "--compact");
    let refused = score_cmd(&strs(&other)).output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("compact") && err.contains("--restart"),
        "{err}"
    );

    score(&strs(&args));
    let got: Vec<String> = lines(&output)
        .iter()
        .map(|v| {
            assert!(v["sentiment"]["label"].is_string(), "{v}");
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(got.len(), ids.len(), "duplicates or gaps");
    assert_eq!(got, ids, "ids out of order");
    assert!(!Path::new(&format!("{}.checkpoint", output.display())).exists());
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert!(s["resumed_from_record"].as_u64().unwrap() >= 40, "{s}");
    assert_eq!(s["scored"].as_u64().unwrap(), n as u64, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_gives_the_same_output_as_in_process() {
    let (model, heads) = model();
    let server = common::server::start(model, heads, &[]).await;
    let dir = scratch();
    let input = dir.path().join("in.jsonl");
    write_jsonl(&input, 150, |i| Some(format!("c{i}")));
    // An empty text and a line that is not JSON between them.
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(0, "{\"id\":\"empty\",\"text\":\"\"}\n{oops\n");
    std::fs::write(&input, text).unwrap();
    let local = dir.path().join("local.jsonl");
    let remote = dir.path().join("remote.jsonl");
    let addr = server.addr.to_string();
    let (i, l, r) = (
        p(&input).to_string(),
        p(&local).to_string(),
        p(&remote).to_string(),
    );
    let addr2 = addr.clone();
    tokio::task::spawn_blocking(move || {
        score(&["--input", &i, "--output", &l]);
        score(&[
            "--input", &i, "--output", &r, "--server", &addr2, "--server", &addr2, "--chunk", "16",
        ]);
        // --ingest scores here and folds here: refused with --server, saying why.
        let refused = score_cmd(&["--input", &i, "--server", &addr2, "--ingest"])
            .output()
            .unwrap();
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("IngestMessages"));
    })
    .await
    .unwrap();
    let (a, b) = (
        std::fs::read(&local).unwrap(),
        std::fs::read(&remote).unwrap(),
    );
    assert_eq!(lines(&local).len(), 152);
    assert_eq!(lines(&local)[0]["error"], "text: must not be empty");
    if a != b {
        let (la, lb) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        let diff = la.lines().zip(lb.lines()).find(|(x, y)| x != y);
        panic!("in-process and --server differ: {diff:?}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_folds_each_message_once_even_when_run_twice() {
    let dir = scratch();
    let input = dir.path().join("in.jsonl");
    let db = dir.path().join("profiles.db");
    let mut text = String::new();
    for (i, c) in ["c1", "c1", "c2", "", "c1", "c2"].iter().enumerate() {
        let mut v = serde_json::json!({
            "id": format!("m{i}"),
            "text": "Thank you, the refund arrived.",
            "timestamp": format!("2026-0{}-01T10:00:00Z", i + 1),
            "channel": "CHANNEL_EMAIL",
        });
        if !c.is_empty() {
            v["customerId"] = Value::String(c.to_string());
        }
        text += &(v.to_string() + "\n");
    }
    std::fs::write(&input, text).unwrap();
    let store = format!("sqlite:{}", db.display());
    for run in 0..2 {
        let summary = dir.path().join(format!("summary-{run}.json"));
        let (i, s, st) = (
            p(&input).to_string(),
            p(&summary).to_string(),
            store.clone(),
        );
        let out = dir.path().join("out.jsonl");
        let o = p(&out).to_string();
        tokio::task::spawn_blocking(move || {
            let (model, heads) = model();
            let out = Command::new(BIN)
                .arg("score")
                .args(["--model", model, "--heads-dir"])
                .arg(heads)
                .args([
                    "--input",
                    &i,
                    "--output",
                    &o,
                    "--ingest",
                    "--store",
                    &st,
                    "--summary",
                    &s,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
        .await
        .unwrap();
        let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        let (new, dup) = if run == 0 { (5, 0) } else { (0, 5) };
        assert_eq!(s["ingest"]["messages_new"], new, "{s}");
        assert_eq!(s["ingest"]["messages_duplicate"], dup, "{s}");
        assert_eq!(s["ingest"]["without_customer"], 1, "{s}");
    }
    let store = rapport::store::open(&store).await.unwrap();
    let profiles = rapport::profile::service::Profiles::new(
        store,
        rapport::profile::keys::Keys::new(None).unwrap(),
        Default::default(),
    );
    assert_eq!(profiles.get("c1").await.unwrap().messages, 3);
    assert_eq!(profiles.get("c2").await.unwrap().messages, 2);
}
