//! A client in another language: Python stubs generated from proto/ by grpcio-tools (installed
//! by scripts/setup-python.sh) call a real server.
mod common;

use std::path::PathBuf;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("RAPPORT_TEST_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with grpcio-tools: run scripts/setup-python.sh (README's test command does) \
         or set RAPPORT_TEST_PYTHON"
    );
    venv
}

#[tokio::test]
async fn python_client_generated_from_proto_calls_analyze() {
    let server = common::server::start_tiny(&[]).await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A KOI8-R email as real bytes, for the `raw` field.
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("ru_koi8r_8bit.eml");
    std::fs::write(&eml, common::mime::fixture("mime/ru_koi8r_8bit.eml")).unwrap();
    let out = tokio::process::Command::new(python())
        .arg(root.join("tests/python/client_check.py"))
        .arg(server.addr.to_string())
        .arg(root.join("proto"))
        .arg(&eml)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python client ok"), "{stdout}");
    server.stop().await.unwrap();
}
