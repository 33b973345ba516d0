//! [`RelayClient`] and its `calling()` / `messaging()` facades.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::{mpsc, oneshot};
use futures_util::{SinkExt, Stream};
use relay_proto::wire::RelayResult;
use relay_proto::{Event, Session, SessionConfig};
use serde_json::Value;

use crate::delivery::{observer, Backlog, ClientEvent, Inbox, InboxStream, Lagged, Observer};
use crate::driver::{ClientOptions, Command, Driver, Taps};
use crate::error::ClientError;
use crate::runtime::{Connector, Runtime, WsLimits};
use crate::state::SharedState;

/// A connection to Relay: a cheap, cloneable handle to the driver future that owns the
/// [`Session`].
///
/// Dropping a clone never disturbs the connection; when the last handle (client, [`Call`](crate::Call) or
/// action) is dropped, the driver closes the session and ends.
#[derive(Clone)]
pub struct RelayClient {
    /// One allocation for every clone: a handle ([`Call`](crate::Call), action) held for a
    /// call's whole life costs a pointer, not a copy of these (nor a new channel sender).
    inner: Arc<ClientInner>,
}

/// What every clone of a [`RelayClient`] shares.
pub(crate) struct ClientInner {
    /// Shared by every handle: a command goes through it without a clone of the sender
    /// (a bounded sender's clone is an allocation) whenever the channel takes it at once.
    tx: std::sync::Mutex<mpsc::Sender<Command>>,
    runtime: Arc<dyn Runtime>,
    event_capacity: usize,
    state: Arc<SharedState>,
    backlog: Option<Arc<Backlog>>,
}

/// Figures about a client, for monitoring (see [`RelayClient::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Events waiting for the [`RelayConsumer`](crate::RelayConsumer)'s dispatcher now (0
    /// without a consumer).
    pub consumer_backlog: usize,
    /// The most that ever waited: it stays near
    /// [`consumer_backlog`](ClientOptions::consumer_backlog), because above it the driver stops
    /// reading the socket.
    pub consumer_backlog_peak: usize,
}

/// The SignalWire Relay service, where clients and consumers connect unless told otherwise
/// (the Node SDK's default `host`).
pub const DEFAULT_HOST: &str = "relay.signalwire.com";

/// The WebSocket URL for a host option, as the Node SDK reads it: a bare `host[:port]` means
/// `wss://host[:port]`; a URL with a scheme (`ws://127.0.0.1:8080` for relay-mock) is kept.
///
/// ```
/// assert_eq!(relay_client::relay_url("relay.signalwire.com"), "wss://relay.signalwire.com");
/// assert_eq!(relay_client::relay_url("ws://127.0.0.1:8080"), "ws://127.0.0.1:8080");
/// ```
pub fn relay_url(host: &str) -> String {
    let host = host.trim();
    if host.contains("://") {
        host.to_owned()
    } else {
        format!("wss://{host}")
    }
}

/// Everything a connection needs, set step by step: [`RelayClient::builder`], then
/// [`with_host`](Self::with_host) / [`with_options`](Self::with_options), then
/// [`connect`](Self::connect). The adapters start one with their runtime
/// (`relay_tokio::builder(config)`).
///
/// ```no_run
/// use relay_client::{ClientError, Connector, RelayClient, Runtime};
/// use relay_proto::SessionConfig;
///
/// async fn flow(runtime: impl Runtime, connector: impl Connector) -> Result<(), ClientError> {
///     let config = SessionConfig::new("my-project", "my-token");
///     // The real service (wss://relay.signalwire.com) unless with_host says otherwise.
///     let client = RelayClient::builder(config, runtime, connector)
///         .with_host("example.signalwire.com")
///         .connect();
///     client.wait_ready().await?;
///     tracing::info!(node = ?client.node_id(), "connected");
///     Ok(())
/// }
/// ```
pub struct ClientBuilder<R, C> {
    config: SessionConfig,
    host: String,
    options: ClientOptions,
    runtime: R,
    connector: C,
}

impl<R, C> std::fmt::Debug for ClientBuilder<R, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("project", &self.config.project)
            .field("host", &self.host)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime, C: Connector> ClientBuilder<R, C> {
    /// A connection to the real service ([`DEFAULT_HOST`]) with default options.
    pub fn new(config: SessionConfig, runtime: R, connector: C) -> Self {
        ClientBuilder {
            config,
            host: DEFAULT_HOST.to_owned(),
            options: ClientOptions::default(),
            runtime,
            connector,
        }
    }

    /// Connects to another host: a bare `host[:port]` (`wss://` is implied) or a full
    /// `ws://` / `wss://` URL (see [`relay_url`]).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets the client options.
    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The URL [`connect`](Self::connect) will open.
    pub fn url(&self) -> String {
        relay_url(&self.host)
    }

    /// Creates the session and starts connecting (see [`RelayClient::connect`]).
    pub fn connect(self) -> RelayClient {
        self.connect_with_events().0
    }

    /// [`connect`](Self::connect), also returning an event stream that sees every event from
    /// the very first one (see [`RelayClient::connect_with`]).
    pub fn connect_with_events(self) -> (RelayClient, Events) {
        let url = self.url();
        RelayClient::connect_with(self.config, url, self.runtime, self.connector, self.options)
    }

    /// [`connect`](Self::connect), also returning the client's inbound calls, messages,
    /// message states and tasks as one lossless stream (Node's `calling.onReceive`,
    /// `messaging.onReceive`, `messaging.onStateChange` and `tasking.onReceive` of a
    /// `RelayClient`). [`RelayClient::events`] also sees them, but may lag and miss some;
    /// this stream never does. See [`InboundStream`](crate::InboundStream) for what not
    /// reading it does.
    pub fn connect_with_inbound(self) -> (RelayClient, crate::InboundStream) {
        let url = self.url();
        let (client, inbox) = RelayClient::connect_lossless(
            self.config,
            url,
            Arc::new(self.runtime),
            Arc::new(self.connector),
            self.options,
        );
        let inbound = crate::InboundStream::new(inbox, &client);
        (client, inbound)
    }
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl RelayClient {
    /// Starts a [`ClientBuilder`]: the real service ([`DEFAULT_HOST`]) unless
    /// [`with_host`](ClientBuilder::with_host) says otherwise.
    pub fn builder<R: Runtime, C: Connector>(
        config: SessionConfig,
        runtime: R,
        connector: C,
    ) -> ClientBuilder<R, C> {
        ClientBuilder::new(config, runtime, connector)
    }

    /// Creates the session and spawns its driver on `runtime`, connecting to `url` (a full
    /// `ws://` / `wss://` URL) at once; [`builder`](Self::builder) defaults to the real service.
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
        let (sub, observer) = observer(options.event_capacity);
        let taps = Taps {
            first_subscriber: Some(sub),
            inbox: None,
            limits: WsLimits::new(config.bounds.max_frame_size),
            state: Arc::default(),
        };
        let client = Self::spawn(
            config,
            url.into(),
            Arc::new(runtime),
            Arc::new(connector),
            options,
            taps,
            None,
        );
        (client, Events(observer))
    }

    /// A handle that does not keep the session open.
    pub(crate) fn downgrade(&self) -> std::sync::Weak<ClientInner> {
        Arc::downgrade(&self.inner)
    }

    /// The client again, if a handle still keeps it.
    pub(crate) fn upgrade(weak: &std::sync::Weak<ClientInner>) -> Option<RelayClient> {
        weak.upgrade().map(|inner| RelayClient { inner })
    }

    /// Like [`connect_with`](Self::connect_with), with the consumer's lossless queue instead
    /// of an observer stream.
    pub(crate) fn connect_lossless(
        config: SessionConfig,
        url: String,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        options: ClientOptions,
    ) -> (RelayClient, InboxStream) {
        let (inbox, stream) = Inbox::new(options.consumer_backlog);
        let backlog = inbox.backlog();
        let taps = Taps {
            first_subscriber: None,
            inbox: Some(inbox),
            limits: WsLimits::new(config.bounds.max_frame_size),
            state: Arc::default(),
        };
        let client = Self::spawn(
            config,
            url,
            runtime,
            connector,
            options,
            taps,
            Some(backlog),
        );
        (client, stream)
    }

    fn spawn(
        config: SessionConfig,
        url: String,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        options: ClientOptions,
        taps: Taps,
        backlog: Option<Arc<Backlog>>,
    ) -> RelayClient {
        let (tx, rx) = mpsc::channel(options.command_capacity);
        let session = Session::new(config, runtime.now());
        let event_capacity = options.event_capacity;
        let state = taps.state.clone();
        let driver = Driver::new(session, runtime.clone(), connector, url, options, rx, taps);
        runtime.spawn(Box::pin(driver.run()));
        RelayClient {
            inner: Arc::new(ClientInner {
                tx: std::sync::Mutex::new(tx),
                runtime,
                event_capacity,
                state,
                backlog,
            }),
        }
    }

    /// Figures for monitoring.
    pub fn stats(&self) -> ClientStats {
        let (now, peak) = self.inner.backlog.as_ref().map_or((0, 0), |b| b.levels());
        ClientStats {
            consumer_backlog: now,
            consumer_backlog_peak: peak,
        }
    }

    /// The Blade session id, once a handshake completed (kept across reconnects that restore
    /// the session).
    pub fn session_id(&self) -> Option<String> {
        self.inner.state.get().session_id
    }

    /// The id of the Relay node serving the session, once a handshake completed.
    pub fn node_id(&self) -> Option<String> {
        self.inner.state.get().node_id
    }

    /// The relay protocol of the session, once known.
    pub fn protocol(&self) -> Option<String> {
        self.inner.state.get().protocol
    }

    /// The contexts the server accepted so far (from the configuration, a consumer, or
    /// [`receive`](Self::receive)).
    pub fn contexts(&self) -> Vec<String> {
        self.inner.state.get().contexts
    }

    /// Whether the session is connected and its handshake complete right now.
    pub fn is_connected(&self) -> bool {
        self.inner.state.get().connected
    }

    /// The runtime the driver runs on (handy for spawning handlers and timers).
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.inner.runtime
    }

    pub(crate) fn event_capacity(&self) -> usize {
        self.inner.event_capacity
    }

    /// The live call cells the driver keeps current (see [`crate::live`]).
    pub(crate) fn call_cells(&self) -> &crate::live::CallCells {
        &self.inner.state.calls
    }

    pub(crate) async fn send(&self, cmd: Command) -> Result<(), ClientError> {
        // The shared sender when the channel takes the command at once; else a clone of it
        // waits for room (the lock is never held across the wait).
        let (mut tx, cmd) = {
            let mut shared = self.sender();
            match shared.try_send(cmd) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_disconnected() => return Err(ClientError::Closed),
                Err(e) => (shared.clone(), e.into_inner()),
            }
        };
        tx.send(cmd).await.map_err(|_| ClientError::Closed)
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
    /// `Disconnected`, ... The stream ends when the driver does. It is an optional observer:
    /// if it falls [`event_capacity`](ClientOptions::event_capacity) events behind, it misses
    /// events and yields `Err(Lagged)` with how many before the next one.
    pub async fn events(&self) -> Result<Events, ClientError> {
        let (sub, observer) = observer(self.inner.event_capacity);
        self.send(Command::Subscribe(sub)).await?;
        Ok(Events(observer))
    }

    /// What happens to the connection from now on ([`ClientEvent`]: socket open, error and
    /// close with code and reason, ready, restored, disconnected, reconnecting). An optional
    /// observer like [`events`](Self::events): it is told if it missed any.
    pub async fn client_events(&self) -> Result<ClientEvents, ClientError> {
        let (sub, observer) = observer(self.inner.event_capacity);
        self.send(Command::SubscribeClient(sub)).await?;
        Ok(ClientEvents(observer))
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

    /// Closes the session for good (close frame 1000, in-flight and queued commands fail) and
    /// waits for the driver to stop, which it does at once in every state: connecting,
    /// connected, backing off. The close frame is written before this returns unless the peer
    /// stopped reading (then it is retried in the background for at most
    /// [`io_timeout`](ClientOptions::io_timeout)). Harmless to repeat.
    pub async fn disconnect(&self) {
        let (done, rx) = oneshot::channel();
        if self.send(Command::Disconnect(done)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Whether the driver has finished.
    pub fn is_closed(&self) -> bool {
        self.sender().is_closed()
    }

    fn sender(&self) -> std::sync::MutexGuard<'_, mpsc::Sender<Command>> {
        self.inner.tx.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream of session [`Event`]s (see [`RelayClient::events`]); `Err(Lagged)` tells how
/// many events it missed because it fell behind.
#[derive(Debug)]
pub struct Events(Observer<Event>);

impl Stream for Events {
    type Item = Result<Event, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// A stream of [`ClientEvent`]s (see [`RelayClient::client_events`]); `Err(Lagged)` tells how
/// many it missed.
#[derive(Debug)]
pub struct ClientEvents(Observer<ClientEvent>);

impl Stream for ClientEvents {
    type Item = Result<ClientEvent, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}
