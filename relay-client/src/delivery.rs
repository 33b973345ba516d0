//! How events leave the driver: lossy observer streams that are told what they missed
//! ([`Lagged`]), and one lossless, accounted queue with backpressure for the consumer.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_util::task::AtomicWaker;
use futures_util::Stream;
use relay_proto::Event;

/// An observer stream fell behind: `missed` events were not delivered to it (the stream goes
/// on with the next one). Only optional observers ([`RelayClient::events`],
/// [`Call::events`]) can lag; handlers of a [`RelayConsumer`] never miss an event.
///
/// [`RelayClient::events`]: crate::RelayClient::events
/// [`Call::events`]: crate::Call::events
/// [`RelayConsumer`]: crate::RelayConsumer
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event stream fell behind and missed {missed} events")]
pub struct Lagged {
    /// How many events this subscriber missed.
    pub missed: u64,
}

/// What happened to the client's connection: the seed's `signalwire.socket.open`,
/// `signalwire.socket.error`, `signalwire.socket.message` (opt-in, see
/// [`ClientOptions::with_raw_messages`](crate::ClientOptions::with_raw_messages)),
/// `signalwire.socket.close`, `signalwire.ready`, plus reconnecting, restored and disconnected
/// (see [`RelayClient::client_events`](crate::RelayClient::client_events)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A WebSocket opened (the handshake follows).
    SocketOpen,
    /// A connect failed or timed out, or writing to the socket failed or stalled; a
    /// [`SocketClose`](Self::SocketClose) follows when a socket was open.
    SocketError {
        /// What went wrong.
        reason: String,
    },
    /// A text frame arrived, as received (the seed's `signalwire.socket.message`). Only with
    /// [`ClientOptions::with_raw_messages`](crate::ClientOptions::with_raw_messages).
    SocketMessage {
        /// The frame's text.
        text: String,
    },
    /// The socket closed, whoever closed it.
    SocketClose {
        /// The close code, if one was sent or received (1006: closed without one).
        code: Option<u16>,
        /// The close reason or the error text.
        reason: String,
    },
    /// A handshake completed with a new session.
    Ready {
        /// The Blade session id.
        session_id: String,
    },
    /// A handshake after a reconnect resumed the previous session: calls survived.
    Restored {
        /// The Blade session id (the same as before).
        session_id: String,
    },
    /// The connection is gone (`code` and `reason` of its close); a reconnect may follow.
    Disconnected {
        /// The close code, if any.
        code: Option<u16>,
        /// The close reason or the error text.
        reason: String,
    },
    /// The next connection attempt is scheduled.
    Reconnecting {
        /// When it is due.
        at: std::time::Instant,
    },
    /// The session could not be established on an open socket (the seed's
    /// `signalwire.error`, which Node emits when its login, `blade.connect`, is rejected or
    /// gets no answer). Emitted when `blade.connect` is rejected (then, unless
    /// [`SessionConfig::retry_on_auth_failure`](relay_proto::SessionConfig) is set, the
    /// client stops) and when the handshake failed otherwise (the socket is closed with a
    /// [`SocketClose`](Self::SocketClose) and a reconnect follows). Socket-level failures
    /// are [`SocketError`](Self::SocketError), as in Node.
    Error {
        /// What failed.
        error: SessionFailure,
    },
}

/// Why a session could not be established ([`ClientEvent::Error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionFailure {
    /// `blade.connect` was rejected (wrong project or token): the server's error.
    #[error("authentication failed: {message} (code {code})")]
    AuthFailed {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },
    /// The handshake did not complete: `blade.connect` got no answer in time or an
    /// unreadable one, `signalwire.setup` gave no protocol, or the subscription was refused.
    /// The client closed the socket with `code` and `reason`.
    #[error("handshake failed: {reason} (close code {code})")]
    Handshake {
        /// The close code the client sent.
        code: u16,
        /// What went wrong.
        reason: String,
    },
}

impl SessionFailure {
    /// The failure a close of the core stands for, if it is a failed handshake: the core
    /// closes with 4000 (no answer in time), 4002 (an unreadable `blade.connect` answer or
    /// no protocol from `signalwire.setup`) or 4003 (the subscription was refused). 4001
    /// (authentication) is reported as [`AuthFailed`](Self::AuthFailed) from its own event.
    pub(crate) fn from_core_close(code: u16, reason: &str) -> Option<SessionFailure> {
        matches!(code, 4000 | 4002 | 4003).then(|| SessionFailure::Handshake {
            code,
            reason: reason.to_owned(),
        })
    }
}

/// What observer streams carry: an event, or how many were missed before it.
pub(crate) type Item<T> = Result<T, Lagged>;

/// A lossy observer stream of `T` holding `capacity` items: the driver's end and the user's.
pub(crate) fn observer<T>(capacity: usize) -> (Subscriber<T>, Observer<T>) {
    let (tx, rx) = mpsc::channel(capacity);
    let tail = Arc::new(AtomicU64::new(0));
    let sub = Subscriber {
        tx,
        missed: 0,
        tail: tail.clone(),
    };
    (sub, Observer { rx, tail })
}

/// The sending side of a lossy observer stream of `T`.
pub(crate) struct Subscriber<T> {
    tx: mpsc::Sender<Item<T>>,
    /// Events dropped since it last had room.
    missed: u64,
    /// Where the count goes if the stream ends before the subscriber had room to be told.
    tail: Arc<AtomicU64>,
}

impl<T> Drop for Subscriber<T> {
    fn drop(&mut self) {
        self.tail.store(self.missed, Ordering::Release);
    }
}

/// The receiving side of a lossy observer stream: the items, then, if the stream ended while
/// it was behind, one last `Err(Lagged)`.
#[derive(Debug)]
pub(crate) struct Observer<T> {
    rx: mpsc::Receiver<Item<T>>,
    tail: Arc<AtomicU64>,
}

impl<T> Stream for Observer<T> {
    type Item = Item<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        match Pin::new(&mut self.rx).poll_next(cx) {
            Poll::Ready(None) => {
                let missed = self.tail.swap(0, Ordering::AcqRel);
                Poll::Ready((missed > 0).then_some(Err(Lagged { missed })))
            }
            other => other,
        }
    }
}

impl<T> Subscriber<T> {
    /// Offers `item`; `false` once the receiver is gone. A full subscriber counts the miss
    /// and is told the count (as `Err(Lagged)`) as soon as it has room again.
    pub(crate) fn offer(&mut self, item: T) -> bool {
        if self.missed > 0 {
            let lag = Lagged {
                missed: self.missed,
            };
            match self.tx.try_send(Err(lag)) {
                Ok(()) => self.missed = 0,
                Err(e) if e.is_full() => {
                    self.missed += 1;
                    return true;
                }
                Err(_) => return false,
            }
        }
        match self.tx.try_send(Ok(item)) {
            Ok(()) => true,
            Err(e) if e.is_full() => {
                if self.missed == 0 {
                    tracing::debug!("event subscriber is full; counting missed events");
                }
                self.missed += 1;
                true
            }
            Err(_) => false,
        }
    }
}

/// Shared accounting of the lossless queue: how many events wait in it, and who to wake
/// when it drains.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    len: AtomicUsize,
    peak: AtomicUsize,
    driver: AtomicWaker,
}

impl Backlog {
    /// Events waiting now, and the most that ever waited.
    pub(crate) fn levels(&self) -> (usize, usize) {
        (
            self.len.load(Ordering::Acquire),
            self.peak.load(Ordering::Acquire),
        )
    }
}

/// The driver's end of the lossless queue. Never drops: when more than `high_water` events
/// wait, the driver stops reading the socket until the consumer has taken them
/// ([`is_full`](Self::is_full)), so the backlog stays bounded and TCP pushes back on the
/// server.
pub(crate) struct Inbox {
    tx: mpsc::UnboundedSender<Event>,
    backlog: Arc<Backlog>,
    high_water: usize,
}

impl Inbox {
    /// A lossless queue that asks for backpressure above `high_water` waiting events.
    pub(crate) fn new(high_water: usize) -> (Inbox, InboxStream) {
        let (tx, rx) = mpsc::unbounded();
        let backlog = Arc::new(Backlog::default());
        let stream = InboxStream {
            rx,
            backlog: backlog.clone(),
            low_water: high_water / 2,
        };
        let inbox = Inbox {
            tx,
            backlog,
            high_water: high_water.max(1),
        };
        (inbox, stream)
    }

    /// Queues `event`; `false` once the receiver is gone.
    pub(crate) fn push(&self, event: Event) -> bool {
        let len = self.backlog.len.fetch_add(1, Ordering::AcqRel) + 1;
        self.backlog.peak.fetch_max(len, Ordering::AcqRel);
        if self.tx.unbounded_send(event).is_err() {
            self.backlog.len.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Whether the driver must stop reading the socket; if so, `cx` is woken once the
    /// consumer has drained the queue below its low-water mark.
    pub(crate) fn is_full(&self, cx: &mut Context<'_>) -> bool {
        if self.backlog.len.load(Ordering::Acquire) < self.high_water {
            return false;
        }
        self.backlog.driver.register(cx.waker());
        // Re-check: the consumer may have drained it between the load and the register.
        self.backlog.len.load(Ordering::Acquire) >= self.high_water
    }

    /// The shared accounting, for [`ClientStats`](crate::ClientStats).
    pub(crate) fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }

    /// Events waiting for the consumer now.
    pub(crate) fn len(&self) -> usize {
        self.backlog.len.load(Ordering::Acquire)
    }
}

/// The consumer's end of the lossless queue.
#[derive(Debug)]
pub(crate) struct InboxStream {
    rx: mpsc::UnboundedReceiver<Event>,
    backlog: Arc<Backlog>,
    low_water: usize,
}

impl Stream for InboxStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let next = Pin::new(&mut self.rx).poll_next(cx);
        if let Poll::Ready(Some(_)) = &next {
            let before = self.backlog.len.fetch_sub(1, Ordering::AcqRel);
            if before <= self.low_water + 1 {
                self.backlog.driver.wake();
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};

    /// What the observer yields without waiting, and whether it ended.
    fn take<T>(obs: &mut Observer<T>) -> (Vec<Item<T>>, bool) {
        let mut out = Vec::new();
        loop {
            match obs.next().now_or_never() {
                Some(Some(item)) => out.push(item),
                Some(None) => return (out, true),
                None => return (out, false),
            }
        }
    }

    #[test]
    fn a_full_observer_is_told_how_many_it_missed_in_place() {
        let (mut sub, mut obs) = observer::<u32>(1);
        // Capacity 1 plus the sender's slot: two fit.
        for i in 0..10 {
            assert!(sub.offer(i));
        }
        assert_eq!(take(&mut obs), (vec![Ok(0), Ok(1)], false));
        assert!(sub.offer(10));
        assert!(sub.offer(11));
        let (items, _) = take(&mut obs);
        assert_eq!(
            items,
            [Err(Lagged { missed: 8 }), Ok(10)],
            "the lag comes where the events were lost"
        );
        assert_eq!(sub.missed, 1, "11 did not fit behind the marker");
    }

    #[test]
    fn a_lag_at_the_end_is_reported_before_the_stream_ends() {
        let (mut sub, mut obs) = observer::<u32>(1);
        for i in 0..5 {
            sub.offer(i);
        }
        drop(sub);
        let (items, ended) = take(&mut obs);
        assert_eq!(items, [Ok(0), Ok(1), Err(Lagged { missed: 3 })]);
        assert!(ended);
    }

    #[test]
    fn a_dropped_receiver_unsubscribes() {
        let (mut sub, obs) = observer::<u32>(4);
        drop(obs);
        assert!(!sub.offer(1));
    }

    #[test]
    fn the_inbox_never_drops_and_asks_for_backpressure_above_its_mark() {
        let (inbox, mut stream) = Inbox::new(4);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..10 {
            assert!(inbox.push(Event::Paused));
        }
        assert!(inbox.is_full(&mut cx));
        assert_eq!(inbox.backlog().levels(), (10, 10));
        let mut got = 0;
        while let Some(Some(_)) = stream.next().now_or_never() {
            got += 1;
        }
        assert_eq!(got, 10, "every event arrives");
        assert!(!inbox.is_full(&mut cx));
        assert_eq!(inbox.backlog().levels(), (0, 10));
    }
}
