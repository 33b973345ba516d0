//! The socket side of the driver, as poll-able state: an in-flight connect, an open socket
//! with its outbound queue, sockets being closed, and the one timer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::runtime::{AsyncTimer, BoxFuture, Runtime, TransportError, WsTransport};

pub(super) type ConnectFuture = BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>>;

/// Where the connection is.
pub(super) enum Link {
    /// No socket, none being opened (backing off, or stopped).
    Idle,
    /// A connect in flight; it counts as failed at `deadline`.
    Connecting {
        fut: ConnectFuture,
        deadline: Instant,
    },
    /// An open socket.
    Open(Open),
}

/// An open socket and the frames waiting to be written to it.
pub(super) struct Open {
    pub(super) ws: Box<dyn WsTransport>,
    out: VecDeque<String>,
    unflushed: bool,
    /// Since when pending output has made no progress (`None`: nothing pending).
    stalled_since: Option<Instant>,
}

impl Open {
    pub(super) fn new(ws: Box<dyn WsTransport>) -> Self {
        Open {
            ws,
            out: VecDeque::new(),
            unflushed: false,
            stalled_since: None,
        }
    }

    pub(super) fn queue(&mut self, frame: String, now: Instant) {
        self.out.push_back(frame);
        self.stalled_since.get_or_insert(now);
    }

    /// Writes what the socket accepts without waiting; `Ok(true)` if anything moved.
    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Result<bool, TransportError> {
        let mut moved = false;
        while !self.out.is_empty() {
            match self.ws.poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Ready(Ok(())) => {
                    if let Some(frame) = self.out.pop_front() {
                        self.ws.start_send(frame)?;
                        self.unflushed = true;
                        moved = true;
                    }
                }
            }
        }
        if self.out.is_empty() && self.unflushed {
            match self.ws.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = false;
                    moved = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        let pending = !self.out.is_empty() || self.unflushed;
        self.stalled_since = match (pending, moved) {
            (false, _) => None,
            (true, true) => Some(now),
            (true, false) => Some(self.stalled_since.unwrap_or(now)),
        };
        Ok(moved)
    }

    /// When pending output has waited since, if it has.
    pub(super) fn stalled_since(&self) -> Option<Instant> {
        self.stalled_since
    }
}

/// A socket being closed: a close frame is written and flushed, for at most until `deadline`.
pub(super) struct Closing {
    ws: Box<dyn WsTransport>,
    code: u16,
    /// The reason, until the close frame is queued.
    reason: Option<String>,
    pub(super) deadline: Instant,
}

impl Closing {
    pub(super) fn new(
        ws: Box<dyn WsTransport>,
        code: u16,
        reason: String,
        deadline: Instant,
    ) -> Self {
        Closing {
            ws,
            code,
            reason: Some(reason),
            deadline,
        }
    }

    /// Ready once the close frame is written (or writing it failed).
    pub(super) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.reason.is_some() {
            match self.ws.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "close failed");
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(())) => {
                    let reason = self.reason.take().unwrap_or_default();
                    if let Err(e) = self.ws.start_close(self.code, reason) {
                        tracing::debug!(error = %e, "close failed");
                        return Poll::Ready(());
                    }
                }
            }
        }
        self.ws.poll_flush(cx).map(|r| {
            if let Err(e) = r {
                tracing::debug!(error = %e, "close failed");
            }
        })
    }
}

/// The driver's one timer, moved (not re-made) when the runtime supports it.
#[derive(Default)]
pub(super) struct Timer {
    armed: Option<Instant>,
    fired: bool,
    resettable: Option<Pin<Box<dyn AsyncTimer>>>,
    sleep: Option<BoxFuture<'static, ()>>,
}

impl Timer {
    /// Arms the timer for `at` (if it changed) and polls it; returns `at` once it has passed.
    pub(super) fn poll_at(
        &mut self,
        runtime: &dyn Runtime,
        at: Option<Instant>,
        cx: &mut Context<'_>,
    ) -> Option<Instant> {
        let Some(at) = at else {
            self.armed = None;
            return None;
        };
        if self.armed != Some(at) {
            self.armed = Some(at);
            self.fired = false;
            match self.resettable.as_mut() {
                Some(t) => t.as_mut().reset(at),
                None => match runtime.timer(at) {
                    Some(t) => self.resettable = Some(t),
                    None => self.sleep = Some(runtime.sleep_until(at)),
                },
            }
        }
        if self.fired {
            return None;
        }
        let ready = if let Some(t) = self.resettable.as_mut() {
            t.as_mut().poll_expired(cx).is_ready()
        } else if let Some(s) = self.sleep.as_mut() {
            s.as_mut().poll(cx).is_ready()
        } else {
            false
        };
        if ready {
            // A finished sleep must not be polled again; a new deadline re-arms it.
            self.fired = true;
            self.sleep = None;
            return Some(at);
        }
        None
    }
}
