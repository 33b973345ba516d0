//! [`WsTransport`] for any tungstenite-based WebSocket stream (tokio-tungstenite,
//! async-tungstenite, ...), so every adapter shares one mapping of frames and closes.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Error, Message};

use crate::runtime::{TransportError, WsLimits, WsRecv, WsTransport};

/// Wraps a tungstenite WebSocket stream (`Stream` of messages + `Sink` of messages).
#[derive(Debug)]
pub struct TungsteniteTransport<S>(pub S);

/// Where a `ws://`/`wss://` URL points: the handshake request and the TCP endpoint to open
/// (the adapters open the socket themselves, to read it through a large buffer).
#[derive(Debug)]
#[non_exhaustive]
pub struct WsTarget {
    /// The WebSocket handshake request.
    pub request: tungstenite::handshake::client::Request,
    /// `wss://`.
    pub secure: bool,
    /// The host to connect to (IPv6 without brackets).
    pub host: String,
    /// The port (the URL's, else 443 for `wss://` and 80 for `ws://`).
    pub port: u16,
}

/// Parses `url` into a [`WsTarget`]; a URL that is not `ws://`/`wss://` or has no host is a
/// typed error that names it.
pub fn ws_target(url: &str) -> Result<WsTarget, TransportError> {
    use tungstenite::client::IntoClientRequest;
    let request = url.into_client_request().map_err(TransportError::new)?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(TransportError::new(format!(
                "{url:?}: the URL must start with ws:// or wss://"
            )))
        }
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| TransportError::new(format!("{url:?} has no host")))?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok(WsTarget {
        request,
        secure,
        host,
        port,
    })
}

/// The tungstenite configuration that enforces `limits`: no message and no frame larger than
/// `limits.max_message_size` is buffered (a larger one fails the connection).
pub fn websocket_config(limits: WsLimits) -> WebSocketConfig {
    WebSocketConfig {
        max_message_size: Some(limits.max_message_size),
        max_frame_size: Some(limits.max_message_size),
        ..WebSocketConfig::default()
    }
}

impl<S> WsTransport for TungsteniteTransport<S>
where
    S: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin + Send,
{
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.0)
            .poll_ready(cx)
            .map_err(TransportError::new)
    }

    fn start_send(&mut self, frame: String) -> Result<(), TransportError> {
        Pin::new(&mut self.0)
            .start_send(Message::Text(frame))
            .map_err(TransportError::new)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.0)
            .poll_flush(cx)
            .map_err(TransportError::new)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<WsRecv> {
        loop {
            let item = match Pin::new(&mut self.0).poll_next(cx) {
                Poll::Ready(item) => item,
                Poll::Pending => return Poll::Pending,
            };
            return Poll::Ready(match item {
                Some(Ok(Message::Text(t))) => WsRecv::Text(t),
                Some(Ok(Message::Close(frame))) => WsRecv::Closed {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.into_owned()).unwrap_or_default(),
                },
                // Pings are answered by tungstenite; binary frames are not Relay's.
                Some(Ok(_)) => continue,
                Some(Err(e)) => WsRecv::Closed {
                    code: Some(1006),
                    reason: e.to_string(),
                },
                None => WsRecv::Closed {
                    code: Some(1006),
                    reason: "end of stream".into(),
                },
            });
        }
    }

    fn start_close(&mut self, code: u16, reason: String) -> Result<(), TransportError> {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        Pin::new(&mut self.0)
            .start_send(Message::Close(Some(frame)))
            .map_err(TransportError::new)
    }
}
