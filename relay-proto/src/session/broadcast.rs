//! Dispatch of `blade.broadcast`: calling events to the calling sub-machine, messaging and
//! task events straight from the frame text to typed events.

use std::borrow::Cow;
use std::time::Instant;

use serde_json::value::RawValue;

use crate::calling::CallingPayload;
use crate::error::{InputError, PeerMisbehaved};
use crate::messaging::message_event;
use crate::wire::{self, BroadcastKind};

use super::fast::{self, FastBody, FastBroadcast, Reread};
use super::inner::{CallingEvent, MessagingInner, TaskEvent};
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

/// `null`, for a calling event without `params` (its typed decode then reports what is missing).
const NULL: &RawValue = RawValue::NULL;
