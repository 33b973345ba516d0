//! [`WsTransport`] for any tungstenite-based WebSocket stream (tokio-tungstenite,
//! async-tungstenite, ...), so every adapter shares one mapping of frames and closes.

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error, Message};

use crate::runtime::{BoxFuture, TransportError, WsRecv, WsTransport};

/// Wraps a tungstenite WebSocket stream (`Stream` of messages + `Sink` of messages).
#[derive(Debug)]
pub struct TungsteniteTransport<S>(pub S);

impl<S> WsTransport for TungsteniteTransport<S>
where
    S: Stream<Item = Result<Message, Error>> + Sink<Message, Error = Error> + Unpin + Send,
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
            // What `WebSocketStream::close` does: send the Close message (flushing it).
            if let Err(e) = self.0.send(Message::Close(Some(frame))).await {
                tracing::debug!(error = %e, "close failed");
            }
        })
    }
}
