//! Calling: the call registry, dial and connect device trees, and every component correlated
//! by `control_id`. (Interface only; the state machines are being written.)

use std::time::Instant;

use serde_json::Value;

use crate::config::Bounds;
use crate::error::Error;
use crate::ids::RequestId;
use crate::session::core::Core;
use crate::session::{Event, RequestError};
use crate::wire::{RelayEvent, RelayResult};

/// A calling event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {}

/// What a pending calling request was for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallingRequest {}

/// The calling sub-machine, owned by the session.
#[derive(Debug)]
pub(crate) struct Calling {}

impl Calling {
    pub(crate) fn new(_bounds: &Bounds) -> Self {
        Calling {}
    }

    /// A `queuing.relay.events` event whose type starts with `calling.`.
    pub(crate) fn handle_event(
        &mut self,
        core: &mut Core,
        _now: Instant,
        ev: RelayEvent,
        raw: Value,
    ) -> Result<(), Error> {
        core.emit(Event::Unrecognized {
            event_type: ev.event_type,
            raw,
        });
        Ok(())
    }

    /// The outcome of a request this sub-machine sent.
    pub(crate) fn handle_response(
        &mut self,
        _core: &mut Core,
        _now: Instant,
        _id: RequestId,
        req: CallingRequest,
        _outcome: Result<RelayResult, RequestError>,
    ) {
        match req {}
    }

    /// The transport dropped (calls survive; in-flight requests were already failed).
    pub(crate) fn on_transport_lost(&mut self, _core: &mut Core, _now: Instant) {}

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    pub(crate) fn handle_timeout(&mut self, _core: &mut Core, _now: Instant) {}
}
