//! tokio + tokio-tungstenite adapter for [`relay_client`] (SignalWire Relay v2).
//!
//! Supplies [`TokioRuntime`] and [`TokioConnector`] and re-exports relay-client's API, so an
//! application depends on this crate alone (plus tokio).
//!
//! Build profile: a consumer under load spends most of its CPU in the protocol core and JSON
//! parsing, which gain from whole-program optimization. The side-by-side benchmark
//! (`benches/compare/`, `BENCHMARKS.md`) measured ~10% fewer instructions and 8-23% less
//! CPU per call with this in the application's `Cargo.toml`:
//!
//! ```toml
//! [profile.release]
//! lto = "fat"
//! codegen-units = 1
//! ```
//!
//! TLS: with the default `tls` feature, `wss://` URLs (the real service is
//! `wss://relay.signalwire.com`) connect through rustls with the `ring` provider and the
//! Mozilla root store (`webpki-roots`). Without it, only `ws://` connects (relay-mock, or a
//! TLS-terminating proxy) and a `wss://` URL fails with a typed transport error.
//!
//! # Example
//!
//! A consumer that answers calls on the `office` context with text-to-speech, connected to the
//! real service (`wss://relay.signalwire.com`); `.with_host("ws://127.0.0.1:8080")` points it at
//! relay-mock instead. It stops on Ctrl-C / SIGTERM.
//!
//! ```no_run
//! use relay_tokio::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), ClientError> {
//!     let consumer = RelayConsumer::new()
//!         .contexts(["office"])
//!         .on_incoming_call(|call: Call| async move {
//!             call.answer().await?;
//!             call.play_tts("Welcome to SignalWire").await?;
//!             call.hangup().await?;
//!             Ok::<(), ClientError>(())
//!         });
//!     let stop = relay_tokio::run_consumer(consumer, SessionConfig::new("my-project", "my-token")).await?;
//!     tracing::info!(?stop, "consumer stopped");
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

pub mod prelude;

pub use relay_client::*;
pub use relay_proto::{Event, SessionConfig};

/// The tokio runtime: `tokio::spawn`, `tokio::time::sleep_until`, and tokio's clock
/// (`tokio::time::Instant::now`), so a paused test clock (`tokio::time::pause`) drives the
/// client's timers too.
///
/// Must be used from within a tokio runtime (spawning panics otherwise, as `tokio::spawn` does).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        drop(tokio::spawn(future));
    }

    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        drop(tokio::task::spawn_blocking(job));
    }

    fn timer(&self, deadline: Instant) -> Option<Pin<Box<dyn AsyncTimer>>> {
        Some(Box::pin(TokioTimer(Box::pin(tokio::time::sleep_until(
            deadline.into(),
        )))))
    }
}

/// `tokio::time::Sleep`, moved with `reset` instead of re-made (allocated once per driver).
struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl AsyncTimer for TokioTimer {
    fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().0.as_mut().reset(deadline.into());
    }

    fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        std::future::Future::poll(self.get_mut().0.as_mut(), cx)
    }
}

/// Opens WebSockets with tokio-tungstenite: `ws://`, and `wss://` with the default `tls`
/// feature. The socket is read through a [`READ_BUFFER`]-byte buffer, so one `recv` takes
/// every frame the server has sent so far instead of tungstenite's 4 KiB at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnector;

/// Bytes one socket read may take (tungstenite itself reads 4 KiB per call).
pub const READ_BUFFER: usize = 64 * 1024;

impl Connector for TokioConnector {
    fn connect(
        &self,
        url: &str,
        limits: WsLimits,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        let url = url.to_owned();
        Box::pin(async move { open(&url, limits).await })
    }
}

/// Opens `url` over a buffered TCP stream (Nagle off, like `connect_async` with
/// `disable_nagle`).
async fn open(url: &str, limits: WsLimits) -> Result<Box<dyn WsTransport>, TransportError> {
    let relay_client::WsTarget {
        request,
        secure,
        host,
        port,
        ..
    } = relay_client::ws_target(url)?;
    if secure && !cfg!(feature = "tls") {
        return Err(TransportError::new(format!(
            "{url:?}: wss:// needs relay-tokio's `tls` feature"
        )));
    }
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(TransportError::new)?;
    tcp.set_nodelay(true).map_err(TransportError::new)?;
    let stream = tokio::io::BufReader::with_capacity(READ_BUFFER, tcp);
    let config = Some(websocket_config(limits));
    #[cfg(feature = "tls")]
    let (ws, _) = tokio_tungstenite::client_async_tls_with_config(request, stream, config, None)
        .await
        .map_err(TransportError::new)?;
    #[cfg(not(feature = "tls"))]
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, config)
        .await
        .map_err(TransportError::new)?;
    Ok(Box::new(TungsteniteTransport(ws)) as Box<dyn WsTransport>)
}

/// Connects to the real service (`wss://relay.signalwire.com`) with tokio and tokio-tungstenite, seeding
/// the session's ids and jitter from the OS. [`builder`] connects elsewhere
/// (`builder(config).with_host("ws://127.0.0.1:8080").connect()`); [`RelayClient::connect`]
/// with your own config keeps a deterministic generator.
pub fn connect(config: SessionConfig) -> RelayClient {
    builder(config).connect()
}

/// A [`ClientBuilder`] on tokio and tokio-tungstenite (ids and jitter seeded from the OS): set
/// [`with_host`](ClientBuilder::with_host) or [`with_options`](ClientBuilder::with_options),
/// then [`connect`](ClientBuilder::connect).
pub fn builder(config: SessionConfig) -> ClientBuilder<TokioRuntime, TokioConnector> {
    RelayClient::builder(seed_from_os(config), TokioRuntime, TokioConnector)
}

/// Runs a consumer with tokio and tokio-tungstenite against its host (the real service unless
/// [`RelayConsumer::with_host`] says otherwise), seeding ids and jitter from the OS. It also
/// stops (gracefully: see [`RelayConsumer::run_until`]) on SIGINT or SIGTERM.
pub async fn run_consumer(
    consumer: RelayConsumer,
    config: SessionConfig,
) -> Result<relay_proto::StopReason, ClientError> {
    let url = consumer.url();
    consumer
        .run_until(
            seed_from_os(config),
            url,
            TokioRuntime,
            TokioConnector,
            shutdown_signal(),
        )
        .await
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM. If a handler cannot be installed it
/// never completes for that signal (logged).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: stopping"),
        () = term => tracing::info!("SIGTERM: stopping"),
    }
}
