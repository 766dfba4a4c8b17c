//! The gRPC server: services, health, reflection, metrics, graceful shutdown.
//!
//! The listener opens at once with grpc.health.v1 answering NOT_SERVING; the models load and
//! warm up in the background, and only then does health turn SERVING. Until then the analysis
//! RPCs answer UNAVAILABLE.
pub mod convert;
pub mod services;
mod status;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch};
use tonic::transport::{server::TcpIncoming, Server};
use tonic_health::ServingStatus;

use crate::{analysis::Analyzer, config::ServeArgs, proto, Error, Result};
use proto::v1::{
    analyzer_server::AnalyzerServer, info_server::InfoServer, live_assist_server::LiveAssistServer,
    profiles_server::ProfilesServer, scoring_server::ScoringServer,
};
use services::{
    AnalyzerService, InfoService, LiveAssistService, ProfilesService, Ready, ScoringService,
};

/// Fully qualified names of the services health reports on ("" is the server as a whole).
pub const SERVICE_NAMES: &[&str] = &[
    "",
    "rapport.v1.Analyzer",
    "rapport.v1.Scoring",
    "rapport.v1.Info",
];

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
/// configured grace period. Returns an error if the models fail to load.
pub async fn run(
    args: ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        health
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::model(format!("reflection: {e}")))?;

    let state: Ready = Arc::default();
    let load = tokio::spawn(load_models(args.clone(), state.clone(), health.clone()));

    let max = args.max_message_bytes;
    let router = Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            AnalyzerServer::new(AnalyzerService {
                state: state.clone(),
            })
            .max_decoding_message_size(max),
        )
        .add_service(
            ScoringServer::new(ScoringService {
                state: state.clone(),
                window: args.stream_window,
            })
            .max_decoding_message_size(max),
        )
        .add_service(InfoServer::new(InfoService { state }))
        .add_service(LiveAssistServer::new(LiveAssistService))
        .add_service(ProfilesServer::new(ProfilesService));

    let (stop_tx, stop_rx) = watch::channel(false);
    let health_on_stop = health.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: health NOT_SERVING, draining in-flight calls");
        for name in SERVICE_NAMES {
            health_on_stop
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        let _ = stop_tx.send(true);
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
    tokio::pin!(server, load, grace_over);
    let mut load_done = false;
    loop {
        tokio::select! {
            r = &mut server => {
                return r.map_err(|e| Error::Unavailable(format!("gRPC server failed: {e}")));
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

async fn load_models(
    args: ServeArgs,
    state: Ready,
    health: tonic_health::server::HealthReporter,
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
