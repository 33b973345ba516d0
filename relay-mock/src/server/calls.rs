//! Calls: inbound and dialled legs, their state machine, and the call-level methods.

use serde_json::Value;

use super::blade::{code, Exec};
use super::{Effect, MockServer, Outcome, SessKey};

/// A call the server knows.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub call_id: String,
    pub owner: SessKey,
}

impl MockServer {
    pub(crate) fn on_calling(&mut self, ex: &Exec, _outcome: Option<Outcome>) {
        self.reply_error(
            ex.conn,
            Some(&ex.id),
            code::METHOD_NOT_FOUND,
            "Method not found",
        );
    }

    pub(crate) fn fire_call_event(
        &mut self,
        call_id: &str,
        _control_id: Option<&str>,
        event_type: String,
        params: Value,
        _effect: Effect,
    ) {
        if let Some(owner) = self.calls.get(call_id).map(|c| c.owner) {
            self.emit(owner, super::Pending::Calling { event_type, params });
        }
    }

    pub(crate) fn finish_component(&mut self, _call_id: &str, _control_id: &str) {}
}
