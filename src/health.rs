//! `rapport health`: asks a running server's grpc.health.v1 service whether it is SERVING.
//! It is the container HEALTHCHECK and the Kubernetes exec probe: the images carry no
//! grpc_health_probe (nothing can be downloaded at build time), and the binary is already there.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::grpc::security::ClientSecurity;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

/// Exit status when the server answered with anything but SERVING.
pub const EXIT_NOT_SERVING: i32 = 1;
/// Exit status when no answer came: refused, unreachable, timed out, or a failed call.
pub const EXIT_UNREACHABLE: i32 = 2;

const DEFAULT_SERVER: &str = "127.0.0.1:50051";

#[derive(clap::Args, Debug, Clone)]
pub struct HealthArgs {
    /// Server to check: HOST:PORT or http://HOST:PORT. Default: the port of RAPPORT_LISTEN on
    /// loopback (as in the server's own container or pod), else 127.0.0.1:50051.
    #[arg(long, alias = "addr")]
    pub server: Option<String>,

    /// Service to ask about (e.g. rapport.v1.Profiles). Default: the whole server.
    #[arg(long, default_value = "")]
    pub service: String,

    /// Seconds to wait for the answer, connecting included.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,

    /// TLS and token options, as for every command that dials a server (with TLS options, an
    /// address without a scheme is dialled with https). From their RAPPORT_* variables too, so a
    /// probe inside the server's pod can take them from the pod's environment.
    #[command(flatten)]
    pub security: crate::config::ClientSecurityArgs,
}

/// The address to check when `--server` is not given: where the server of this environment
/// listens (`RAPPORT_LISTEN`), reached through loopback when it listens on every interface.
fn default_server() -> String {
    let listen = std::env::var("RAPPORT_LISTEN").ok();
    match listen.and_then(|l| l.parse::<SocketAddr>().ok()) {
        Some(mut addr) => {
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr.ip() {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                });
            }
            addr.to_string()
        }
        None => DEFAULT_SERVER.to_string(),
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Serving,
    /// The server answered with another status (NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN), or
    /// does not know the service.
    NotServing(String),
    /// No answer.
    Unreachable(String),
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Serving => 0,
            Outcome::NotServing(_) => EXIT_NOT_SERVING,
            Outcome::Unreachable(_) => EXIT_UNREACHABLE,
        }
    }
}

/// One grpc.health.v1 Check against `server` within `timeout`, dialled as `security` says.
pub async fn check(
    security: &ClientSecurity,
    server: &str,
    service: &str,
    timeout: Duration,
) -> Outcome {
    let url = security.url_for(server);
    let call = async {
        let channel = security
            .connect(&url, timeout)
            .await
            .map_err(|e| Outcome::Unreachable(e.to_string()))?;
        HealthClient::with_interceptor(channel, security.interceptor())
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .map(|r| r.into_inner().status)
            .map_err(|s| match s.code() {
                tonic::Code::NotFound => {
                    Outcome::NotServing(format!("the server does not know service {service:?}"))
                }
                code => {
                    Outcome::Unreachable(format!("health check failed: {code:?}: {}", s.message()))
                }
            })
    };
    let status = match tokio::time::timeout(timeout, call).await {
        Err(_) => return Outcome::Unreachable(format!("no answer from {url} within {timeout:?}")),
        Ok(Err(outcome)) => return outcome,
        Ok(Ok(status)) => status,
    };
    match ServingStatus::try_from(status) {
        Ok(ServingStatus::Serving) => Outcome::Serving,
        Ok(other) => Outcome::NotServing(other.as_str_name().to_string()),
        Err(_) => Outcome::NotServing(format!("unknown status {status}")),
    }
}

/// Runs the check and reports it: `SERVING` on stdout and 0, else the reason on stderr and
/// [`EXIT_NOT_SERVING`] or [`EXIT_UNREACHABLE`].
pub fn run(args: &HealthArgs) -> i32 {
    let server = args.server.clone().unwrap_or_else(default_server);
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.001, 3600.0));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rapport health: cannot start a runtime: {e}");
            return EXIT_UNREACHABLE;
        }
    };
    let security = match ClientSecurity::load(&args.security) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rapport health: {e}");
            return EXIT_UNREACHABLE;
        }
    };
    let outcome = rt.block_on(check(&security, &server, &args.service, timeout));
    let what = if args.service.is_empty() {
        server.clone()
    } else {
        format!("{server} ({})", args.service)
    };
    match &outcome {
        Outcome::Serving => println!("{what}: SERVING"),
        Outcome::NotServing(why) => eprintln!("rapport health: {what}: not serving: {why}"),
        Outcome::Unreachable(why) => eprintln!("rapport health: {what}: {why}"),
    }
    outcome.exit_code()
}
