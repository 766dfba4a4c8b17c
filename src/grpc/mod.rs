//! The gRPC server: services, health, reflection, metrics, graceful shutdown.
//!
//! The listener opens at once with grpc.health.v1 answering NOT_SERVING; the models load and
//! warm up in the background, and only then does health turn SERVING. Until then the analysis
//! RPCs answer UNAVAILABLE.
pub mod convert;
pub mod live;
pub mod profiles;
pub mod security;
pub mod services;
mod status;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch};
use tonic::{
    service::interceptor::InterceptedService,
    transport::{server::TcpIncoming, Server},
};
use tonic_health::ServingStatus;

use crate::{
    analysis::Analyzer,
    config::ServeArgs,
    profile::{
        keys::Keys,
        service::{ProfileSettings, Profiles, ProfilesReady},
    },
    proto, store, Error, Result,
};
use live::LiveAssistService;
use profiles::ProfilesService;
use proto::v1::{
    analyzer_server::AnalyzerServer, info_server::InfoServer, live_assist_server::LiveAssistServer,
    profiles_server::ProfilesServer, scoring_server::ScoringServer,
};
use services::{AnalyzerService, InfoService, Ready, ScoringService};

/// Fully qualified names of the services health reports on ("" is the server as a whole).
/// Profiles has its own status besides: SERVING while the models are loaded and the profile
/// store answers.
pub const SERVICE_NAMES: &[&str] = &[
    "",
    "rapport.v1.Analyzer",
    "rapport.v1.Scoring",
    "rapport.v1.Info",
    "rapport.v1.LiveAssist",
];
pub const PROFILES_SERVICE: &str = "rapport.v1.Profiles";

/// How often the profile store is checked for health, and reopened while it cannot be opened.
const STORE_CHECK: Duration = Duration::from_secs(2);
/// How often live sessions past their grace period are closed.
const LIVE_SWEEP: Duration = Duration::from_secs(1);
/// How often expired profile data is purged (with `--retention-days`).
const RETENTION_PERIOD: Duration = Duration::from_secs(3600);

/// Starts the Prometheus exporter on its own port. A second call in one process (tests) keeps
/// the first recorder.
pub fn install_metrics(listen: &str) -> Result<Option<SocketAddr>> {
    if listen == "off" {
        return Ok(None);
    }
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| Error::invalid("metrics_listen", format!("{listen:?}: {e}")))?;
    let seconds = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    let sizes = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0,
    ];
    let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &seconds,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Prefix("rapport_batch_".into()),
                &sizes,
            )
        })
        .map_err(|e| Error::invalid("metrics", e.to_string()))?;
    match builder.install() {
        Ok(()) => Ok(Some(addr)),
        Err(e) => {
            tracing::warn!(error = %e, "metrics exporter not installed");
            Ok(None)
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight calls for up to the
/// configured grace period. Returns an error if the models fail to load, or if the security
/// settings are refused (see [`security::ServerSecurity::load`]).
pub async fn run(
    args: ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("gRPC listener", e))?;
    let security = security::ServerSecurity::load(&args.security, local)?;
    tracing::info!(
        tls = security.tls.is_some(),
        mutual_tls = security.mutual_tls,
        bearer_tokens = security.auth.count(),
        "gRPC transport security"
    );
    if security.tls.is_none() && security.auth.is_on() && !local.ip().is_loopback() {
        tracing::warn!("bearer tokens over plaintext: anyone on the path can read them");
    }
    // Every service but health needs the token (health stays open for probes; see security.rs).
    let auth = security.auth.clone();
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    // Both reflection versions: grpcurl 1.8 and many tools still ask v1alpha only.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| Error::model(format!("reflection: {e}")))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| Error::model(format!("reflection: {e}")))?;

    health
        .set_service_status(PROFILES_SERVICE, ServingStatus::NotServing)
        .await;
    // Bad profile settings stop the server at once; a store that cannot be reached does not:
    // Profiles answers UNAVAILABLE until it can.
    let mut settings = args.profiles.settings()?;
    settings.traits =
        crate::profile::traits::TraitModel::load(&args.model.heads_dir)?.map(Arc::new);
    let profile_config = (args.profiles.store_spec(), settings, args.profiles.keys()?);

    let state: Ready = Arc::default();
    // The server reports SERVING once the models are warm and the store has had its first try,
    // so a client that waits for SERVING finds Profiles open where the store can be reached.
    let (store_tried, first_try) = tokio::sync::oneshot::channel();
    let load = tokio::spawn(load_models(
        args.clone(),
        state.clone(),
        health.clone(),
        first_try,
    ));
    let profiles_state: ProfilesReady = Arc::default();
    let profiles_off = args.profiles.is_off();
    let (stop_tx, stop_rx) = watch::channel(false);
    if profiles_off {
        let _ = store_tried.send(());
    } else {
        tokio::spawn(keep_profiles(
            profile_config,
            profiles_state.clone(),
            state.clone(),
            health.clone(),
            stop_rx.clone(),
            store_tried,
        ));
    }

    let profiles_service = ProfilesService {
        analyzer: state.clone(),
        profiles: profiles_state.clone(),
        off: profiles_off,
    };
    let feed = match &args.nats.nats {
        None => None,
        Some(_) if profiles_off => {
            return Err(Error::invalid(
                "nats",
                "the NATS feed folds into the profile store: give a store, not --store off",
            ))
        }
        Some(_) => Some(tokio::spawn(crate::nats::run(
            args.nats.clone(),
            profiles_service.clone(),
            state.clone(),
            profiles_state.clone(),
            stop_rx.clone(),
        ))),
    };

    let live = Arc::new(crate::hints::service::LiveAssist::new(
        args.live.settings(),
        profiles_state.clone(),
        profiles_off,
    ));
    tokio::spawn(sweep_live(live.clone(), stop_rx.clone()));

    let max = args.max_message_bytes;
    let mut builder = Server::builder();
    if let Some(tls) = security.tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| Error::invalid("--tls-cert", security::error_chain(&e)))?;
    }
    let router = builder
        .add_service(health_service)
        .add_service(InterceptedService::new(reflection_v1, auth.clone()))
        .add_service(InterceptedService::new(reflection_v1alpha, auth.clone()))
        .add_service(InterceptedService::new(
            AnalyzerServer::new(AnalyzerService {
                state: state.clone(),
            })
            .max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            ScoringServer::new(ScoringService {
                state: state.clone(),
                window: args.stream_window,
            })
            .max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            ProfilesServer::new(profiles_service).max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            InfoServer::new(InfoService {
                state: state.clone(),
            }),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            LiveAssistServer::new(LiveAssistService { state, live }).max_decoding_message_size(max),
            auth,
        ));

    let health_on_stop = health.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: health NOT_SERVING, draining in-flight calls");
        let _ = stop_tx.send(true);
        for name in SERVICE_NAMES.iter().chain([&PROFILES_SERVICE]) {
            health_on_stop
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // TCP_NODELAY: without it Nagle holds a reply's last small frame back until the
    // client's delayed ACK, adding ~40 ms to every call.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = router.serve_with_incoming_shutdown(incoming, stopped(stop_rx.clone()));
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let grace_over = async move {
        stopped(stop_rx).await;
        tokio::time::sleep(grace).await;
    };
    let feed_done = async move {
        match feed {
            Some(task) => task
                .await
                .map_err(|e| Error::model(format!("NATS feed panicked: {e}")))?,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(server, load, grace_over, feed_done);
    let mut load_done = false;
    let mut feed_stopped = false;
    loop {
        tokio::select! {
            r = &mut server => {
                r.map_err(|e| Error::Unavailable(format!("gRPC server failed: {e}")))?;
                // The feed finishes the messages in hand (and acks them) within the grace.
                if args.nats.nats.is_some() && !feed_stopped {
                    tokio::select! {
                        r = &mut feed_done => r?,
                        _ = &mut grace_over => tracing::warn!("grace period over; NATS feed not drained"),
                    }
                }
                return Ok(());
            }
            r = &mut feed_done, if !feed_stopped => {
                feed_stopped = true;
                r?;
            }
            r = &mut load, if !load_done => {
                load_done = true;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(e) => return Err(Error::model(format!("model loading panicked: {e}"))),
                }
            }
            _ = &mut grace_over => {
                tracing::warn!(seconds = grace.as_secs(), "grace period over; closing remaining calls");
                return Ok(());
            }
        }
    }
}

/// Closes live sessions detached past their grace period, until shutdown.
async fn sweep_live(live: Arc<crate::hints::service::LiveAssist>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        live.sweep();
        let _ = tokio::time::timeout(LIVE_SWEEP, stop.changed()).await;
    }
}

/// Opens the profile store (retrying while it cannot be reached), then keeps Profiles' health
/// in step with it and the models, and purges expired data on schedule, until shutdown.
async fn keep_profiles(
    (spec, settings, keys): (String, ProfileSettings, Keys),
    slot: ProfilesReady,
    models: Ready,
    health: tonic_health::server::HealthReporter,
    mut stop: watch::Receiver<bool>,
    tried: tokio::sync::oneshot::Sender<()>,
) {
    let stopped = |stop: &watch::Receiver<bool>| *stop.borrow();
    let mut tried = Some(tried);
    let store = loop {
        let opened = store::open(&spec).await;
        if let Ok(s) = &opened {
            let profiles = Profiles::new(s.clone(), keys.clone(), settings.clone());
            let _ = slot.set(Arc::new(profiles));
        }
        if let Some(t) = tried.take() {
            let _ = t.send(());
        }
        match opened {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "profile store not open; retrying");
                let _ = tokio::time::timeout(STORE_CHECK, stop.changed()).await;
                if stopped(&stop) {
                    return;
                }
            }
        }
    };
    tracing::info!(store = store.kind(), "profile store open");
    let retention = settings.retention_days.is_some();
    let profiles = slot.get().expect("set when the store opened").clone();
    let mut last_purge: Option<tokio::time::Instant> = None;
    let mut serving = None;
    while !stopped(&stop) {
        let ok = models.get().is_some() && store.ping().await.is_ok();
        if serving != Some(ok) && !stopped(&stop) {
            if serving.is_some() {
                tracing::warn!(serving = ok, "profile store health changed");
            }
            let status = if ok {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health.set_service_status(PROFILES_SERVICE, status).await;
            serving = Some(ok);
        }
        if retention && ok && last_purge.is_none_or(|t| t.elapsed() >= RETENTION_PERIOD) {
            match profiles.purge_expired().await {
                Ok(n) => tracing::info!(customers = n, "retention purge"),
                Err(e) => tracing::warn!(error = %e, "retention purge failed"),
            }
            last_purge = Some(tokio::time::Instant::now());
        }
        let _ = tokio::time::timeout(STORE_CHECK, stop.changed()).await;
    }
}

async fn load_models(
    args: ServeArgs,
    state: Ready,
    health: tonic_health::server::HealthReporter,
    store_tried: tokio::sync::oneshot::Receiver<()>,
) -> Result<()> {
    let model_args = args.model.clone();
    let analyzer = tokio::task::spawn_blocking(move || Analyzer::load(&model_args))
        .await
        .map_err(|e| Error::model(format!("model loading panicked: {e}")))??;
    let started = std::time::Instant::now();
    analyzer.warm_up().await?;
    tracing::info!(
        warm_up_ms = started.elapsed().as_millis() as u64,
        model_version = analyzer.model_version(),
        "models warmed up; serving"
    );
    let _ = state.set(Arc::new(analyzer));
    let _ = store_tried.await;
    for name in SERVICE_NAMES {
        health
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    Ok(())
}

/// Polls grpc.health.v1 on `channel` until the whole server reports SERVING, or `timeout`.
pub async fn wait_serving(channel: &tonic::transport::Channel, timeout: Duration) -> Result<()> {
    use tonic_health::pb::{
        health_check_response::ServingStatus as Status, health_client::HealthClient,
        HealthCheckRequest,
    };
    let mut health = HealthClient::new(channel.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if matches!(status, Ok(s) if s == Status::Serving as i32) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Unavailable(format!(
                "server not SERVING after {timeout:?}: {status:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
