//! Calling: the call registry, dial and connect device trees, and every component correlated
//! by `control_id`.
//!
//! # Model
//!
//! * The registry holds **one** [`CallInfo`] per `call_id`. Calls enter it from
//!   `calling.call.receive`, from state events of legs that belong to something we know (a
//!   pending dial's `tag`, or a `peer` that is a known call), from a dial's winner, and from a
//!   connect's peer. Their first state is applied (the official SDK leaves them at `none`: bug
//!   14). A call leaves the registry on `ended`, after each of its unfinished components got
//!   its one terminal outcome; an event for an unknown or removed call is traced and ignored,
//!   so no zombie is ever created (bug 15).
//! * Every command on a call ([`CallMut`]) returns a [`ControlId`]. Component commands send it
//!   as `control_id`; call commands (answer, hangup, pass, connect, disconnect, refer,
//!   wait_for) use it only locally. Each id gets exactly one [`CallEvent::ComponentFinished`]:
//!   on its final event, on a failed request, when the call ends, at once when the call is
//!   already ending (nothing is sent then), or with [`RequestError::Lost`] when its final
//!   event may have been lost with the transport (the rule is in the crate docs, "Nothing
//!   waits forever"). A terminal event is never overturned by a later
//!   error response (bug 23).
//! * [`Session::dial`](crate::Session::dial) returns a [`DialTag`]; each dial gets exactly one
//!   [`CallEvent::DialCompleted`].
//! * Blocking vs async is the caller's concern (`play()` = `play_async()` + wait), except for
//!   detect, whose completion rule differs ([`DetectMode`]).
//! * Every calling event the server sends is reported as a typed [`CallEvent`] (state changes,
//!   connect, and one `*Update` per component event), so `call.on(..)`-style subscriptions need
//!   no parsing; unknown `calling.*` event types surface as
//!   [`Event::Unrecognized`](crate::Event::Unrecognized).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Instant;
//! use relay_proto::calling::{CallEvent, EndReason, Media, PlayParams};
//! use relay_proto::{Event, Output, Session, SessionConfig};
//!
//! # let mut session = Session::new(SessionConfig::new("p", "t"), Instant::now());
//! # let now = Instant::now();
//! // In the driver loop, after draining `poll_output`:
//! # let output = session.poll_output();
//! if let Output::Event(Event::Call(CallEvent::IncomingCall { call })) = output {
//!     let mut c = session.call_mut(&call.id)?;
//!     let _answer = c.answer(now)?;
//!     let play = c.play(now, &PlayParams::new([Media::tts("Hello")]))?;
//!     // ... later, on `CallEvent::ComponentFinished { control_id, .. }` with
//!     // `control_id == play`:
//!     let _hangup = session.call_mut(&call.id)?.hangup(now, EndReason::Hangup)?;
//! }
//! # Ok::<(), relay_proto::Error>(())
//! ```

mod api;
mod call;
mod commands;
mod component_params;
mod components;
mod deadlines;
mod device;
mod events;
mod info;
pub(crate) mod kinds;
mod outbox;
mod params;
mod payload;
mod states;
mod types;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::config::Bounds;
use crate::error::{Capacity, InputError, PeerMisbehaved};
use crate::ids::{CallId, ControlId, DialTag};
use crate::outcome::RequestError;
use crate::wire::{EventType, Method};
pub(crate) use events::{EventText, PayloadSeed};
pub(crate) use payload::Payload;
use serde_json::value::RawValue;

pub use api::CallMut;
pub use component_params::{
    AudioDirection, CollectDigits, CollectParams, CollectSpeech, DetectKind, DetectMode,
    DetectParams, FaxSendParams, FaxTone, PlayParams, PromptParams, RecordFormat, RecordParams,
    ReferParams, TapDevice, TapParams,
};
pub use events::{
    decode_payload, decode_payload_raw, CallState, CallingPayload, CollectPayload,
    CollectResultPayload, ComponentIds, ConnectPayload, DetectEventParams, DetectObject,
    DetectPayload, DeviceInfo, DialCall, DialPayload, EndReason, FaxObject, FaxPayload, PeerInfo,
    ReceivePayload, ReferPayload, StateComponentPayload, StatePayload,
};
pub use info::CallInfo;
pub use kinds::{ComponentKind, ControlAction, KindSpec};
pub use params::{
    validate_send_digits, validate_volume, Audio, ConnectParams, Device, DeviceTree, DialParams,
    InvalidVolume, Media, PhoneDevice, Ringtone, SipDevice, SipHeader, Tts, Volume,
    DEFAULT_DEVICE_TIMEOUT, MAX_PARAM_DURATION, SEND_DIGITS_CHARSET,
};
pub use states::{
    Codec, CollectResultType, ComponentState, ConnectState, DetectEvent, DetectType, DeviceType,
    DialState, Direction, FaxDirection, FaxEventType, PlayState, RecordState, ReferState,
    SendDigitsState, TapState, TtsGender,
};
pub use types::{
    AnswerOutcome, AnswerResult, CallEvent, CollectProgress, ComponentOutcome, ComponentResult,
    ConnectOutcome, ConnectResult, ControlResult, DetectOutcome, DetectResult, DialOutcome,
    DisconnectOutcome, DisconnectResult, FaxOutcome, FaxResult, HangupOutcome, HangupResult,
    KindOutcome, PassOutcome, PassResult, PlayOutcome, PlayResult, PromptInput, PromptOutcome,
    PromptResult, RecordOutcome, RecordResult, ReferOutcome, ReferResult, ResultEvent,
    SendDigitsOutcome, SendDigitsResult, TapOutcome, TapResult, WaitForOutcome, WaitForResult,
};

use call::{Call, Calls, Names};
use components::{is_collect_progress, Component, DetectTrack, Step};
pub(crate) use outbox::Outbox;

/// What a pending calling request was for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallingRequest {
    Dial {
        tag: DialTag,
    },
    Command {
        call_id: CallId,
        control_id: ControlId,
        kind: ComponentKind,
    },
    Control {
        call_id: CallId,
        control_id: ControlId,
        action: ControlAction,
        /// Sent by the core itself (stopping a finished blocking detect): not reported.
        internal: bool,
    },
}

#[derive(Debug, Clone)]
struct PendingDial {
    devices: usize,
    /// The legs the dial's state events announced (with its tag), in order: the winner of
    /// an `answered` that names none (bounded: each leg kept is a call in the registry).
    legs: Vec<CallId>,
}

/// The calling sub-machine, owned by the session.
#[derive(Debug)]
pub(crate) struct Calling {
    calls: Calls,
    /// Node ids and contexts, one allocation each per session (few distinct values).
    names: Names,
    dials: BTreeMap<DialTag, PendingDial>,
    /// Recently removed calls (bounded), so a command on a call that just ended gets a typed
    /// refusal rather than "unknown call".
    gone: VecDeque<CallId>,
    gone_set: HashSet<CallId, crate::ids::IdHasher>,
    max_calls: usize,
    max_components: usize,
    /// See [`SessionConfig::lost_event_timeout`](crate::SessionConfig::lost_event_timeout).
    lost_event_timeout: Duration,
    /// Waits whose final event may have been lost with the transport.
    lost: deadlines::LostWaits,
}

/// How many removed call ids are remembered for typed refusals.
const GONE_MEMORY: usize = 256;

impl Calling {
    pub(crate) fn new(bounds: &Bounds, lost_event_timeout: Duration) -> Self {
        Calling {
            calls: Calls::default(),
            names: Names::default(),
            dials: BTreeMap::new(),
            gone: VecDeque::new(),
            gone_set: HashSet::default(),
            max_calls: bounds.max_calls,
            max_components: bounds.max_components_per_call,
            lost_event_timeout,
            lost: deadlines::LostWaits::default(),
        }
    }

    pub(crate) fn call(&self, id: &CallId) -> Option<&CallInfo> {
        self.calls.get(id).map(|c| &*c.info)
    }

    /// The registry's shared info of a call (the one `Arc` its events carry).
    pub(crate) fn call_shared(&self, id: &CallId) -> Option<&Arc<CallInfo>> {
        self.calls.get(id).map(|c| c.info.arc())
    }

    pub(crate) fn running_component(
        &self,
        call_id: &CallId,
        control_id: &ControlId,
    ) -> Option<&ComponentResult> {
        self.calls
            .get(call_id)?
            .components
            .get(control_id)
            .map(|c| &c.result)
    }

    pub(crate) fn component_answered(
        &self,
        call_id: &CallId,
        control_id: &ControlId,
    ) -> Option<bool> {
        self.calls
            .get(call_id)?
            .components
            .get(control_id)
            .map(|c| c.answered)
    }

    pub(crate) fn component_payload(
        &self,
        call_id: &CallId,
        control_id: &ControlId,
    ) -> Option<&RawValue> {
        self.calls
            .get(call_id)?
            .components
            .get(control_id)?
            .payload
            .as_deref()
            // The core wrote it; checked (and borrowed) only when someone asks.
            .and_then(|text| serde_json::from_str::<&RawValue>(text).ok())
    }

    pub(crate) fn calls(&self) -> impl Iterator<Item = &CallInfo> {
        self.calls.values().map(|c| &*c.info)
    }

    pub(crate) fn pending_dials(&self) -> usize {
        self.dials.len()
    }

    fn ensure_room(&self) -> Result<(), Capacity> {
        if self.calls.len() + self.dials.len() >= self.max_calls {
            return Err(Capacity::Calls {
                limit: self.max_calls,
            });
        }
        Ok(())
    }

    /// A `queuing.relay.events` event whose type starts with `calling.`, its `params` decoded
    /// straight from the frame's text. `Ok(false)`: a type this version does not know (nothing
    /// changed; the caller reports it as unrecognized).
    pub(crate) fn handle_event(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        event_type: &EventType,
        p: &RawValue,
    ) -> Result<bool, InputError> {
        let Some(payload) = events::decode_params(event_type, p)? else {
            return Ok(false);
        };
        self.dispatch(out, now, payload, p)?;
        Ok(true)
    }

    /// A calling event whose payload was decoded in the pass that read the frame; `p` gives
    /// the params' text to a result that keeps it.
    pub(crate) fn dispatch(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        payload: CallingPayload,
        p: &(impl EventText + ?Sized),
    ) -> Result<(), InputError> {
        match payload {
            CallingPayload::Receive(r) => return self.on_receive(out, r),
            CallingPayload::State(s) => return self.on_state(out, s, p),
            CallingPayload::Dial(d) => return self.on_dial(out, d, p),
            CallingPayload::Connect(c) => return self.on_connect(out, c, p),
            CallingPayload::Refer(r) => return self.on_refer(out, r, p),
            CallingPayload::Play(x) => self.on_play_event(out, now, x, p),
            CallingPayload::Record(x) => self.on_record_event(out, now, &x, p),
            CallingPayload::Tap(x) => self.on_tap_event(out, now, &x, p),
            CallingPayload::SendDigits(x) => self.on_send_digits_event(out, now, x, p),
            CallingPayload::Collect(x) => self.on_collect_event(out, now, &x),
            CallingPayload::Detect(x) => self.on_detect_event(out, now, &x),
            CallingPayload::Fax(x) => self.on_fax_event(out, now, &x),
        }
        Ok(())
    }

    /// A `Play` component event: its update for the application, then the component's progress.
    fn on_play_event(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        x: StateComponentPayload<PlayState>,
        p: &(impl EventText + ?Sized),
    ) {
        let up = CallEvent::PlayUpdate {
            call_id: x.ids.call_id,
            control_id: x.ids.control_id,
            state: x.state.clone(),
        };
        self.on_component(out, now, ComponentKind::Play, up, |c| {
            c.on_state(&x.state, p)
        });
    }

    /// A `Record` component event: its update for the application, then the component's progress.
    fn on_record_event(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        x: &StateComponentPayload<RecordState>,
        p: &(impl EventText + ?Sized),
    ) {
        let up = CallEvent::RecordUpdate {
            call_id: x.ids.call_id.clone(),
            control_id: x.ids.control_id.clone(),
            state: x.state.clone(),
            url: x.url.clone(),
            duration: x.duration,
            size: x.size,
        };
        self.on_component(out, now, ComponentKind::Record, up, |c| c.on_record(x, p));
    }

    /// A `Tap` component event: its update for the application, then the component's progress.
    fn on_tap_event(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        x: &StateComponentPayload<TapState>,
        p: &(impl EventText + ?Sized),
    ) {
        let up = CallEvent::TapUpdate {
            call_id: x.ids.call_id.clone(),
            control_id: x.ids.control_id.clone(),
            state: x.state.clone(),
            tap: x.tap.clone(),
            device: x.device.clone(),
        };
        self.on_component(out, now, ComponentKind::Tap, up, |c| c.on_tap(x, p));
    }

    /// A `SendDigits` component event: its update for the application, then the component's progress.
    fn on_send_digits_event(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        x: StateComponentPayload<SendDigitsState>,
        p: &(impl EventText + ?Sized),
    ) {
        let up = CallEvent::SendDigitsUpdate {
            call_id: x.ids.call_id,
            control_id: x.ids.control_id,
            state: x.state.clone(),
        };
        self.on_component(out, now, ComponentKind::SendDigits, up, |c| {
            c.on_state(&x.state, p)
        });
    }

    /// A `Collect` component event: its update for the application, then the component's progress.
    fn on_collect_event(&mut self, out: &mut dyn Outbox, now: Instant, x: &CollectPayload) {
        let up = CallEvent::CollectUpdate {
            call_id: x.ids.call_id.clone(),
            control_id: x.ids.control_id.clone(),
            progress: collect_progress(x),
        };
        self.on_component(out, now, ComponentKind::Prompt, up, |c| c.on_collect(x));
    }

    /// A `Detect` component event: its update for the application, then the component's progress.
    fn on_detect_event(&mut self, out: &mut dyn Outbox, now: Instant, x: &DetectPayload) {
        let up = CallEvent::DetectUpdate {
            call_id: x.ids.call_id.clone(),
            control_id: x.ids.control_id.clone(),
            detect_type: x.detect.detect_type.clone(),
            event: x.detect.params.event.clone(),
        };
        self.on_component(out, now, ComponentKind::Detect, up, |c| c.on_detect(x));
    }

    /// A `Fax` component event: its update for the application, then the component's progress.
    fn on_fax_event(&mut self, out: &mut dyn Outbox, now: Instant, x: &FaxPayload) {
        let fp = &x.fax.params;
        let up = CallEvent::FaxUpdate {
            call_id: x.ids.call_id.clone(),
            control_id: x.ids.control_id.clone(),
            fax_type: x.fax.fax_type.clone(),
            direction: fp
                .get("direction")
                .and_then(Value::as_str)
                .map(FaxDirection::parse),
            page: fp
                .get("number")
                .or_else(|| fp.get("pages"))
                .and_then(crate::wire::lenient::value_as_u64),
        };
        // Either fax kind: the events do not say which command started the component.
        let kind = self
            .calls
            .get(&x.ids.call_id)
            .and_then(|c| c.components.get(&x.ids.control_id))
            .map(|c| c.kind)
            .filter(|k| *k == ComponentKind::ReceiveFax)
            .unwrap_or(ComponentKind::SendFax);
        self.on_component(out, now, kind, up, |c| c.on_fax(x));
    }

    fn on_receive(&mut self, out: &mut dyn Outbox, r: ReceivePayload) -> Result<(), InputError> {
        if self.calls.contains_key(&r.call_id) {
            tracing::debug!(call_id = %r.call_id, "duplicate calling.call.receive; ignored");
            return Ok(());
        }
        self.ensure_room()?;
        let mut info = CallInfo::new(r.call_id.clone());
        info.node_id = self.names.node_id(r.node_id);
        info.context = Some(self.names.get(&r.context));
        info.direction = Some(r.direction.unwrap_or(Direction::Inbound));
        info.device = r.device.map(std::sync::Arc::new);
        // The receive's state is applied (the SDK leaves inbound calls at `none`: bug 14).
        let state = r
            .call_state
            .as_deref()
            .and_then(|s| CallState::parse(s).ok())
            .unwrap_or(CallState::Created);
        info.set_state(state);
        tracing::debug!(call_id = %info.id, context = ?info.context, "incoming call");
        let call = Call::new(info);
        let shared = call.info.arc().clone();
        self.calls.insert(shared.id.clone(), call);
        out.emit(CallEvent::IncomingCall { call: shared });
        Ok(())
    }

    fn on_state(
        &mut self,
        out: &mut dyn Outbox,
        s: StatePayload,
        raw: &(impl EventText + ?Sized),
    ) -> Result<(), InputError> {
        let state =
            CallState::parse(&s.call_state).map_err(|_| PeerMisbehaved::UnknownCallState {
                state: s.call_state.clone(),
            })?;
        if !self.calls.contains_key(&s.call_id) && !self.adopt_leg(&s)? {
            return Ok(());
        }
        let StatePayload {
            call_id: id,
            node_id,
            end_reason,
            direction,
            device,
            peer,
            ..
        } = s;
        let Some(call) = self.calls.get_mut(&id) else {
            return Ok(());
        };
        let info = &mut call.info;
        if info.node_id.is_none() && node_id.is_some() {
            info.node_id = self.names.node_id(node_id);
        }
        info.set_device(device.as_ref());
        if direction.is_some() {
            info.direction = direction;
        }
        if peer.is_some() {
            info.peer = peer.map(Box::new);
        }
        if let Some(r) = &end_reason {
            info.end_reason = Some(EndReason::parse(r));
        }
        // A repeat of the current state (servers send duplicates) is no transition: the
        // details above are taken, but `prev_state` keeps the state before and no
        // `StateChanged` is reported. The components still see it (harmless: each finishes once).
        let repeated = info.state == state;
        if !repeated {
            info.set_state(state);
        }
        let (prev, end_reason, tag, peer) = (
            info.prev_state,
            info.end_reason.clone(),
            info.tag.clone(),
            info.peer.as_deref().cloned(),
        );
        // Kept past the removal of an ended call (a dial leg completes its dial).
        let ended_tag = if state == CallState::Ended {
            tag.clone()
        } else {
            None
        };
        if repeated {
            tracing::debug!(call_id = %id, state = state.as_str(), "call state repeated; no transition");
        } else {
            tracing::debug!(call_id = %id, state = state.as_str(), prev = prev.as_str(), "call state");
            out.emit(CallEvent::StateChanged {
                call_id: id.clone(),
                state,
                prev_state: prev,
                end_reason: end_reason.clone(),
                tag,
                peer,
            });
        }
        let ids: Vec<ControlId> = call.components.keys().cloned().collect();
        for cid in ids {
            let step = match call.components.get_mut(&cid) {
                Some(c) => c.on_call_state(state, end_reason.as_ref(), raw),
                None => continue,
            };
            if step == Step::Finish {
                if let Some(c) = call.components.remove(&cid) {
                    emit_finished(out, &id, cid, c);
                }
            }
        }
        if state == CallState::Ended {
            self.remove_call(out, &id, "ended", raw);
            if let Some(t) = ended_tag {
                self.end_single_leg_dial(out, t, end_reason, raw);
            }
        }
        Ok(())
    }

    /// A state event for a call not in the registry: adopted when it is a leg of one of our
    /// dials or the peer of one of our calls (`Ok(true)`), ignored otherwise.
    fn adopt_leg(&mut self, s: &StatePayload) -> Result<bool, Capacity> {
        let dial_leg = s.tag.as_ref().is_some_and(|t| self.dials.contains_key(t));
        let peer_leg = s
            .peer
            .as_ref()
            .is_some_and(|p| self.calls.contains_key(&p.call_id));
        if !dial_leg && !peer_leg {
            tracing::trace!(call_id = %s.call_id, state = %s.call_state, "state event for an unknown call; ignored");
            return Ok(false);
        }
        self.ensure_room()?;
        let mut info = CallInfo::new(s.call_id.clone());
        if dial_leg {
            info.tag = s.tag.clone();
            if let Some(d) = s.tag.as_ref().and_then(|t| self.dials.get_mut(t)) {
                // Only legs still in the registry are kept (bounded by it).
                let calls = &self.calls;
                d.legs
                    .retain(|id| calls.contains_key(id) && *id != s.call_id);
                d.legs.push(s.call_id.clone());
            }
        }
        self.calls.insert(s.call_id.clone(), Call::new(info));
        Ok(true)
    }

    /// The winner of a dial whose `answered` event names none (`call` is missing: the
    /// official SDK completes the dial all the same): its one leg, or the one leg that
    /// answered. `None` when the legs do not say.
    fn leg_that_answered(&self, tag: &DialTag) -> Option<DialCall> {
        let legs = &self.dials.get(tag)?.legs;
        let known = || legs.iter().filter_map(|id| self.calls.get(id));
        let mut answered = known().filter(|c| c.info.state == CallState::Answered);
        let winner = match (answered.next(), answered.next()) {
            (Some(one), None) => one,
            (None, _) if known().count() == 1 => known().next()?,
            _ => return None,
        };
        Some(DialCall {
            call_id: winner.info.id.clone(),
            node_id: winner.info.node_id.clone(),
            device: None,
            dial_winner: Some(true),
        })
    }

    /// A single-device dial whose leg ended before the dial completed: it completes as ended.
    fn end_single_leg_dial(
        &mut self,
        out: &mut dyn Outbox,
        tag: DialTag,
        end_reason: Option<EndReason>,
        raw: &(impl EventText + ?Sized),
    ) {
        if !self.dials.get(&tag).is_some_and(|d| d.devices == 1) {
            return;
        }
        self.dials.remove(&tag);
        complete_dial(
            out,
            tag,
            DialOutcome {
                successful: false,
                state: DialState::Ended,
                call_id: None,
                node_id: None,
                end_reason,
                error: None,
                event: Some(ResultEvent::from_text(
                    CallState::Ended.as_str().to_owned(),
                    raw,
                )),
            },
        );
    }

    /// Removes an ended call, failing each of its unfinished components once.
    /// Removes a call (ended, or passed to another consumer), failing each of its unfinished
    /// components once with an event named `why`.
    pub(crate) fn remove_call(
        &mut self,
        out: &mut dyn Outbox,
        id: &CallId,
        why: &str,
        raw: &(impl EventText + ?Sized),
    ) {
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        for (cid, mut c) in call.components {
            c.terminate(Some(ResultEvent::from_text(why.to_owned(), raw)), None);
            emit_finished(out, id, cid, c);
        }
        self.remember_gone(id);
        tracing::debug!(call_id = %id, why, "call removed from the registry");
    }

    /// Remembers a removed call (bounded), so commands on it get a typed refusal.
    fn remember_gone(&mut self, id: &CallId) {
        if self.gone_set.insert(id.clone()) {
            self.gone.push_back(id.clone());
            while self.gone.len() > GONE_MEMORY {
                if let Some(old) = self.gone.pop_front() {
                    self.gone_set.remove(&old);
                }
            }
        }
    }

    /// Whether the call was removed recently (commands on it are refused with a typed outcome).
    pub(crate) fn is_gone(&self, id: &CallId) -> bool {
        self.gone_set.contains(id)
    }

    fn on_dial(
        &mut self,
        out: &mut dyn Outbox,
        d: DialPayload,
        raw: &(impl EventText + ?Sized),
    ) -> Result<(), InputError> {
        if !self.dials.contains_key(&d.tag) {
            tracing::trace!(tag = %d.tag, state = %d.dial_state, "dial event for no pending dial; ignored");
            return Ok(());
        }
        match d.dial_state {
            DialState::Answered => {
                let Some(w) = d.call.or_else(|| self.leg_that_answered(&d.tag)) else {
                    return Err(PeerMisbehaved::DialAnsweredWithoutCall.into());
                };
                self.dials.remove(&d.tag);
                if let Some(call) = self.calls.get_mut(&w.call_id) {
                    let info = &mut call.info;
                    if info.node_id.is_none() {
                        info.node_id = w.node_id.clone();
                    }
                    info.set_device(w.device.as_ref());
                    info.tag = Some(d.tag.clone());
                } else if self.calls.len() + self.dials.len() < self.max_calls {
                    // The winner's state events never came: it answered, so it is answered.
                    let mut info = CallInfo::new(w.call_id.clone());
                    info.node_id = w.node_id.clone();
                    info.set_device(w.device.as_ref());
                    info.tag = Some(d.tag.clone());
                    info.direction = Some(Direction::Outbound);
                    info.set_state(CallState::Answered);
                    self.calls.insert(w.call_id.clone(), Call::new(info));
                    out.emit(CallEvent::StateChanged {
                        call_id: w.call_id.clone(),
                        state: CallState::Answered,
                        prev_state: CallState::None,
                        end_reason: None,
                        tag: Some(d.tag.clone()),
                        peer: None,
                    });
                } else {
                    tracing::warn!(call_id = %w.call_id, "dial winner not registered: call capacity reached");
                }
                complete_dial(
                    out,
                    d.tag,
                    DialOutcome {
                        successful: true,
                        state: DialState::Answered,
                        call_id: Some(w.call_id),
                        node_id: w.node_id,
                        end_reason: None,
                        error: None,
                        event: Some(dial_event(&DialState::Answered, raw)),
                    },
                );
            }
            DialState::Failed => {
                self.dials.remove(&d.tag);
                complete_dial(
                    out,
                    d.tag,
                    DialOutcome {
                        successful: false,
                        state: DialState::Failed,
                        call_id: None,
                        node_id: None,
                        end_reason: None,
                        error: None,
                        event: Some(dial_event(&DialState::Failed, raw)),
                    },
                );
            }
            other => out.emit(CallEvent::DialProgress {
                tag: d.tag,
                state: other,
            }),
        }
        Ok(())
    }

    fn on_connect(
        &mut self,
        out: &mut dyn Outbox,
        c: ConnectPayload,
        raw: &(impl EventText + ?Sized),
    ) -> Result<(), InputError> {
        let id = c.call_id.clone();
        let Some(call) = self.calls.get(&id) else {
            tracing::trace!(call_id = %id, "connect event for an unknown call; ignored");
            return Ok(());
        };
        let me = PeerInfo {
            call_id: id.clone(),
            node_id: call.info.node_id.clone(),
            device: None,
        };
        match c.connect_state {
            ConnectState::Connected => {
                if let Some(p) = &c.peer {
                    // Create the peer from the connect event when the server did not announce
                    // it first (the SDK then reports no peer: bug 27).
                    if let Some(pc) = self.calls.get_mut(&p.call_id) {
                        pc.info.peer = Some(Box::new(me));
                        if pc.info.node_id.is_none() {
                            pc.info.node_id = p.node_id.clone();
                        }
                    } else if self.ensure_room().is_ok() {
                        let mut info = CallInfo::new(p.call_id.clone());
                        info.node_id = p.node_id.clone();
                        info.set_device(p.device.as_ref());
                        info.direction = Some(Direction::Outbound);
                        info.peer = Some(Box::new(me));
                        info.set_state(CallState::Answered);
                        self.calls.insert(p.call_id.clone(), Call::new(info));
                        out.emit(CallEvent::StateChanged {
                            call_id: p.call_id.clone(),
                            state: CallState::Answered,
                            prev_state: CallState::None,
                            end_reason: None,
                            tag: None,
                            peer: Some(PeerInfo {
                                call_id: id.clone(),
                                node_id: c.node_id.clone(),
                                device: None,
                            }),
                        });
                    }
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.info.peer = Some(Box::new(p.clone()));
                    }
                }
            }
            ConnectState::Disconnected => {
                let old = self.calls.get_mut(&id).and_then(|c| c.info.peer.take());
                if let Some(old) = old {
                    if let Some(pc) = self.calls.get_mut(&old.call_id) {
                        if pc.info.peer.as_ref().is_some_and(|p| p.call_id == id) {
                            pc.info.peer = None;
                        }
                    }
                }
            }
            _ => {}
        }
        out.emit(CallEvent::ConnectUpdate {
            call_id: id.clone(),
            state: c.connect_state.clone(),
            peer: c.peer.clone(),
        });
        self.step_call_components(out, &id, |comp| {
            comp.on_connect(&c.connect_state, c.peer.as_ref(), raw)
        });
        Ok(())
    }

    fn on_refer(
        &mut self,
        out: &mut dyn Outbox,
        r: ReferPayload,
        raw: &(impl EventText + ?Sized),
    ) -> Result<(), InputError> {
        if !self.calls.contains_key(&r.call_id) {
            tracing::trace!(call_id = %r.call_id, "refer event for an unknown call; ignored");
            return Ok(());
        }
        out.emit(CallEvent::ReferUpdate {
            call_id: r.call_id.clone(),
            state: r.state.clone(),
            refer_to: r.sip_refer_to.clone(),
            refer_response_code: r.sip_refer_response_code.clone(),
            refer_notify_code: r.sip_notify_response_code.clone(),
        });
        let id = r.call_id.clone();
        self.step_call_components(out, &id, |comp| {
            if comp.kind == ComponentKind::Refer {
                comp.on_refer(&r, raw)
            } else {
                Step::Continue
            }
        });
        Ok(())
    }

    /// Offers an event to every unfinished component of a call (call-level commands match by
    /// kind, as the SDK matches them by the call's tag).
    fn step_call_components(
        &mut self,
        out: &mut dyn Outbox,
        id: &CallId,
        mut f: impl FnMut(&mut Component) -> Step,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let ids: Vec<ControlId> = call.components.keys().cloned().collect();
        for cid in ids {
            let step = match call.components.get_mut(&cid) {
                Some(c) => f(c),
                None => continue,
            };
            if step == Step::Finish {
                if let Some(c) = call.components.remove(&cid) {
                    emit_finished(out, id, cid, c);
                }
            }
        }
    }

    /// A component event: report the update, then step the component it names (the update's
    /// `call_id`/`control_id`; they are copied only when the component finishes).
    fn on_component(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        kind: ComponentKind,
        update: CallEvent,
        step: impl FnOnce(&mut Component) -> Step,
    ) {
        use CallEvent as E;
        let (call_id, control_id) = match &update {
            E::PlayUpdate {
                call_id,
                control_id,
                ..
            }
            | E::RecordUpdate {
                call_id,
                control_id,
                ..
            }
            | E::TapUpdate {
                call_id,
                control_id,
                ..
            }
            | E::SendDigitsUpdate {
                call_id,
                control_id,
                ..
            }
            | E::CollectUpdate {
                call_id,
                control_id,
                ..
            }
            | E::DetectUpdate {
                call_id,
                control_id,
                ..
            }
            | E::FaxUpdate {
                call_id,
                control_id,
                ..
            } => (call_id, control_id),
            _ => return out.emit(update),
        };
        let Some(call) = self.calls.get_mut(call_id) else {
            tracing::trace!(call_id = %call_id, control_id = %control_id, "component event for an unknown call; ignored");
            return;
        };
        let finished = match call.components.get_mut(control_id) {
            None => {
                tracing::trace!(call_id = %call_id, control_id = %control_id, "event for no running component");
                None
            }
            Some(comp) if comp.kind != kind => {
                tracing::debug!(call_id = %call_id, control_id = %control_id, "event of another component kind; ignored");
                None
            }
            // Stepped before the update is reported: a step only changes the component.
            Some(comp) => match step(comp) {
                Step::Finish => call.components.remove(control_id).map(|c| {
                    let ids = (call_id.clone(), control_id.clone());
                    (ids, c, call.info.node_id.clone())
                }),
                Step::Continue => None,
            },
        };
        out.emit(update);
        if let Some(((call_id, control_id), c, node_id)) = finished {
            let stop = c.stop_detector;
            emit_finished(out, &call_id, control_id.clone(), c);
            if stop {
                stop_detector(out, now, call_id, control_id, node_id);
            }
        }
    }

    /// The session stopped for good: nothing more will arrive, so every unfinished component
    /// and dial gets its one outcome now ([`RequestError::SessionStopped`]) and the registry is
    /// emptied.
    pub(crate) fn on_session_stopped(&mut self, out: &mut dyn Outbox) {
        for (call_id, call) in std::mem::take(&mut self.calls) {
            for (cid, mut c) in call.components {
                c.terminate(None, Some(RequestError::SessionStopped));
                emit_finished(out, &call_id, cid, c);
            }
        }
        for (tag, _) in std::mem::take(&mut self.dials) {
            complete_dial(
                out,
                tag,
                DialOutcome {
                    successful: false,
                    state: DialState::Failed,
                    call_id: None,
                    node_id: None,
                    end_reason: None,
                    error: Some(RequestError::SessionStopped),
                    event: None,
                },
            );
        }
        self.lost = deadlines::LostWaits::default();
    }
}

/// A blocking detect decided early: the server's detector still runs, so it is stopped
/// (bug 21); the answer is not reported.
fn stop_detector(
    out: &mut dyn Outbox,
    now: Instant,
    call_id: CallId,
    control_id: ControlId,
    node_id: Option<crate::ids::NodeId>,
) {
    let params = commands::CallIds {
        node_id: node_id.as_ref(),
        call_id: &call_id,
        control_id: Some(&control_id),
    }
    .with(&commands::Rest::Map(Map::new()));
    let (log_call, log_control) = (call_id.clone(), control_id.clone());
    let req = CallingRequest::Control {
        call_id,
        control_id,
        action: ControlAction::Stop,
        internal: true,
    };
    if let Err(e) = out.execute(now, Method::CallingDetectStop, &params, req) {
        tracing::warn!(call_id = %log_call, control_id = %log_control, error = %e, "could not stop the detector");
    }
}

fn emit_finished(out: &mut dyn Outbox, call_id: &CallId, control_id: ControlId, c: Component) {
    tracing::debug!(call_id = %call_id, control_id = %control_id, kind = ?c.kind, ok = c.result.successful, "component finished");
    out.emit(CallEvent::ComponentFinished {
        call_id: call_id.clone(),
        control_id,
        result: Box::new(c.result),
    });
}

/// A dial's deciding event (Node's `DialResult.event`): named by its `dial_state`.
fn dial_event(state: &DialState, raw: &(impl EventText + ?Sized)) -> ResultEvent {
    ResultEvent::from_text(state.as_str().to_owned(), raw)
}

fn complete_dial(out: &mut dyn Outbox, tag: DialTag, result: DialOutcome) {
    tracing::debug!(tag = %tag, ok = result.successful, state = %result.state, "dial completed");
    out.emit(CallEvent::DialCompleted { tag, result });
}

fn collect_progress(x: &CollectPayload) -> CollectProgress {
    let t = x.result.result_type.clone();
    let p = &x.result.params;
    let s = |k: &str| p.get(k).and_then(crate::wire::lenient::value_as_string);
    let result = s("digits").or_else(|| s("text"));
    let confidence = p
        .get("confidence")
        .and_then(crate::wire::lenient::value_as_f64);
    if t == CollectResultType::StartOfInput {
        CollectProgress::StartOfInput
    } else if is_collect_progress(x) {
        CollectProgress::Partial {
            result_type: t,
            result,
            confidence,
        }
    } else {
        CollectProgress::Final {
            result_type: t,
            result,
            terminator: s("terminator"),
            confidence,
        }
    }
}

pub(crate) fn detect_track(params: &DetectParams, mode: DetectMode) -> DetectTrack {
    DetectTrack {
        mode,
        wait_for_beep: params.kind.wait_for_beep(),
        saw_machine: false,
        events: Vec::new(),
    }
}
