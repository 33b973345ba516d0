//! Calls: inbound and dialled legs, their state machine, and the call-level methods (dial with
//! device trees, answer, end, pass, connect, disconnect, refer). Event orders follow PROTOCOL.md
//! §7; every event is scheduled on the virtual clock and sent to whichever session owns the call
//! when it fires.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use relay_proto::calling::{CallState, ConnectState, DialState, Direction};
use relay_proto::wire::{EventType, Method};
#[cfg(test)]
use serde::Serialize;
use serde_json::{json, Value};

use super::blade::{code, Exec};
use super::components::{component_method, Component};
use super::output::merge;
use super::script::Named;
use super::{Action, Effect, MockServer, Outcome, Params, Pending, SessKey};
use relay_proto::wire::JsonText;

/// How many ended calls the server remembers (see `forget_ended`).
pub(crate) const ENDED_KEPT: usize = 10_000;

/// Spacing of successive call events (as in the recorded transcripts).
pub(crate) const GAP: Duration = Duration::from_millis(15);

/// A call the server knows. Ended calls stay (so `end_call` can answer 404 "already ended")
/// until `reset`, the most recent [`ENDED_KEPT`] of them.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub call_id: String,
    pub node_id: String,
    pub owner: SessKey,
    /// `created`, `ringing`, `answered`, `ending`, `ended`, as last sent.
    pub state: CallState,
    pub direction: Direction,
    /// The device as JSON text (written once; every state event copies it).
    pub device: Arc<str>,
    pub context: Option<String>,
    /// The dial tag, on legs made by `calling.dial`.
    pub tag: Option<String>,
    /// The call whose `calling.connect` created this leg: `(call_id, node_id)`.
    pub peer_of: Option<(String, String)>,
    /// The call this one is bridged with.
    pub peer: Option<String>,
    /// The legs of this call's `calling.connect` while it is in progress (not yet connected).
    pub connecting: Vec<String>,
    /// Whether a `calling.call.state` event of this call was sent (the client knows the leg).
    pub state_sent: bool,
    /// Components in creation order.
    pub components: Vec<Component>,
    /// Sessions that already had (and passed) this inbound call.
    pub tried: BTreeSet<SessKey>,
    /// Scheduled events and finishes of this call with a sequence number up to this one are
    /// cancelled (they are skipped when due: no scan of every timer per hangup).
    pub cancelled_through: u64,
}

impl Call {
    /// `calling.call.state` params.
    pub fn state_params(&self, state: CallState, end_reason: Option<&str>) -> Params {
        StateParams {
            call_id: &self.call_id,
            call_state: state,
            context: self.context.as_deref(),
            created_by: self.tag.as_ref().map(|_| "dial"),
            device: Device(&self.device),
            direction: &self.direction,
            end_reason,
            node_id: &self.node_id,
            peer: self
                .peer_of
                .as_ref()
                .map(|(call_id, node_id)| PeerIds { call_id, node_id }),
            tag: self.tag.as_deref(),
        }
        .text()
    }

    /// `calling.call.receive` params.
    pub fn receive_params(&self) -> Params {
        StateParams {
            call_id: &self.call_id,
            call_state: CallState::Created,
            context: Some(self.context.as_deref().unwrap_or_default()),
            created_by: None,
            device: Device(&self.device),
            direction: &Direction::Inbound,
            end_reason: None,
            node_id: &self.node_id,
            peer: None,
            tag: None,
        }
        .text()
    }

    /// The device as a JSON tree.
    pub fn device_value(&self) -> Value {
        serde_json::from_str(&self.device).unwrap_or(Value::Null)
    }

    /// `{call_id, node_id}` of this call.
    pub fn ids(&self) -> Value {
        json!({"call_id": self.call_id, "node_id": self.node_id})
    }

    /// Whether the call is `ending` or `ended`.
    pub fn is_over(&self) -> bool {
        self.state.is_ended()
    }
}

/// The JSON text of a device tree, as [`Call::device`] holds it.
pub(crate) fn device_text(device: &Value) -> Arc<str> {
    Arc::from(device.to_string())
}

/// A device already written as JSON text.
struct Device<'a>(&'a str);

#[cfg(test)]
impl Serialize for Device<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::value::RawValue::from_string(self.0.to_owned())
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// The params of `calling.call.state` and `calling.call.receive`, written from borrowed
/// parts. Members in the order a `serde_json::Value` object writes them (sorted), absent ones
/// left out, as the server always wrote them (the derived form is what the tests hold
/// [`StateParams::text`] to).
#[cfg_attr(test, derive(Serialize))]
struct StateParams<'a> {
    call_id: &'a str,
    call_state: CallState,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    context: Option<&'a str>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    created_by: Option<&'static str>,
    device: Device<'a>,
    direction: &'a Direction,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    end_reason: Option<&'a str>,
    node_id: &'a str,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    peer: Option<PeerIds<'a>>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    tag: Option<&'a str>,
}

#[cfg_attr(test, derive(Serialize))]
struct PeerIds<'a> {
    call_id: &'a str,
    node_id: &'a str,
}

impl StateParams<'_> {
    /// The params as JSON text, piece by piece (the device copied as written).
    fn text(&self) -> Params {
        let mut out = JsonText::with_capacity(self.device.0.len() + 320);
        match self.write(&mut out) {
            Ok(()) => Params::Text(out.finish()),
            Err(e) => {
                tracing::error!(%e, "state params not serializable");
                Params::Tree(Value::Null)
            }
        }
    }

    fn write(&self, out: &mut JsonText) -> Result<(), serde_json::Error> {
        out.raw("{\"call_id\":")
            .str(self.call_id)
            .raw(",\"call_state\":")
            .value(&self.call_state)?;
        if let Some(context) = self.context {
            out.raw(",\"context\":").str(context);
        }
        if let Some(created_by) = self.created_by {
            out.raw(",\"created_by\":").str(created_by);
        }
        out.raw(",\"device\":")
            .raw(self.device.0)
            .raw(",\"direction\":")
            .value(self.direction)?;
        if let Some(reason) = self.end_reason {
            out.raw(",\"end_reason\":").str(reason);
        }
        out.raw(",\"node_id\":").str(self.node_id);
        if let Some(peer) = &self.peer {
            out.raw(",\"peer\":{\"call_id\":")
                .str(peer.call_id)
                .raw(",\"node_id\":")
                .str(peer.node_id)
                .raw("}");
        }
        if let Some(tag) = self.tag {
            out.raw(",\"tag\":").str(tag);
        }
        out.raw("}");
        Ok(())
    }
}

/// How many remembered calls are in progress (not ended) and how many of those are not
/// answered yet (created, ringing), kept up to date at every state change so that
/// `GET /__control/health` answers without scanning every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Census {
    pub active: usize,
    pub unanswered: usize,
}

impl Census {
    fn class(state: CallState) -> (usize, usize) {
        match state {
            CallState::Ended => (0, 0),
            CallState::Created | CallState::Ringing => (1, 1),
            _ => (1, 0),
        }
    }

    /// A call in `state` appeared.
    pub fn added(&mut self, state: CallState) {
        let (a, u) = Self::class(state);
        self.active += a;
        self.unanswered += u;
    }

    /// A call moved from `from` to `to` (`to` = `Ended` also for a call forgotten).
    pub fn moved(&mut self, from: CallState, to: CallState) {
        let (a, u) = Self::class(from);
        self.active = self.active.saturating_sub(a);
        self.unanswered = self.unanswered.saturating_sub(u);
        self.added(to);
    }
}

/// Removes `null` members everywhere (the server never sends JSON null in echoed data).
pub(crate) fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), strip_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.iter().filter(|x| !x.is_null()).map(strip_nulls).collect())
        }
        other => other.clone(),
    }
}

/// The device tree of a dial/connect request: serial groups of parallel devices. Accepts the
/// legacy single `device` too. Non-object entries are dropped.
fn device_tree(params: &Value) -> Vec<Vec<Value>> {
    let mut groups: Vec<Vec<Value>> = Vec::new();
    if let Some(outer) = params.get("devices").and_then(Value::as_array) {
        for g in outer {
            let group: Vec<Value> = match g {
                Value::Array(inner) => inner
                    .iter()
                    .filter(|d| d.is_object())
                    .map(strip_nulls)
                    .collect(),
                Value::Object(_) => vec![strip_nulls(g)],
                _ => Vec::new(),
            };
            if !group.is_empty() {
                groups.push(group);
            }
        }
    } else if let Some(d) = params.get("device").filter(|d| d.is_object()) {
        groups.push(vec![strip_nulls(d)]);
    }
    groups
}

fn named(outcome: &Option<Outcome>) -> Option<&Named> {
    Outcome::named(outcome)
}

impl MockServer {
    /// Schedules a calling event of `call_id` at `offset` from now.
    pub(crate) fn call_event(
        &mut self,
        offset: Duration,
        call_id: &str,
        event_type: EventType,
        params: impl Into<Params>,
        effect: Effect,
    ) {
        let params = params.into();
        self.schedule_in(
            offset,
            Action::CallEvent {
                call_id: call_id.to_owned(),
                control_id: None,
                event_type,
                params,
                effect,
            },
        );
    }

    /// Schedules a `calling.call.state` event (and the state change it makes).
    fn state_event(
        &mut self,
        offset: Duration,
        call_id: &str,
        state: CallState,
        reason: Option<&str>,
    ) {
        let Some(p) = self
            .calls
            .get(call_id)
            .map(|c| c.state_params(state, reason))
        else {
            return;
        };
        self.call_event(
            offset,
            call_id,
            EventType::CallState,
            p,
            Effect::State(state),
        );
    }

    pub(crate) fn fire_call_event(
        &mut self,
        call_id: &str,
        control_id: Option<&str>,
        event_type: EventType,
        params: Params,
        effect: Effect,
    ) {
        // A bridge whose peer leg ended while it rang: the connect failed instead.
        let (params, effect) = match effect {
            Effect::Bridge(peer) if !self.calls.get(&peer).is_some_and(|p| !p.is_over()) => {
                let ids = self.calls.get(call_id).map(Call::ids);
                let failed = merge(json!({"connect_state": ConnectState::Failed}), ids);
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.connecting.clear();
                }
                (Params::from(failed), Effect::None)
            }
            other => (params, other),
        };
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let owner = call.owner;
        match effect {
            Effect::None => {}
            Effect::State(s) => {
                self.census.moved(call.state, s);
                call.state = s;
                call.state_sent = true;
                if s == CallState::Ended {
                    self.forget_ended(call_id);
                }
            }
            Effect::Complete(cid) => {
                if let Some(c) = call.components.iter_mut().find(|c| c.control_id == cid) {
                    c.done = true;
                }
            }
            Effect::Bridge(peer) => {
                call.connecting.clear();
                call.peer = Some(peer.clone());
                let me = call_id.to_owned();
                if let Some(p) = self.calls.get_mut(&peer) {
                    p.peer = Some(me);
                }
            }
            Effect::Unbridge => {
                if let Some(peer) = call.peer.take() {
                    if let Some(p) = self.calls.get_mut(&peer) {
                        p.peer = None;
                    }
                }
            }
        }
        if params.is_null() {
            return; // effect only
        }
        tracing::trace!(call_id, control_id, %event_type, "event");
        self.emit(owner, Pending::Calling { event_type, params });
    }

    /// Remembers that `call_id` ended; past [`ENDED_KEPT`] ended calls the oldest is forgotten
    /// (a request naming it then gets 404 "Call not found" instead of "Call has ended"), so the
    /// memory of a long run stays flat.
    fn forget_ended(&mut self, call_id: &str) {
        self.ended.push_back(call_id.to_owned());
        while self.ended.len() > ENDED_KEPT {
            let Some(old) = self.ended.pop_front() else {
                break;
            };
            if self
                .calls
                .get(&old)
                .is_some_and(|c| c.state == CallState::Ended)
            {
                if let Some(gone) = self.calls.remove(&old) {
                    self.census.moved(gone.state, CallState::Ended);
                }
            }
        }
    }

    /// A new call record (not yet announced).
    pub(crate) fn new_call(
        &mut self,
        owner: SessKey,
        direction: Direction,
        device: Arc<str>,
        context: Option<String>,
        tag: Option<String>,
        peer_of: Option<(String, String)>,
    ) -> String {
        let call_id = self.new_id();
        let call = Call {
            call_id: call_id.clone(),
            node_id: self.media_node.clone(),
            owner,
            state: CallState::Created,
            direction,
            device,
            context,
            tag,
            peer_of,
            peer: None,
            connecting: Vec::new(),
            state_sent: false,
            components: Vec::new(),
            tried: BTreeSet::new(),
            cancelled_through: 0,
        };
        self.census.added(call.state);
        if let Some(replaced) = self.calls.insert(call_id.clone(), call) {
            self.census.moved(replaced.state, CallState::Ended);
        }
        call_id
    }

    pub(crate) fn on_calling(&mut self, ex: &Exec, outcome: Option<Outcome>) {
        let method = ex.method;
        if matches!(method, Some(Method::CallingDial | Method::CallingBegin)) {
            self.dial(ex, outcome);
            return;
        }
        let call_id = ex.str("call_id").unwrap_or_default().to_owned();
        let Some(call) = self.calls.get(&call_id) else {
            self.reply_fail(ex, "404", "Call not found");
            return;
        };
        // (The kind table is scanned only for an ended call.)
        let control = || {
            method
                .and_then(component_method)
                .is_some_and(|(_, action)| action.is_some())
        };
        if call.state == CallState::Ended && !control() {
            self.reply_fail(ex, "404", "Call has ended");
            return;
        }
        if let Some(Outcome::Events(list)) = outcome {
            let ids = call.ids();
            self.reply_ok(ex, "OK", json!({}));
            for e in list {
                let mut params = e.params.clone();
                if let (Some(o), Some(ids)) = (params.as_object_mut(), ids.as_object()) {
                    for (k, v) in ids {
                        o.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                    if let Some(cid) = ex.str("control_id") {
                        o.entry("control_id").or_insert_with(|| json!(cid));
                    }
                }
                self.call_event(e.after, &call_id, e.event_type, params, Effect::None);
            }
            return;
        }
        match method {
            Some(Method::CallingAnswer) => self.answer(ex, &call_id),
            Some(Method::CallingEnd) => {
                let reason = ex.str("reason").unwrap_or("hangup").to_owned();
                if self.calls.get(&call_id).is_some_and(Call::is_over) {
                    self.reply_fail(ex, "404", "Call is already ending");
                } else {
                    self.reply_ok(ex, "Ending call", json!({}));
                    self.end_call(&call_id, &reason);
                }
            }
            Some(Method::CallingPass) => self.pass(ex, &call_id),
            Some(Method::CallingConnect) => self.connect(ex, &call_id, outcome),
            Some(Method::CallingDisconnect) => self.disconnect(ex, &call_id),
            Some(Method::CallingRefer) => self.refer(ex, &call_id, outcome),
            _ => self.on_component(ex, &call_id, outcome),
        }
    }

    fn dial(&mut self, ex: &Exec, outcome: Option<Outcome>) {
        let Some(tag) = ex.str("tag").map(str::to_owned) else {
            self.reply_error(
                ex.conn,
                Some(&ex.id),
                code::INVALID_PARAMS,
                "`tag` is required",
            );
            return;
        };
        let groups = device_tree(&ex.params);
        if groups.is_empty() {
            self.reply_fail(ex, "400", "No valid devices to dial");
            return;
        }
        self.reply_ok(ex, "Dialing", json!({}));
        let node = self.media_node.clone();
        let fail_reason = match named(&outcome) {
            Some(Named::Busy) => Some("busy"),
            Some(Named::NoAnswer) => Some("noAnswer"),
            _ => None,
        };
        if let Some(reason) = fail_reason {
            let mut t = Duration::ZERO;
            let mut last = None;
            for device in groups.into_iter().flatten() {
                let leg = self.new_call(
                    ex.session,
                    Direction::Outbound,
                    device_text(&device),
                    None,
                    Some(tag.clone()),
                    None,
                );
                self.state_event(t, &leg, CallState::Created, None);
                if reason == "noAnswer" {
                    t += GAP;
                    self.state_event(t, &leg, CallState::Ringing, None);
                }
                t += GAP;
                self.state_event(t, &leg, CallState::Ending, Some(reason));
                t += GAP;
                self.state_event(t, &leg, CallState::Ended, Some(reason));
                t += GAP;
                last = Some(leg);
            }
            if let Some(leg) = last {
                let p = json!({"dial_state": DialState::Failed, "tag": tag, "node_id": node});
                self.call_event(t, &leg, EventType::CallDial, p, Effect::None);
            }
            return;
        }
        // Success: the first group rings; its first device answers, the others are cancelled.
        let first = groups.into_iter().next().unwrap_or_default();
        let legs: Vec<String> = first
            .into_iter()
            .map(|d| {
                self.new_call(
                    ex.session,
                    Direction::Outbound,
                    device_text(&d),
                    None,
                    Some(tag.clone()),
                    None,
                )
            })
            .collect();
        let Some(winner) = legs.first().cloned() else {
            return;
        };
        for leg in &legs {
            self.state_event(Duration::ZERO, leg, CallState::Created, None);
        }
        let dialing = json!({"dial_state": DialState::Dialing, "tag": tag, "node_id": node});
        self.call_event(GAP, &winner, EventType::CallDial, dialing, Effect::None);
        for leg in &legs {
            self.state_event(GAP * 2, leg, CallState::Ringing, None);
        }
        self.state_event(GAP * 3, &winner, CallState::Answered, None);
        for leg in legs.iter().skip(1) {
            self.state_event(GAP * 3, leg, CallState::Ending, Some("cancel"));
            self.state_event(GAP * 4, leg, CallState::Ended, Some("cancel"));
        }
        let Some(w) = self.calls.get(&winner) else {
            return;
        };
        let call = json!({"call_id": w.call_id, "node_id": w.node_id, "tag": tag,
            "device": w.device_value(), "dial_winner": true});
        let answered =
            json!({"dial_state": DialState::Answered, "tag": tag, "node_id": node, "call": call});
        self.call_event(
            GAP * 4,
            &winner,
            EventType::CallDial,
            answered,
            Effect::None,
        );
    }

    fn answer(&mut self, ex: &Exec, call_id: &str) {
        self.reply_ok(ex, "Answering call", json!({}));
        if self
            .calls
            .get(call_id)
            .is_some_and(|c| c.state == CallState::Answered || c.is_over())
        {
            return;
        }
        self.state_event(GAP, call_id, CallState::Answered, None);
    }

    /// The far end (or the client) hangs up: terminal events for running components, connect
    /// teardown, then `ending` and `ended`. Returns false if the call is unknown or over.
    pub(crate) fn end_call(&mut self, call_id: &str, reason: &str) -> bool {
        let Some(call) = self.calls.get(call_id) else {
            return false;
        };
        if call.is_over() {
            return false;
        }
        let dialing =
            call.tag.is_some() && matches!(call.state, CallState::Created | CallState::Ringing);
        let tag = call.tag.clone();
        let peer = call.peer.clone();
        let scheduled = self.timer_seq();
        if let Some(c) = self.calls.get_mut(call_id) {
            c.cancelled_through = scheduled;
        }
        self.stop_all_components(call_id);
        if let Some(peer) = peer {
            let me = self.calls.get(call_id).map(|c| c.peer_info());
            let them = self.calls.get(&peer).map(|c| c.peer_info());
            let is_leg = self.calls.get(call_id).is_some_and(|c| c.peer_of.is_some());
            match them {
                // A leg made by `calling.connect` has no client-side connect component.
                Some(them) if !is_leg => {
                    let p = json!({"connect_state": ConnectState::Disconnected, "peer": them});
                    let p = merge(p, self.calls.get(call_id).map(Call::ids));
                    self.call_event(
                        Duration::ZERO,
                        call_id,
                        EventType::CallConnect,
                        p,
                        Effect::Unbridge,
                    );
                }
                _ => self.call_event(
                    Duration::ZERO,
                    call_id,
                    EventType::CallConnect,
                    Value::Null,
                    Effect::Unbridge,
                ),
            }
            let created_by_me = self
                .calls
                .get(&peer)
                .and_then(|c| c.peer_of.as_ref())
                .is_some_and(|(c, _)| c == call_id);
            if created_by_me {
                self.end_call(&peer, reason);
            } else if let Some(me) = me {
                let p = json!({"connect_state": ConnectState::Disconnected, "peer": me});
                let p = merge(p, self.calls.get(&peer).map(Call::ids));
                self.call_event(
                    Duration::ZERO,
                    &peer,
                    EventType::CallConnect,
                    p,
                    Effect::None,
                );
            }
        }
        self.cancel_connect(call_id, scheduled);
        self.state_event(Duration::ZERO, call_id, CallState::Ending, Some(reason));
        self.state_event(GAP, call_id, CallState::Ended, Some(reason));
        if let (true, Some(tag)) = (dialing, tag) {
            let p =
                json!({"dial_state": DialState::Failed, "tag": tag, "node_id": self.media_node});
            self.call_event(GAP, call_id, EventType::CallDial, p, Effect::None);
        }
        // The state is "ending" from now on for new commands.
        if let Some(c) = self.calls.get_mut(call_id) {
            self.census.moved(c.state, CallState::Ending);
            c.state = CallState::Ending;
        }
        true
    }

    /// The call ends while its `calling.connect` still rings: the legs are cancelled (those
    /// the client knows with `ending`/`ended` `cancel`, the others silently) and the connect
    /// fails. `scheduled`: the last timer sequence number before the call began to end (the
    /// legs' events up to it are cancelled).
    fn cancel_connect(&mut self, call_id: &str, scheduled: u64) {
        let Some(legs) = self
            .calls
            .get_mut(call_id)
            .map(|c| std::mem::take(&mut c.connecting))
            .filter(|legs| !legs.is_empty())
        else {
            return;
        };
        let ids = self.calls.get(call_id).map(Call::ids);
        let failed = merge(json!({"connect_state": ConnectState::Failed}), ids);
        self.call_event(
            Duration::ZERO,
            call_id,
            EventType::CallConnect,
            failed,
            Effect::None,
        );
        for leg in &legs {
            let Some(l) = self.calls.get_mut(leg).filter(|l| !l.is_over()) else {
                continue;
            };
            l.cancelled_through = scheduled;
            if l.state_sent {
                self.state_event(Duration::ZERO, leg, CallState::Ending, Some("cancel"));
                self.state_event(GAP, leg, CallState::Ended, Some("cancel"));
            } else {
                // Never announced: it just goes away.
                self.census.moved(l.state, CallState::Ended);
                l.state = CallState::Ended;
                self.forget_ended(leg);
            }
        }
    }

    fn pass(&mut self, ex: &Exec, call_id: &str) {
        self.reply_ok(ex, "Call passed", json!({}));
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        call.tried.insert(call.owner);
        let (context, tried) = (call.context.clone(), call.tried.clone());
        let Some(context) = context else {
            return;
        };
        let Some(next) = self.route(&context, None, &tried) else {
            tracing::debug!(call_id, "pass: no other session receives the context");
            return;
        };
        if let Some(call) = self.calls.get_mut(call_id) {
            call.owner = next;
            let p = call.receive_params();
            self.call_event(
                Duration::ZERO,
                call_id,
                EventType::CallReceive,
                p,
                Effect::None,
            );
        }
    }

    fn connect(&mut self, ex: &Exec, call_id: &str, outcome: Option<Outcome>) {
        let groups = device_tree(&ex.params);
        if groups.is_empty() {
            self.reply_fail(ex, "400", "No valid devices to connect");
            return;
        }
        let Some(a) = self.calls.get(call_id) else {
            return;
        };
        let a_ids = a.ids();
        let a_ref = (a.call_id.clone(), a.node_id.clone());
        self.reply_ok(ex, "Connecting", json!({}));
        let connecting = merge(
            json!({"connect_state": ConnectState::Connecting}),
            Some(a_ids.clone()),
        );
        self.call_event(
            Duration::ZERO,
            call_id,
            EventType::CallConnect,
            connecting,
            Effect::None,
        );
        let session = ex.session;
        if named(&outcome) == Some(&Named::Failed) {
            let mut t = GAP;
            for d in groups.into_iter().flatten() {
                let leg = self.new_call(
                    session,
                    Direction::Outbound,
                    device_text(&d),
                    None,
                    None,
                    Some(a_ref.clone()),
                );
                self.state_event(t, &leg, CallState::Created, None);
                self.state_event(t + GAP, &leg, CallState::Ending, Some("busy"));
                self.state_event(t + GAP * 2, &leg, CallState::Ended, Some("busy"));
                t += GAP * 3;
            }
            let failed = merge(json!({"connect_state": ConnectState::Failed}), Some(a_ids));
            self.call_event(t, call_id, EventType::CallConnect, failed, Effect::None);
            return;
        }
        let first = groups.into_iter().next().unwrap_or_default();
        let legs: Vec<String> = first
            .into_iter()
            .map(|d| {
                self.new_call(
                    session,
                    Direction::Outbound,
                    device_text(&d),
                    None,
                    None,
                    Some(a_ref.clone()),
                )
            })
            .collect();
        let Some(winner) = legs.first().cloned() else {
            return;
        };
        if let Some(a) = self.calls.get_mut(call_id) {
            a.connecting = legs.clone();
        }
        for leg in &legs {
            self.state_event(GAP, leg, CallState::Created, None);
            self.state_event(GAP * 2, leg, CallState::Ringing, None);
        }
        self.state_event(GAP * 3, &winner, CallState::Answered, None);
        for leg in legs.iter().skip(1) {
            self.state_event(GAP * 3, leg, CallState::Ending, Some("cancel"));
            self.state_event(GAP * 4, leg, CallState::Ended, Some("cancel"));
        }
        let Some(peer) = self.calls.get(&winner).map(Call::peer_info) else {
            return;
        };
        let connected = merge(
            json!({"connect_state": ConnectState::Connected, "peer": peer}),
            Some(a_ids),
        );
        self.call_event(
            GAP * 4,
            call_id,
            EventType::CallConnect,
            connected,
            Effect::Bridge(winner),
        );
    }

    fn disconnect(&mut self, ex: &Exec, call_id: &str) {
        let Some(a) = self.calls.get(call_id) else {
            return;
        };
        let ids = a.ids();
        let peer = a
            .peer
            .clone()
            .and_then(|p| self.calls.get(&p))
            .map(Call::peer_info);
        self.reply_ok(ex, "Disconnecting", json!({}));
        let (p, effect) = match peer {
            Some(peer) => (
                json!({"connect_state": ConnectState::Disconnected, "peer": peer}),
                Effect::Unbridge,
            ),
            None => (json!({"connect_state": ConnectState::Failed}), Effect::None),
        };
        self.call_event(
            GAP,
            call_id,
            EventType::CallConnect,
            merge(p, Some(ids)),
            effect,
        );
    }

    fn refer(&mut self, ex: &Exec, call_id: &str, outcome: Option<Outcome>) {
        let Some(ids) = self.calls.get(call_id).map(Call::ids) else {
            return;
        };
        self.reply_ok(ex, "Referring call", json!({}));
        let to = ex
            .params
            .get("device")
            .and_then(|d| d.get("params"))
            .and_then(|p| p.get("to"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let final_state = match named(&outcome) {
            Some(Named::NoAnswer) => "noAnswer",
            Some(n) => n.as_str(),
            None => "success",
        };
        let notify = match final_state {
            "success" => "200",
            "cancel" => "487",
            "busy" => "486",
            "noAnswer" => "480",
            _ => "500",
        };
        for (t, state, notify) in [
            (Duration::ZERO, "inProgress".to_owned(), None),
            (GAP, final_state.to_owned(), Some(notify)),
        ] {
            let mut p = merge(
                json!({"state": state, "sip_refer_to": to, "sip_refer_response_code": "202"}),
                Some(ids.clone()),
            );
            if let Some(n) = notify {
                p["sip_notify_response_code"] = json!(n);
            }
            self.call_event(t, call_id, EventType::CallRefer, p, Effect::None);
        }
    }
}

impl Call {
    /// `{call_id, node_id, device}` as used in connect `peer` objects.
    pub fn peer_info(&self) -> Value {
        json!({"call_id": self.call_id, "node_id": self.node_id, "device": self.device_value()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_params_are_the_bytes_serde_writes() {
        let device = device_text(
            &json!({"type": "sip", "params": {"from": "a\"b", "to": "é\n",
            "headers": [{"name": "X", "value": "1"}]}}),
        );
        for call_state in [
            CallState::Created,
            CallState::Ringing,
            CallState::Answered,
            CallState::Ending,
            CallState::Ended,
        ] {
            for direction in [Direction::Inbound, Direction::Outbound] {
                for full in [false, true] {
                    let p = StateParams {
                        call_id: "c-\\1",
                        call_state,
                        context: full.then_some("office"),
                        created_by: full.then_some("dial"),
                        device: Device(&device),
                        direction: &direction,
                        end_reason: full.then_some("hangup"),
                        node_id: "n-1",
                        peer: full.then_some(PeerIds {
                            call_id: "p\u{1}",
                            node_id: "pn",
                        }),
                        tag: full.then_some("t\"ag"),
                    };
                    let Params::Text(ours) = p.text() else {
                        panic!("not text")
                    };
                    assert_eq!(ours, serde_json::to_string(&p).unwrap());
                }
            }
        }
    }
}
