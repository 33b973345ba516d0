//! What relay-client needs from an async runtime and a WebSocket library.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// A boxed, `Send` future (the object-safe currency of [`Runtime`] and [`Connector`]).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The three things the driver needs from an executor: a clock, a timer and a way to run a
/// background future. Implemented by `relay-tokio` and `relay-async-std`.
pub trait Runtime: Send + Sync + 'static {
    /// The current instant; every mutation of the session is stamped with it.
    fn now(&self) -> Instant;
    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;
    /// Runs `future` in the background until it completes.
    fn spawn(&self, future: BoxFuture<'static, ()>);
    /// A timer that can be moved to a new deadline without allocating (tokio's `Sleep::reset`).
    /// `None` (the default) makes the driver use [`sleep_until`](Self::sleep_until) afresh
    /// whenever its deadline changes.
    fn timer(&self, deadline: Instant) -> Option<Pin<Box<dyn AsyncTimer>>> {
        let _ = deadline;
        None
    }
    /// Runs a blocking `job` where it cannot stall the executor (tokio's and async-std's
    /// blocking pools). The default runs it on a new thread. [`Task`](crate::Task) delivery
    /// uses it for its blocking HTTP call.
    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        let spawned = std::thread::Builder::new()
            .name("relay-blocking".into())
            .spawn(job);
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a thread for a blocking job");
        }
    }
}

/// A resettable timer (see [`Runtime::timer`]).
pub trait AsyncTimer: Send {
    /// Moves the deadline.
    fn reset(self: Pin<&mut Self>, deadline: Instant);
    /// Ready once the deadline has passed.
    fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

impl<R: Runtime + ?Sized> Runtime for Arc<R> {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        (**self).sleep_until(deadline)
    }
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        (**self).spawn(future)
    }
    fn timer(&self, deadline: Instant) -> Option<Pin<Box<dyn AsyncTimer>>> {
        (**self).timer(deadline)
    }
    fn spawn_blocking(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        (**self).spawn_blocking(job)
    }
}

/// A transport failure (connect refused, I/O error), as text for logs and the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

impl TransportError {
    /// Wraps any displayable error.
    pub fn new(e: impl fmt::Display) -> Self {
        TransportError(e.to_string())
    }
}

/// What [`WsTransport::poll_recv`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsRecv {
    /// A text frame.
    Text(String),
    /// The socket is closed (close frame, end of stream, I/O error, or a frame over the size
    /// limit). Nothing follows.
    Closed {
        /// The close code, if a close frame was seen.
        code: Option<u16>,
        /// The close reason or the error text.
        reason: String,
    },
}

/// One open WebSocket, as the driver uses it: poll-based, like a `futures::Sink` of text
/// frames plus a `Stream` of [`WsRecv`], so the driver never awaits one socket operation
/// while commands and timers wait.
///
/// The driver calls, for each frame, [`poll_ready`](Self::poll_ready) until it is ready, then
/// [`start_send`](Self::start_send), and [`poll_flush`](Self::poll_flush) once its queue is
/// empty. A `Pending` result must have arranged for `cx` to be woken.
pub trait WsTransport: Send {
    /// Whether one more frame can be accepted by [`start_send`](Self::start_send).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>>;
    /// Queues one text frame (after a successful [`poll_ready`](Self::poll_ready)).
    fn start_send(&mut self, frame: String) -> Result<(), TransportError>;
    /// Writes out everything queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>>;
    /// The next text frame (control frames and binary frames are handled or skipped inside).
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<WsRecv>;
    /// Queues a close frame with `code` and `reason` (after a successful
    /// [`poll_ready`](Self::poll_ready)); [`poll_flush`](Self::poll_flush) writes it.
    fn start_close(&mut self, code: u16, reason: String) -> Result<(), TransportError>;
}

/// What a [`Connector`] must apply to every WebSocket it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsLimits {
    /// Largest message (and frame) accepted from the server, in bytes: the session's
    /// [`Bounds::max_frame_size`](relay_proto::Bounds::max_frame_size). A larger one fails the
    /// connection (the session reconnects) instead of being buffered.
    pub max_message_size: usize,
}

impl WsLimits {
    /// Limits with `max_message_size` bytes per message.
    pub fn new(max_message_size: usize) -> Self {
        WsLimits { max_message_size }
    }
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits::new(relay_proto::Bounds::default().max_frame_size)
    }
}

/// Opens WebSockets.
pub trait Connector: Send + Sync + 'static {
    /// Opens a WebSocket to `url`, refusing messages larger than `limits` allow.
    fn connect(
        &self,
        url: &str,
        limits: WsLimits,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>>;
}

impl<C: Connector + ?Sized> Connector for Arc<C> {
    fn connect(
        &self,
        url: &str,
        limits: WsLimits,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        (**self).connect(url, limits)
    }
}

/// A seed from the operating system (std's per-process random hasher keys mixed with the
/// wall clock), for the session's id generator and jitter. The core never draws randomness;
/// adapters call this.
pub fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// `config` with its id generator and jitter RNG seeded from the OS ([`os_seed`]), replacing
/// whatever generator it had.
pub fn seed_from_os(config: relay_proto::SessionConfig) -> relay_proto::SessionConfig {
    config.with_seed(os_seed())
}
