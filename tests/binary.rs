//! The `rapport` binary as users run it: configured by RAPPORT_* variables, metrics on their
//! own port, graceful exit on SIGTERM; `analyze` and `score` print the proto3 JSON mapping.
mod common;

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::server::{message, tiny_model_and_heads, wait_serving};
use rapport::proto::v1 as pb;

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn serve_from_env_exposes_metrics_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let (grpc_port, metrics_port) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("RAPPORT_LISTEN", format!("127.0.0.1:{grpc_port}"))
        .env(
            "RAPPORT_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("RAPPORT_MODEL", &model)
        .env("RAPPORT_HEADS_DIR", &heads)
        .env("RAPPORT_DATA_DIR", dir.path())
        .env("RAPPORT_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The listener opens before the models load; retry until it accepts.
    let endpoint = format!("http://127.0.0.1:{grpc_port}");
    let started = Instant::now();
    let channel = loop {
        match tonic::transport::Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect()
            .await
        {
            Ok(c) => break c,
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("server did not start: {e}"),
        }
    };
    wait_serving(&channel, Duration::from_secs(60)).await;
    let resp = pb::analyzer_client::AnalyzerClient::new(channel.clone())
        .analyze(pb::AnalyzeRequest {
            messages: vec![message("1", "Where is my order?")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.analyses.len(), 1);

    let metrics = http_get(&format!("127.0.0.1:{metrics_port}"), "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for name in [
        "rapport_requests_total",
        "rapport_inference_seconds_bucket",
        "rapport_queue_seconds_bucket",
        "rapport_tokenize_seconds_bucket",
        "rapport_batch_size_bucket",
        "rapport_queue_depth",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from metrics:\n{metrics}"
        );
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let term_sent = Instant::now();
    let deadline = term_sent + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        // Async sleep: the client connection must keep running to answer the server's GOAWAY.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Idle connections close at once; only in-flight calls may use the grace period.
    assert!(
        term_sent.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        term_sent.elapsed()
    );
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(exit.success(), "exit {exit:?}; logs:\n{logs}");
    // JSON logs, with the effective configuration logged at start-up.
    let first: serde_json::Value = serde_json::from_str(logs.lines().next().unwrap()).unwrap();
    assert!(first["fields"]["config"]
        .as_str()
        .unwrap()
        .contains("queue_capacity"));
    assert!(logs.contains("shutting down"));
}

#[test]
fn analyze_and_score_print_proto_json() {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = tiny_model_and_heads(dir.path());
    let out = Command::new(BIN)
        .args(["analyze", "--model", &model, "--heads-dir"])
        .arg(&heads)
        .arg("The delivery was late again and nobody called me.")
        .output()
        .unwrap();
    let v = json_output(&out);
    assert_eq!(v["language"]["code"], "en");
    assert!(v["sentiment"]["label"].is_string());
    assert!(v["sentiment"]["score"].is_number());
    // One sentence: its own evidence for every result.
    assert_eq!(
        v["labelSignals"]["emotions.joy"]["evidence"][0]["text"],
        "The delivery was late again and nobody called me."
    );

    // Two sentences: each signal cites one, unless evidence is switched off.
    for no_evidence in [false, true] {
        let mut cmd = Command::new(BIN);
        cmd.args(["analyze", "--model", &model, "--heads-dir"])
            .arg(&heads)
            .arg("The delivery was late again. Nobody called me.");
        if no_evidence {
            cmd.arg("--no-evidence");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let evidence = &v["style"]["urgency"]["evidence"];
        if no_evidence {
            assert!(
                evidence.as_array().is_none_or(|a| a.is_empty()),
                "{evidence}"
            );
            assert!(v["evidenceTokens"].as_u64().unwrap_or(0) == 0);
        } else {
            let text = evidence[0]["text"].as_str().unwrap();
            assert!(
                ["The delivery was late again.", "Nobody called me."].contains(&text),
                "{text}"
            );
            // pooled from the message's own encoding: nothing encoded twice
            assert_eq!(v["evidenceTokens"].as_u64().unwrap_or(0), 0);
        }
    }

    let input = dir.path().join("in.jsonl");
    let output = dir.path().join("out.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"id\":\"a\",\"text\":\"Thanks, that solved it!\"}\n",
            "{\"id\":\"b\",\"text\":\"Почему списали деньги дважды?\",\"channel\":\"CHANNEL_CHAT\",\"role\":\"ROLE_CUSTOMER\"}\n",
            "\n",
            "{\"id\":\"c\",\"text\":\"\"}\n",
            "not json\n",
            "{\"id\":\"d\",\"text\":\"ok\",\"languageHint\":\"en\"}\n",
            // "Agent: Hi!\nCustomer: call me on +7 916 123-45-67" as base64 bytes.
            "{\"id\":\"e\",\"raw\":\"QWdlbnQ6IEhpIQpDdXN0b21lcjogY2FsbCBtZSBvbiArNyA5MTYgMTIzLTQ1LTY3\",\"format\":\"TEXT_FORMAT_CHAT_LOG\",\"channel\":\"CHANNEL_CHAT\"}\n",
            // A transcript with a negative time fails only its own line.
            "{\"id\":\"f\",\"text\":\"[{\\\"speaker\\\":\\\"A\\\",\\\"start\\\":-5,\\\"end\\\":1,\\\"text\\\":\\\"hi\\\"}]\",\"format\":\"TEXT_FORMAT_TRANSCRIPT_JSON\"}\n",
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["score", "--model", &model, "--heads-dir"])
        .arg(&heads)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        7,
        "one output per non-empty input line: {lines:?}"
    );
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["language"]["code"], "en");
    assert!(lines[0]["sentiment"]["score"].is_number());
    assert_eq!(lines[1]["id"], "b");
    assert_eq!(lines[1]["language"]["code"], "ru");
    assert!(lines[1]["sentiment"]["label"].is_string());
    // A line that cannot be analysed: its id, its line number (from 1, blank lines counted)
    // and the error, naming the field of its Message as score --help says.
    assert_eq!(
        lines[2],
        serde_json::json!({"id": "c", "line": 4, "error": "text: must not be empty"})
    );
    assert_eq!(lines[3]["id"], "");
    assert_eq!(lines[3]["line"], 5);
    assert!(lines[3]["error"]
        .as_str()
        .unwrap()
        .starts_with("not a Message in proto3 JSON: "));
    assert_eq!(lines[4]["id"], "d");
    assert_eq!(lines[4]["language"]["from_hint"], serde_json::Value::Null);
    assert_eq!(lines[4]["language"]["fromHint"], true);
    assert_eq!(lines[5]["id"], "e");
    assert_eq!(lines[5]["text"]["redacted"], "call me on [PHONE]");
    assert_eq!(
        lines[5]["text"]["cuts"][0]["kind"],
        "CUT_KIND_OTHER_SPEAKER"
    );
    assert_eq!(lines[6]["id"], "f");
    assert_eq!(lines[6]["line"], 8);
    let e = lines[6]["error"].as_str().unwrap();
    assert!(e.starts_with("text: "), "{e}");

    // A whole file as bytes: the signature and the quoted thread are not analysed.
    let eml = dir.path().join("reply.eml");
    std::fs::write(
        &eml,
        "From: Anna <anna@example.com>\r\nSubject: Re: order\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         It still has not arrived.\r\n\r\nOn Mon, 3 Nov 2026, Shop <help@shop.example> wrote:\r\n> It was shipped.\r\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "analyze",
            "--format",
            "eml",
            "--model",
            &model,
            "--heads-dir",
        ])
        .arg(&heads)
        .arg("--file")
        .arg(&eml)
        .output()
        .unwrap();
    let v = json_output(&out);
    assert_eq!(v["text"]["redacted"], "It still has not arrived.");
    assert_eq!(v["text"]["subject"], "Re: order");
    assert_eq!(v["text"]["cuts"][0]["kind"], "CUT_KIND_QUOTE");
}

/// The JSON a successful `rapport analyze` printed (the run's stderr if it failed).
fn json_output(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
