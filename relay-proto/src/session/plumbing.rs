//! The plumbing the session's sub-machines share, and nothing more: the output queue, the id
//! generator and the clock clamp ([`Plumbing`]), and the one place that puts requests on the
//! wire and in the pending-request table ([`Wire`]).
//!
//! [`Wire`] is a short-lived view made of disjoint borrows of the session's fields: it is the
//! lifecycle's [`LifecycleSink`]. [`Hub`] (everything but calling) is the calling
//! sub-machine's [`Outbox`]. The sub-machines see only those narrow traits.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::calling::{CallEvent, CallingRequest, Outbox};
use crate::error::{ApiMisuse, CommandError};
use crate::ids::{ControlId, DialTag, IdGenerator, IdKind, RequestId};
use crate::rpc::{Pending, RequestTag};
use crate::session::lifecycle::{Lifecycle, LifecycleRequest, LifecycleSink, Link};
use crate::session::{Event, Output, TransportAction};
use crate::wire::{self, Method};

/// A command's params: a JSON tree, or text already written (the calling commands write
/// their ids and params without building a tree).
#[derive(Clone, Copy)]
pub(crate) enum Params<'a> {
    Tree(&'a Value),
    Text(&'a RawValue),
    /// JSON text the core wrote itself (not parsed again to be checked).
    Written(&'a str),
}

impl Params<'_> {
    /// The params as owned text (a command queued for later).
    fn to_text(self) -> Box<RawValue> {
        match self {
            Params::Text(t) => t.to_owned(),
            // Queued commands only (offline): checked once, on the way into the queue.
            Params::Written(t) => {
                RawValue::from_string(t.to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
            }
            Params::Tree(v) => {
                serde_json::value::to_raw_value(v).unwrap_or_else(|_| RawValue::NULL.to_owned())
            }
        }
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Params::Tree(v) => v.serialize(s),
            Params::Text(t) => t.serialize(s),
            Params::Written(t) => {
                // Only through `to_text` (the frame writer copies written text as is).
                RawValue::from_string((*t).to_owned())
                    .map_err(serde::ser::Error::custom)?
                    .serialize(s)
            }
        }
    }
}

/// What a pending request was for, so its answer can be routed to the sub-machine that sent it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PendingKind {
    /// Handshake and keepalive requests of the lifecycle.
    Lifecycle(LifecycleRequest),
    /// A `signalwire.receive` registering these contexts.
    Receive {
        contexts: Vec<String>,
    },
    /// A generic `blade.execute` issued through [`Session::execute`](crate::Session::execute).
    Execute,
    MessagingSend,
    Calling(CallingRequest),
}

impl RequestTag for PendingKind {
    fn is_lifecycle(&self) -> bool {
        matches!(self, PendingKind::Lifecycle(_))
    }
}

/// The output queue, the id generator and the clock clamp.
pub(crate) struct Plumbing {
    ids: Box<dyn IdGenerator>,
    /// Where the generator writes each id before it goes into its one shared allocation.
    id_text: String,
    out: VecDeque<Output>,
    /// The latest `now` seen (time is clamped so it never goes backwards).
    latest: Option<Instant>,
}

impl Plumbing {
    pub(crate) fn new(ids: Box<dyn IdGenerator>) -> Self {
        Plumbing {
            ids,
            id_text: String::new(),
            out: VecDeque::new(),
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
    pub(crate) fn next_id(&mut self, kind: IdKind) -> Arc<str> {
        self.ids.write_next_id(kind, &mut self.id_text);
        Arc::from(self.id_text.as_str())
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
}

/// Sends requests: the plumbing plus the pending-request table, borrowed for one step.
pub(crate) struct Wire<'a> {
    pub plumbing: &'a mut Plumbing,
    pub requests: &'a mut Pending<PendingKind>,
}

impl Wire<'_> {
    /// Sends a Blade-level request on the current connection, bypassing the offline queue
    /// (handshake and keepalive only).
    fn send_blade(
        &mut self,
        now: Instant,
        link: &Link,
        method: &str,
        params: Value,
        kind: PendingKind,
    ) -> RequestId {
        let id = RequestId::from(self.plumbing.next_id(IdKind::Request));
        self.plumbing
            .transmit(wire::rpc::encode_request(&id, method, &params));
        self.requests.sent(now, id.clone(), kind, link.conn());
        id
    }

    /// Issues a relay command (`blade.execute` with the session's protocol): sent now when the
    /// session is ready and under its in-flight bound, otherwise queued for the next handshake.
    /// The returned id identifies the outcome event either way.
    pub(crate) fn execute(
        &mut self,
        now: Instant,
        link: &Link,
        method: &str,
        params: Params<'_>,
        kind: PendingKind,
    ) -> Result<RequestId, CommandError> {
        if link.is_stopped() {
            return Err(ApiMisuse::SessionStopped.into());
        }
        let now = self.plumbing.observe(now);
        let id = RequestId::from(self.plumbing.next_id(IdKind::Request));
        if link.can_send() && self.requests.may_send_now() {
            self.send_execute(now, link, id.clone(), method, params, kind);
        } else {
            self.requests.enqueue(
                link.can_send(),
                now,
                id.clone(),
                method,
                params.to_text(),
                kind,
            )?;
            tracing::debug!(request = %id, method, "queued until the session is ready");
        }
        Ok(id)
    }

    fn send_execute(
        &mut self,
        now: Instant,
        link: &Link,
        id: RequestId,
        method: &str,
        params: Params<'_>,
        kind: PendingKind,
    ) {
        let protocol = link.protocol().unwrap_or_default();
        let frame = match params {
            Params::Written(text) => wire::rpc::encode_execute_text(&id, protocol, method, text),
            _ => wire::rpc::encode_execute(&id, protocol, method, &params),
        };
        self.plumbing.transmit(frame);
        self.requests.sent(now, id, kind, link.conn());
    }

    /// Sends queued commands, oldest first, while the session is ready and a relay slot is
    /// free. Each is sent exactly once and then leaves the queue.
    pub(crate) fn pump_queue(&mut self, now: Instant, link: &Link) {
        while link.can_send() {
            let Some(q) = self.requests.pop_sendable() else {
                break;
            };
            self.send_execute(now, link, q.id, &q.method, Params::Text(&q.params), q.tag);
        }
    }
}

impl LifecycleSink for Wire<'_> {
    fn transport(&mut self, action: TransportAction) {
        self.plumbing.push_output(Output::Transport(action));
    }

    fn emit(&mut self, event: Event) {
        self.plumbing.emit(event);
    }

    fn send_blade(
        &mut self,
        now: Instant,
        link: &Link,
        method: &str,
        params: Value,
        request: LifecycleRequest,
    ) -> RequestId {
        Wire::send_blade(
            self,
            now,
            link,
            method,
            params,
            PendingKind::Lifecycle(request),
        )
    }

    fn send_queued(&mut self, now: Instant, link: &Link) {
        self.pump_queue(now, link);
    }

    fn register(
        &mut self,
        now: Instant,
        link: &Link,
        contexts: Vec<String>,
    ) -> Result<RequestId, CommandError> {
        let params = json!({ "contexts": contexts });
        self.execute(
            now,
            link,
            Method::Receive.as_str(),
            Params::Tree(&params),
            PendingKind::Receive { contexts },
        )
    }
}

/// Everything of the session but calling: the plumbing, the pending-request table and the
/// lifecycle. It is the calling sub-machine's [`Outbox`].
pub(crate) struct Hub {
    pub plumbing: Plumbing,
    pub requests: Pending<PendingKind>,
    pub lifecycle: Lifecycle,
}

impl Hub {
    /// The wire and the lifecycle, borrowed apart.
    pub(crate) fn wire(&mut self) -> (Wire<'_>, &mut Lifecycle) {
        let wire = Wire {
            plumbing: &mut self.plumbing,
            requests: &mut self.requests,
        };
        (wire, &mut self.lifecycle)
    }
}

impl Outbox for Hub {
    fn emit(&mut self, event: CallEvent) {
        self.plumbing.emit(Event::Call(event));
    }

    fn execute(
        &mut self,
        now: Instant,
        method: Method,
        params: &str,
        request: CallingRequest,
    ) -> Result<RequestId, CommandError> {
        let (mut wire, lifecycle) = self.wire();
        wire.execute(
            now,
            lifecycle.link(),
            method.as_str(),
            Params::Written(params),
            PendingKind::Calling(request),
        )
    }

    fn observe(&mut self, now: Instant) -> Instant {
        self.plumbing.observe(now)
    }

    fn next_control_id(&mut self) -> ControlId {
        ControlId::from(self.plumbing.next_id(IdKind::Control))
    }

    fn next_dial_tag(&mut self) -> DialTag {
        DialTag::from(self.plumbing.next_id(IdKind::Tag))
    }

    fn can_send(&self) -> bool {
        self.lifecycle.link().can_send()
    }

    fn queued(&self) -> Vec<CallingRequest> {
        self.requests
            .queue_iter()
            .filter_map(|q| match &q.tag {
                PendingKind::Calling(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }
}
