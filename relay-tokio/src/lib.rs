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

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

mod task;

pub use relay_client::*;
pub use relay_proto::Task;
pub use relay_proto::{Event, SessionConfig};
pub use task::{deliver_task, DeliverError, RELAY_REST_URL};

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

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct TokioWs(Ws);

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
            Ok(Box::new(TokioWs(ws)) as Box<dyn WsTransport>)
        })
    }
}

impl WsTransport for TokioWs {
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
