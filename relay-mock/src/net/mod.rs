//! The network front end: WebSocket (Relay/Blade) and HTTP (control API, tasks REST) on one port.
//!
//! [`serve`] runs a [`MockServer`](crate::MockServer) behind a TCP listener until its shutdown
//! future completes; [`start`] does the same on an ephemeral `127.0.0.1` port in the background
//! and hands back a [`RunningServer`] for tests.
//!
//! Every accepted stream starts with an HTTP request head. A WebSocket upgrade (any path) becomes
//! a Relay connection; anything else is one HTTP/1.1 request answered with `Connection: close`:
//!
//! | request | effect |
//! |---|---|
//! | `POST /__control/<name>` (JSON object body, empty = `{}`) | `MockServer::control(name, body)` |
//! | `GET /__control/health`, `sessions`, `frames?since=N` | `control(name, {query params})` |
//! | `POST /api/relay/rest/tasks` | `MockServer::deliver_task(Authorization, body)` |
//!
//! Control errors keep their status with a `{"error": message}` body; a body that is not a JSON
//! object is a 400; unknown paths are a JSON 404. One task (the actor) owns the core and is fed
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
mod conn;
pub mod http;
mod record;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use crate::MockConfig;

/// Most connections (WebSocket or HTTP) served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Options for [`serve`].
#[derive(Default)]
pub struct ServeOptions {
    /// Write a JSONL transcript of the run into this directory (see `--record`).
    pub record_dir: Option<PathBuf>,
    shutdown: Option<ShutdownFuture>,
}

impl ServeOptions {
    /// Records a transcript of the run into `dir` (created if missing).
    pub fn record_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.record_dir = Some(dir.into());
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
    let transcript_file = match &opts.record_dir {
        Some(dir) => Some(record::TranscriptFile::create(dir)?),
        None => None,
    };
    let transcript = transcript_file.as_ref().map(|f| f.path().to_path_buf());
    let (events_tx, events_rx) = mpsc::channel(actor::EVENT_QUEUE);
    let actor = tokio::spawn(actor::run(config, events_rx, transcript_file));
    let mut shutdown = opts
        .shutdown
        .unwrap_or_else(|| Box::pin(std::future::pending::<()>()));
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
                let events = events_tx.clone();
                tasks.spawn(async move {
                    conn::handle(stream, events).await;
                    drop(permit);
                });
            }
            Err(err) => {
                // Typically EMFILE or a connection reset before accept; keep serving.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        // Reap finished tasks so the set does not grow with every connection.
        while tasks.try_join_next().is_some() {}
    }
    tracing::info!("relay-mock shutting down");
    drop(listener);
    tasks.shutdown().await;
    drop(events_tx);
    if let Err(err) = actor.await {
        tracing::error!(%err, "core actor failed");
    }
    Ok(ServeSummary { transcript })
}

/// A server started by [`start`], running on a background task.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<ServeSummary>>,
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
    let task = tokio::spawn(serve(listener, config, opts));
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task,
    })
}
