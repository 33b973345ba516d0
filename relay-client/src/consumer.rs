//! [`RelayConsumer`]: contexts plus async handlers, run until the session stops (the
//! Node SDK's `RelayConsumer`, PROTOCOL.md §10).

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use relay_proto::calling::CallEvent;
use relay_proto::{Event, Message, MessageEventKind, SessionConfig, StopReason};
use serde_json::Value;

use crate::call::Call;
use crate::client::{Events, RelayClient};
use crate::driver::ClientOptions;
use crate::error::ClientError;
use crate::runtime::{BoxFuture, Connector, Runtime};

type Handler<T> = Arc<dyn Fn(T) -> BoxFuture<'static, ()> + Send + Sync>;

fn boxed<T, F, Fut>(f: F) -> Handler<T>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |t| Box::pin(f(t)))
}

/// A consumer: the contexts to receive on and what to do with what arrives there.
///
/// Each handler runs as its own spawned future, so a long call flow never delays the next
/// event. `run` returns when the session stops (e.g. after
/// [`RelayClient::disconnect`], reachable from `ready`'s client or [`Call::client`]).
#[derive(Default)]
pub struct RelayConsumer {
    contexts: Vec<String>,
    options: ClientOptions,
    ready: Option<Handler<RelayClient>>,
    incoming_call: Option<Handler<Call>>,
    incoming_message: Option<Handler<Message>>,
    message_state: Option<Handler<Message>>,
    task: Option<Handler<Value>>,
}

impl std::fmt::Debug for RelayConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConsumer")
            .field("contexts", &self.contexts)
            .finish_non_exhaustive()
    }
}

impl RelayConsumer {
    /// A consumer with no contexts and no handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds contexts to receive on (merged with the configuration's).
    pub fn contexts<I, S>(mut self, contexts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.contexts.extend(contexts.into_iter().map(Into::into));
        self
    }

    /// Sets the client options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Called once: after the first handshake, or, when there are contexts, once the server
    /// accepted them (so inbound calls and messages can arrive). The Node SDK calls `ready`
    /// again after every reconnect; here a reconnect needs nothing from the application (the
    /// session resumes and re-registers its contexts itself), so it is not repeated.
    pub fn on_ready<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.ready = Some(boxed(f));
        self
    }

    /// Called for every inbound call offered to one of the contexts.
    pub fn on_incoming_call<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.incoming_call = Some(boxed(f));
        self
    }

    /// Called for every inbound message.
    pub fn on_incoming_message<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.incoming_message = Some(boxed(f));
        self
    }

    /// Called for every state change of an outbound message.
    pub fn on_message_state_change<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.message_state = Some(boxed(f));
        self
    }

    /// Called for every task delivered to one of the contexts, with its message.
    pub fn on_task<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.task = Some(boxed(f));
        self
    }

    /// Connects with `config` (plus this consumer's contexts) and dispatches events to the
    /// handlers until the session stops; returns why it stopped.
    pub async fn run(
        mut self,
        config: SessionConfig,
        url: impl Into<String>,
        runtime: impl Runtime,
        connector: impl Connector,
    ) -> Result<StopReason, ClientError> {
        let mut config = config;
        for c in self.contexts.drain(..) {
            if !config.contexts.contains(&c) {
                config.contexts.push(c);
            }
        }
        let options = self.options.clone();
        let wait_contexts = !config.contexts.is_empty();
        let (client, events) = RelayClient::connect_with(config, url, runtime, connector, options);
        self.dispatch(client, events, wait_contexts).await
    }

    async fn dispatch(
        self,
        client: RelayClient,
        mut events: Events,
        wait_contexts: bool,
    ) -> Result<StopReason, ClientError> {
        let rt = client.runtime().clone();
        let mut ready_called = false;
        while let Some(event) = events.next().await {
            // With contexts, "ready" means inbound traffic can already reach us.
            let now_ready = match &event {
                Event::Ready { .. } => !wait_contexts,
                Event::ContextsRegistered { outcome, .. } => wait_contexts && outcome.is_ok(),
                _ => false,
            };
            if now_ready && !ready_called {
                ready_called = true;
                if let Some(h) = &self.ready {
                    rt.spawn(h(client.clone()));
                }
            }
            match event {
                Event::Call(CallEvent::IncomingCall { call }) => {
                    if let Some(h) = &self.incoming_call {
                        let id = call.id.clone();
                        let span = tracing::debug_span!("incoming", call_id = %id);
                        span.in_scope(|| tracing::debug!("dispatching incoming call"));
                        rt.spawn(h(Call::new(client.clone(), id, Some(Arc::new(*call)))));
                    } else {
                        tracing::debug!(call_id = %call.id, "incoming call without a handler");
                    }
                }
                Event::Message(m) => {
                    let h = match m.kind {
                        MessageEventKind::Received => &self.incoming_message,
                        _ => &self.message_state,
                    };
                    if let Some(h) = h {
                        rt.spawn(h(m.message));
                    }
                }
                Event::Task { message, .. } => {
                    if let Some(h) = &self.task {
                        rt.spawn(h(message));
                    }
                }
                Event::Stopped { reason } => return Ok(reason),
                _ => {}
            }
        }
        Err(ClientError::Closed)
    }
}
