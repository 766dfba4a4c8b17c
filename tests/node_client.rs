//! A client in another language: a Node client whose stubs @grpc/proto-loader builds from proto/
//! at run time (packages installed by scripts/setup-node.sh) calls a real server.
mod common;

use std::path::PathBuf;

use serde_json::Value;

fn node() -> PathBuf {
    std::env::var_os("RAPPORT_TEST_NODE").map_or_else(|| "node".into(), PathBuf::from)
}

#[tokio::test]
async fn node_client_loaded_from_proto_calls_every_service() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let client_dir = root.join("tests/node");
    assert!(
        client_dir.join("node_modules/@grpc/grpc-js").exists(),
        "no @grpc/grpc-js in tests/node: run scripts/setup-node.sh (README's test command does)"
    );
    let server = common::server::start_tiny(&[]).await;
    let out = tokio::process::Command::new(node())
        .arg(client_dir.join("client.js"))
        .arg(server.addr.to_string())
        .arg(root.join("proto"))
        .output()
        .await
        .expect("node runs (set RAPPORT_TEST_NODE to pick one)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node client failed:\n{stdout}\n{stderr}"
    );
    let summary: Value = serde_json::from_str(&stdout).expect("a JSON summary on stdout");
    eprintln!("{summary:#}"); // shown with --nocapture
    assert_eq!(summary["ok"], true, "{summary}");

    assert_eq!(summary["health"]["(server)"], "SERVING", "{summary}");
    assert!(!summary["info"]["model_version"]
        .as_str()
        .unwrap()
        .is_empty());
    let analyze = summary["analyze"].as_array().unwrap();
    let langs: Vec<&str> = analyze
        .iter()
        .map(|a| a["language"].as_str().unwrap())
        .collect();
    assert_eq!(langs, ["en", "ru"], "{summary}");
    for a in analyze {
        assert!(
            common::server::SENTIMENT_LABELS.contains(&a["sentiment"].as_str().unwrap()),
            "{a}"
        );
        assert!(a["total_us"].as_u64().unwrap() > 0, "{a}");
    }
    assert_eq!(
        summary["batch"]["ids"],
        serde_json::json!(["b0", "b1", "b2", "b3"])
    );
    assert_eq!(summary["conversation"]["turns"], 3, "{summary}");
    assert_eq!(
        summary["score"]["sequences"],
        serde_json::json!([0, 1, 2, 3, 4])
    );
    let invalid = summary["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 5, "{summary}");
    for case in invalid {
        assert_eq!(case["code"], "INVALID_ARGUMENT", "{case}");
        assert!(!case["details"].as_str().unwrap().is_empty(), "{case}");
    }
    server.stop().await.unwrap();
}
