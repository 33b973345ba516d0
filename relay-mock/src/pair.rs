//! [`Pair`]: a `relay_proto::Session` wired to a [`MockServer`] in memory, on a virtual clock.
//!
//! Frames are delivered instantly, in order. The clock only moves when asked
//! ([`Pair::advance`], [`Pair::drive_until`]), jumping to the earliest timeout of either side, so
//! a test of minutes of protocol time runs in microseconds and is fully deterministic.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use relay_mock::{MockConfig, Pair};
//! use relay_proto::{Event, SessionConfig};
//! let mut pair = Pair::new(
//!     SessionConfig::new("test-project", "test-token").with_contexts(["office"]),
//!     MockConfig::default(),
//!     Instant::now(),
//! );
//! assert!(pair.drive_until(|p| p.session().is_ready(), Duration::from_secs(1)));
//! assert!(pair.take_events().iter().any(|e| matches!(e, Event::Ready { .. })));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use relay_proto::{CloseInfo, Event, Input, Output, Session, SessionConfig, TransportAction};

use crate::server::{ConnId, MockConfig, MockServer, ServerOutput};
use crate::transcript::Line;

/// Safety valve: a step loop that keeps producing work this many times is a ping-pong bug.
const MAX_ROUNDS: usize = 100_000;

/// A client session and a mock server on one virtual clock.
#[derive(Debug)]
pub struct Pair {
    session: Session,
    server: MockServer,
    now: Instant,
    start: Instant,
    conn: Option<ConnId>,
    events: VecDeque<Event>,
}

impl Pair {
    /// Creates both sides at `start`. Nothing runs until [`Self::step`] or a driver method.
    pub fn new(session_config: SessionConfig, mock_config: MockConfig, start: Instant) -> Self {
        Self {
            session: Session::new(session_config, start),
            server: MockServer::new(mock_config),
            now: start,
            start,
            conn: None,
            events: VecDeque::new(),
        }
    }

    /// The client session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The client session, to issue commands (use [`Self::now`] as their time).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The server.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// The server, for scripting, faults and control requests (use [`Self::now`]).
    pub fn server_mut(&mut self) -> &mut MockServer {
        &mut self.server
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time elapsed since `start`.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.start)
    }

    /// The server's socket for the session, while one is open.
    pub fn conn(&self) -> Option<ConnId> {
        self.conn
    }

    /// Session events collected so far (taken out).
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Session events collected so far (not taken).
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// The server's transcript of everything exchanged.
    pub fn transcript(&mut self) -> &[Line] {
        self.server.transcript()
    }

    /// Runs a control endpoint at the current virtual time.
    pub fn control(
        &mut self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, crate::ControlError> {
        self.server.control(self.now, endpoint, body)
    }

    /// One round: drains the session's outputs into the server, then the server's into the
    /// session. Returns whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        loop {
            match self.session.poll_output() {
                Output::Timeout(_) => break,
                Output::Transmit(text) => {
                    moved = true;
                    match self.conn {
                        Some(conn) => self.server.handle_frame(self.now, conn, &text),
                        None => tracing::debug!("pair: frame without a socket dropped"),
                    }
                }
                Output::Transport(TransportAction::Connect) => {
                    moved = true;
                    let conn = self.server.connection_opened(self.now);
                    self.conn = Some(conn);
                    self.feed(Input::Opened);
                }
                Output::Transport(TransportAction::Close { code, .. }) => {
                    moved = true;
                    if let Some(conn) = self.conn.take() {
                        self.server.connection_closed(self.now, conn);
                    }
                    self.feed(Input::Closed(CloseInfo {
                        code: Some(code),
                        reason: "closed by client",
                    }));
                }
                Output::Event(e) => {
                    moved = true;
                    self.events.push_back(e);
                }
                _ => moved = true,
            }
        }
        while let Some(out) = self.server.poll_output() {
            moved = true;
            match out {
                ServerOutput::Send { conn, text } => {
                    if self.conn == Some(conn) {
                        self.feed(Input::Frame(&text));
                    }
                }
                ServerOutput::Close { conn, code } => {
                    if self.conn == Some(conn) {
                        self.conn = None;
                        self.feed(Input::Closed(CloseInfo {
                            code: code.or(Some(1006)),
                            reason: "closed by server",
                        }));
                    }
                }
            }
        }
        moved
    }

    fn feed(&mut self, input: Input<'_>) {
        if let Err(e) = self.session.handle_input(self.now, input) {
            tracing::debug!(error = %e, "pair: session ignored an input");
        }
    }

    /// Steps until nothing moves at the current time.
    pub fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if !self.step() {
                return;
            }
        }
        tracing::warn!("pair: still busy after {MAX_ROUNDS} rounds");
    }

    /// The earliest timeout of either side.
    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.session.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn jump_to(&mut self, t: Instant) {
        if t > self.now {
            self.now = t;
        }
        self.feed(Input::Timeout);
        self.server.handle_timeout(self.now);
    }

    /// Moves the clock forward by `dur`, firing every timeout on the way in order.
    pub fn advance(&mut self, dur: Duration) {
        let end = self.now + dur;
        self.drive();
        for _ in 0..MAX_ROUNDS {
            match self.next_timeout() {
                Some(t) if t <= end => {
                    self.jump_to(t);
                    self.drive();
                }
                _ => break,
            }
        }
        self.jump_to(end);
        self.drive();
    }

    /// Drives (advancing the clock from timeout to timeout) until `cond` holds or `max_virtual`
    /// of virtual time has passed. Returns whether `cond` held.
    pub fn drive_until(
        &mut self,
        mut cond: impl FnMut(&mut Pair) -> bool,
        max_virtual: Duration,
    ) -> bool {
        let deadline = self.now + max_virtual;
        for _ in 0..MAX_ROUNDS {
            self.drive();
            if cond(self) {
                return true;
            }
            match self.next_timeout() {
                Some(t) if t <= deadline => self.jump_to(t),
                _ => {
                    if self.now < deadline {
                        self.jump_to(deadline);
                        self.drive();
                    }
                    return cond(self);
                }
            }
        }
        false
    }
}
