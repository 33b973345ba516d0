//! The connection lifecycle sub-machine: connect → setup → subscription → ready, the
//! keepalive, context registration, `blade.disconnect` pauses and the reconnect backoff.
//!
//! [`Lifecycle`] owns all of that state (the phase, the connection counter, the Blade session,
//! the protocol, the attempt counter and its jitter source, the ping and pause deadlines, the
//! contexts) and reports through the narrow [`LifecycleSink`] or by return value. It never
//! sees the session, the pending-request table or the other sub-machines: the session routes
//! the answers of its requests back to it and acts on what it returns.
//!
//! Exactly one keepalive timer exists per connection: it is a single `Option<Instant>` that
//! is cleared whenever the connection ends (the official SDK leaks one timer chain per
//! server-initiated close, its bug 3).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Backoff, SessionConfig};
use crate::error::{CommandError, UnexpectedInput};
use crate::ids::{RequestId, SessionId};
use crate::rng::SplitMix64;
use crate::session::{CloseInfo, Event, StopReason, Timer, TransportAction};
use crate::wire::{
    self, Authentication, ConnectParams, ConnectResult, RelayResult, RpcError, Version,
};

/// Connection phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the reconnect timer.
    Disconnected,
    /// `Transport(Connect)` emitted; waiting for `Input::Opened`.
    Connecting,
    /// Transport open, handshake in progress.
    Handshaking,
    /// Handshake done; relay commands flow.
    Ready,
    /// `Transport(Close)` emitted; waiting for `Input::Closed`.
    Closing,
    /// Closed for good (user close, auth failure, attempts exhausted).
    Stopped,
}

/// A request the lifecycle sends and gets the answer of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleRequest {
    Connect,
    Setup,
    Subscribe,
    Ping,
}

/// What the rest of the session needs to know to send: read-only outside the lifecycle.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    phase: Phase,
    /// Set by a server `blade.disconnect`: relay commands queue until the next handshake.
    paused: bool,
    protocol: Option<String>,
    /// Increments on every `Input::Opened`.
    conn: u64,
}

impl Link {
    /// Whether relay commands can be sent right now.
    pub(crate) fn can_send(&self) -> bool {
        self.phase == Phase::Ready && !self.paused && self.protocol.is_some()
    }

    /// Whether the session stopped for good.
    pub(crate) fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// The relay protocol, once known.
    pub(crate) fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The current connection's number.
    pub(crate) fn conn(&self) -> u64 {
        self.conn
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }
}

/// Everything the lifecycle may ask of its owner, and nothing more.
pub(crate) trait LifecycleSink {
    /// Asks the driver to open or close the transport.
    fn transport(&mut self, action: TransportAction);
    /// Reports a session event to the application.
    fn emit(&mut self, event: Event);
    /// Sends a Blade-level request on the current connection (never queued); its answer comes
    /// back through [`Lifecycle::on_answer`].
    fn send_blade(
        &mut self,
        now: Instant,
        link: &Link,
        method: &str,
        params: Value,
        request: LifecycleRequest,
    ) -> RequestId;
    /// Sends the commands queued while the session was not ready, oldest first.
    fn send_queued(&mut self, now: Instant, link: &Link);
    /// Issues a `signalwire.receive` for these contexts; its outcome comes back through
    /// [`Lifecycle::on_receive_outcome`].
    fn register(
        &mut self,
        now: Instant,
        link: &Link,
        contexts: Vec<String>,
    ) -> Result<RequestId, CommandError>;
}

/// What an answer to a lifecycle request led to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnswerStep {
    /// Nothing the session must act on.
    Nothing,
    /// The handshake just completed.
    Ready {
        /// The server restored the previous Blade session.
        restored: bool,
    },
    /// The session must stop for good.
    Stop(StopReason),
}

/// What a reported transport close led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// Not connected: nothing to do.
    Ignored,
    /// The connection ended; the next attempt is due then.
    Reconnect(Instant),
    /// The connection ended and the attempt limit is exhausted after this many attempts.
    GaveUp(u32),
}

/// Who we are to the server, and how the lifecycle paces itself.
#[derive(Debug)]
struct Settings {
    project: String,
    token: String,
    jwt: Option<String>,
    agent: String,
    request_timeout: Duration,
    ping_interval: Duration,
    backoff: Backoff,
    retry_on_auth_failure: bool,
}

/// The lifecycle sub-machine.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    settings: Settings,
    rng: SplitMix64,
    link: Link,
    session_id: Option<String>,
    node_id: Option<String>,
    signature: Option<String>,
    ever_ready: bool,
    restored: bool,
    /// Consecutive failed connection attempts since the last ready session.
    attempts: u32,
    reconnect_at: Option<Instant>,
    next_ping: Option<Instant>,
    ping_outstanding: Option<RequestId>,
    /// After `blade.disconnect`: if the server has not closed by then, we close.
    pause_deadline: Option<Instant>,
    wanted: Vec<String>,
    registered: BTreeSet<String>,
    registering: BTreeSet<String>,
}

impl Lifecycle {
    pub(crate) fn new(cfg: &SessionConfig) -> Self {
        let mut wanted: Vec<String> = Vec::new();
        for c in &cfg.contexts {
            if !c.trim().is_empty() && !wanted.contains(c) {
                wanted.push(c.clone());
            }
        }
        Lifecycle {
            settings: Settings {
                project: cfg.project.clone(),
                token: cfg.token.clone(),
                jwt: cfg.jwt.clone(),
                agent: cfg.agent.clone(),
                request_timeout: cfg.request_timeout,
                ping_interval: cfg.ping_interval,
                backoff: cfg.backoff.clone(),
                retry_on_auth_failure: cfg.retry_on_auth_failure,
            },
            rng: SplitMix64::new(cfg.rng_seed),
            link: Link {
                phase: Phase::Disconnected,
                paused: false,
                protocol: None,
                conn: 0,
            },
            session_id: None,
            node_id: None,
            signature: None,
            ever_ready: false,
            restored: false,
            attempts: 0,
            reconnect_at: None,
            next_ping: None,
            ping_outstanding: None,
            pause_deadline: None,
            wanted,
            registered: BTreeSet::new(),
            registering: BTreeSet::new(),
        }
    }

    /// What the rest of the session needs to know to send.
    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// The Blade session id, once known.
    pub(crate) fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The serving node's id, once known.
    pub(crate) fn node_id(&self) -> Option<&str> {
        self.node_id.as_deref()
    }

    /// Whether a frame may arrive now (a transport is open).
    pub(crate) fn accepts_frames(&self) -> bool {
        matches!(
            self.link.phase,
            Phase::Handshaking | Phase::Ready | Phase::Closing
        )
    }

    pub(crate) fn start_connect(&mut self, sink: &mut dyn LifecycleSink) {
        self.reconnect_at = None;
        self.link.phase = Phase::Connecting;
        sink.transport(TransportAction::Connect);
    }

    pub(crate) fn on_opened(
        &mut self,
        sink: &mut dyn LifecycleSink,
        now: Instant,
    ) -> Result<(), UnexpectedInput> {
        if self.link.phase != Phase::Connecting {
            return Err(UnexpectedInput::Opened);
        }
        self.link.conn += 1;
        self.link.phase = Phase::Handshaking;
        let s = &self.settings;
        let params = ConnectParams {
            version: Version::CURRENT,
            authentication: Authentication {
                project: s.project.clone(),
                token: if s.jwt.is_some() {
                    None
                } else {
                    Some(s.token.clone())
                },
                jwt_token: s.jwt.clone(),
            },
            sessionid: self.session_id.clone(),
            agent: Some(s.agent.clone()),
        };
        let params = serde_json::to_value(&params).unwrap_or(Value::Null);
        sink.send_blade(
            now,
            &self.link,
            wire::method::CONNECT,
            params,
            LifecycleRequest::Connect,
        );
        Ok(())
    }

    /// Handles the answer (or `None`: timeout / connection lost) to a handshake or ping request.
    pub(crate) fn on_answer(
        &mut self,
        sink: &mut dyn LifecycleSink,
        now: Instant,
        id: &RequestId,
        request: LifecycleRequest,
        answer: Option<Result<Value, RpcError>>,
    ) -> AnswerStep {
        if request == LifecycleRequest::Ping {
            if self.ping_outstanding.as_ref() == Some(id) && matches!(answer, Some(Ok(_))) {
                self.ping_outstanding = None;
            }
            return AnswerStep::Nothing;
        }
        if self.link.phase != Phase::Handshaking {
            return AnswerStep::Nothing;
        }
        let Some(answer) = answer else {
            self.close_transport(sink, 4000, "handshake request timed out");
            return AnswerStep::Nothing;
        };
        match (request, answer) {
            (LifecycleRequest::Connect, Err(error)) => self.on_connect_rejected(sink, error),
            (LifecycleRequest::Connect, Ok(v)) => {
                self.on_connected(sink, now, v);
                AnswerStep::Nothing
            }
            (LifecycleRequest::Setup, answer) => {
                self.on_setup(sink, now, answer);
                AnswerStep::Nothing
            }
            (LifecycleRequest::Subscribe, Ok(_)) => {
                self.ready(sink, now);
                AnswerStep::Ready {
                    restored: self.restored,
                }
            }
            (LifecycleRequest::Subscribe, Err(e)) => {
                tracing::warn!(code = e.code, message = %e.message, "blade.subscription failed");
                self.close_transport(sink, 4003, "blade.subscription failed");
                AnswerStep::Nothing
            }
            (LifecycleRequest::Ping, _) => AnswerStep::Nothing,
        }
    }

    fn on_connect_rejected(&mut self, sink: &mut dyn LifecycleSink, error: RpcError) -> AnswerStep {
        tracing::warn!(code = error.code, message = %error.message, "blade.connect rejected");
        sink.emit(Event::AuthFailed {
            error: error.clone(),
        });
        if self.settings.retry_on_auth_failure {
            self.close_transport(sink, 4001, "authentication failed");
            AnswerStep::Nothing
        } else {
            AnswerStep::Stop(StopReason::AuthFailed(error))
        }
    }

    /// `blade.connect` succeeded: remember the Blade session, then ask for the protocol.
    fn on_connected(&mut self, sink: &mut dyn LifecycleSink, now: Instant, v: Value) {
        let r: ConnectResult = match serde_json::from_value(v) {
            Ok(r) => r,
            Err(e) => {
                // Peer misbehaved: never run on an invented (empty) session.
                tracing::warn!(error = %e, "malformed blade.connect result");
                self.close_transport(sink, 4002, "malformed blade.connect result");
                return;
            }
        };
        if let Some(s) = r.sessionid.filter(|s| !s.is_empty()) {
            self.session_id = Some(s);
        }
        self.node_id = r.nodeid;
        self.signature = r.authorization.signature;
        self.restored = r.session_restored;
        // Ask for the previous protocol when it was made for this signature, so the server
        // keeps routing our calls' events to us (PROTOCOL.md 1.11).
        let mut params = json!({});
        if let (Some(p), Some(sig)) = (self.link.protocol.as_deref(), self.signature.as_deref()) {
            if p.split('_').nth(1) == Some(sig) {
                params = json!({ "protocol": p });
            }
        }
        let envelope = json!({"protocol": "signalwire", "method": "setup", "params": params});
        sink.send_blade(
            now,
            &self.link,
            wire::method::EXECUTE,
            envelope,
            LifecycleRequest::Setup,
        );
    }

    /// `signalwire.setup` answered: subscribe to the protocol's notifications.
    fn on_setup(
        &mut self,
        sink: &mut dyn LifecycleSink,
        now: Instant,
        answer: Result<Value, RpcError>,
    ) {
        let protocol = answer
            .ok()
            .map(|v| RelayResult::from_blade_result(&v))
            .filter(RelayResult::is_success)
            .and_then(|r| r.str_field("protocol"))
            .filter(|p| !p.is_empty());
        let Some(p) = protocol else {
            self.close_transport(sink, 4002, "signalwire.setup gave no protocol");
            return;
        };
        self.link.protocol = Some(p.clone());
        let params = json!({"command": "add", "protocol": p, "channels": ["notifications"]});
        sink.send_blade(
            now,
            &self.link,
            wire::method::SUBSCRIPTION,
            params,
            LifecycleRequest::Subscribe,
        );
    }

    fn ready(&mut self, sink: &mut dyn LifecycleSink, now: Instant) {
        self.link.phase = Phase::Ready;
        self.link.paused = false;
        self.attempts = 0;
        // Queued commands go first, in order, exactly once (the official SDK never empties its
        // queue: bug 1), then the first keepalive ping, then context registration.
        sink.send_queued(now, &self.link);
        self.send_ping(sink, now);
        let wanted = self.wanted.clone();
        if !wanted.is_empty() {
            if let Err(e) = self.send_receive(sink, now, wanted) {
                tracing::warn!(error = %e, "could not register contexts");
            }
        }
        let reconnected = self.ever_ready;
        self.ever_ready = true;
        sink.emit(Event::Ready {
            session_id: SessionId::new(self.session_id.clone().unwrap_or_default()),
            protocol: self.link.protocol.clone().unwrap_or_default(),
            restored: self.restored,
            reconnected,
        });
    }

    fn send_ping(&mut self, sink: &mut dyn LifecycleSink, now: Instant) {
        let id = sink.send_blade(
            now,
            &self.link,
            wire::method::PING,
            json!({}),
            LifecycleRequest::Ping,
        );
        self.ping_outstanding = Some(id);
        self.next_ping = Some(now + self.settings.ping_interval);
    }

    /// Registers more contexts (remembered for every later handshake); sends a
    /// `signalwire.receive` now for those not registered or being registered yet.
    pub(crate) fn receive(
        &mut self,
        sink: &mut dyn LifecycleSink,
        now: Instant,
        contexts: Vec<String>,
    ) -> Result<Option<RequestId>, CommandError> {
        for c in &contexts {
            if !self.wanted.contains(c) {
                self.wanted.push(c.clone());
            }
        }
        if !self.link.can_send() {
            return Ok(None);
        }
        let mut new: Vec<String> = Vec::new();
        for c in contexts {
            if !self.registered.contains(&c) && !self.registering.contains(&c) && !new.contains(&c)
            {
                new.push(c);
            }
        }
        if new.is_empty() {
            return Ok(None);
        }
        self.send_receive(sink, now, new).map(Some)
    }

    fn send_receive(
        &mut self,
        sink: &mut dyn LifecycleSink,
        now: Instant,
        contexts: Vec<String>,
    ) -> Result<RequestId, CommandError> {
        let id = sink.register(now, &self.link, contexts.clone())?;
        self.registering.extend(contexts);
        Ok(id)
    }

    pub(crate) fn on_receive_outcome(&mut self, contexts: &[String], ok: bool) {
        for c in contexts {
            self.registering.remove(c);
            if ok {
                self.registered.insert(c.clone());
            }
        }
    }

    pub(crate) fn on_server_disconnect(&mut self, sink: &mut dyn LifecycleSink, now: Instant) {
        if self.link.phase == Phase::Stopped {
            return;
        }
        tracing::info!("server sent blade.disconnect: pausing until it closes the socket");
        self.link.paused = true;
        self.pause_deadline = Some(now + self.settings.request_timeout);
        sink.emit(Event::Paused);
    }

    /// The transport closed: forget the connection and schedule the next attempt.
    pub(crate) fn on_closed(&mut self, now: Instant, info: CloseInfo<'_>) -> Closed {
        if matches!(self.link.phase, Phase::Disconnected | Phase::Stopped) {
            tracing::debug!(?info, "close reported while not connected; ignored");
            return Closed::Ignored;
        }
        tracing::info!(code = ?info.code, reason = info.reason, "transport closed");
        // A server that sent blade.disconnect is restarting on purpose: reconnect at once.
        let immediate = self.link.paused;
        self.link.paused = false;
        self.link.phase = Phase::Disconnected;
        self.reset_connection();
        match self.schedule_reconnect(now, immediate) {
            Ok(at) => Closed::Reconnect(at),
            Err(attempts) => Closed::GaveUp(attempts),
        }
    }

    /// Stops for good: closes the transport if one is open or asked for. `false` when the
    /// session was already stopped.
    pub(crate) fn stop(&mut self, sink: &mut dyn LifecycleSink) -> bool {
        if self.link.phase == Phase::Stopped {
            return false;
        }
        let had_transport = matches!(
            self.link.phase,
            Phase::Connecting | Phase::Handshaking | Phase::Ready | Phase::Closing
        );
        self.link.phase = Phase::Stopped;
        if had_transport {
            sink.transport(TransportAction::Close {
                code: 1000,
                reason: "session closed".into(),
            });
        }
        self.reset_connection();
        true
    }

    /// Forgets everything tied to the connection that just ended.
    fn reset_connection(&mut self) {
        self.next_ping = None;
        self.ping_outstanding = None;
        self.pause_deadline = None;
        self.registered.clear();
        self.registering.clear();
    }

    /// Schedules the next attempt. `Err(attempts)` when the attempt limit is exhausted.
    fn schedule_reconnect(&mut self, now: Instant, immediate: bool) -> Result<Instant, u32> {
        if let Some(max) = self.settings.backoff.max_attempts {
            if self.attempts >= max {
                return Err(self.attempts);
            }
        }
        let delay = if immediate {
            Duration::ZERO
        } else {
            let sample = self.rng.next_f64();
            self.settings.backoff.delay(self.attempts, sample)
        };
        self.attempts += 1;
        let at = now + delay;
        self.reconnect_at = Some(at);
        self.link.phase = Phase::Disconnected;
        tracing::info!(
            attempt = self.attempts,
            delay_ms = delay.as_millis() as u64,
            "reconnect scheduled"
        );
        Ok(at)
    }

    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers().into_iter().flatten().map(|(at, _)| at).min()
    }

    /// The armed lifecycle timers (only those that act in the current phase).
    pub(crate) fn timers(&self) -> [Option<(Instant, Timer)>; 2] {
        match self.link.phase {
            Phase::Disconnected => [self.reconnect_at.map(|t| (t, Timer::Reconnect)), None],
            Phase::Ready => [
                self.next_ping.map(|t| (t, Timer::Ping)),
                self.pause_deadline.map(|t| (t, Timer::PauseDeadline)),
            ],
            _ => [None, None],
        }
    }

    pub(crate) fn handle_timeout(&mut self, sink: &mut dyn LifecycleSink, now: Instant) {
        match self.link.phase {
            Phase::Disconnected if self.reconnect_at.is_some_and(|t| t <= now) => {
                self.start_connect(sink);
            }
            Phase::Ready => self.keepalive(sink, now),
            _ => {}
        }
    }

    /// The pause deadline and the keepalive ping, while ready.
    fn keepalive(&mut self, sink: &mut dyn LifecycleSink, now: Instant) {
        if self.pause_deadline.is_some_and(|t| t <= now) {
            self.pause_deadline = None;
            self.close_transport(sink, 1001, "server did not close after blade.disconnect");
            return;
        }
        let Some(tick) = self.next_ping.filter(|t| *t <= now) else {
            return;
        };
        if self.link.paused {
            self.next_ping = Some(tick + self.settings.ping_interval);
            return;
        }
        if self.ping_outstanding.is_some() {
            tracing::warn!("keepalive ping unanswered; closing the transport");
            self.next_ping = None;
            self.close_transport(sink, 4004, "keepalive timeout");
            return;
        }
        self.send_ping(sink, now);
    }

    fn close_transport(&mut self, sink: &mut dyn LifecycleSink, code: u16, reason: &str) {
        if matches!(
            self.link.phase,
            Phase::Closing | Phase::Stopped | Phase::Disconnected
        ) {
            return;
        }
        self.link.phase = Phase::Closing;
        sink.transport(TransportAction::Close {
            code,
            reason: reason.to_owned(),
        });
    }
}
