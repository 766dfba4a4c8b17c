//! What containers and installed binaries rely on: `rapport health` as a probe against a real
//! server, and a binary copied out of its checkout finding its heads after
//! `rapport models install`.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::server::start_tiny;

const BIN: &str = env!("CARGO_BIN_EXE_rapport");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rapport health ARGS` run as a probe would run it (async: the server under test shares this
/// test's runtime).
async fn health(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .arg("health")
        .args(args)
        .env_remove("RAPPORT_LISTEN")
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn health_exits_zero_only_for_a_serving_server() {
    let server = start_tiny(&[]).await;
    let addr = server.addr.to_string();

    let out = health(&["--server", &addr]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("SERVING"),
        "{}",
        text(&out.stdout)
    );

    // A service the server reports on by name, and one it does not know.
    let out = health(&["--server", &addr, "--service", "rapport.v1.Analyzer"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = health(&["--server", &addr, "--service", "rapport.v1.NoSuchService"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not know service \"rapport.v1.NoSuchService\""),
        "{}",
        text(&out.stderr)
    );

    // Nothing listens on a closed port: a non-zero exit, saying so, well within the timeout.
    let closed = format!("127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let out = health(&["--server", &closed, "--timeout", "5"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("connect") && err.contains(&closed), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // After shutdown the same server's port answers no more.
    server.stop().await.unwrap();
    let out = health(&["--server", &addr]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[tokio::test]
async fn health_defaults_to_the_listen_port_on_loopback() {
    let server = start_tiny(&[]).await;
    // As in a container: the server listens on every interface, the probe asks loopback.
    let out = tokio::process::Command::new(BIN)
        .arg("health")
        .env("RAPPORT_LISTEN", format!("0.0.0.0:{}", server.addr.port()))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("127.0.0.1:{}: SERVING", server.addr.port())),
        "{}",
        text(&out.stdout)
    );
    server.stop().await.unwrap();
}

/// A CA and a server certificate for localhost and 127.0.0.1 signed by it (and a client
/// certificate from the same CA), as PEM files.
fn pki(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "probe test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, usage) in [
        ("server", ExtendedKeyUsagePurpose::ServerAuth),
        ("client", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

#[tokio::test]
async fn health_speaks_tls_and_mutual_tls_with_the_client_options() {
    let dir = tempfile::tempdir().unwrap();
    let (model, heads) = common::server::tiny_model_and_heads(dir.path());
    pki(dir.path());
    let file = |n: &str| dir.path().join(n).display().to_string();
    let args = rapport::config::ServeArgs::try_parse_from([
        "--model",
        &model,
        "--heads-dir",
        &heads.display().to_string(),
        "--metrics-listen",
        "off",
        "--store",
        "off",
        "--tls-cert",
        &file("server.pem"),
        "--tls-key",
        &file("server.key"),
        "--tls-client-ca",
        &file("ca.pem"),
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rapport::grpc::run(args, listener, async move {
        let _ = stopped.await;
    }));

    // As an exec probe in the pod would run it: the options from the pod's environment, the
    // certificate's name given since the probe dials 127.0.0.1 by address.
    let probe = |client_cert: bool| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["health", "--server", &addr, "--timeout", "5"])
            .env_remove("RAPPORT_LISTEN")
            .env("RAPPORT_TLS_CA", file("ca.pem"))
            .env("RAPPORT_TLS_SERVER_NAME", "localhost");
        if client_cert {
            cmd.env("RAPPORT_TLS_CLIENT_CERT", file("client.pem"))
                .env("RAPPORT_TLS_CLIENT_KEY", file("client.key"));
        }
        cmd.output()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = probe(true).await.unwrap();
        if out.status.code() == Some(0) {
            assert!(text(&out.stdout).contains("SERVING"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never SERVING over TLS: {}",
            text(&out.stderr)
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Mutual TLS: without a client certificate the probe is refused.
    let out = probe(false).await.unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // Plaintext to the TLS port fails too, and says it could not get an answer.
    let out = health(&["--server", &addr, "--timeout", "5"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// A copy of the built binary in a directory of its own, run from there with a fresh
/// RAPPORT_HOME: nothing of the checkout is in reach.
struct Moved {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Moved {
    fn new() -> Moved {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin/rapport");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::copy(BIN, &bin).unwrap();
        Moved { dir, bin }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(args)
            .current_dir(self.dir.path())
            .env("RAPPORT_HOME", self.home())
            .env("HOME", self.dir.path())
            .env_remove("RAPPORT_HEADS_DIR")
            .env_remove("RAPPORT_CONFIG")
            .env_remove("XDG_CACHE_HOME")
            .output()
            .unwrap()
    }
}

fn checkout_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

#[test]
fn a_moved_binary_says_how_to_get_heads_then_installs_them() {
    let moved = Moved::new();
    // No bundle either: the heads are checked first, so this is the error the user sees.
    let out = moved.run(&["analyze", "Where is my refund?"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let installed = moved.home().join("models/heads");
    for needle in [
        "no task heads in",
        "manifest.json not found",
        "--heads-dir",
        "rapport models install",
        &installed.display().to_string(),
    ] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }

    let out = moved.run(&["models", "install", "--heads-only"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("installed the heads into"));
    // The checkout's heads, byte for byte, beside where the bundle goes.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(checkout_models().join("manifest.json")).unwrap())
            .unwrap();
    for rel in ["manifest.json", "adapter/adapter.safetensors"]
        .into_iter()
        .map(String::from)
        .chain(
            manifest["heads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| format!("{}/head.safetensors", h.as_str().unwrap())),
        )
    {
        assert_eq!(
            std::fs::read(installed.join(&rel)).unwrap(),
            std::fs::read(checkout_models().join(&rel)).unwrap(),
            "{rel}"
        );
    }
    let again = moved.run(&["models", "install", "--heads-only"]);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("heads already installed"));

    // The heads are found now; what is missing is the encoder bundle, and the error says that.
    let out = moved.run(&["analyze", "Where is my refund?"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(!err.contains("no task heads"), "{err}");
    assert!(err.contains("multilingual-e5-small-q4"), "{err}");
}

#[test]
#[cfg_attr(
    rapport_no_bundle,
    ignore = "needs the model bundle (scripts/install-model.sh)"
)]
fn a_moved_binary_with_installed_heads_analyzes() {
    let bundle = common::bundle_dir();
    let moved = Moved::new();
    let out = moved.run(&["models", "install", "--heads-only"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let model = format!("bundle:{}", bundle.display());
    let out = moved.run(&["analyze", "--model", &model, "Where is my refund?"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["sentiment"]["label"].is_string(), "{v}");
    // The heads it ran are the installed ones (the version names every head of the manifest).
    let version = v["modelVersion"].as_str().unwrap_or_default();
    assert!(version.contains("sentiment"), "{v}");
}
