//! tokio + tokio-tungstenite adapter for [`relay_client`] (SignalWire Relay v2).
//!
//! Supplies [`TokioRuntime`] and [`TokioConnector`] and re-exports relay-client's API, so an
//! application depends on this crate alone (plus tokio).
//!
//! TLS: with the default `tls` feature, `wss://` URLs (the real service is
//! `wss://relay.signalwire.com`) connect through rustls with the `ring` provider and the
//! Mozilla root store (`webpki-roots`). Without it, only `ws://` connects (relay-mock, or a
//! TLS-terminating proxy) and a `wss://` URL fails with a typed transport error.
//!
//! # Example
//!
//! ```no_run
//! use relay_tokio::{RelayConsumer, SessionConfig, TokioConnector, TokioRuntime};
//!
//! #[tokio::main]
//! async fn main() {
//!     let config = relay_tokio::seed_from_os(SessionConfig::new("my-project", "my-token"));
//!     let stop = RelayConsumer::new()
//!         .contexts(["office"])
//!         .on_incoming_call(|call| async move {
//!             if call.answer().await.is_ok_and(|r| r.successful) {
//!                 let _ = call.play_tts("Welcome to SignalWire").await;
//!             }
//!             let _ = call.hangup().await;
//!         })
//!         .run(config, "ws://127.0.0.1:8080", TokioRuntime, TokioConnector)
//!         .await;
//!     tracing::info!(?stop, "consumer stopped");
//! }
//! ```
#![forbid(unsafe_code)]

use std::time::Instant;

pub mod prelude;
mod task;

pub use relay_client::*;
pub use relay_proto::task::TaskError;
pub use relay_proto::{Event, SessionConfig};
pub use task::{DeliverError, Task, DEFAULT_TASK_HOST, DEFAULT_TASK_TIMEOUT};

/// The tokio runtime: `tokio::spawn`, `tokio::time::sleep_until`, `Instant::now`.
///
/// Must be used from within a tokio runtime (spawning panics otherwise, as `tokio::spawn` does).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        drop(tokio::spawn(future));
    }
}

/// Opens WebSockets with `tokio_tungstenite::connect_async`: `ws://`, and `wss://` with the
/// default `tls` feature.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnector;

impl Connector for TokioConnector {
    fn connect(
        &self,
        url: &str,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        let url = url.to_owned();
        Box::pin(async move {
            let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(TransportError::new)?;
            Ok(Box::new(TungsteniteTransport(ws)) as Box<dyn WsTransport>)
        })
    }
}

/// Connects with tokio and tokio-tungstenite, seeding the session's ids and jitter from the OS
/// (use [`RelayClient::connect`] with your own config to keep a deterministic generator).
pub fn connect(config: SessionConfig, url: impl Into<String>) -> RelayClient {
    RelayClient::connect(seed_from_os(config), url, TokioRuntime, TokioConnector)
}

/// Runs a consumer with tokio and tokio-tungstenite, seeding ids and jitter from the OS.
pub async fn run_consumer(
    consumer: RelayConsumer,
    config: SessionConfig,
    url: impl Into<String>,
) -> Result<relay_proto::StopReason, ClientError> {
    consumer
        .run(seed_from_os(config), url, TokioRuntime, TokioConnector)
        .await
}
