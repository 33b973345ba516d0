//! The network front end: WebSocket (Relay/Blade) and HTTP (control API, tasks REST) on one port.
//!
//! [`serve`] runs a [`MockServer`](crate::MockServer) behind a TCP listener until its shutdown
//! future completes; [`start`] does the same on an ephemeral `127.0.0.1` port in the background
//! and hands back a [`RunningServer`] for tests.
//!
//! HTTP/1.1 is served by hyper and axum. A WebSocket upgrade (any path) becomes a Relay
//! connection; anything else is one request answered with `Connection: close`:
//!
//! | request | effect |
//! |---|---|
//! | `POST /__control/<name>` (JSON object body, empty = `{}`) | `MockServer::control(name, body)` |
//! | `GET /__control/health`, `sessions`, `frames?since=N` | `control(name, {query params})` |
//! | `POST /api/relay/rest/tasks` | `MockServer::deliver_task(Authorization, body)` |
//!
//! Beyond `shared/protocol/CONTROL_API.md`:
//!
//! * **Batch injection**: `POST /__control/inbound_call` with `"count": N` (1 to 10,000)
//!   creates N calls in one request, each routed on its own (round robin across the sessions
//!   receiving the context), and answers `{"calls": [{"call_id", "node_id", "sessionid"}, ...]}`
//!   (without `count` the answer is unchanged). `ControlClient::inbound_calls` wraps it.
//! * **Frames**: `GET /__control/frames` also answers `"dropped"`: lines no longer in memory
//!   ([`MockConfig::record_limit`](crate::MockConfig::record_limit)); `seq` keeps counting.
//!   Credentials in recorded `blade.connect` frames read `"<redacted>"`.
//! * **Media speed**: [`MockConfig::media_speed`](crate::MockConfig::media_speed)
//!   (`--media-speed`) scales component timings; 0 completes components at once.
//! * **Health**: `GET /__control/health` also answers `active_calls` (calls not ended) and
//!   `unanswered_calls` (calls neither answered nor ended), so a load generator can pace
//!   batches by a window of calls in progress (`benches/compare/compare.py --batch`).
//! * **Keep-alive**: a request with `Connection: keep-alive` keeps its HTTP/1.1 connection
//!   open for the next one (an idle one is closed after 10 s); without it every answer closes
//!   its connection, as before.
//! * **Backpressure**: a slow client is slowed down, not dropped: past
//!   [`ServeOptions::high_water_bytes`] of unread frames its WebSocket stops reading its
//!   requests, and injections (`inbound_call`, `inbound_message`, tasks) wait until the
//!   queues drain (at most [`ServeOptions::stall_timeout`]).
//! * **Limits**: a request body over 1 MiB is a 413 (sent after the upload is read, up to 16
//!   MiB); a WebSocket without a successful `blade.connect` after
//!   [`ServeOptions::auth_timeout`] is closed with 1008; past
//!   [`ServeOptions::max_websockets`] upgrades get a 503 (the control API has its own pool);
//!   a client whose socket takes nothing for [`ServeOptions::stall_timeout`] (default 30 s),
//!   or that lets [`ServeOptions::max_queued_bytes`] of frames pile up, is dropped.
//!
//! Control errors keep their status with a `{"error": message}` body; a body that is not a JSON
//! object is a 400; a body over 1 MiB is a 413; unknown paths are a JSON 404. One task (the actor) owns the core and is fed
//! through a bounded channel, so protocol logic needs no locks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = relay_mock::net::start(relay_mock::MockConfig::default()).await?;
//! println!("point the SDK at {}", server.ws_url());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod actor;
mod record;
mod router;
mod ws;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use crate::MockConfig;

/// Most HTTP connections served at once (WebSocket upgrades leave this pool once upgraded);
/// more wait in the listen backlog.
pub const MAX_HTTP_CONNECTIONS: usize = 1024;
/// Default of [`ServeOptions::max_websockets`].
pub const DEFAULT_MAX_WEBSOCKETS: usize = 8192;
/// Default of [`ServeOptions::auth_timeout`].
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ServeOptions::max_queued_bytes`].
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// Default of [`ServeOptions::high_water_bytes`].
pub const DEFAULT_HIGH_WATER_BYTES: usize = 1024 * 1024;
/// Default of [`ServeOptions::stall_timeout`].
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head (request line plus headers) read; more is a 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a client may take to send a request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Options for [`serve`].
pub struct ServeOptions {
    /// Write a JSONL transcript of the run into this directory (see `--record`).
    pub record_dir: Option<PathBuf>,
    /// How long a WebSocket may stay open without a successful `blade.connect`; it is then
    /// closed with code 1008. Default [`DEFAULT_AUTH_TIMEOUT`].
    pub auth_timeout: Duration,
    /// Most WebSockets open at once; a further upgrade is answered with 503. The control API
    /// has its own pool, so it stays reachable. Default [`DEFAULT_MAX_WEBSOCKETS`].
    pub max_websockets: usize,
    /// Backpressure threshold, in bytes of frames queued for clients and not yet written to
    /// their sockets. A WebSocket with more than this queued stops reading its client's
    /// requests until its queue drains; while all WebSockets together have more than this
    /// queued, injections (`inbound_call`, `inbound_message`, `POST /api/relay/rest/tasks`)
    /// wait (at most [`ServeOptions::stall_timeout`]) before they run. A client that reads
    /// slowly thus slows the load down instead of losing its connection. Default
    /// [`DEFAULT_HIGH_WATER_BYTES`].
    pub high_water_bytes: usize,
    /// How long writing to a client may make no progress (a burst of queued frames not
    /// taken by its socket) before the connection is dropped (logged): the hard limit
    /// against a client that stopped reading. Default [`DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Duration,
    /// Most bytes of frames queued for one WebSocket that its client has not read yet; past
    /// that the connection is dropped (logged). With backpressure a queue rarely grows past
    /// [`ServeOptions::high_water_bytes`] plus one injection's events; this is the last-resort
    /// bound. Default [`DEFAULT_MAX_QUEUED_BYTES`].
    pub max_queued_bytes: usize,
    shutdown: Option<ShutdownFuture>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            record_dir: None,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            max_websockets: DEFAULT_MAX_WEBSOCKETS,
            high_water_bytes: DEFAULT_HIGH_WATER_BYTES,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            shutdown: None,
        }
    }
}

impl ServeOptions {
    /// Records a transcript of the run into `dir` (created if missing).
    pub fn record_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.record_dir = Some(dir.into());
        self
    }

    /// Sets [`ServeOptions::auth_timeout`].
    pub fn auth_timeout(mut self, timeout: Duration) -> Self {
        self.auth_timeout = timeout;
        self
    }

    /// Sets [`ServeOptions::max_websockets`].
    pub fn max_websockets(mut self, max: usize) -> Self {
        self.max_websockets = max;
        self
    }

    /// Sets [`ServeOptions::high_water_bytes`].
    pub fn high_water_bytes(mut self, bytes: usize) -> Self {
        self.high_water_bytes = bytes;
        self
    }

    /// Sets [`ServeOptions::stall_timeout`].
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Sets [`ServeOptions::max_queued_bytes`].
    pub fn max_queued_bytes(mut self, max: usize) -> Self {
        self.max_queued_bytes = max;
        self
    }

    /// Stops serving when `signal` completes. Without it, [`serve`] runs until the listener fails.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("record_dir", &self.record_dir)
            .field("auth_timeout", &self.auth_timeout)
            .field("max_websockets", &self.max_websockets)
            .field("high_water_bytes", &self.high_water_bytes)
            .field("stall_timeout", &self.stall_timeout)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("shutdown", &self.shutdown.is_some())
            .finish()
    }
}

/// What a finished [`serve`] run leaves behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeSummary {
    /// The transcript written, when recording was on.
    pub transcript: Option<PathBuf>,
}

/// Serves `listener` until the shutdown future of `opts` completes.
///
/// On shutdown it stops accepting, drops every open connection (WebSocket clients see an
/// abrupt close, as on a real server restart), waits for the core actor to finish and flushes
/// the transcript. Returns an error only if the transcript file cannot be created.
pub async fn serve(
    listener: TcpListener,
    config: MockConfig,
    opts: ServeOptions,
) -> std::io::Result<ServeSummary> {
    let (events_tx, events_rx) = mpsc::channel(actor::EVENT_QUEUE);
    let pressure = Arc::new(actor::Pressure::new(
        opts.high_water_bytes,
        opts.stall_timeout,
    ));
    serve_events(listener, config, opts, events_tx, events_rx, pressure).await
}

async fn serve_events(
    listener: TcpListener,
    config: MockConfig,
    opts: ServeOptions,
    events_tx: mpsc::Sender<actor::Event>,
    events_rx: mpsc::Receiver<actor::Event>,
    pressure: Arc<actor::Pressure>,
) -> std::io::Result<ServeSummary> {
    let transcript_file = match &opts.record_dir {
        Some(dir) => Some(record::TranscriptWriter::create(dir)?),
        None => None,
    };
    let transcript = transcript_file.as_ref().map(|f| f.path().to_path_buf());
    let actor = tokio::spawn(actor::run(
        config,
        events_rx,
        transcript_file,
        opts.max_queued_bytes,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(actor::Shared {
        events: events_tx,
        ws_permits: Arc::new(Semaphore::new(opts.max_websockets)),
        auth_timeout: opts.auth_timeout,
        shutdown: stop_rx,
        pressure,
    });
    let shutdown = opts
        .shutdown
        .unwrap_or_else(|| Box::pin(std::future::pending::<()>()));
    accept_loop(&listener, router::app(shared), shutdown).await;
    tracing::info!("relay-mock shutting down");
    drop(listener);
    // WebSocket tasks (spawned by the upgrade) see this and drop their sockets.
    let _ = stop_tx.send(true);
    if let Err(err) = actor.await {
        tracing::error!(%err, "core actor failed");
    }
    Ok(ServeSummary { transcript })
}

/// Accepts and serves HTTP connections until `shutdown` completes; then drops them all.
async fn accept_loop(listener: &TcpListener, app: axum::Router, mut shutdown: ShutdownFuture) {
    let permits = Arc::new(Semaphore::new(MAX_HTTP_CONNECTIONS));
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracing::trace!(%peer, "accepted");
                let app = app.clone();
                tasks.spawn(async move {
                    serve_connection(stream, app).await;
                    drop(permit);
                });
            }
            Err(err) => {
                // Typically EMFILE or a connection reset before accept; keep serving.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Reap finished tasks so the set does not grow with every connection.
        while tasks.try_join_next().is_some() {}
    }
    tasks.shutdown().await;
}

/// Serves one TCP stream with hyper (HTTP/1.1; a WebSocket upgrade leaves on its own task).
async fn serve_connection(stream: TcpStream, app: axum::Router) {
    let _ = stream.set_nodelay(true);
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
        .with_upgrades()
        .await;
    if let Err(err) = result {
        tracing::debug!(%err, "http connection ended with an error");
    }
}

/// A server started by [`start`], running on a background task.
///
/// Besides its addresses it offers the control API in-process ([`RunningServer::control`],
/// [`RunningServer::inject`]) and over HTTP ([`RunningServer::control_client`]).
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<ServeSummary>>,
    // Weak: the actor must still see its last sender go away at shutdown.
    events: mpsc::WeakSender<actor::Event>,
    pressure: Arc<actor::Pressure>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR`, the `host` to give the SDK.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://ADDR`, the base of the control API.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs control endpoint `endpoint` (`inbound_call`, `next`, `drop`, ... as in
    /// CONTROL_API.md) in-process, without HTTP; same answers and errors as over HTTP
    /// (injections wait for backpressure the same way, see
    /// [`ServeOptions::high_water_bytes`]). A stopped server answers 503.
    pub async fn control(
        &self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, crate::ControlError> {
        if router::is_injection(endpoint) {
            self.pressure.wait_drained().await;
        }
        let (reply, rx) = oneshot::channel();
        let event = actor::Event::Control {
            endpoint: endpoint.to_owned(),
            body,
            reply,
        };
        match self.ask(event, rx).await {
            Some(result) => result,
            None => Err(stopped()),
        }
    }

    /// Arms a transport fault ([`crate::Fault`]) in the running core.
    pub async fn inject(&self, fault: crate::Fault) -> Result<(), crate::ControlError> {
        let (reply, rx) = oneshot::channel();
        self.ask(actor::Event::Inject { fault, reply }, rx)
            .await
            .ok_or_else(stopped)
    }

    /// A [`ControlClient`](crate::control::ControlClient) of this server's HTTP control API.
    #[cfg(feature = "control-client")]
    pub fn control_client(&self) -> crate::control::ControlClient {
        crate::control::ControlClient::for_addr(self.addr)
    }

    async fn ask<T>(&self, event: actor::Event, rx: oneshot::Receiver<T>) -> Option<T> {
        let events = self.events.upgrade()?;
        events.send(event).await.ok()?;
        drop(events);
        rx.await.ok()
    }

    /// Stops the server and waits until every connection is dropped.
    pub async fn shutdown(mut self) -> Option<ServeSummary> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(summary)) => Some(summary),
            _ => None,
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Dropping the sender completes the shutdown future; the task winds down by itself.
        self.stop.take();
    }
}

/// Starts a server on `127.0.0.1:0` in the background.
pub async fn start(config: MockConfig) -> std::io::Result<RunningServer> {
    start_with(config, ServeOptions::default()).await
}

/// Like [`start`] with options; a shutdown future in `opts` is replaced by the handle's own.
pub async fn start_with(config: MockConfig, opts: ServeOptions) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let opts = opts.shutdown_on(async move {
        let _ = stopped.await;
    });
    let (events_tx, events_rx) = mpsc::channel(actor::EVENT_QUEUE);
    let events = events_tx.downgrade();
    let pressure = Arc::new(actor::Pressure::new(
        opts.high_water_bytes,
        opts.stall_timeout,
    ));
    let task = tokio::spawn(serve_events(
        listener,
        config,
        opts,
        events_tx,
        events_rx,
        pressure.clone(),
    ));
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task,
        events,
        pressure,
    })
}

fn stopped() -> crate::ControlError {
    crate::ControlError {
        status: 503,
        message: "server is shutting down".to_owned(),
    }
}
