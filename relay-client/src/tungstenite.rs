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
