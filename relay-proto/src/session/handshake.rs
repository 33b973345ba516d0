//! Connection lifecycle: connect → setup → subscription → ready, the keepalive, context
//! registration, `blade.disconnect` pauses and the reconnect backoff.
//!
//! Exactly one keepalive timer exists per connection: it is a single `Option<Instant>` that
//! is cleared whenever the connection ends (the official SDK leaks one timer chain per
//! server-initiated close, its bug 3).

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{json, Value};

use crate::error::{ApiMisuse, Error};
use crate::ids::{RequestId, SessionId};
use crate::session::core::{Core, PendingKind, Phase};
use crate::session::{Event, Output, StopReason, Timer, TransportAction};
use crate::wire::{
    self, Authentication, ConnectParams, ConnectResult, RelayResult, RpcError, Version,
};

#[derive(Debug)]
pub(crate) struct Handshake {
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

impl Handshake {
    pub(crate) fn new(contexts: Vec<String>) -> Self {
        let mut wanted: Vec<String> = Vec::new();
        for c in contexts {
            if !c.trim().is_empty() && !wanted.contains(&c) {
                wanted.push(c);
            }
        }
        Handshake {
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

    pub(crate) fn start_connect(&mut self, core: &mut Core, _now: Instant) {
        self.reconnect_at = None;
        core.phase = Phase::Connecting;
        core.push_output(Output::Transport(TransportAction::Connect));
    }

    pub(crate) fn on_opened(&mut self, core: &mut Core, now: Instant) -> Result<(), Error> {
        if core.phase != Phase::Connecting {
            return Err(Error::ApiMisuse(ApiMisuse::UnexpectedOpened));
        }
        core.conn += 1;
        core.phase = Phase::Handshaking;
        let params = ConnectParams {
            version: Version::CURRENT,
            authentication: Authentication {
                project: core.project.clone(),
                token: if core.jwt.is_some() {
                    None
                } else {
                    Some(core.token.clone())
                },
                jwt_token: core.jwt.clone(),
            },
            sessionid: core.session_id.clone(),
            agent: Some(core.agent.clone()),
        };
        let params = serde_json::to_value(&params).unwrap_or(Value::Null);
        core.send_blade(now, wire::method::CONNECT, params, PendingKind::Connect);
        Ok(())
    }

    /// Handles the answer (or `None`: timeout / connection lost) to a handshake or ping request.
    /// Returns a reason to stop the session for good, if any.
    pub(crate) fn on_answer(
        &mut self,
        core: &mut Core,
        now: Instant,
        id: &RequestId,
        kind: PendingKind,
        answer: Option<Result<Value, RpcError>>,
    ) -> Option<StopReason> {
        if kind == PendingKind::Ping {
            if self.ping_outstanding.as_ref() == Some(id) && matches!(answer, Some(Ok(_))) {
                self.ping_outstanding = None;
            }
            return None;
        }
        if core.phase != Phase::Handshaking {
            return None;
        }
        let Some(answer) = answer else {
            close_transport(core, 4000, "handshake request timed out");
            return None;
        };
        match (kind, answer) {
            (PendingKind::Connect, Err(error)) => {
                tracing::warn!(code = error.code, message = %error.message, "blade.connect rejected");
                core.emit(Event::AuthFailed {
                    error: error.clone(),
                });
                if core.retry_on_auth_failure {
                    close_transport(core, 4001, "authentication failed");
                    None
                } else {
                    Some(StopReason::AuthFailed(error))
                }
            }
            (PendingKind::Connect, Ok(v)) => {
                let r: ConnectResult = match serde_json::from_value(v) {
                    Ok(r) => r,
                    Err(e) => {
                        // Peer misbehaved: never run on an invented (empty) session.
                        tracing::warn!(error = %e, "malformed blade.connect result");
                        close_transport(core, 4002, "malformed blade.connect result");
                        return None;
                    }
                };
                if let Some(s) = r.sessionid.filter(|s| !s.is_empty()) {
                    core.session_id = Some(s);
                }
                core.node_id = r.nodeid;
                core.signature = r.authorization.signature;
                self.restored = r.session_restored;
                // Ask for the previous protocol when it was made for this signature, so the
                // server keeps routing our calls' events to us (PROTOCOL.md 1.11).
                let mut params = json!({});
                if let (Some(p), Some(sig)) = (core.protocol.as_deref(), core.signature.as_deref())
                {
                    if p.split('_').nth(1) == Some(sig) {
                        params = json!({"protocol": p});
                    }
                }
                let envelope =
                    json!({"protocol": "signalwire", "method": "setup", "params": params});
                core.send_blade(now, wire::method::EXECUTE, envelope, PendingKind::Setup);
                None
            }
            (PendingKind::Setup, answer) => {
                let protocol = answer
                    .ok()
                    .map(|v| RelayResult::from_blade_result(&v))
                    .filter(RelayResult::is_success)
                    .and_then(|r| r.str_field("protocol").map(str::to_owned))
                    .filter(|p| !p.is_empty());
                match protocol {
                    Some(p) => {
                        core.protocol = Some(p.clone());
                        let params =
                            json!({"command": "add", "protocol": p, "channels": ["notifications"]});
                        core.send_blade(
                            now,
                            wire::method::SUBSCRIPTION,
                            params,
                            PendingKind::Subscribe,
                        );
                    }
                    None => close_transport(core, 4002, "signalwire.setup gave no protocol"),
                }
                None
            }
            (PendingKind::Subscribe, Ok(_)) => {
                self.ready(core, now);
                None
            }
            (PendingKind::Subscribe, Err(e)) => {
                tracing::warn!(code = e.code, message = %e.message, "blade.subscription failed");
                close_transport(core, 4003, "blade.subscription failed");
                None
            }
            _ => None,
        }
    }

    fn ready(&mut self, core: &mut Core, now: Instant) {
        core.phase = Phase::Ready;
        core.paused = false;
        self.attempts = 0;
        // Queued commands go first, in order, exactly once (the official SDK never empties its
        // queue: bug 1), then the first keepalive ping, then context registration.
        core.pump_queue(now);
        let id = core.send_blade(now, wire::method::PING, json!({}), PendingKind::Ping);
        self.ping_outstanding = Some(id);
        self.next_ping = Some(now + core.ping_interval);
        let wanted = self.wanted.clone();
        if !wanted.is_empty() {
            if let Err(e) = self.send_receive(core, now, wanted) {
                tracing::warn!(error = %e, "could not register contexts");
            }
        }
        let reconnected = self.ever_ready;
        self.ever_ready = true;
        core.emit(Event::Ready {
            session_id: SessionId::new(core.session_id.clone().unwrap_or_default()),
            protocol: core.protocol.clone().unwrap_or_default(),
            restored: self.restored,
            reconnected,
        });
    }

    pub(crate) fn receive(
        &mut self,
        core: &mut Core,
        now: Instant,
        contexts: Vec<String>,
    ) -> Result<Option<RequestId>, Error> {
        for c in &contexts {
            if !self.wanted.contains(c) {
                self.wanted.push(c.clone());
            }
        }
        if !core.can_send() {
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
        self.send_receive(core, now, new).map(Some)
    }

    fn send_receive(
        &mut self,
        core: &mut Core,
        now: Instant,
        contexts: Vec<String>,
    ) -> Result<RequestId, Error> {
        let params = json!({"contexts": contexts});
        let id = core.execute(
            now,
            wire::Method::Receive.as_str(),
            params,
            PendingKind::Receive {
                contexts: contexts.clone(),
            },
        )?;
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

    pub(crate) fn on_server_disconnect(&mut self, core: &mut Core, now: Instant) {
        if core.phase == Phase::Stopped {
            return;
        }
        tracing::info!("server sent blade.disconnect: pausing until it closes the socket");
        core.paused = true;
        self.pause_deadline = Some(now + core.request_timeout);
        core.emit(Event::Paused);
    }

    /// Forgets everything tied to the connection that just ended.
    pub(crate) fn reset_connection(&mut self) {
        self.next_ping = None;
        self.ping_outstanding = None;
        self.pause_deadline = None;
        self.registered.clear();
        self.registering.clear();
    }

    /// Schedules the next attempt. `Err(attempts)` when the attempt limit is exhausted.
    pub(crate) fn schedule_reconnect(
        &mut self,
        core: &mut Core,
        now: Instant,
        immediate: bool,
    ) -> Result<Instant, u32> {
        if let Some(max) = core.backoff.max_attempts {
            if self.attempts >= max {
                return Err(self.attempts);
            }
        }
        let delay = if immediate {
            std::time::Duration::ZERO
        } else {
            core.backoff_delay(self.attempts)
        };
        self.attempts += 1;
        let at = now + delay;
        self.reconnect_at = Some(at);
        core.phase = Phase::Disconnected;
        tracing::info!(
            attempt = self.attempts,
            delay_ms = delay.as_millis() as u64,
            "reconnect scheduled"
        );
        Ok(at)
    }

    pub(crate) fn next_timer(&self, core: &Core) -> Option<Instant> {
        self.timers(core)
            .into_iter()
            .flatten()
            .map(|(at, _)| at)
            .min()
    }

    /// The armed lifecycle timers (only those that act in the current phase).
    pub(crate) fn timers(&self, core: &Core) -> [Option<(Instant, Timer)>; 2] {
        match core.phase {
            Phase::Disconnected => [self.reconnect_at.map(|t| (t, Timer::Reconnect)), None],
            Phase::Ready => [
                self.next_ping.map(|t| (t, Timer::Ping)),
                self.pause_deadline.map(|t| (t, Timer::PauseDeadline)),
            ],
            _ => [None, None],
        }
    }

    /// Whether the last `blade.connect` restored the previous Blade session.
    pub(crate) fn restored(&self) -> bool {
        self.restored
    }

    pub(crate) fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        match core.phase {
            Phase::Disconnected if self.reconnect_at.is_some_and(|t| t <= now) => {
                self.start_connect(core, now);
            }
            Phase::Ready => {
                if self.pause_deadline.is_some_and(|t| t <= now) {
                    self.pause_deadline = None;
                    close_transport(core, 1001, "server did not close after blade.disconnect");
                    return;
                }
                let Some(tick) = self.next_ping.filter(|t| *t <= now) else {
                    return;
                };
                if core.paused {
                    self.next_ping = Some(tick + core.ping_interval);
                    return;
                }
                if self.ping_outstanding.is_some() {
                    tracing::warn!("keepalive ping unanswered; closing the transport");
                    self.next_ping = None;
                    close_transport(core, 4004, "keepalive timeout");
                    return;
                }
                let id = core.send_blade(now, wire::method::PING, json!({}), PendingKind::Ping);
                self.ping_outstanding = Some(id);
                self.next_ping = Some(now + core.ping_interval);
            }
            _ => {}
        }
    }
}

pub(crate) fn close_transport(core: &mut Core, code: u16, reason: &str) {
    if matches!(
        core.phase,
        Phase::Closing | Phase::Stopped | Phase::Disconnected
    ) {
        return;
    }
    core.phase = Phase::Closing;
    core.push_output(Output::Transport(TransportAction::Close {
        code,
        reason: reason.to_owned(),
    }));
}
