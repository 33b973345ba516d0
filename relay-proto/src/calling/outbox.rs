//! The calling sub-machine's narrow sink: everything it may ask of its owner, and nothing
//! more (rustls' `&mut dyn Output`). The session implements it; calling never sees the session.

use std::time::Instant;

use crate::calling::{CallEvent, CallingRequest};
use crate::error::CommandError;
use crate::ids::{ControlId, DialTag, RequestId};
use crate::wire::Method;

/// What the calling sub-machine needs from its owner.
pub(crate) trait Outbox {
    /// Reports a calling event to the application.
    fn emit(&mut self, event: CallEvent);
    /// Issues a relay command (its params: JSON text the core wrote, copied into the frame
    /// as is) tagged with
    /// what it was for; its answer comes back through
    /// [`Calling::handle_response`](crate::calling::Calling::handle_response).
    fn execute(
        &mut self,
        now: Instant,
        method: Method,
        params: &str,
        request: CallingRequest,
    ) -> Result<RequestId, CommandError>;
    /// Clamps `now` to the latest instant the owner has seen (time never goes backwards).
    fn observe(&mut self, now: Instant) -> Instant;
    /// A fresh control id.
    fn next_control_id(&mut self) -> ControlId;
    /// A fresh dial tag.
    fn next_dial_tag(&mut self) -> DialTag;
    /// Whether relay commands are sent right now (not queued for the next handshake).
    fn can_send(&self) -> bool;
    /// The calling requests still waiting in the offline queue (not sent yet).
    fn queued(&self) -> Vec<CallingRequest>;
}
