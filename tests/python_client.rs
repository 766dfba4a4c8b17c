//! The Python client package (clients/python) against a real server: pip installs the working
//! tree's package into a temporary folder (offline: setuptools, grpcio and protobuf come from
//! the project's .venv, which scripts/setup-python.sh sets up), then runs the package's own
//! tests (clients/python/tests, pytest) against a server started here on the tiny model.
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("RAPPORT_TEST_PYTHON") {
        return p.into();
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with grpcio-tools and pytest: run scripts/setup-python.sh (README's test \
         command does) or set RAPPORT_TEST_PYTHON"
    );
    venv
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The committed stubs (clients/python/rapport_client/pb) are what proto/ generates today.
#[test]
fn python_stubs_match_proto() {
    let out = std::process::Command::new(python())
        .arg(root().join("clients/python/scripts/generate.py"))
        .arg("--check")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        show("generate.py --check", &out)
    );
}

/// Installs clients/python into `target` as pip would for a user, without the network.
fn pip_install(target: &Path) {
    // From a copy, so the build leaves nothing (build/, *.egg-info) in the working tree.
    let src = target.with_extension("src");
    copy_dir(&root().join("clients/python"), &src);
    let out = std::process::Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args([
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
        ])
        .arg(target)
        .arg(&src)
        .output()
        .expect("pip runs");
    assert!(out.status.success(), "{}", show("pip install", &out));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "__pycache__" || name_str == "build" || name_str.ends_with(".egg-info") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[tokio::test]
async fn python_client_package_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    pip_install(&site);
    let server = common::server::start_tiny(&[]).await;
    let python_env = |cmd: &mut tokio::process::Command| {
        cmd.current_dir(dir.path())
            .env("PYTHONPATH", &site)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("RAPPORT_ADDR", server.addr.to_string());
    };
    // The installed package is the one under test, not the working tree's.
    let mut cmd = tokio::process::Command::new(python());
    python_env(&mut cmd);
    let out = cmd
        .args([
            "-c",
            "import rapport_client; from rapport_client.pb.grpc.health.v1 import health_pb2; \
             print(rapport_client.__file__)",
        ])
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", show("import", &out));
    assert!(
        stdout.starts_with(&site.display().to_string()),
        "imported from elsewhere: {stdout}"
    );

    let mut cmd = tokio::process::Command::new(python());
    python_env(&mut cmd);
    let out = cmd
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(root().join("clients/python/tests"))
        .output()
        .await
        .expect("python runs");
    let report = show("pytest", &out);
    eprintln!("{report}"); // shown with --nocapture
    assert!(out.status.success(), "{report}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    let passed: usize = summary
        .split(" passed")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 8, "fewer tests passed than written: {summary}");
    assert!(
        !summary.contains("skipped") && !summary.contains("failed"),
        "{summary}"
    );
    server.stop().await.unwrap();
}
