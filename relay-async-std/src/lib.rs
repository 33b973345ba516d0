//! async-std + async-tungstenite adapter for [`relay_client`] (SignalWire Relay v2).
//!
//! Supplies [`AsyncStdRuntime`] and [`AsyncStdConnector`] and re-exports relay-client's API.
//! It pulls in no tokio. async-std is discontinued upstream; this adapter stays tiny on
//! purpose (a smol adapter would be the same ~100 lines).
//!
//! TLS: async-tungstenite is built without a TLS feature, so only `ws://` URLs connect (enough
//! for relay-mock and for a TLS-terminating proxy); enable one of its TLS features in your
//! application for `wss://`.
//!
//! # Example
//!
//! ```no_run
//! use relay_async_std::SessionConfig;
//! use relay_async_std::relay_proto::MessageParams;
//!
//! #[async_std::main]
//! async fn main() -> Result<(), relay_async_std::ClientError> {
//!     let config = SessionConfig::new("my-project", "my-token").with_contexts(["office"]);
//!     let client = relay_async_std::connect(config, "ws://127.0.0.1:8080");
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

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::StreamExt;

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
}

/// Opens WebSockets with `async_tungstenite::async_std::connect_async` (`ws://`; see the crate
/// docs on TLS).
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdConnector;

struct AsyncStdWs<S>(WebSocketStream<S>);

impl Connector for AsyncStdConnector {
    fn connect(
        &self,
        url: &str,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        let url = url.to_owned();
        Box::pin(async move {
            let (ws, _) = async_tungstenite::async_std::connect_async(url.as_str())
                .await
                .map_err(TransportError::new)?;
            Ok(Box::new(AsyncStdWs(ws)) as Box<dyn WsTransport>)
        })
    }
}

impl<S> WsTransport for AsyncStdWs<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn send(&mut self, frame: String) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            self.0
                .send(Message::Text(frame))
                .await
                .map_err(TransportError::new)
        })
    }

    fn next_frame(&mut self) -> BoxFuture<'_, WsRecv> {
        // `StreamExt::next` is cancel-safe: a frame is either returned or left in the stream.
        Box::pin(async move {
            loop {
                match self.0.next().await {
                    Some(Ok(Message::Text(t))) => return WsRecv::Text(t),
                    Some(Ok(Message::Close(frame))) => {
                        return WsRecv::Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.into_owned()).unwrap_or_default(),
                        }
                    }
                    // Pings are answered by tungstenite; binary frames are not Relay's.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        return WsRecv::Closed {
                            code: Some(1006),
                            reason: e.to_string(),
                        }
                    }
                    None => {
                        return WsRecv::Closed {
                            code: Some(1006),
                            reason: "end of stream".into(),
                        }
                    }
                }
            }
        })
    }

    fn close(&mut self, code: u16, reason: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            if let Err(e) = self.0.close(Some(frame)).await {
                tracing::debug!(error = %e, "close failed");
            }
        })
    }
}

/// Connects with async-std and async-tungstenite, seeding the session's ids and jitter from the
/// OS (use [`RelayClient::connect`] with your own config to keep a deterministic generator).
pub fn connect(config: SessionConfig, url: impl Into<String>) -> RelayClient {
    RelayClient::connect(
        seed_from_os(config),
        url,
        AsyncStdRuntime,
        AsyncStdConnector,
    )
}

/// Runs a consumer with async-std and async-tungstenite, seeding ids and jitter from the OS.
pub async fn run_consumer(
    consumer: RelayConsumer,
    config: SessionConfig,
    url: impl Into<String>,
) -> Result<relay_proto::StopReason, ClientError> {
    consumer
        .run(
            seed_from_os(config),
            url,
            AsyncStdRuntime,
            AsyncStdConnector,
        )
        .await
}
