//! The plumbing every sub-machine shares: the output queue, the pending-request table, the
//! offline queue and the id generator. Sub-machines (handshake, keepalive, calling, messaging)
//! send through [`Core::execute`] and emit through [`Core::emit`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{Backoff, Bounds};
use crate::error::Error;
use crate::ids::{IdGenerator, IdKind, RequestId};
use crate::rng::SplitMix64;
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

#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub kind: PendingKind,
    pub deadline: Instant,
    /// The connection it was sent on. Everything pending is failed when that connection ends,
    /// so a stale request can never time out on (and close) a newer connection.
    pub conn: u64,
}

/// A relay command waiting for the next successful handshake.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub id: RequestId,
    pub method: String,
    pub params: Value,
    pub kind: PendingKind,
    /// `offline_timeout` after it was issued: still queued then, it fails, never sent.
    pub deadline: Instant,
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
    pub offline_timeout: Duration,
    pub ping_interval: Duration,
    pub backoff: Backoff,
    pub bounds: Bounds,
    pub retry_on_auth_failure: bool,

    ids: Box<dyn IdGenerator>,
    pub rng: SplitMix64,
    out: VecDeque<Output>,
    pub pending: BTreeMap<RequestId, Pending>,
    pub queue: VecDeque<Queued>,

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
        Core {
            project: cfg.project,
            token: cfg.token,
            jwt: cfg.jwt,
            agent: cfg.agent,
            request_timeout: cfg.request_timeout,
            offline_timeout: cfg.offline_timeout,
            ping_interval: cfg.ping_interval,
            backoff: cfg.backoff,
            bounds: cfg.bounds,
            retry_on_auth_failure: cfg.retry_on_auth_failure,
            ids: cfg.id_generator,
            rng: SplitMix64::new(cfg.rng_seed),
            out: VecDeque::new(),
            pending: BTreeMap::new(),
            queue: VecDeque::new(),
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
        self.pending.insert(
            id.clone(),
            Pending {
                kind,
                deadline: now + self.request_timeout,
                conn: self.conn,
            },
        );
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
            return Err(Error::misuse("the session is stopped; create a new one"));
        }
        let now = self.observe(now);
        let id = RequestId::new(self.next_id(IdKind::Request));
        if self.can_send() && self.queue.is_empty() && self.in_flight() < self.bounds.max_in_flight
        {
            self.send_execute(now, id.clone(), method, params, kind);
        } else {
            if self.queue.len() >= self.bounds.max_offline_queue {
                return Err(Error::Capacity {
                    what: "offline queue",
                    limit: self.bounds.max_offline_queue,
                });
            }
            tracing::debug!(request = %id, method, "queued until the session is ready");
            self.queue.push_back(Queued {
                id: id.clone(),
                method: method.to_owned(),
                params,
                kind,
                deadline: now + self.offline_timeout,
            });
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
        self.pending.insert(
            id,
            Pending {
                kind,
                deadline: now + self.request_timeout,
                conn: self.conn,
            },
        );
    }

    /// Requests awaiting an answer on this connection (handshake and pings included).
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Whether another relay command may be put in flight. One slot of `max_in_flight` is kept
    /// for the keepalive ping (handshake requests only exist while nothing else is in flight),
    /// so the total never exceeds the bound; the bound is treated as at least 2.
    fn has_relay_slot(&self) -> bool {
        let relay = self
            .pending
            .values()
            .filter(|p| {
                !matches!(
                    p.kind,
                    PendingKind::Connect
                        | PendingKind::Setup
                        | PendingKind::Subscribe
                        | PendingKind::Ping
                )
            })
            .count();
        relay < self.bounds.max_in_flight.max(2) - 1
    }

    /// Sends queued commands, oldest first, while the session is ready and under its bound.
    /// Each is sent exactly once and then leaves the queue.
    pub(crate) fn pump_queue(&mut self, now: Instant) {
        while self.can_send() && self.has_relay_slot() {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            self.send_execute(now, q.id, &q.method, q.params, q.kind);
        }
    }

    /// The earliest request or offline-queue deadline. Queued deadlines are issue time plus
    /// one constant on a clock that never goes backwards, so the front of the queue is the
    /// earliest.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let queued = self.queue.front().map(|q| q.deadline);
        self.pending
            .values()
            .map(|p| p.deadline)
            .chain(queued)
            .min()
    }

    /// Removes every queued command whose offline deadline has passed.
    pub(crate) fn take_expired_queued(&mut self, now: Instant) -> Vec<Queued> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|q| q.deadline <= now) {
            out.extend(self.queue.pop_front());
        }
        out
    }

    /// Removes and returns every pending request whose deadline has passed, in id order.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<(RequestId, Pending)> {
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|id| self.pending.remove(&id).map(|p| (id, p)))
            .collect()
    }

    /// Removes every pending request (the connection is gone).
    pub(crate) fn take_all_pending(&mut self) -> Vec<(RequestId, Pending)> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }

    /// Removes every queued command (the session stopped).
    pub(crate) fn take_queue(&mut self) -> Vec<Queued> {
        self.queue.drain(..).collect()
    }

    /// Reconnect delay for the given attempt, with seeded jitter.
    pub(crate) fn backoff_delay(&mut self, attempt: u32) -> Duration {
        let sample = self.rng.next_f64();
        self.backoff.delay(attempt, sample)
    }
}
