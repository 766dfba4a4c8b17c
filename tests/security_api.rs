//! Transport security through real gRPC channels to an in-process server on the tiny model:
//! TLS with bearer tokens, plaintext against a TLS port, mutual TLS, the refusal of plaintext
//! off loopback, and secrets kept out of the start-up log. Certificates are made here (rcgen).
mod common;

use std::{path::PathBuf, time::Duration};

use common::server::{message, tiny_model_and_heads};
use rapport::{
    config::{ClientSecurityArgs, ServeArgs},
    grpc::security::{ClientSecurity, ServerSecurity},
    proto::v1 as pb,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
    Code, Request,
};
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};

const BIN: &str = env!("CARGO_BIN_EXE_rapport");
/// Long enough for a loaded CI machine, far shorter than a hang: every failure the tests
/// expect must come back within it.
const PROMPT: Duration = Duration::from_secs(8);
const TOKEN_A: &str = "tok-alpha-0123456789abcdef";
const TOKEN_B: &str = "tok-bravo-fedcba9876543210";

/// A CA, a server certificate for localhost and 127.0.0.1, a client certificate from the same
/// CA, and a client certificate from another CA, as PEM files in a temporary folder.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = new_ca("rapport test CA");
        let rogue = new_ca("someone else's CA");
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", ca.pem());
        let (cert, key) = leaf(&ca, ExtendedKeyUsagePurpose::ServerAuth);
        write("server.pem", cert);
        write("server.key", key);
        let (cert, key) = leaf(&ca, ExtendedKeyUsagePurpose::ClientAuth);
        write("client.pem", cert);
        write("client.key", key);
        let (cert, key) = leaf(&rogue, ExtendedKeyUsagePurpose::ClientAuth);
        write("rogue.pem", cert);
        write("rogue.key", key);
        Pki {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn identity(&self, name: &str) -> Identity {
        let read = |ext: &str| std::fs::read(self.path(&format!("{name}.{ext}"))).unwrap();
        Identity::from_pem(read("pem"), read("key"))
    }
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// (certificate PEM, key PEM) of a leaf for localhost and 127.0.0.1, signed by `issuer`.
fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "rapport test");
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A server on the tiny model, on a loopback port, with `extra` serve flags.
struct Running {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<rapport::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(extra: &[String]) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (model, heads) = tiny_model_and_heads(dir.path());
        let mut argv: Vec<String> = [
            "--model",
            &model,
            "--heads-dir",
            &heads.display().to_string(),
            "--metrics-listen",
            "off",
            "--store",
            "off",
        ]
        .map(String::from)
        .to_vec();
        argv.extend(extra.iter().cloned());
        let args = ServeArgs::try_parse_from(argv).expect("serve args");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(rapport::grpc::run(args, listener, async move {
            let _ = stopped.await;
        }));
        Running {
            addr,
            stop: Some(stop),
            handle,
            _dir: dir,
        }
    }

    /// A TLS channel that trusts `ca_pem`, presenting `identity` if given.
    async fn tls(
        &self,
        ca_pem: &str,
        identity: Option<Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca_pem))
            .domain_name("localhost");
        if let Some(id) = identity {
            tls = tls.identity(id);
        }
        Channel::from_shared(format!("https://{}", self.addr))
            .unwrap()
            .connect_timeout(PROMPT)
            .tls_config(tls)?
            .connect()
            .await
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.handle.await.unwrap().unwrap();
    }
}

async fn wait_serving(channel: &Channel) {
    rapport::grpc::wait_serving(channel, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

fn analyze_request(token: Option<&str>) -> Request<pb::AnalyzeRequest> {
    let mut req = Request::new(pb::AnalyzeRequest {
        messages: vec![message("m1", "Thank you, that fixed it.")],
        ..Default::default()
    });
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", t.parse().unwrap());
    }
    req
}

#[tokio::test]
async fn with_tls_and_tokens_only_a_listed_token_gets_through() {
    let pki = Pki::new();
    let tokens = pki.path("tokens");
    // Two tokens, with a comment and blank lines, as an operator would write the file.
    std::fs::write(
        &tokens,
        format!("# rotated 2025-01\n{TOKEN_A}\n\n  {TOKEN_B}  \n"),
    )
    .unwrap();
    let server = Running::start(&[
        "--tls-cert".into(),
        pki.arg("server.pem"),
        "--tls-key".into(),
        pki.arg("server.key"),
        "--tokens-file".into(),
        tokens.display().to_string(),
    ])
    .await;
    let channel = server.tls(&pki.ca_pem, None).await.expect("TLS connect");
    // Health needs no token (probes cannot send one): waiting for SERVING shows it.
    wait_serving(&channel).await;
    let mut analyzer = pb::analyzer_client::AnalyzerClient::new(channel.clone());

    let refused = |r: Result<tonic::Response<pb::AnalyzeResponse>, tonic::Status>| {
        let s = r.expect_err("call without a valid token answered");
        assert_eq!(s.code(), Code::Unauthenticated, "{s:?}");
        s.message().to_string()
    };
    let none = refused(analyzer.analyze(analyze_request(None)).await);
    assert!(none.contains("missing bearer token"), "{none}");
    refused(
        analyzer
            .analyze(analyze_request(Some("Bearer wrong")))
            .await,
    );
    // One character off, same length: refused as any other wrong token.
    let near = format!("Bearer {}0", &TOKEN_A[..TOKEN_A.len() - 1]);
    refused(analyzer.analyze(analyze_request(Some(&near))).await);
    // A listed token under another scheme is not a bearer token.
    refused(
        analyzer
            .analyze(analyze_request(Some(&format!("Basic {TOKEN_A}"))))
            .await,
    );
    // The message never echoes what was sent.
    let wrong = refused(
        analyzer
            .analyze(analyze_request(Some("Bearer s3cr3t-guess")))
            .await,
    );
    assert!(!wrong.contains("s3cr3t-guess"), "{wrong}");

    // Other services are guarded too: Info, a Score stream and reflection.
    let info = pb::info_client::InfoClient::new(channel.clone())
        .get_info(pb::GetInfoRequest::default())
        .await
        .expect_err("Info without a token");
    assert_eq!(info.code(), Code::Unauthenticated, "{info:?}");
    let score = pb::scoring_client::ScoringClient::new(channel.clone())
        .score(tokio_stream::iter(Vec::<pb::ScoreRequest>::new()))
        .await
        .expect_err("Score without a token");
    assert_eq!(score.code(), Code::Unauthenticated, "{score:?}");
    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient, ServerReflectionRequest,
    };
    let reflection = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter(Vec::<ServerReflectionRequest>::new()))
        .await
        .expect_err("reflection without a token");
    assert_eq!(reflection.code(), Code::Unauthenticated, "{reflection:?}");

    // The right token, sent by the CLI's own client (channel and interceptor), works.
    let client = ClientSecurity::load(&ClientSecurityArgs {
        tls_ca: Some(pki.path("ca.pem")),
        tls_server_name: Some("localhost".into()),
        token: Some(TOKEN_A.parse().unwrap()),
        ..Default::default()
    })
    .unwrap();
    let with_token = client
        .connect(&format!("https://{}", server.addr), PROMPT)
        .await
        .expect("client connects");
    let analyses =
        pb::analyzer_client::AnalyzerClient::with_interceptor(with_token, client.interceptor())
            .analyze(analyze_request(None))
            .await
            .expect("listed token accepted")
            .into_inner()
            .analyses;
    assert_eq!(analyses.len(), 1);
    assert_eq!(analyses[0].id, "m1");
    // The file's second token, under a lower-case scheme (schemes are case-insensitive).
    let ok = analyzer
        .analyze(analyze_request(Some(&format!("bearer {TOKEN_B}"))))
        .await
        .expect("second token accepted");
    assert_eq!(ok.into_inner().analyses.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn plaintext_call_to_a_tls_port_fails_promptly() {
    let pki = Pki::new();
    let server = Running::start(&[
        "--tls-cert".into(),
        pki.arg("server.pem"),
        "--tls-key".into(),
        pki.arg("server.key"),
    ])
    .await;
    wait_serving(&server.tls(&pki.ca_pem, None).await.unwrap()).await;
    let started = std::time::Instant::now();
    let attempt = tokio::time::timeout(PROMPT, async {
        let channel = Channel::from_shared(format!("http://{}", server.addr))
            .unwrap()
            .connect_timeout(PROMPT)
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map_err(|s| format!("{s:?}"))
    })
    .await;
    match attempt {
        Ok(Err(e)) => eprintln!("plaintext refused after {:?}: {e}", started.elapsed()),
        Ok(Ok(r)) => panic!("plaintext call to a TLS port answered: {r:?}"),
        Err(_) => panic!("plaintext call to a TLS port hung past {PROMPT:?}"),
    }
    // The server is unharmed: TLS still works after the bad client.
    let channel = server.tls(&pki.ca_pem, None).await.unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("TLS health after a plaintext attempt");
    server.stop().await;
}

/// Connects with `identity` (or none) and makes one call, within [`PROMPT`].
async fn call_with(
    server: &Running,
    ca_pem: &str,
    identity: Option<Identity>,
) -> Result<(), String> {
    let attempt = tokio::time::timeout(PROMPT, async {
        let channel = server
            .tls(ca_pem, identity)
            .await
            .map_err(|e| format!("connect: {e:?}"))?;
        pb::analyzer_client::AnalyzerClient::new(channel)
            .analyze(analyze_request(None))
            .await
            .map(|_| ())
            .map_err(|s| format!("call: {s:?}"))
    })
    .await;
    attempt.unwrap_or_else(|_| panic!("mTLS attempt hung past {PROMPT:?}"))
}

#[tokio::test]
async fn mutual_tls_needs_a_client_certificate_from_the_ca() {
    let pki = Pki::new();
    let server = Running::start(&[
        "--tls-cert".into(),
        pki.arg("server.pem"),
        "--tls-key".into(),
        pki.arg("server.key"),
        "--tls-client-ca".into(),
        pki.arg("ca.pem"),
    ])
    .await;
    wait_serving(
        &server
            .tls(&pki.ca_pem, Some(pki.identity("client")))
            .await
            .unwrap(),
    )
    .await;

    let none = call_with(&server, &pki.ca_pem, None).await;
    assert!(
        none.is_err(),
        "mTLS server answered a client without a certificate"
    );
    let rogue = call_with(&server, &pki.ca_pem, Some(pki.identity("rogue"))).await;
    assert!(
        rogue.is_err(),
        "mTLS server answered a certificate from another CA"
    );
    call_with(&server, &pki.ca_pem, Some(pki.identity("client")))
        .await
        .expect("a certificate signed by the CA is accepted");

    // The CLI client presents its certificate the same way.
    let client = ClientSecurity::load(&ClientSecurityArgs {
        tls_ca: Some(pki.path("ca.pem")),
        tls_server_name: Some("localhost".into()),
        tls_client_cert: Some(pki.path("client.pem")),
        tls_client_key: Some(pki.path("client.key")),
        ..Default::default()
    })
    .unwrap();
    let channel = client
        .connect(&format!("https://{}", server.addr), PROMPT)
        .await
        .unwrap();
    pb::info_client::InfoClient::with_interceptor(channel, client.interceptor())
        .get_info(pb::GetInfoRequest::default())
        .await
        .expect("Info over mTLS");
    server.stop().await;
}

fn serve_args(argv: &[&str]) -> ServeArgs {
    ServeArgs::try_parse_from(argv.iter().copied()).expect("serve args")
}

#[test]
fn plaintext_off_loopback_is_refused_unless_insecure() {
    for listen in ["0.0.0.0:50051", "[::]:50051", "10.1.2.3:50051"] {
        let args = serve_args(&["--listen", listen]);
        let err = ServerSecurity::load(&args.security, args.listen)
            .err()
            .unwrap_or_else(|| panic!("plaintext on {listen} allowed"))
            .to_string();
        assert!(
            err.contains("--insecure"),
            "error should name the flag: {err}"
        );
        assert!(err.contains("--tls-cert"), "error should name TLS: {err}");
        let args = serve_args(&["--listen", listen, "--insecure"]);
        ServerSecurity::load(&args.security, args.listen).expect("--insecure allows it");
    }
    for listen in ["127.0.0.1:50051", "[::1]:50051", "127.0.0.2:50051"] {
        let args = serve_args(&["--listen", listen]);
        ServerSecurity::load(&args.security, args.listen).expect("plaintext on loopback");
    }
    // With TLS, any address is allowed.
    let pki = Pki::new();
    let (cert, key) = (pki.arg("server.pem"), pki.arg("server.key"));
    let args = serve_args(&[
        "--listen",
        "0.0.0.0:50051",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ]);
    let security = ServerSecurity::load(&args.security, args.listen).expect("TLS off loopback");
    assert!(security.tls.is_some() && !security.mutual_tls && !security.auth.is_on());
}

#[test]
fn bad_security_settings_stop_the_server() {
    let pki = Pki::new();
    let empty = pki.path("empty-tokens");
    std::fs::write(&empty, "# nobody yet\n\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        // An empty token file would leave the server open: refused, not ignored.
        (
            &["--tokens-file", &empty.display().to_string()],
            "no tokens",
        ),
        (
            &["--tokens-file", "/nonexistent/tokens"],
            "/nonexistent/tokens",
        ),
        (
            &[
                "--tls-cert",
                &pki.arg("server.pem"),
                "--tls-key",
                &pki.arg("tokens-nope"),
            ],
            "tokens-nope",
        ),
        // A key file that is not PEM: named by path, its bytes never echoed.
        (
            &[
                "--tls-cert",
                &pki.arg("server.pem"),
                "--tls-key",
                &pki.arg("ca.pem.not"),
            ],
            "ca.pem.not",
        ),
    ];
    std::fs::write(pki.path("ca.pem.not"), "not a key at all").unwrap();
    for (argv, needle) in cases {
        let args = serve_args(argv);
        let err = ServerSecurity::load(&args.security, args.listen)
            .err()
            .unwrap_or_else(|| panic!("{argv:?} accepted"))
            .to_string();
        assert!(err.contains(needle), "{argv:?}: {err}");
        assert!(!err.contains("not a key at all"), "{err}");
    }
    // clap itself refuses half a TLS configuration.
    assert!(ServeArgs::try_parse_from(["--tls-cert", "c.pem"]).is_err());
    assert!(ServeArgs::try_parse_from(["--tls-client-ca", "ca.pem"]).is_err());
}

/// Runs `rapport serve` with `args` and the token in RAPPORT_TOKENS until it exits by itself
/// (within a minute); returns (success, stderr).
async fn serve_until_exit(args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BIN)
            .arg("serve")
            .args(args)
            .env("RAPPORT_TOKENS", TOKEN_A)
            .env("RAPPORT_LOG_FORMAT", "json")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve exits by itself")
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_refuses_plaintext_off_loopback_before_binding_and_never_logs_secrets() {
    // Refused before anything binds: the check runs ahead of the listener.
    let (ok, log) = serve_until_exit(&[
        "--listen",
        "0.0.0.0:0",
        "--metrics-listen",
        "off",
        "--store",
        "off",
    ])
    .await;
    assert!(!ok, "serve on 0.0.0.0 without TLS started: {log}");
    assert!(
        log.contains("--insecure"),
        "the error names --insecure: {log}"
    );
    assert!(!log.contains("gRPC listening"), "it bound first: {log}");
    assert!(!log.contains(TOKEN_A), "token in the log: {log}");

    // On loopback with TLS, the start-up log shows the key's path and the token redacted,
    // never the key's contents nor the token. A missing model then ends the run.
    let pki = Pki::new();
    let key = std::fs::read_to_string(pki.path("server.key")).unwrap();
    let key_body = key.lines().nth(1).unwrap();
    let (ok, log) = serve_until_exit(&[
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "off",
        "--store",
        "off",
        "--model",
        &format!("dir:{}", pki.path("no-model").display()),
        "--tls-cert",
        &pki.arg("server.pem"),
        "--tls-key",
        &pki.arg("server.key"),
    ])
    .await;
    assert!(!ok, "serve without a model should stop: {log}");
    assert!(log.contains("starting rapport"), "{log}");
    assert!(
        log.contains(&pki.arg("server.key")),
        "key path logged: {log}"
    );
    assert!(log.contains("[redacted]"), "token shown as redacted: {log}");
    assert!(
        log.contains("\"tls\":true"),
        "security summary logged: {log}"
    );
    assert!(!log.contains(TOKEN_A), "token in the log: {log}");
    assert!(!log.contains(key_body), "key contents in the log: {log}");
}
