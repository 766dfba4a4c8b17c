//! Server configuration: command-line flags, each also settable by a `RAPPORT_*` variable, and an
//! optional TOML file whose keys fill in whatever flags and variables leave unset.
//! Parsed once at start-up; the effective configuration is logged, with secrets (tokens) shown
//! as "[redacted]" and key files by path only.
use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::{analysis::evidence::EvidenceMode, Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
pub enum LogFormat {
    Plain,
    Json,
}

/// Where inference runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("unknown device {s:?}: expected cpu, cuda or cuda:N")),
        }
    }
}

impl DeviceSpec {
    pub fn device(&self) -> Result<candle_core::Device> {
        match self {
            DeviceSpec::Cpu => Ok(candle_core::Device::Cpu),
            DeviceSpec::Cuda(n) => candle_core::Device::new_cuda(*n).map_err(|e| {
                Error::model(format!(
                    "cannot open cuda:{n} ({e}); was rapport built with --features cuda?"
                ))
            }),
        }
    }
}

/// Everything that decides which models are loaded and how texts reach them. Shared by `serve`,
/// `analyze` and `score`, so the CLI gives the same results as the server.
#[derive(Args, Clone, Debug, Serialize)]
pub struct ModelArgs {
    /// Encoder: "bundle:DIR" (the packaged offline bundle), "dir:DIR" (HF layout: config.json,
    /// tokenizer.json, model.safetensors) or "hub:REPO[@REVISION]" (Hugging Face hub through
    /// hf-hub, honouring HF_HOME and HF_HUB_OFFLINE). Default: the bundle installed by
    /// scripts/install-model.sh.
    #[arg(long, env = "RAPPORT_MODEL")]
    pub model: Option<String>,

    /// Directory holding manifest.json and the trained task heads.
    #[arg(long, env = "RAPPORT_HEADS_DIR", default_value_os_t = crate::model::install::default_heads_dir())]
    pub heads_dir: PathBuf,

    /// Serve heads with an encoder other than the one they were trained on (logs a warning).
    #[arg(long, env = "RAPPORT_ALLOW_ENCODER_MISMATCH")]
    pub allow_encoder_mismatch: bool,

    /// Inference device: cpu, cuda or cuda:N (cuda needs a build with `--features cuda`).
    #[arg(long, env = "RAPPORT_DEVICE", default_value = "cpu")]
    pub device: DeviceSpec,

    /// Encoder forward pass: auto (int8 on CPU, candle on CUDA), int8 (packed CPU encoder with
    /// 8-bit dense layers, fastest), f32 (packed CPU encoder in f32), candle (candle's BERT
    /// layers on padded batches, f32, the reference), f16 or bf16 (the same in half precision,
    /// for GPUs).
    #[arg(long, env = "RAPPORT_PRECISION", default_value = "auto")]
    pub precision: crate::model::Precision,

    /// Tokens the encoder reads per message (special tokens included); longer texts are truncated.
    #[arg(long, env = "RAPPORT_MAX_TOKENS", default_value_t = 256)]
    pub max_tokens: usize,

    /// Evidence: each sentence of a message of several is scored on its own as well, to cite
    /// the sentences behind each result. Past this many sentences, consecutive sentences are
    /// grouped into this many stretches of about equal length. 0 turns evidence off (callers
    /// can also skip it per call: `AnalysisOptions.skip_evidence`).
    #[arg(long, env = "RAPPORT_EVIDENCE_MAX_SENTENCES", default_value_t = 8)]
    pub evidence_max_sentences: usize,

    /// How an evidence stretch is scored: pooled (the mean of the message's own final token
    /// states over the stretch's tokens: no extra encoder work) or encoded (the stretch encoded
    /// again on its own, beside the message: as it would score alone, at about twice the
    /// encoder work for a message of several sentences).
    #[arg(long, env = "RAPPORT_EVIDENCE_MODE", value_enum, default_value_t = EvidenceMode::Pooled)]
    pub evidence_mode: EvidenceMode,

    /// Longest accepted text, in characters.
    #[arg(long, env = "RAPPORT_MAX_TEXT_CHARS", default_value_t = 20_000)]
    pub max_text_chars: usize,

    /// Largest `raw` message body (a whole MIME email, attachments included), in bytes.
    #[arg(long, env = "RAPPORT_MAX_RAW_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_raw_bytes: usize,

    /// Most messages accepted in one Analyze / AnalyzeConversation call.
    #[arg(long, env = "RAPPORT_MAX_BATCH_MESSAGES", default_value_t = 256)]
    pub max_batch_messages: usize,
    /// Calibration domain of messages that name none: `support` applies
    /// `<heads dir>/domains/support.json` (fitted on the support set's dev split; served as
    /// `general` with a warning when missing), `general` the heads as trained.
    #[arg(long, env = "RAPPORT_DOMAIN", value_enum, default_value_t = crate::analysis::domain::Domain::Support)]
    pub domain: crate::analysis::domain::Domain,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The inference engine's queue and batching.
#[derive(Args, Clone, Debug, Serialize)]
pub struct EngineArgs {
    /// Sequences that may wait for inference at once (a message is one, plus one per evidence
    /// stretch with `--evidence-mode encoded`); past it, calls get RESOURCE_EXHAUSTED.
    #[arg(long, env = "RAPPORT_QUEUE_CAPACITY", default_value_t = 2048)]
    pub queue_capacity: usize,

    /// Most padded tokens (batch size x longest sequence) in one forward pass.
    #[arg(long, env = "RAPPORT_BATCH_TOKEN_BUDGET", default_value_t = 8192)]
    pub batch_token_budget: usize,

    /// Most messages in one forward pass.
    #[arg(long, env = "RAPPORT_MAX_BATCH_SIZE", default_value_t = 64)]
    pub max_batch_size: usize,

    /// Compute threads for the encoder (0: one per core). Also read from RAYON_NUM_THREADS.
    #[arg(long, env = "RAPPORT_THREADS", default_value_t = 0)]
    pub threads: usize,
}

/// `rapport serve` flags.
#[derive(Args, Clone, Debug, Serialize)]
pub struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "RAPPORT_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Prometheus metrics listen address (its own port); "off" disables it.
    #[arg(long, env = "RAPPORT_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: String,

    /// Largest gRPC message accepted, in bytes.
    #[arg(long, env = "RAPPORT_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Messages of one Score stream in flight at once; beyond it the stream is read no further
    /// until results go out (HTTP/2 flow control slows the sender).
    #[arg(long, env = "RAPPORT_STREAM_WINDOW", default_value_t = 64)]
    pub stream_window: usize,

    /// Seconds to let in-flight calls finish after SIGINT/SIGTERM.
    #[arg(long, env = "RAPPORT_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub profiles: ProfileArgs,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub security: SecurityArgs,

    #[command(flatten)]
    pub nats: NatsArgs,
}

/// A continuous feed from NATS JetStream (`serve --nats URL`): replicas share one durable pull
/// consumer, score what arrives and fold it into the profile store (docs/nats.md).
/// `Default` is the feed off.
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated (nats://HOST:4222, tls://HOST:4222). Turns the feed
    /// on: messages from `<prefix>.ingest.messages` and events from `<prefix>.ingest.events`
    /// are ingested as IngestMessages and IngestEvents would, and acknowledged only once the
    /// store has committed them. Needs a profile store (not `--store off`).
    #[arg(long, env = "RAPPORT_NATS")]
    #[serde(serialize_with = "serialize_url_redacted")]
    pub nats: Option<String>,

    /// JetStream stream to consume; created over `<prefix>.ingest.>` (work-queue retention,
    /// file storage) where it does not exist yet.
    #[arg(long, env = "RAPPORT_NATS_STREAM", default_value = "RAPPORT_INGEST")]
    pub nats_stream: String,

    /// Subject prefix: `<prefix>.ingest.messages`, `<prefix>.ingest.events`, and
    /// `<prefix>.dead` for feed messages that can never be ingested.
    #[arg(long, env = "RAPPORT_NATS_PREFIX", default_value = "rapport")]
    pub nats_prefix: String,

    /// Durable consumer name. Replicas with the same name split the work; one that dies has
    /// its unacknowledged messages redelivered to the others after `--nats-ack-wait-seconds`.
    #[arg(long, env = "RAPPORT_NATS_CONSUMER", default_value = "rapport-ingest")]
    pub nats_consumer: String,

    /// Publish each ingested batch's result (IngestResponse in the proto3 JSON mapping, with
    /// the analyses of its messages) to this subject, for CRMs that listen.
    #[arg(long, env = "RAPPORT_NATS_RESULTS")]
    pub nats_results: Option<String>,

    /// Feed messages one replica works on at once (and fetches at a time).
    #[arg(long, env = "RAPPORT_NATS_CONCURRENCY", default_value_t = 8)]
    pub nats_concurrency: usize,

    /// Seconds a delivered message may stay unacknowledged before JetStream redelivers it.
    #[arg(long, env = "RAPPORT_NATS_ACK_WAIT_SECONDS", default_value_t = 60)]
    pub nats_ack_wait_seconds: u64,

    /// Deliveries of one message before JetStream stops retrying it (transient failures such
    /// as a store that cannot be reached are retried with a growing delay).
    #[arg(long, env = "RAPPORT_NATS_MAX_DELIVER", default_value_t = 10)]
    pub nats_max_deliver: i64,

    /// NATS credentials file (.creds: JWT and NKey seed).
    #[arg(long, env = "RAPPORT_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,

    /// PEM file of CA certificates to trust for a tls:// NATS server.
    #[arg(long, env = "RAPPORT_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
}

/// A URL list with any `user:password@` shown as `[redacted]@`.
fn serialize_url_redacted<S: serde::Serializer>(
    v: &Option<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(urls) => s.serialize_str(&redact_url_userinfo(urls)),
    }
}

pub fn redact_url_userinfo(urls: &str) -> String {
    urls.split(',')
        .map(|u| match (u.find("://"), u.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}[redacted]{}", &u[..scheme + 3], &u[at..])
            }
            _ => u.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// TLS, client certificates and bearer tokens (`serve`). All off by default, which is allowed
/// only on a loopback address: elsewhere `serve` needs TLS or `--insecure`.
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct SecurityArgs {
    /// PEM file with the server's certificate chain (leaf first); turns TLS on, with
    /// `--tls-key`.
    #[arg(long, env = "RAPPORT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the private key of `--tls-cert` (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "RAPPORT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM file of CA certificates that client certificates must chain to: mutual TLS, where a
    /// client without a certificate signed by one of them cannot connect. Needs `--tls-cert`.
    #[arg(long, env = "RAPPORT_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// File of accepted bearer tokens, one per line (blank lines and lines starting with '#'
    /// are skipped). Every call then needs `authorization: Bearer <token>`, except
    /// grpc.health.v1 (for probes).
    #[arg(long, env = "RAPPORT_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,

    /// Accepted bearer tokens, comma-separated, as with `--tokens-file` (both may be given).
    /// Prefer the variable or the file: a flag's value shows in the process list.
    #[arg(long, env = "RAPPORT_TOKENS", hide_env_values = true)]
    pub tokens: Option<Secret>,

    /// Allow plaintext gRPC on a non-loopback address (e.g. behind a TLS-terminating proxy or
    /// a service mesh). Without it, `serve` refuses such an address unless TLS is on.
    #[arg(long, env = "RAPPORT_INSECURE")]
    pub insecure: bool,
}

/// A secret given on the command line or in the environment: kept as given, but shown as
/// "[redacted]" wherever it is printed or logged (Debug, the effective-config JSON).
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// How a CLI client reaches a rapport server: TLS trust, a client certificate for mutual TLS,
/// and the bearer token to send. Flatten into any subcommand that dials a server.
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct ClientSecurityArgs {
    /// PEM file of the CA certificates to trust for the server's certificate (an https://
    /// URL without it trusts nothing and fails).
    #[arg(long, env = "RAPPORT_TLS_CA")]
    pub tls_ca: Option<PathBuf>,

    /// Name to verify the server's certificate against, when it differs from the URL's host.
    #[arg(long, env = "RAPPORT_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,

    /// PEM file with this client's certificate chain, for a server with `--tls-client-ca`.
    #[arg(long, env = "RAPPORT_TLS_CLIENT_CERT", requires = "tls_client_key")]
    pub tls_client_cert: Option<PathBuf>,

    /// PEM file with the private key of `--tls-client-cert`.
    #[arg(long, env = "RAPPORT_TLS_CLIENT_KEY", requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,

    /// File holding the bearer token to send (its first non-blank line).
    #[arg(long, env = "RAPPORT_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,

    /// Bearer token to send. Prefer the variable or `--token-file`: a flag's value shows in the
    /// process list.
    #[arg(long, env = "RAPPORT_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
}

/// LiveAssist sessions (`serve`).
#[derive(Args, Clone, Debug, Serialize)]
pub struct LiveArgs {
    /// Live sessions held at once (attached or waiting to be resumed); beyond it a new
    /// conversation gets RESOURCE_EXHAUSTED.
    #[arg(long, env = "RAPPORT_LIVE_MAX_SESSIONS", default_value_t = 10_000)]
    pub live_max_sessions: usize,

    /// Seconds a session whose stream broke waits for a stream to resume it by conversation id.
    #[arg(long, env = "RAPPORT_LIVE_GRACE_SECONDS", default_value_t = 120)]
    pub live_grace_seconds: u64,

    /// Seconds without a request after which a live stream is closed.
    #[arg(long, env = "RAPPORT_LIVE_IDLE_SECONDS", default_value_t = 600)]
    pub live_idle_seconds: u64,

    /// Turns one live session holds; beyond it turns are refused (end it and start another).
    #[arg(long, env = "RAPPORT_LIVE_MAX_TURNS", default_value_t = 2_000)]
    pub live_max_turns: usize,
}

impl Default for LiveArgs {
    fn default() -> Self {
        let d = crate::hints::service::LiveSettings::default();
        LiveArgs {
            live_max_sessions: d.max_sessions,
            live_grace_seconds: d.grace.as_secs(),
            live_idle_seconds: d.idle.as_secs(),
            live_max_turns: d.max_turns,
        }
    }
}

impl LiveArgs {
    pub fn settings(&self) -> crate::hints::service::LiveSettings {
        crate::hints::service::LiveSettings {
            max_sessions: self.live_max_sessions.max(1),
            grace: std::time::Duration::from_secs(self.live_grace_seconds),
            idle: std::time::Duration::from_secs(self.live_idle_seconds.max(1)),
            max_turns: self.live_max_turns.max(1),
        }
    }
}

/// Where customer profiles are stored and how they are kept (`serve`, `profiles`).
#[derive(Args, Clone, Debug, Serialize)]
pub struct ProfileArgs {
    /// Profile store: "sqlite:PATH" (embedded, one server), "postgres://USER@HOST/DB" (many
    /// replicas) or "off" (no profiles: Profiles answers FAILED_PRECONDITION). Default:
    /// profiles.db in the data directory.
    #[arg(long, env = "RAPPORT_STORE")]
    #[serde(serialize_with = "serialize_url_redacted")]
    pub store: Option<String>,

    /// Data directory of the embedded store. Default: $XDG_DATA_HOME/rapport, else
    /// ~/.local/share/rapport.
    #[arg(long, env = "RAPPORT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Half-life of the profiles' time decay, in days: a message or event weighs half as much
    /// after this long.
    #[arg(long, env = "RAPPORT_HALF_LIFE_DAYS", default_value_t = 90.0)]
    pub half_life_days: f64,

    /// Profile nobody until their consent is recorded (Profiles.SetConsent).
    #[arg(long, env = "RAPPORT_REQUIRE_CONSENT")]
    pub require_consent: bool,

    /// Allow agents' own profiles (IngestMessages with SUBJECT_AGENT).
    #[arg(long, env = "RAPPORT_PROFILE_AGENTS")]
    pub profile_agents: bool,

    /// Keep each ingested message's whole redacted text (otherwise only a few redacted
    /// sentences per signal are kept, as evidence). Raw text is never stored.
    #[arg(long, env = "RAPPORT_STORE_TEXT")]
    pub store_text: bool,

    /// Delete customers inactive for this many days, and messages and events older than this,
    /// on an hourly schedule. Default: kept until erased.
    #[arg(long, env = "RAPPORT_RETENTION_DAYS")]
    pub retention_days: Option<f64>,

    /// A file holding the deployment's pseudonym key (16 bytes or more): customer ids are then
    /// stored as an HMAC-SHA256 under it, never as given.
    #[arg(long, env = "RAPPORT_PSEUDONYM_KEY_FILE")]
    pub pseudonym_key_file: Option<PathBuf>,

    /// Most events in one IngestEvents call.
    #[arg(long, env = "RAPPORT_MAX_BATCH_EVENTS", default_value_t = 10_000)]
    pub max_batch_events: usize,
}

impl ProfileArgs {
    /// No profile store (in-process servers of `bench` and `load`).
    pub fn off() -> Self {
        ProfileArgs {
            store: Some("off".into()),
            data_dir: None,
            half_life_days: 90.0,
            require_consent: false,
            profile_agents: false,
            store_text: false,
            retention_days: None,
            pseudonym_key_file: None,
            max_batch_events: 10_000,
        }
    }

    pub fn is_off(&self) -> bool {
        self.store.as_deref() == Some("off")
    }

    /// The store named by `--store`, or the embedded SQLite file in the data directory.
    pub fn store_spec(&self) -> String {
        if let Some(s) = &self.store {
            return s.clone();
        }
        let dir = self.data_dir.clone().unwrap_or_else(default_data_dir);
        format!("sqlite:{}", dir.join("profiles.db").display())
    }

    pub fn settings(&self) -> Result<crate::profile::service::ProfileSettings> {
        if !(self.half_life_days > 0.0 && self.half_life_days.is_finite()) {
            return Err(Error::invalid(
                "half_life_days",
                format!("{} must be a positive number of days", self.half_life_days),
            ));
        }
        if let Some(d) = self.retention_days.filter(|d| !(*d > 0.0 && d.is_finite())) {
            return Err(Error::invalid(
                "retention_days",
                format!("{d} must be a positive number of days"),
            ));
        }
        Ok(crate::profile::service::ProfileSettings {
            half_life_days: self.half_life_days,
            require_consent: self.require_consent,
            profile_agents: self.profile_agents,
            store_text: self.store_text,
            max_events: self.max_batch_events.max(1),
            retention_days: self.retention_days,
            traits: None,
        })
    }

    /// The pseudonym key, read from its file (trailing whitespace trimmed).
    pub fn keys(&self) -> Result<crate::profile::keys::Keys> {
        let secret = match &self.pseudonym_key_file {
            None => None,
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
                Some(bytes.trim_ascii_end().to_vec())
            }
        };
        crate::profile::keys::Keys::new(secret)
    }
}

fn default_data_dir() -> PathBuf {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = nonempty("XDG_DATA_HOME") {
        return PathBuf::from(x).join("rapport");
    }
    PathBuf::from(nonempty("HOME").unwrap_or_else(|| "/tmp".into())).join(".local/share/rapport")
}

/// Logging flags, global to every subcommand.
#[derive(Args, Clone, Debug, Serialize)]
pub struct LogArgs {
    /// Log format: plain or json.
    #[arg(
        long,
        env = "RAPPORT_LOG_FORMAT",
        default_value = "plain",
        global = true
    )]
    pub log_format: LogFormat,

    /// Log filter, in tracing's EnvFilter syntax (e.g. "info,rapport=debug").
    #[arg(long, env = "RAPPORT_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// Reads the TOML file named by `--config FILE` or `RAPPORT_CONFIG` and exports each of its keys
/// as `RAPPORT_<KEY>` unless that variable is already set, so that clap's usual precedence
/// (flag > variable > file > default) applies. Call before clap parses, while single-threaded.
pub fn load_config_file(args: &[String]) -> Result<Option<PathBuf>> {
    // `train` and `eval` take their own `--config` (a training config with tables, not a flat
    // server config): a `--config` after those subcommands is theirs.
    let own = args
        .iter()
        .skip(1)
        .position(|a| a == "train" || a == "eval")
        .map_or(args.len(), |p| p + 1);
    let args = &args[..own];
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_owned).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = from_args.or_else(|| std::env::var("RAPPORT_CONFIG").ok()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| Error::invalid(path.display().to_string(), format!("bad TOML: {e}")))?;
    for (key, value) in table {
        let var = format!("RAPPORT_{}", key.replace('-', "_").to_ascii_uppercase());
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                value.to_string()
            }
            other => {
                return Err(Error::invalid(
                    format!("{}: {key}", path.display()),
                    format!(
                        "expected a string, number or boolean, got {}",
                        other.type_str()
                    ),
                ))
            }
        };
        if std::env::var_os(&var).is_none() {
            std::env::set_var(var, value);
        }
    }
    Ok(Some(path))
}

/// Sets the compute thread count for candle's CPU kernels (rayon) once, before any model runs.
/// Never more threads than cores: oversubscription only slows the matmuls down.
pub fn configure_threads(requested: usize) -> usize {
    let cores = num_cpus::get();
    let from_env = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let n = match (requested, from_env) {
        (0, Some(n)) => n,
        (0, None) => cores,
        (n, _) => n,
    }
    .min(cores)
    .max(1);
    // Ignore the error: a global pool that already exists keeps its size.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    n
}

#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

impl ServeArgs {
    /// Parses serve flags from a list of arguments (no program name), with `RAPPORT_*`
    /// variables and defaults applied as on the command line. For embedding and tests.
    pub fn try_parse_from<I, T>(args: I) -> std::result::Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        ServeOnly::try_parse_from(args).map(|s| s.args)
    }
}
