//! What relay-client needs from an async runtime and a WebSocket library.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

/// What [`WsTransport::next_frame`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsRecv {
    /// A text frame.
    Text(String),
    /// The socket is closed (close frame, end of stream or I/O error). Nothing follows.
    Closed {
        /// The close code, if a close frame was seen.
        code: Option<u16>,
        /// The close reason or the error text.
        reason: String,
    },
}

/// One open WebSocket, as the driver uses it.
pub trait WsTransport: Send {
    /// Sends one text frame.
    fn send(&mut self, frame: String) -> BoxFuture<'_, Result<(), TransportError>>;
    /// The next text frame (control frames and binary frames are handled or skipped inside).
    ///
    /// Must be cancel-safe: the driver drops this future whenever a command or a timer wins
    /// the race, and no text frame may be lost when that happens.
    fn next_frame(&mut self) -> BoxFuture<'_, WsRecv>;
    /// Sends a close frame with `code` and `reason` and shuts the socket; errors are ignored.
    fn close(&mut self, code: u16, reason: String) -> BoxFuture<'_, ()>;
}

/// Opens WebSockets.
pub trait Connector: Send + Sync + 'static {
    /// Opens a WebSocket to `url`.
    fn connect(
        &self,
        url: &str,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>>;
}

impl<C: Connector + ?Sized> Connector for Arc<C> {
    fn connect(
        &self,
        url: &str,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        (**self).connect(url)
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
