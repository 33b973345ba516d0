//! The session's side of calling: the public calling entry points of [`Session`], and the
//! narrow [`Outbox`] the calling sub-machine reports through.

use std::time::Instant;

use serde_json::Value;

use crate::calling::{CallEvent, CallInfo, CallMut, CallingRequest, DialParams, Outbox};
use crate::error::Error;
use crate::ids::{CallId, ControlId, DialTag, IdKind, RequestId};
use crate::session::core::{Core, PendingKind};
use crate::session::{Event, Session};
use crate::wire::Method;

impl Session {
    /// Dials out (`calling.dial`). The outcome arrives once as
    /// [`CallEvent::DialCompleted`](crate::CallEvent::DialCompleted) with this tag: on the
    /// `calling.call.dial` `answered`/`failed` event, when a single-device dial's leg ends
    /// first, or when the request fails. The winning leg is then in the registry
    /// ([`Session::call`]). Validation errors and a full registry are refused before sending.
    #[must_use = "the tag identifies the dial's outcome"]
    pub fn dial(&mut self, now: Instant, params: &DialParams) -> Result<DialTag, Error> {
        self.calling.dial(&mut self.core, now, params)
    }

    /// A call in the registry.
    pub fn call(&self, id: &CallId) -> Option<&CallInfo> {
        self.calling.call(id)
    }

    /// What a running component of a call has learned so far (e.g. a record's `url` or a
    /// tap's `source_device`, which arrive with the execute response); `None` once it
    /// finished (its result then came with [`CallEvent::ComponentFinished`]).
    ///
    /// [`CallEvent::ComponentFinished`]: crate::calling::CallEvent::ComponentFinished
    pub fn running_component(
        &self,
        call_id: &CallId,
        control_id: &crate::ids::ControlId,
    ) -> Option<&crate::calling::ComponentResult> {
        self.calling.running_component(call_id, control_id)
    }

    /// The params a running component was started with, as sent (Node's `action.payload`:
    /// `node_id`, `call_id`, `control_id` and the command's own params); `None` once it
    /// finished, or when nothing was sent (a command refused locally or answered at once).
    pub fn component_payload(&self, call_id: &CallId, control_id: &ControlId) -> Option<&Value> {
        self.calling.component_payload(call_id, control_id)
    }

    /// Every call in the registry, in `call_id` order.
    pub fn calls(&self) -> impl Iterator<Item = &CallInfo> {
        self.calling.calls()
    }

    /// Dials that have not completed yet.
    pub fn pending_dials(&self) -> usize {
        self.calling.pending_dials()
    }

    /// A handle to issue commands on a call. Commands on a call that ended (or was passed)
    /// recently are refused with a typed outcome; `ApiMisuse` if the call was never known or
    /// left the registry long ago.
    pub fn call_mut(&mut self, id: &CallId) -> Result<CallMut<'_>, Error> {
        self.calling.call_mut(&mut self.core, id)
    }
}

impl Outbox for Core {
    fn emit(&mut self, event: CallEvent) {
        Core::emit(self, Event::Call(event));
    }

    fn execute(
        &mut self,
        now: Instant,
        method: Method,
        params: Value,
        request: CallingRequest,
    ) -> Result<RequestId, Error> {
        Core::execute(
            self,
            now,
            method.as_str(),
            params,
            PendingKind::Calling(request),
        )
    }

    fn observe(&mut self, now: Instant) -> Instant {
        Core::observe(self, now)
    }

    fn next_control_id(&mut self) -> ControlId {
        ControlId::new(self.next_id(IdKind::Control))
    }

    fn next_dial_tag(&mut self) -> DialTag {
        DialTag::new(self.next_id(IdKind::Tag))
    }

    fn can_send(&self) -> bool {
        Core::can_send(self)
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
