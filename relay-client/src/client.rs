//! [`RelayClient`] and its `calling()` / `messaging()` facades.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::{mpsc, oneshot};
use futures_util::{SinkExt, Stream};
use relay_proto::calling::{DialParams, DialResult};
use relay_proto::wire::RelayResult;
use relay_proto::{CallId, Event, MessageParams, SendResult, Session, SessionConfig};
use serde_json::Value;

use crate::call::Call;
use crate::driver::{ClientOptions, Command, Driver};
use crate::error::ClientError;
use crate::runtime::{Connector, Runtime};

/// A connection to Relay: a cheap, cloneable handle to the driver future that owns the
/// [`Session`].
///
/// Dropping a clone never disturbs the connection; when the last handle (client, [`Call`] or
/// action) is dropped, the driver closes the session and ends.
#[derive(Clone)]
pub struct RelayClient {
    tx: mpsc::Sender<Command>,
    runtime: Arc<dyn Runtime>,
    event_capacity: usize,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient")
            .field("closed", &self.tx.is_closed())
            .finish_non_exhaustive()
    }
}

impl RelayClient {
    /// Creates the session and spawns its driver on `runtime`; connecting starts at once.
    /// Await [`wait_ready`](Self::wait_ready) before relying on the session being up (commands
    /// issued earlier are queued by the session and sent after the handshake).
    pub fn connect(
        config: SessionConfig,
        url: impl Into<String>,
        runtime: impl Runtime,
        connector: impl Connector,
    ) -> RelayClient {
        Self::connect_with(config, url, runtime, connector, ClientOptions::default()).0
    }

    /// [`connect`](Self::connect) with options, also returning an event stream that sees
    /// every event from the very first one (a later [`events`](Self::events) call may miss
    /// the first `Ready`).
    pub fn connect_with(
        config: SessionConfig,
        url: impl Into<String>,
        runtime: impl Runtime,
        connector: impl Connector,
        options: ClientOptions,
    ) -> (RelayClient, Events) {
        let runtime: Arc<dyn Runtime> = Arc::new(runtime);
        let connector: Arc<dyn Connector> = Arc::new(connector);
        let (tx, rx) = mpsc::channel(options.command_capacity);
        let (ev_tx, ev_rx) = mpsc::channel(options.event_capacity);
        let session = Session::new(config, runtime.now());
        let event_capacity = options.event_capacity;
        let driver = Driver::new(
            session,
            runtime.clone(),
            connector,
            url.into(),
            options,
            rx,
            Some(ev_tx),
        );
        runtime.spawn(Box::pin(driver.run()));
        (
            RelayClient {
                tx,
                runtime,
                event_capacity,
            },
            Events(ev_rx),
        )
    }

    /// The runtime the driver runs on (handy for spawning handlers and timers).
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    pub(crate) async fn send(&self, cmd: Command) -> Result<(), ClientError> {
        self.tx
            .clone()
            .send(cmd)
            .await
            .map_err(|_| ClientError::Closed)
    }

    pub(crate) async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, ClientError>>) -> Command,
    ) -> Result<T, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply)).await?;
        rx.await?
    }

    /// Resolves once the handshake is complete (at once if it is). Harmless to call again;
    /// fails with [`ClientError::Closed`] or `Request(SessionStopped)` if the session stops first.
    pub async fn wait_ready(&self) -> Result<(), ClientError> {
        self.ask(Command::WaitReady).await
    }

    /// Every session event from now on: call, messaging and task events, `Ready`,
    /// `Disconnected`, ... The stream ends when the driver does.
    pub async fn events(&self) -> Result<Events, ClientError> {
        let (tx, rx) = mpsc::channel(self.event_capacity);
        self.send(Command::Subscribe(tx)).await?;
        Ok(Events(rx))
    }

    /// Registers more contexts (`signalwire.receive`); resolves when the server accepted them.
    pub async fn receive<I, S>(&self, contexts: I) -> Result<(), ClientError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let contexts = contexts.into_iter().map(Into::into).collect();
        self.ask(|reply| Command::Receive { contexts, reply }).await
    }

    /// Sends any relay command as `blade.execute`; resolves with the relay result.
    pub async fn execute(
        &self,
        method: impl Into<String>,
        params: Value,
    ) -> Result<RelayResult, ClientError> {
        let method = method.into();
        self.ask(|reply| Command::Execute {
            method,
            params,
            reply,
        })
        .await
    }

    /// Calling commands.
    pub fn calling(&self) -> Calling {
        Calling {
            client: self.clone(),
        }
    }

    /// Messaging commands.
    pub fn messaging(&self) -> Messaging {
        Messaging {
            client: self.clone(),
        }
    }

    /// Closes the session for good (close frame 1000, in-flight commands fail) and waits for
    /// the driver to finish. Harmless to repeat.
    pub async fn disconnect(&self) {
        let (done, rx) = oneshot::channel();
        if self.send(Command::Disconnect(done)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Whether the driver has finished.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The calling facade: `client.calling()`.
#[derive(Debug, Clone)]
pub struct Calling {
    client: RelayClient,
}

impl Calling {
    /// Dials out and resolves with the answered leg. A dial that ends without an answer is
    /// [`ClientError::DialFailed`] with the [`DialResult`].
    pub async fn dial(&self, params: DialParams) -> Result<Call, ClientError> {
        let result = self.dial_result(params).await?;
        match (&result.call_id, result.successful) {
            (Some(id), true) => Ok(Call::new(self.client.clone(), id.clone(), None)),
            _ => Err(ClientError::DialFailed(Box::new(result))),
        }
    }

    /// Dials out and resolves with the raw [`DialResult`], successful or not.
    pub async fn dial_result(&self, params: DialParams) -> Result<DialResult, ClientError> {
        let params = Box::new(params);
        self.client
            .ask(|reply| Command::Dial { params, reply })
            .await
    }

    /// A handle for a call known by id (no check is made until a command is issued).
    pub fn call(&self, id: CallId) -> Call {
        Call::new(self.client.clone(), id, None)
    }
}

/// The messaging facade: `client.messaging()`.
#[derive(Debug, Clone)]
pub struct Messaging {
    client: RelayClient,
}

impl Messaging {
    /// Sends a message (`messaging.send`) and resolves with the send result; the delivery
    /// states arrive later as [`Event::Message`] on the message's context.
    pub async fn send(&self, params: MessageParams) -> Result<SendResult, ClientError> {
        let params = Box::new(params);
        self.client
            .ask(|reply| Command::MessagingSend { params, reply })
            .await
    }
}

/// A stream of session [`Event`]s (see [`RelayClient::events`]).
#[derive(Debug)]
pub struct Events(mpsc::Receiver<Event>);

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}
