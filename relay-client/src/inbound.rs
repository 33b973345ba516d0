//! What reaches a [`RelayClient`] on its contexts, delivered without loss: Node's
//! `client.calling.onReceive`, `client.messaging.onReceive` / `onStateChange` and
//! `client.tasking.onReceive`, as one stream.

use std::fmt;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use futures_util::Stream;
use relay_proto::calling::CallEvent;
use relay_proto::{Event, Message, MessageEventKind, StopReason};

use crate::call::Call;
use crate::client::{ClientInner, RelayClient};
use crate::delivery::InboxStream;

/// One thing that reached the client on its contexts (see [`InboundStream`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Inbound {
    /// A call offered to one of the client's contexts (Node's `calling.onReceive`), in
    /// state `created`: answer, pass or hang up.
    Call(Call),
    /// A message received on one of the client's contexts (`messaging.onReceive`).
    Message(Message),
    /// A state change of a message this client sent (`messaging.onStateChange`).
    MessageState(Message),
    /// A task delivered to one of the client's contexts (`tasking.onReceive`).
    Task {
        /// The context it was delivered to.
        context: String,
        /// The task's message, as the producer sent it.
        message: serde_json::Value,
    },
}

/// Every [`Inbound`] of a client, in order and without loss, from
/// [`ClientBuilder::connect_with_inbound`](crate::ClientBuilder::connect_with_inbound). The
/// contexts are the session's ([`SessionConfig::with_contexts`](relay_proto::SessionConfig))
/// and any added with [`RelayClient::receive`].
///
/// Lossless means backpressure: when more than
/// [`ClientOptions::consumer_backlog`](crate::ClientOptions) items wait in the stream, the
/// client stops reading its socket (commands wait for their answers too) until the stream
/// is read again. Read it all the time, e.g. in a task of its own that hands each item on;
/// or drop it, which ends the lossless delivery (nothing waits for it any more). It holds no
/// handle on the client: once every [`RelayClient`], [`Call`] and action is dropped the
/// session closes and the stream ends; it also ends when the session stops.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use relay_client::{Connector, Inbound, RelayClient, Runtime};
/// use relay_proto::SessionConfig;
///
/// async fn serve(runtime: impl Runtime, connector: impl Connector) {
///     let config = SessionConfig::new("project", "token").with_contexts(["office"]);
///     let (client, mut inbound) = RelayClient::builder(config, runtime, connector)
///         .connect_with_inbound();
///     while let Some(item) = inbound.next().await {
///         match item {
///             Inbound::Call(call) => {
///                 let _ = call.answer().await;
///                 let _ = call.play_tts("Hello").await;
///                 let _ = call.hangup().await;
///             }
///             Inbound::Message(message) => println!("text: {:?}", message.body),
///             _ => {}
///         }
///     }
///     drop(client);
/// }
/// ```
pub struct InboundStream {
    inbox: InboxStream,
    client: Weak<ClientInner>,
    stopped: Option<StopReason>,
}

impl fmt::Debug for InboundStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundStream")
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl InboundStream {
    pub(crate) fn new(inbox: InboxStream, client: &RelayClient) -> Self {
        InboundStream {
            inbox,
            client: client.downgrade(),
            stopped: None,
        }
    }

    /// Why the session stopped, once the stream has ended because it did.
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stopped.as_ref()
    }
}

impl Stream for InboundStream {
    type Item = Inbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        loop {
            if self.stopped.is_some() {
                return Poll::Ready(None);
            }
            let event = match Pin::new(&mut self.inbox).poll_next(cx) {
                Poll::Ready(Some(event)) => event,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let item = match event {
                Event::Call(CallEvent::IncomingCall { call }) => {
                    // The handle needs the client; without one nobody can act on the call.
                    let Some(client) = RelayClient::upgrade(&self.client) else {
                        return Poll::Ready(None);
                    };
                    Inbound::Call(Call::new(client, call.id.clone(), Some(&call)))
                }
                Event::Message(m) => match m.kind {
                    MessageEventKind::Received => Inbound::Message(m.message),
                    // A state change, or a messaging event of a newer kind: about a message
                    // this client knows.
                    _ => Inbound::MessageState(m.message),
                },
                Event::Task { context, message } => Inbound::Task { context, message },
                Event::Stopped { reason } => {
                    self.stopped = Some(reason);
                    continue;
                }
                _ => continue,
            };
            return Poll::Ready(Some(item));
        }
    }
}
