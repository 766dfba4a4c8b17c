//! Transport security at the edge: TLS and mutual TLS (rustls, through tonic), bearer-token
//! checks (a tonic interceptor), and the rule that a non-loopback address needs TLS or
//! `--insecure`. Also the client side, for the CLI commands that dial a server.
//!
//! Which calls need a token: all of them but grpc.health.v1. Health answers only
//! SERVING / NOT_SERVING, and the kubelet's gRPC probes (like most load balancers' health
//! checks) cannot send headers, so a probe must not need the secret. Server reflection is not
//! exempt: it is a debugging tool, and grpcurl sends the header with `-H`.
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{
    metadata::MetadataValue,
    service::Interceptor,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig},
    Request, Status,
};

use crate::{
    config::{ClientSecurityArgs, SecurityArgs},
    Error, Result,
};

/// A client that opens a TCP connection and then sends nothing (or not TLS) is dropped after
/// this long, so it cannot hold a handshake slot.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's security, loaded and checked once at start-up.
pub struct ServerSecurity {
    pub tls: Option<ServerTlsConfig>,
    pub mutual_tls: bool,
    pub auth: Auth,
}

impl ServerSecurity {
    /// Reads the certificate, key and token files, and refuses a plaintext non-loopback
    /// `listen` address unless `--insecure` allows it. Call before binding, so that a refused
    /// address is never opened.
    pub fn load(args: &SecurityArgs, listen: SocketAddr) -> Result<Self> {
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let identity = Identity::from_pem(read_pem(cert)?, read_pem(key)?);
                let mut config = ServerTlsConfig::new()
                    .identity(identity)
                    .timeout(HANDSHAKE_TIMEOUT);
                if let Some(ca) = &args.tls_client_ca {
                    config = config.client_ca_root(Certificate::from_pem(read_pem(ca)?));
                }
                Some(config)
            }
            (None, None) if args.tls_client_ca.is_some() => {
                return Err(Error::invalid(
                    "--tls-client-ca",
                    "mutual TLS needs TLS: give --tls-cert and --tls-key too",
                ))
            }
            (None, None) => None,
            _ => {
                return Err(Error::invalid(
                    "--tls-cert",
                    "--tls-cert and --tls-key go together",
                ))
            }
        };
        if tls.is_none() && !listen.ip().is_loopback() && !args.insecure {
            return Err(Error::invalid(
                "--listen",
                format!(
                    "refusing to serve plaintext gRPC on {listen}, which is not a loopback \
                     address: give --tls-cert and --tls-key (RAPPORT_TLS_CERT, RAPPORT_TLS_KEY), \
                     or --insecure (RAPPORT_INSECURE=true) where something in front terminates \
                     TLS"
                ),
            ));
        }
        let mut tokens = Vec::new();
        if let Some(path) = &args.tokens_file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let before = tokens.len();
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
            // An empty file would otherwise leave the server open, which its operator did not
            // mean.
            if tokens.len() == before {
                return Err(Error::invalid(
                    "--tokens-file",
                    format!("{}: no tokens in it", path.display()),
                ));
            }
        }
        if let Some(list) = &args.tokens {
            let before = tokens.len();
            tokens.extend(
                list.expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
            if tokens.len() == before {
                return Err(Error::invalid(
                    "--tokens",
                    "no tokens in it (RAPPORT_TOKENS)",
                ));
            }
        }
        if let Some(bad) = tokens
            .iter()
            .position(|t| t.chars().any(char::is_whitespace))
        {
            // Not the token itself: an error message may be logged.
            return Err(Error::invalid(
                "tokens",
                format!(
                    "token #{} holds whitespace, which no header can carry",
                    bad + 1
                ),
            ));
        }
        Ok(ServerSecurity {
            mutual_tls: tls.is_some() && args.tls_client_ca.is_some(),
            tls,
            auth: Auth::new(&tokens),
        })
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // Only the shape is checked here (the contents are never echoed); rustls parses them when
    // the server starts and names what it could not read.
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(Error::invalid(
            path.display().to_string(),
            "not a PEM file (no -----BEGIN line)",
        ));
    }
    Ok(bytes)
}

/// The bearer-token check, as a tonic interceptor on every service but health. Holds only the
/// SHA-256 of each token: comparing fixed-length digests in constant time, and every one of
/// them, tells a caller nothing about how close a guess came, nor how long the tokens are.
#[derive(Clone, Default)]
pub struct Auth {
    digests: Option<Arc<[[u8; 32]]>>,
}

impl Auth {
    pub fn new(tokens: &[String]) -> Self {
        let digests =
            (!tokens.is_empty()).then(|| tokens.iter().map(|t| digest(t.as_bytes())).collect());
        Auth { digests }
    }

    /// Whether calls need a token.
    pub fn is_on(&self) -> bool {
        self.digests.is_some()
    }

    /// How many tokens are accepted (for the start-up log; never the tokens).
    pub fn count(&self) -> usize {
        self.digests.as_ref().map_or(0, |d| d.len())
    }
}

/// Whether `token` is one of the accepted ones, looking at every digest whatever the outcome.
fn accepts(digests: &[[u8; 32]], token: &[u8]) -> bool {
    let presented = digest(token);
    let found = digests
        .iter()
        .fold(subtle::Choice::from(0), |any, d| any | d.ct_eq(&presented));
    found.into()
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Interceptor for Auth {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        let Some(digests) = &self.digests else {
            return Ok(request);
        };
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The scheme is case-insensitive (RFC 9110 section 11.1).
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let Some(token) = token else {
            metrics::counter!("rapport_auth_rejected_total", "reason" => "missing").increment(1);
            return Err(Status::unauthenticated(
                "missing bearer token: send the header `authorization: Bearer <token>`",
            ));
        };
        if accepts(digests, token.as_bytes()) {
            Ok(request)
        } else {
            metrics::counter!("rapport_auth_rejected_total", "reason" => "invalid").increment(1);
            Err(Status::unauthenticated("invalid bearer token"))
        }
    }
}

/// A CLI client's way to a server: a channel (TLS where the URL is https://) and the token its
/// calls carry.
pub struct ClientSecurity {
    tls: Option<ClientTlsConfig>,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl ClientSecurity {
    pub fn load(args: &ClientSecurityArgs) -> Result<Self> {
        let mut tls = None;
        let any_tls = args.tls_ca.is_some()
            || args.tls_client_cert.is_some()
            || args.tls_server_name.is_some();
        if any_tls {
            let mut config = ClientTlsConfig::new();
            if let Some(ca) = &args.tls_ca {
                config = config.ca_certificate(Certificate::from_pem(read_pem(ca)?));
            }
            if let Some(name) = &args.tls_server_name {
                config = config.domain_name(name.clone());
            }
            if let (Some(cert), Some(key)) = (&args.tls_client_cert, &args.tls_client_key) {
                config = config.identity(Identity::from_pem(read_pem(cert)?, read_pem(key)?));
            }
            tls = Some(config);
        }
        let token = match (&args.token, &args.token_file) {
            (Some(t), _) => Some(t.expose().trim().to_owned()),
            (None, Some(path)) => Some(read_token_file(path)?),
            (None, None) => None,
        };
        let token = token
            .map(|t| {
                let mut value: MetadataValue<tonic::metadata::Ascii> =
                    format!("Bearer {t}").parse().map_err(|_| {
                        Error::invalid("--token", "the token holds characters no header can carry")
                    })?;
                // Never HPACK-indexed, and hidden from the header's Debug output.
                value.set_sensitive(true);
                Ok::<_, Error>(value)
            })
            .transpose()?;
        Ok(ClientSecurity { tls, token })
    }

    /// The URL for `server`: as given where it names a scheme, else "https://HOST:PORT" when TLS
    /// options were given and "http://HOST:PORT" when not.
    pub fn url_for(&self, server: &str) -> String {
        if server.contains("://") {
            server.to_owned()
        } else if self.tls.is_some() {
            format!("https://{server}")
        } else {
            format!("http://{server}")
        }
    }

    /// Connects to `url` ("http://host:port" or "https://host:port", see [`Self::url_for`]);
    /// https needs `--tls-ca`, http refuses TLS options rather than silently ignore them.
    pub async fn connect(&self, url: &str, timeout: Duration) -> Result<Channel> {
        self.endpoint(url, timeout)?
            .connect()
            .await
            .map_err(|e| Error::Unavailable(format!("connect {url}: {}", error_chain(&e))))
    }

    /// The endpoint [`Self::connect`] dials, for callers that build their own channel (a
    /// balanced one over several servers).
    pub fn endpoint(&self, url: &str, timeout: Duration) -> Result<Endpoint> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| Error::invalid("--server", format!("{url:?}: {e}")))?
            .connect_timeout(timeout)
            .tcp_nodelay(true);
        let https = url.starts_with("https://");
        match (&self.tls, https) {
            (Some(tls), true) => {
                endpoint = endpoint
                    .tls_config(tls.clone())
                    .map_err(|e| Error::invalid("--tls-ca", e.to_string()))?;
            }
            (None, true) => {
                return Err(Error::invalid(
                    "--tls-ca",
                    format!("{url} is https: give the CA certificate to trust (--tls-ca)"),
                ))
            }
            (Some(_), false) => {
                return Err(Error::invalid(
                    "--server",
                    format!("TLS options given but {url} is not https://"),
                ))
            }
            (None, false) => {}
        }
        Ok(endpoint)
    }

    /// The interceptor that adds the bearer token to every call (a no-op without one).
    pub fn interceptor(&self) -> BearerToken {
        BearerToken(self.token.clone())
    }
}

fn read_token_file(path: &PathBuf) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("--token-file", format!("{}: empty", path.display())))
}

/// "a: b: c" from an error and its sources: tonic's transport and TLS errors name the cause
/// only below the top.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Adds `authorization: Bearer <token>` to each outgoing call.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> std::result::Result<Request<()>, Status> {
        if let Some(t) = &self.0 {
            request.metadata_mut().insert("authorization", t.clone());
        }
        Ok(request)
    }
}
