//! The plumbing every sub-machine shares: the output queue, the pending-request table, the
//! offline queue and the id generator. Sub-machines (handshake, keepalive, calling, messaging)
//! send through [`Core::execute`] and emit through [`Core::emit`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Backoff, Bounds};
use crate::error::{ApiMisuse, Error};
use crate::ids::{IdGenerator, IdKind, RequestId};
use crate::rng::SplitMix64;
use crate::rpc::{Pending, RequestTag};
use crate::session::{Event, Output};
use crate::wire;

/// What a pending request was for, so its answer can be routed to the sub-machine that sent it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PendingKind {
    Connect,
    Setup,
    Subscribe,
    Ping,
    Receive {
        contexts: Vec<String>,
    },
    /// A generic `blade.execute` issued through [`Session::execute`](crate::Session::execute).
    Execute,
    MessagingSend,
    #[allow(dead_code)] // constructed by the calling sub-machine
    Calling(crate::calling::CallingRequest),
}

impl RequestTag for PendingKind {
    fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            PendingKind::Connect | PendingKind::Setup | PendingKind::Subscribe | PendingKind::Ping
        )
    }
}

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

pub(crate) struct Core {
    pub project: String,
    pub token: String,
    pub jwt: Option<String>,
    pub agent: String,
    pub request_timeout: Duration,
    pub ping_interval: Duration,
    pub backoff: Backoff,
    pub bounds: Bounds,
    pub retry_on_auth_failure: bool,

    ids: Box<dyn IdGenerator>,
    pub rng: SplitMix64,
    out: VecDeque<Output>,
    /// The pending-request table and offline queue (a sub-machine of its own).
    pub requests: Pending<PendingKind>,

    pub phase: Phase,
    /// Increments on every `Input::Opened`.
    pub conn: u64,
    /// Set by a server `blade.disconnect`: relay commands queue until the next handshake.
    pub paused: bool,
    pub protocol: Option<String>,
    pub session_id: Option<String>,
    pub node_id: Option<String>,
    pub signature: Option<String>,
    /// The latest `now` seen (time is clamped so it never goes backwards).
    latest: Option<Instant>,
}

impl Core {
    pub(crate) fn new(cfg: crate::config::SessionConfig) -> Self {
        let requests = Pending::new(
            cfg.request_timeout,
            cfg.offline_timeout,
            cfg.bounds.max_in_flight,
            cfg.bounds.max_offline_queue,
        );
        Core {
            requests,
            project: cfg.project,
            token: cfg.token,
            jwt: cfg.jwt,
            agent: cfg.agent,
            request_timeout: cfg.request_timeout,
            ping_interval: cfg.ping_interval,
            backoff: cfg.backoff,
            bounds: cfg.bounds,
            retry_on_auth_failure: cfg.retry_on_auth_failure,
            ids: cfg.id_generator,
            rng: SplitMix64::new(cfg.rng_seed),
            out: VecDeque::new(),
            phase: Phase::Disconnected,
            conn: 0,
            paused: false,
            protocol: None,
            session_id: None,
            node_id: None,
            signature: None,
            latest: None,
        }
    }

    /// Clamps `now` to the latest instant seen, so time never goes backwards here.
    pub(crate) fn observe(&mut self, now: Instant) -> Instant {
        match self.latest {
            Some(latest) if now < latest => {
                tracing::debug!(
                    behind_us = (latest - now).as_micros() as u64,
                    "time went backwards; clamped to the latest instant seen"
                );
                latest
            }
            _ => {
                self.latest = Some(now);
                now
            }
        }
    }

    /// A fresh client-made id.
    pub(crate) fn next_id(&mut self, kind: IdKind) -> String {
        self.ids.next_id(kind)
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    pub(crate) fn push_output(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(crate) fn pop_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub(crate) fn transmit(&mut self, frame: String) {
        self.out.push_back(Output::Transmit(frame));
    }

    /// Whether relay commands can be sent right now.
    pub(crate) fn can_send(&self) -> bool {
        self.phase == Phase::Ready && !self.paused && self.protocol.is_some()
    }

    /// Sends a Blade-level request on the current connection, bypassing the offline queue
    /// (handshake and keepalive only).
    pub(crate) fn send_blade(
        &mut self,
        now: Instant,
        method: &str,
        params: Value,
        kind: PendingKind,
    ) -> RequestId {
        let id = RequestId::new(self.next_id(IdKind::Request));
        self.transmit(wire::rpc::encode_request(&id, method, &params));
        self.requests.sent(now, id.clone(), kind, self.conn);
        id
    }

    /// Issues a relay command (`blade.execute` with the session's protocol): sent now when the
    /// session is ready and under its in-flight bound, otherwise queued for the next handshake.
    /// The returned id identifies the outcome event either way.
    pub(crate) fn execute(
        &mut self,
        now: Instant,
        method: &str,
        params: Value,
        kind: PendingKind,
    ) -> Result<RequestId, Error> {
        if self.phase == Phase::Stopped {
            return Err(Error::ApiMisuse(ApiMisuse::SessionStopped));
        }
        let now = self.observe(now);
        let id = RequestId::new(self.next_id(IdKind::Request));
        if self.can_send() && self.requests.may_send_now() {
            self.send_execute(now, id.clone(), method, params, kind);
        } else {
            self.requests
                .enqueue(now, id.clone(), method, params, kind)?;
            tracing::debug!(request = %id, method, "queued until the session is ready");
        }
        Ok(id)
    }

    fn send_execute(
        &mut self,
        now: Instant,
        id: RequestId,
        method: &str,
        params: Value,
        kind: PendingKind,
    ) {
        let protocol = self.protocol.clone().unwrap_or_default();
        let envelope = json!({"protocol": protocol, "method": method, "params": params});
        self.transmit(wire::rpc::encode_request(
            &id,
            wire::method::EXECUTE,
            &envelope,
        ));
        self.requests.sent(now, id, kind, self.conn);
    }

    /// Sends queued commands, oldest first, while the session is ready and a relay slot is
    /// free. Each is sent exactly once and then leaves the queue.
    pub(crate) fn pump_queue(&mut self, now: Instant) {
        while self.can_send() {
            let Some(q) = self.requests.pop_sendable() else {
                break;
            };
            self.send_execute(now, q.id, &q.method, q.params, q.tag);
        }
    }

    /// Reconnect delay for the given attempt, with seeded jitter.
    pub(crate) fn backoff_delay(&mut self, attempt: u32) -> Duration {
        let sample = self.rng.next_f64();
        self.backoff.delay(attempt, sample)
    }
}
