//! The session's side of calling: the public calling entry points of [`Session`]. The calling
//! sub-machine reports through the narrow `Outbox` that the session's plumbing lends it.

use std::time::Instant;

use crate::calling::{CallInfo, CallMut, DialParams};
use crate::error::CommandError;

use crate::ids::{CallId, ControlId, DialTag};
use crate::session::Session;

impl Session {
    /// Dials out (`calling.dial`). The outcome arrives once as
    /// [`CallEvent::DialCompleted`](crate::CallEvent::DialCompleted) with this tag: on the
    /// `calling.call.dial` `answered`/`failed` event, when a single-device dial's leg ends
    /// first, or when the request fails. The winning leg is then in the registry
    /// ([`Session::call`]). Validation errors and a full registry are refused before sending.
    #[must_use = "the tag identifies the dial's outcome"]
    pub fn dial(&mut self, now: Instant, params: &DialParams) -> Result<DialTag, CommandError> {
        self.calling.dial(&mut self.hub, now, params)
    }

    /// A call in the registry.
    pub fn call(&self, id: &CallId) -> Option<&CallInfo> {
        self.calling.call(id)
    }

    /// The same as [`call`](Self::call), as the registry's shared `Arc` (the one
    /// [`CallEvent::IncomingCall`](crate::calling::CallEvent::IncomingCall) carries): a
    /// holder keeps it for the cost of a reference count, and sees no later change (the
    /// registry copies on write while it is held).
    pub fn call_shared(&self, id: &CallId) -> Option<&std::sync::Arc<CallInfo>> {
        self.calling.call_shared(id)
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

    /// Whether the server has answered a running component's execute request with success:
    /// `Some(false)` while the answer is still to come, `Some(true)` once it came (a record's
    /// url, a tap's source device are then in [`running_component`](Self::running_component)),
    /// `None` once the component finished (or is unknown). Node's `recordAsync()`/`tapAsync()`
    /// resolve at that answer; relay-client's async forms do the same.
    pub fn component_answered(&self, call_id: &CallId, control_id: &ControlId) -> Option<bool> {
        self.calling.component_answered(call_id, control_id)
    }

    /// The params a running component was started with, as sent (Node's `action.payload`:
    /// `node_id`, `call_id`, `control_id` and the command's own params); `None` once it
    /// finished, or when nothing was sent (a command refused locally or answered at once).
    /// The JSON text as it went into the frame; `serde_json::from_str` gives a tree.
    pub fn component_payload(
        &self,
        call_id: &CallId,
        control_id: &ControlId,
    ) -> Option<&serde_json::value::RawValue> {
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
    pub fn call_mut(&mut self, id: &CallId) -> Result<CallMut<'_>, CommandError> {
        self.calling.call_mut(&mut self.hub, id)
    }
}
