//! The driver: one future per connection that owns the [`Session`], and the router that maps
//! the session's ids to the futures waiting for them.
//!
//! It is poll-driven, like quinn's `ConnectionDriver`: the in-flight connect, the pending
//! writes, the sockets being closed and the timer are all state, and every poll serves
//! commands, the connect, inbound frames, writes and the clock without ever waiting on one of
//! them. A slow connect or a peer that stops reading therefore never delays a command, a
//! timer or [`disconnect`](crate::RelayClient::disconnect).

mod dispatch;
mod link;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_channel::mpsc;
use futures_util::future;
use futures_util::StreamExt as _;
use relay_proto::{CloseInfo, Input, Output, Session, StopReason, TransportAction};

use crate::runtime::{Connector, Runtime, WsLimits, WsRecv};
use crate::state::SharedState;
use dispatch::Router;
pub(crate) use dispatch::{CallOp, CallReply, CallTarget, Command};
use link::{Closing, Link, Open, Timer};

use crate::delivery::{ClientEvent, Inbox, Subscriber};

/// Commands, frames and timer checks one poll handles before yielding to other tasks.
const BUDGET: usize = 64;

/// Tunables of the async layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Commands the channel from handles to the driver buffers before a sender takes a slot
    /// of its own (a bounded futures channel gives each waiting sender one). It never makes a
    /// command wait for long: every handle's command waits for its own answer before the
    /// next, so what the channel holds is bounded by the commands in progress, and the
    /// session's own bounds (`Bounds`) refuse what is beyond them. Default 1,024: below the
    /// commands a busy consumer has in flight at once, most sends found the channel full and
    /// took the slower path of a sender of their own (one clone and one drop each).
    pub command_capacity: usize,
    /// Capacity of each [`events`](crate::RelayClient::events) and
    /// [`Call::events`](crate::Call::events) subscription; a subscriber that falls this far
    /// behind misses events and is told how many ([`Lagged`](crate::Lagged)) rather than
    /// stalling the connection.
    pub event_capacity: usize,
    /// Events a [`RelayConsumer`](crate::RelayConsumer) may have waiting before the driver
    /// stops reading the socket until it catches up (it never drops them).
    pub consumer_backlog: usize,
    /// How long a WebSocket connect may take before it counts as failed.
    pub connect_timeout: Duration,
    /// How long pending writes (or a close frame) may make no progress; a peer that stops
    /// reading then counts as a dropped connection instead of growing the queue forever.
    pub io_timeout: Duration,
    /// Whether every received frame is also published as
    /// [`ClientEvent::SocketMessage`](crate::ClientEvent::SocketMessage) (off by default: it
    /// copies each frame).
    pub raw_messages: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            command_capacity: 1024,
            event_capacity: 1024,
            consumer_backlog: 4096,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
            raw_messages: false,
        }
    }
}

impl ClientOptions {
    /// Sets the event subscription capacity.
    pub fn with_event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n.max(1);
        self
    }

    /// Sets the command channel capacity.
    pub fn with_command_capacity(mut self, n: usize) -> Self {
        self.command_capacity = n.max(1);
        self
    }

    /// Sets how many events a consumer may have waiting before the socket is paused.
    pub fn with_consumer_backlog(mut self, n: usize) -> Self {
        self.consumer_backlog = n.max(1);
        self
    }

    /// Sets the write timeout.
    pub fn with_io_timeout(mut self, d: Duration) -> Self {
        self.io_timeout = d;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Publishes every received frame as
    /// [`ClientEvent::SocketMessage`](crate::ClientEvent::SocketMessage) on
    /// [`client_events`](crate::RelayClient::client_events) (the seed's
    /// `signalwire.socket.message`).
    pub fn with_raw_messages(mut self, on: bool) -> Self {
        self.raw_messages = on;
        self
    }
}

/// Where the driver's observers are attached at start.
pub(crate) struct Taps {
    pub(crate) first_subscriber: Option<Subscriber<relay_proto::Event>>,
    pub(crate) limits: WsLimits,
    pub(crate) inbox: Option<Inbox>,
    pub(crate) state: Arc<SharedState>,
}

pub(crate) struct Driver {
    session: Session,
    runtime: Arc<dyn Runtime>,
    connector: Arc<dyn Connector>,
    url: String,
    limits: WsLimits,
    options: ClientOptions,
    link: Link,
    closing: Vec<Closing>,
    /// The session's next timer, as last read.
    deadline: Option<Instant>,
    /// An input reached the session since `deadline` was read.
    deadline_stale: bool,
    timer: Timer,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    router: Router,
    state: Arc<SharedState>,
    stopped: Option<StopReason>,
    /// Whether the session was ready when the shared snapshot was last brought up to date:
    /// once ready, identity and readiness only change after the session stops being ready.
    snapshot_ready: bool,
    /// Code and reason of the last socket close, for [`ClientEvent::Disconnected`].
    last_close: (Option<u16>, String),
}

impl Driver {
    pub(crate) fn new(
        session: Session,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        url: String,
        options: ClientOptions,
        commands: mpsc::Receiver<Command>,
        taps: Taps,
    ) -> Self {
        let limits = taps.limits;
        Driver {
            session,
            runtime,
            connector,
            url,
            limits,
            options,
            link: Link::Idle,
            closing: Vec::new(),
            deadline: None,
            deadline_stale: true,
            timer: Timer::default(),
            commands,
            commands_open: true,
            router: Router::new(taps.first_subscriber, taps.inbox),
            state: taps.state,
            stopped: None,
            snapshot_ready: false,
            last_close: (None, String::new()),
        }
    }

    pub(crate) async fn run(mut self) {
        tracing::debug!(url = %self.url, "relay driver started");
        self.drain_output();
        future::poll_fn(|cx| self.poll_drive(cx)).await;
        tracing::debug!(reason = ?self.stopped, "relay driver finished");
    }

    /// One poll: serve every source until none makes progress (or the budget is spent).
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..BUDGET {
            let mut busy = self.poll_commands(cx);
            busy |= self.poll_connect(cx);
            busy |= self.poll_read(cx);
            busy |= self.poll_write(cx);
            busy |= self.poll_closing(cx);
            busy |= self.handle_due(self.runtime.now());
            if self.stopped.is_some() && self.finish() {
                return Poll::Ready(());
            }
            if busy {
                continue;
            }
            let next = self.next_deadline();
            match self.timer.poll_at(&*self.runtime, next, cx) {
                // Read the clock, but never let a timer that fired count for nothing.
                Some(at) => {
                    self.handle_due(self.runtime.now().max(at));
                }
                None => return Poll::Pending,
            }
        }
        // Budget spent: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut busy = false;
        // One clock read per batch: the commands of one pass are stamped alike.
        let mut now = None;
        for _ in 0..BUDGET {
            if !self.commands_open || self.stopped.is_some() {
                break;
            }
            match self.commands.poll_next_unpin(cx) {
                Poll::Ready(Some(cmd)) => {
                    let now = *now.get_or_insert_with(|| self.runtime.now());
                    self.command(now, cmd);
                }
                Poll::Ready(None) => {
                    // Every handle is gone: nobody can use the session any more.
                    tracing::debug!("every handle dropped; closing the session");
                    self.commands_open = false;
                    self.session.close(self.runtime.now());
                }
                Poll::Pending => break,
            }
            self.drain_output();
            busy = true;
        }
        busy
    }

    fn poll_connect(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Connecting { fut, .. } = &mut self.link else {
            return false;
        };
        let Poll::Ready(outcome) = fut.as_mut().poll(cx) else {
            return false;
        };
        let now = self.runtime.now();
        match outcome {
            Ok(ws) => {
                tracing::debug!(url = %self.url, "socket open");
                self.link = Link::Open(Open::new(ws));
                self.router.client_event(ClientEvent::SocketOpen);
                let _ = self.session.handle_input(now, Input::Opened);
            }
            Err(e) => {
                tracing::info!(url = %self.url, reason = %e, "connect failed");
                self.link = Link::Idle;
                self.socket_error(&e.0);
                self.feed_closed(now, false, None, &e.0);
            }
        }
        self.drain_output();
        true
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        let mut busy = false;
        // One clock read per batch of frames (they arrived together).
        let mut now = None;
        for _ in 0..BUDGET {
            if self.router.consumer_is_full(cx) {
                // Backpressure: the consumer has enough waiting; read again once it caught up.
                break;
            }
            let Link::Open(open) = &mut self.link else {
                break;
            };
            let Poll::Ready(recv) = open.ws.poll_recv(cx) else {
                break;
            };
            let now = *now.get_or_insert_with(|| self.runtime.now());
            match recv {
                WsRecv::Text(text) => {
                    if self.options.raw_messages {
                        self.router
                            .client_event(ClientEvent::SocketMessage { text: text.clone() });
                    }
                    if let Err(e) = self.session.handle_input(now, Input::Frame(&text)) {
                        tracing::warn!(error = %e, "ignored frame");
                    }
                }
                WsRecv::Closed { code, reason } => {
                    tracing::debug!(?code, %reason, "socket closed");
                    self.link = Link::Idle;
                    self.feed_closed(now, true, code, &reason);
                }
            }
            self.drain_output();
            busy = true;
        }
        busy
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let Link::Open(open) = &mut self.link else {
            return false;
        };
        match open.poll_write(cx, self.runtime.now()) {
            Ok(moved) => moved,
            Err(e) => {
                tracing::debug!(error = %e, "send failed");
                self.link = Link::Idle;
                self.socket_error(&e.0);
                self.feed_closed(self.runtime.now(), true, Some(1006), &e.0);
                self.drain_output();
                true
            }
        }
    }

    fn poll_closing(&mut self, cx: &mut Context<'_>) -> bool {
        let before = self.closing.len();
        self.closing.retain_mut(|c| c.poll_close(cx).is_pending());
        self.closing.len() != before
    }

    /// Acts on every deadline that has passed at `now`; `true` if any had.
    fn handle_due(&mut self, now: Instant) -> bool {
        let mut busy = false;
        if self.session_deadline().is_some_and(|at| at <= now) {
            let _ = self.session.handle_input(now, Input::Timeout);
            busy = true;
        }
        match &self.link {
            Link::Connecting { deadline, .. } if *deadline <= now => {
                tracing::info!(url = %self.url, "connect timed out");
                self.link = Link::Idle;
                self.socket_error("connect timed out");
                self.feed_closed(now, false, None, "connect timed out");
                busy = true;
            }
            Link::Open(open)
                if open
                    .stalled_since()
                    .is_some_and(|t| t + self.options.io_timeout <= now) =>
            {
                tracing::info!(limit = ?self.options.io_timeout, "socket write timed out");
                self.link = Link::Idle;
                self.socket_error("send timed out");
                self.feed_closed(now, true, Some(1006), "send timed out");
                busy = true;
            }
            _ => {}
        }
        let before = self.closing.len();
        self.closing.retain(|c| c.deadline > now);
        busy |= self.closing.len() != before;
        if busy {
            self.drain_output();
        }
        busy
    }

    /// The session's next timer, read again only after an input changed it.
    fn session_deadline(&mut self) -> Option<Instant> {
        if self.deadline_stale {
            self.deadline = self.session.poll_timeout();
            self.deadline_stale = false;
        }
        self.deadline
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let session = self.session_deadline();
        let link = match &self.link {
            Link::Idle => None,
            Link::Connecting { deadline, .. } => Some(*deadline),
            Link::Open(open) => open.stalled_since().map(|t| t + self.options.io_timeout),
        };
        let closing = self.closing.iter().map(|c| c.deadline).min();
        [session, link, closing].into_iter().flatten().min()
    }

    /// Runs the session's output until it has nothing more: frames to the socket's queue,
    /// transport actions to the link, events to the router.
    fn drain_output(&mut self) {
        // Whatever came in may have moved the session's timers.
        self.deadline_stale = true;
        loop {
            let Some(output) = self.session.next_output() else {
                self.update_snapshot();
                self.refresh_actions();
                return;
            };
            match output {
                Output::Transmit(frame) => match &mut self.link {
                    Link::Open(open) => open.queue(frame, self.runtime.now()),
                    _ => tracing::debug!("frame dropped: no socket"),
                },
                Output::Transport(TransportAction::Connect) => self.start_connect(),
                Output::Transport(TransportAction::Close { code, reason }) => {
                    if let Some(error) =
                        crate::delivery::SessionFailure::from_core_close(code, &reason)
                    {
                        self.router.client_event(ClientEvent::Error { error });
                    }
                    self.start_close(code, reason)
                }
                Output::Event(event) => self.route(event),
                Output::Timeout(at) => {
                    self.deadline = at;
                    self.deadline_stale = false;
                }
                other => tracing::debug!(?other, "unhandled output"),
            }
        }
    }

    /// Brings the shared snapshot up to date unless nothing in it can have changed: while
    /// the session is ready and was at the last update, its session id, protocol and node id
    /// stay as they were (they change only during a handshake).
    fn update_snapshot(&mut self) {
        let ready = self.session.is_ready();
        if ready && self.snapshot_ready {
            return;
        }
        self.state.update(&self.session);
        self.snapshot_ready = ready;
    }

    fn start_connect(&mut self) {
        let now = self.runtime.now();
        if let Link::Open(open) = std::mem::replace(&mut self.link, Link::Idle) {
            self.retire(open, 1000, "reconnecting".into(), now);
        }
        self.link = Link::Connecting {
            fut: self.connector.connect(&self.url, self.limits),
            deadline: now + self.options.connect_timeout,
        };
    }

    fn start_close(&mut self, code: u16, reason: String) {
        let now = self.runtime.now();
        let socket = match std::mem::replace(&mut self.link, Link::Idle) {
            Link::Open(open) => {
                self.retire(open, code, reason.clone(), now);
                true
            }
            _ => false,
        };
        // Whoever closed, the session hears of it (a connect in flight is simply dropped).
        self.feed_closed(now, socket, Some(code), &reason);
    }

    /// Moves an open socket to the closing set: its unsent frames belong to a connection the
    /// session already counts as gone, so only the close frame is written.
    fn retire(&mut self, open: Open, code: u16, reason: String, now: Instant) {
        let deadline = now + self.options.io_timeout;
        self.closing
            .push(Closing::new(open.ws, code, reason, deadline));
    }

    fn socket_error(&mut self, reason: &str) {
        self.router.client_event(ClientEvent::SocketError {
            reason: reason.to_owned(),
        });
    }

    /// Reports a closed (or never opened) socket to the session and to client observers.
    /// `socket`: whether a socket was open (else a connect failed or was abandoned).
    fn feed_closed(&mut self, now: Instant, socket: bool, code: Option<u16>, reason: &str) {
        self.last_close = (code, reason.to_owned());
        if socket {
            self.router.client_event(ClientEvent::SocketClose {
                code,
                reason: reason.to_owned(),
            });
        }
        let _ = self
            .session
            .handle_input(now, Input::Closed(CloseInfo { code, reason }));
    }

    /// After the session stopped: refuse new commands, fail the buffered ones, end every
    /// stream and answer `disconnect` callers (by then close frames were written, unless the
    /// peer stopped reading). `true` once the close frames are out or abandoned.
    fn finish(&mut self) -> bool {
        self.commands_open = false;
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            if let Command::Disconnect(done) = cmd {
                self.router.close_waiters.push(done);
            }
        }
        self.link = Link::Idle;
        self.router.close();
        self.state.calls.unlink_peers();
        self.state.update(&self.session);
        for w in self.router.close_waiters.drain(..) {
            let _ = w.send(());
        }
        // A close frame a stalled peer does not take is retried until its deadline, in the
        // background: nobody waits for it.
        self.closing.is_empty()
    }
}
