//! Dispatch of `blade.broadcast`: calling events to the calling sub-machine, messaging and
//! task events straight from the frame text to typed events.

use std::borrow::Cow;
use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::calling::CallingPayload;
use crate::error::{InputError, PeerMisbehaved};
use crate::messaging::message_event;
use crate::wire::{self, BroadcastKind, EventType};

use super::fast::{self, FastBody, FastBroadcast, Reread};
use super::{Event, Session};

impl Session {
    /// Broadcasts are the hot path: messaging and task events are decoded straight from the
    /// frame text into typed structs, without building a JSON tree first.
    pub(super) fn handle_broadcast(
        &mut self,
        now: Instant,
        params: Option<&RawValue>,
    ) -> Result<(), InputError> {
        #[derive(serde::Deserialize)]
        struct Broadcast<'a> {
            #[serde(default, borrow)]
            protocol: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            event: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            params: Option<&'a RawValue>,
        }
        let params = params.ok_or(PeerMisbehaved::BroadcastWithoutParams)?;
        let mut slot = None;
        if let Some(b) = fast::read_broadcast(params.get(), &mut slot) {
            let text = Reread::Broadcast(params.get());
            if let Some(result) = self.apply_broadcast(now, b, &mut slot, text) {
                return result;
            }
        }
        let b: Broadcast<'_> =
            serde_json::from_str(params.get()).map_err(|e| PeerMisbehaved::MalformedBroadcast {
                detail: e.to_string(),
            })?;
        if !for_us(b.protocol.as_deref(), self.hub.lifecycle.link().protocol()) {
            tracing::debug!(theirs = ?b.protocol, "broadcast for another protocol; ignored");
            return Ok(());
        }
        let event = b.event.unwrap_or_default();
        let Some(inner) = b.params else {
            return Err(PeerMisbehaved::BroadcastWithoutParams.into());
        };
        let unrecognized = |event_type: String| Event::Unrecognized {
            event_type,
            raw: wire::rpc::raw_to_value(Some(inner)),
        };
        let Some(kind) = BroadcastKind::from_event(&event) else {
            self.hub.plumbing.emit(unrecognized(event.into_owned()));
            return Ok(());
        };
        match kind {
            BroadcastKind::Tasks => {
                let t: TaskEvent = serde_json::from_str(inner.get())
                    .map_err(|e| PeerMisbehaved::malformed_event("queuing.relay.tasks", e))?;
                self.hub.plumbing.emit(t.into_event()?);
                Ok(())
            }
            BroadcastKind::Messaging => {
                match crate::messaging::decode_event(inner)? {
                    Ok(m) => self.hub.plumbing.emit(Event::Message(m)),
                    Err(event_type) => self.hub.plumbing.emit(unrecognized(event_type)),
                }
                Ok(())
            }
            BroadcastKind::Calling => {
                let ev: CallingEvent<'_> = serde_json::from_str(inner.get())
                    .map_err(|e| PeerMisbehaved::malformed_event("relay event", e))?;
                if !ev.event_type.is_calling() {
                    self.hub
                        .plumbing
                        .emit(unrecognized(ev.event_type.into_string()));
                    return Ok(());
                }
                let params = ev.params.unwrap_or(NULL);
                if !self
                    .calling
                    .handle_event(&mut self.hub, now, &ev.event_type, params)?
                {
                    self.hub
                        .plumbing
                        .emit(unrecognized(ev.event_type.into_string()));
                }
                Ok(())
            }
        }
    }

    /// The one-pass read of a broadcast ([`fast`](super::fast)) applied. `None` means "not
    /// handled here": anything unusual (another protocol, an unknown calling type, a missing
    /// context) takes the general path, which owns every rule and error.
    pub(super) fn apply_broadcast(
        &mut self,
        now: Instant,
        b: FastBroadcast<'_>,
        slot: &mut Option<CallingPayload>,
        text: Reread<'_>,
    ) -> Option<Result<(), InputError>> {
        if !for_us(b.protocol, self.hub.lifecycle.link().protocol()) {
            return None;
        }
        match b.body {
            FastBody::Calling(ev) => {
                // Not a calling type this version knows: the general path reports it.
                if !ev.known || !ev.event_type.is_calling() {
                    return None;
                }
                let payload = slot.take()?;
                Some(self.calling.dispatch(&mut self.hub, now, payload, &text))
            }
            FastBody::Messaging(inner) => {
                let MessagingInner {
                    event_type,
                    context,
                    params,
                } = *inner;
                let m = message_event(&event_type, context, params)?;
                self.hub.plumbing.emit(Event::Message(m));
                Some(Ok(()))
            }
            FastBody::Tasks(t) => {
                // Anything unusual (no context) takes the general path, which reports it.
                let event = t.into_event().ok()?;
                self.hub.plumbing.emit(event);
                Some(Ok(()))
            }
        }
    }
}

/// The protocol filter: a broadcast naming another protocol than the session's is not ours
/// (either side unknown: accepted).
fn for_us(theirs: Option<&str>, ours: Option<&str>) -> bool {
    match (theirs, ours) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => true,
    }
}

/// The inner object of a `queuing.relay.tasks` broadcast (PROTOCOL.md §5.16).
#[derive(serde::Deserialize)]
pub(super) struct TaskEvent {
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    message: Option<Value>,
}

impl TaskEvent {
    /// The task rule: a context is required; a missing message is `null`.
    fn into_event(self) -> Result<Event, PeerMisbehaved> {
        let Some(context) = self.context else {
            return Err(PeerMisbehaved::TaskWithoutContext);
        };
        Ok(Event::Task {
            context,
            message: self.message.unwrap_or(Value::Null),
        })
    }
}

/// `null`, for a calling event without `params` (its typed decode then reports what is missing).
const NULL: &RawValue = RawValue::NULL;

/// The inner event of a calling broadcast (the fields of [`RelayEvent`](wire::RelayEvent),
/// checked the same way but not kept), its `params` borrowed from the frame for a typed
/// decode: no JSON tree, and a small value to move around.
#[derive(serde::Deserialize)]
pub(super) struct CallingEvent<'a> {
    pub(super) event_type: EventType,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    event_channel: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    context: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    timestamp: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    project_id: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    space_id: Option<Text>,
    #[serde(default, borrow)]
    pub(super) params: Option<&'a RawValue>,
}

/// A member that must be a string (escaped or not), whose value is not kept.
pub(super) struct Text;

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        d.deserialize_str(V)
    }
}

/// The inner object of a messaging broadcast, its message typed.
#[derive(serde::Deserialize)]
pub(super) struct MessagingInner {
    pub(super) event_type: EventType,
    #[serde(default)]
    pub(super) context: Option<String>,
    pub(super) params: crate::messaging::Message,
}
