//! async-std + async-tungstenite adapter for [`relay_client`] (SignalWire Relay v2).
//!
//! Supplies [`AsyncStdRuntime`] and [`AsyncStdConnector`] and re-exports relay-client's API.
//! It pulls in no tokio. async-std is discontinued upstream; this adapter stays tiny on
//! purpose (a smol adapter would be the same ~100 lines).
//!
//! TLS: with the default `tls` feature, `wss://` URLs (the real service is
//! `wss://relay.signalwire.com`) and `https://` task delivery go through rustls with the `ring`
//! provider and the Mozilla root store (`webpki-roots`); certificates are verified. Without it,
//! only `ws://` connects and only `http://` tasks are delivered.
//!
//! # Example
//!
//! ```no_run
//! use relay_async_std::prelude::*;
//!
//! #[async_std::main]
//! async fn main() -> Result<(), ClientError> {
//!     let config = SessionConfig::new("my-project", "my-token").with_contexts(["office"]);
//!     // The real service; `relay_async_std::builder(config).with_host(..).connect()` elsewhere.
//!     let client = relay_async_std::connect(config);
//!     client.wait_ready().await?;
//!     let sent = client
//!         .messaging()
//!         .send(MessageParams::text("office", "+15550001", "+15550002", "hello"))
//!         .await?;
//!     tracing::info!(successful = sent.successful, "sent");
//!     client.disconnect().await;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

use std::time::Instant;

pub mod prelude;
mod ws;

pub use relay_client::*;
pub use relay_proto::{Event, SessionConfig};

/// The async-std runtime: `async_std::task::spawn`, `async_std::task::sleep`, `Instant::now`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        let wait = deadline.saturating_duration_since(Instant::now());
        Box::pin(async_std::task::sleep(wait))
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        drop(async_std::task::spawn(future));
    }

    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        drop(async_std::task::spawn_blocking(job));
    }
}

/// Opens WebSockets with async-tungstenite over async-std: `ws://`, and `wss://` with the
/// default `tls` feature (see the crate docs on TLS).
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdConnector;

impl Connector for AsyncStdConnector {
    fn connect(
        &self,
        url: &str,
        limits: WsLimits,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        let url = url.to_owned();
        Box::pin(async move { ws::open(&url, limits).await })
    }
}

/// Connects to the real service (`wss://relay.signalwire.com`) with async-std and async-tungstenite, seeding
/// the session's ids and jitter from the OS. [`builder`] connects elsewhere
/// (`builder(config).with_host("ws://127.0.0.1:8080").connect()`); [`RelayClient::connect`]
/// with your own config keeps a deterministic generator.
pub fn connect(config: SessionConfig) -> RelayClient {
    builder(config).connect()
}

/// A [`ClientBuilder`] on async-std and async-tungstenite (ids and jitter seeded from the OS): set
/// [`with_host`](ClientBuilder::with_host) or [`with_options`](ClientBuilder::with_options),
/// then [`connect`](ClientBuilder::connect).
pub fn builder(config: SessionConfig) -> ClientBuilder<AsyncStdRuntime, AsyncStdConnector> {
    RelayClient::builder(seed_from_os(config), AsyncStdRuntime, AsyncStdConnector)
}

/// Runs a consumer with async-std and async-tungstenite against its host (the real service unless
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
            AsyncStdRuntime,
            AsyncStdConnector,
            shutdown_signal(),
        )
        .await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (Unix; elsewhere it never completes). If the
/// handlers cannot be installed it never completes (logged).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                // Closing the handle (also when this future is dropped) ends the blocking wait.
                let _close = CloseOnDrop(signals.handle());
                let got = async_std::task::spawn_blocking(move || signals.forever().next()).await;
                tracing::info!(signal = ?got, "signal: stopping");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM"),
        }
    }
    std::future::pending::<()>().await;
}

/// Unregisters the signal handlers and wakes the blocking wait.
#[cfg(unix)]
struct CloseOnDrop(signal_hook::iterator::Handle);

#[cfg(unix)]
impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}
