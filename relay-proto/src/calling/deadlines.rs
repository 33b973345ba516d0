//! Waits whose final event may have been lost with the transport.
//!
//! Relay v2 does not replay events after a session restore: a `finished` in flight when the
//! socket dies is gone for good. So every wait that was open when the transport dropped
//! (components, call-level waits such as answer, connect and wait_for, and dials whose request
//! was answered but whose final dial event had not come) is *unconfirmed*, and this module
//! gives each one an outcome within a bound:
//!
//! * At the drop, each gets a deadline `lost_event_timeout` after the drop.
//! * At the first **restored** handshake after the drop, the deadline of each one still open
//!   moves to `lost_event_timeout` after that handshake, once: the server may still send its
//!   real outcome (the component may simply still be running). Later drops never move it
//!   again, so a flapping connection cannot keep a wait open: it resolves at the latest
//!   `2 × lost_event_timeout` after the first drop.
//! * When the deadline passes, the wait resolves with [`RequestError::Lost`]: its component
//!   gets its one [`CallEvent::ComponentFinished`], its dial its one
//!   [`CallEvent::DialCompleted`]. A real outcome arriving first wins, and nothing is reported
//!   twice (the wait is gone once it has an outcome).
//! * A handshake that is **not** restored means the server dropped the old Blade session and
//!   with it our calls: every call of the registry leaves it at once (its unfinished
//!   components resolve with [`RequestError::Lost`], then [`CallEvent::Lost`] reports the
//!   call), and every unconfirmed dial resolves with [`RequestError::Lost`].
//!
//! Commands issued while disconnected are not unconfirmed: they wait in the offline queue
//! (bounded by `offline_timeout`) and are sent after the handshake, so their events come on
//! the new connection. A `wait_for` started while disconnected sends nothing, and the state
//! it waits for may have passed unseen: it is unconfirmed from when it was started. Waits started after a restore are not bounded here: long recordings
//! and calls are legitimate.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::json;

use crate::calling::Outbox;
use crate::calling::{
    complete_dial, emit_finished, CallEvent, Calling, CallingRequest, DialOutcome, ResultEvent,
};
use crate::ids::{CallId, ControlId, DialTag};
use crate::outcome::RequestError;
use crate::timer::Timer;

/// The deadline of one unconfirmed wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unconfirmed {
    deadline: Instant,
    /// Already moved to `lost_event_timeout` after a restored handshake (happens once).
    extended: bool,
}

/// Every unconfirmed wait, keyed by what it waits for.
#[derive(Debug, Default)]
pub(crate) struct LostWaits {
    components: BTreeMap<(CallId, ControlId), Unconfirmed>,
    dials: BTreeMap<DialTag, Unconfirmed>,
    /// The transport dropped since the last handshake.
    dropped: bool,
}

impl LostWaits {
    /// A purely local wait (`wait_for`) started while the transport is down: the state it
    /// waits for may have been reached during the outage, unseen. It is unconfirmed from now.
    pub(crate) fn started_offline(
        &mut self,
        call_id: &CallId,
        control_id: &ControlId,
        deadline: Instant,
    ) {
        self.components.insert(
            (call_id.clone(), control_id.clone()),
            Unconfirmed {
                deadline,
                extended: false,
            },
        );
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Unconfirmed> {
        self.components.values_mut().chain(self.dials.values_mut())
    }
}

/// The control ids and dial tags of commands still in the offline queue: they are sent after
/// the next handshake, so their waits are not at risk.
fn queued_waits(out: &dyn Outbox) -> (BTreeSet<ControlId>, BTreeSet<DialTag>) {
    let mut controls = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for q in out.queued() {
        match q {
            CallingRequest::Command { control_id, .. } => {
                controls.insert(control_id);
            }
            CallingRequest::Dial { tag } => {
                tags.insert(tag);
            }
            _ => {}
        }
    }
    (controls, tags)
}

impl Calling {
    /// The transport dropped. Calls survive a restored reconnect; requests in flight were
    /// already failed (which finished their components). Every other open wait becomes
    /// unconfirmed, with a deadline `lost_event_timeout` from now.
    pub(crate) fn on_transport_lost(&mut self, out: &mut dyn Outbox, now: Instant) {
        self.prune_lost();
        let (queued_controls, queued_tags) = queued_waits(out);
        let deadline = now + self.lost_event_timeout;
        let fresh = Unconfirmed {
            deadline,
            extended: false,
        };
        for (call_id, call) in &self.calls {
            for control_id in call.components.keys() {
                if queued_controls.contains(control_id) {
                    continue;
                }
                self.lost
                    .components
                    .entry((call_id.clone(), control_id.clone()))
                    .or_insert(fresh);
            }
        }
        for tag in self.dials.keys() {
            if !queued_tags.contains(tag) {
                self.lost.dials.entry(tag.clone()).or_insert(fresh);
            }
        }
        self.lost.dropped = true;
        let open = self.lost.components.len() + self.lost.dials.len();
        if open > 0 {
            tracing::debug!(
                open,
                "transport lost: open waits are unconfirmed until {deadline:?}"
            );
        }
    }

    /// A handshake completed. Restored: unconfirmed waits get `lost_event_timeout` from now
    /// (once). Not restored after a drop: the old session's calls and dials are gone.
    pub(crate) fn on_ready(&mut self, out: &mut dyn Outbox, now: Instant, restored: bool) {
        let dropped = std::mem::take(&mut self.lost.dropped);
        if restored {
            self.prune_lost();
            let deadline = now + self.lost_event_timeout;
            for u in self.lost.all_mut().filter(|u| !u.extended) {
                u.deadline = u.deadline.max(deadline);
                u.extended = true;
            }
            return;
        }
        if !dropped {
            return;
        }
        tracing::info!(
            calls = self.calls.len(),
            "session not restored: the old session's calls are gone"
        );
        let ids: Vec<CallId> = self.calls.keys().cloned().collect();
        for id in ids {
            self.lose_call(out, &id);
        }
        for tag in std::mem::take(&mut self.lost.dials).into_keys() {
            self.lose_dial(out, tag);
        }
        self.lost.components.clear();
    }

    /// Removes a call of a session the server did not restore.
    fn lose_call(&mut self, out: &mut dyn Outbox, id: &CallId) {
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        for (cid, mut c) in call.components {
            c.terminate(
                Some(ResultEvent::new("lost", &json!({"call_id": id}))),
                Some(RequestError::Lost),
            );
            emit_finished(out, id, cid, c);
        }
        self.remember_gone(id);
        out.emit(CallEvent::Lost {
            call_id: id.clone(),
        });
    }

    fn lose_dial(&mut self, out: &mut dyn Outbox, tag: DialTag) {
        if self.dials.remove(&tag).is_none() {
            return;
        }
        complete_dial(
            out,
            tag,
            DialOutcome {
                successful: false,
                state: "failed".into(),
                call_id: None,
                node_id: None,
                end_reason: None,
                error: Some(RequestError::Lost),
                event: None,
            },
        );
    }

    /// Every unconfirmed deadline, with its timer. Entries of waits that finished meanwhile
    /// may still be listed until they are due: their timeout is spurious and harmless.
    pub(crate) fn lost_timers(&self) -> impl Iterator<Item = (Instant, Timer)> + '_ {
        let c = self
            .lost
            .components
            .iter()
            .map(|((call_id, control_id), u)| {
                (
                    u.deadline,
                    Timer::LostComponent {
                        call_id: call_id.clone(),
                        control_id: control_id.clone(),
                    },
                )
            });
        let d = self
            .lost
            .dials
            .iter()
            .map(|(tag, u)| (u.deadline, Timer::LostDial(tag.clone())));
        c.chain(d)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let c = self.lost.components.values().map(|u| u.deadline).min();
        let d = self.lost.dials.values().map(|u| u.deadline).min();
        [c, d].into_iter().flatten().min()
    }

    /// Resolves every unconfirmed wait whose deadline has passed with [`RequestError::Lost`]
    /// (those that got a real outcome meanwhile are just forgotten).
    pub(crate) fn handle_timeout(&mut self, out: &mut dyn Outbox, now: Instant) {
        let due: Vec<(CallId, ControlId)> = self
            .lost
            .components
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.lost.components.remove(&key);
            let (call_id, control_id) = key;
            let Some(call) = self.calls.get_mut(&call_id) else {
                continue;
            };
            let Some(mut c) = call.components.remove(&control_id) else {
                continue;
            };
            tracing::info!(call_id = %call_id, control_id = %control_id, kind = ?c.kind, "no outcome after the transport was lost: resolving as lost");
            c.terminate(None, Some(RequestError::Lost));
            emit_finished(out, &call_id, control_id, c);
        }
        let due: Vec<DialTag> = self
            .lost
            .dials
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for tag in due {
            self.lost.dials.remove(&tag);
            tracing::info!(tag = %tag, "no dial outcome after the transport was lost: resolving as lost");
            self.lose_dial(out, tag);
        }
    }

    /// Forgets unconfirmed entries of waits that have finished (keeps the table small).
    pub(crate) fn prune_lost(&mut self) {
        let calls = &self.calls;
        self.lost.components.retain(|(call_id, control_id), _| {
            calls
                .get(call_id)
                .is_some_and(|c| c.components.contains_key(control_id))
        });
        let dials = &self.dials;
        self.lost.dials.retain(|tag, _| dials.contains_key(tag));
    }
}
