//! The Node client package (clients/node) against a real server: its own tests
//! (clients/node/test, node's test runner) run against a server started here on the tiny model.
//! scripts/setup-node.sh installs the package's dependencies (`npm ci` in clients/node).
mod common;

use std::path::PathBuf;
use std::process::Output;

fn node() -> PathBuf {
    std::env::var_os("RAPPORT_TEST_NODE").map_or_else(|| "node".into(), PathBuf::from)
}

fn client_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/node");
    assert!(
        dir.join("node_modules/@grpc/grpc-js").exists(),
        "no @grpc/grpc-js in clients/node: run scripts/setup-node.sh (README's test command does)"
    );
    dir
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The count after `# NAME ` in node's TAP summary.
fn tap_count(stdout: &str, name: &str) -> Option<usize> {
    let prefix = format!("# {name} ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
}

#[tokio::test]
async fn node_client_package_against_a_server() {
    let dir = client_dir();
    let server = common::server::start_tiny(&[]).await;
    let out = tokio::process::Command::new(node())
        .args(["--test", "--test-reporter=tap", "test/"])
        .current_dir(&dir)
        .env("RAPPORT_ADDR", server.addr.to_string())
        // The repository's protos, never a copy left by an interrupted `npm pack`.
        .env("RAPPORT_PROTO_DIR", dir.join("../../proto"))
        .output()
        .await
        .expect("node runs (set RAPPORT_TEST_NODE to pick one)");
    let report = show("node --test", &out);
    eprintln!("{report}"); // shown with --nocapture
    assert!(out.status.success(), "{report}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(tap_count(&stdout, "pass").unwrap_or(0) >= 8, "{report}");
    assert_eq!(tap_count(&stdout, "fail"), Some(0), "{report}");
    assert_eq!(tap_count(&stdout, "skipped"), Some(0), "{report}");
    server.stop().await.unwrap();
}

/// `npm pack` puts the repository's protos into the package (prepack) and removes the copy
/// afterwards (postpack).
#[test]
fn node_package_carries_the_protos() {
    let dir = client_dir();
    let out = std::process::Command::new("npm")
        .args(["pack", "--dry-run", "--json", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .expect("npm runs");
    assert!(out.status.success(), "{}", show("npm pack", &out));
    let packed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("npm pack --json");
    let files: Vec<&str> = packed[0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let proto = dir.join("../../proto/rapport/v1");
    let mut wanted: Vec<String> = std::fs::read_dir(proto)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".proto"))
        .map(|f| format!("proto/rapport/v1/{f}"))
        .collect();
    wanted.extend(
        [
            "proto/grpc/health/v1/health.proto",
            "index.js",
            "index.d.ts",
            "README.md",
        ]
        .map(String::from),
    );
    for f in &wanted {
        assert!(
            files.contains(&f.as_str()),
            "{f} not in the package: {files:?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("test/") || f.starts_with("node_modules/")),
        "{files:?}"
    );
    assert!(
        !dir.join("proto").exists(),
        "postpack left clients/node/proto"
    );
}
