//! What the driver keeps current for the handles, readable without a round trip: one
//! [`CallCell`] per call (shared by every [`Call`](crate::Call) handle of it, outliving the
//! registry entry) and one [`ActionCell`] per running component.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use relay_proto::calling::{
    CallEvent, CallInfo, CallState, ComponentOutcome, ComponentResult, ConnectState, DeviceInfo,
    Direction, EndReason, PeerInfo, ReferState,
};
use relay_proto::{CallId, DialTag, NodeId};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last known state of one call: the registry's shared [`CallInfo`] (one `Arc` for the
/// registry, the incoming-call event and every handle; this cell keeps its own copy only
/// once the call has left the registry and an event still changes it), plus what only the
/// client tracks.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLive {
    info: Option<Arc<CallInfo>>,
    /// What few calls have (a dial tag before the call is known, a connect or refer).
    extra: Option<Box<LiveExtra>>,
    /// The call left the registry without ending here (passed, or lost in a reconnect).
    pub(crate) gone: bool,
    /// States seen in events (one bit per [`CallState`], see [`state_bit`]); with the info's
    /// own, so that `wait_for` can be answered after the call left the registry.
    visited: u8,
}

/// The rare part of a [`CallLive`].
#[derive(Clone, Default)]
struct LiveExtra {
    /// The dial tag, while the call is not known by id yet.
    tag: Option<DialTag>,
    /// Why a dial that produced no call ended.
    end_reason: Option<EndReason>,
    connect_state: Option<ConnectState>,
    refer_state: Option<ReferState>,
    /// The peer leg's cell, held so that the driver keeps it current (Node's `call.peer`
    /// is the registry's call, state and device included). Released when this call is over
    /// (or the client stops): two bridged legs hold each other until then.
    peer_cell: Option<Arc<CallCell>>,
}

// By hand: two bridged legs hold each other's cells, so a derived `Debug` would recurse.
impl std::fmt::Debug for LiveExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveExtra")
            .field("tag", &self.tag)
            .field("end_reason", &self.end_reason)
            .field("connect_state", &self.connect_state)
            .field("refer_state", &self.refer_state)
            .field("peer_cell", &self.peer_cell.as_ref().map(|c| c.id()))
            .finish()
    }
}

/// The bit of `state` in [`CallLive::visited`].
pub(crate) fn state_bit(state: CallState) -> u8 {
    match state {
        CallState::Created => 1,
        CallState::Ringing => 1 << 1,
        CallState::Answered => 1 << 2,
        CallState::Ending => 1 << 3,
        CallState::Ended => 1 << 4,
        _ => 0,
    }
}

impl CallLive {
    /// The call's info as last known (shared with the registry while it has the call).
    pub(crate) fn info(&self) -> Option<&Arc<CallInfo>> {
        self.info.as_ref()
    }
    pub(crate) fn node_id(&self) -> Option<&NodeId> {
        self.info.as_ref()?.node_id.as_ref()
    }
    pub(crate) fn tag(&self) -> Option<&DialTag> {
        let own = self.info.as_ref().and_then(|i| i.tag.as_ref());
        own.or_else(|| self.extra.as_ref()?.tag.as_ref())
    }
    pub(crate) fn state(&self) -> CallState {
        self.info.as_ref().map_or(CallState::None, |i| i.state)
    }
    pub(crate) fn prev_state(&self) -> CallState {
        self.info.as_ref().map_or(CallState::None, |i| i.prev_state)
    }
    pub(crate) fn end_reason(&self) -> Option<&EndReason> {
        let own = self.info.as_ref().and_then(|i| i.end_reason.as_ref());
        own.or_else(|| self.extra.as_ref()?.end_reason.as_ref())
    }
    pub(crate) fn context(&self) -> Option<&Arc<str>> {
        self.info.as_ref()?.context.as_ref()
    }
    pub(crate) fn direction(&self) -> Option<&Direction> {
        self.info.as_ref()?.direction.as_ref()
    }
    pub(crate) fn device(&self) -> Option<&DeviceInfo> {
        self.info.as_ref()?.device.as_deref()
    }
    pub(crate) fn peer(&self) -> Option<&PeerInfo> {
        self.info.as_ref()?.peer.as_deref()
    }
    pub(crate) fn connect_state(&self) -> Option<&ConnectState> {
        self.extra.as_ref()?.connect_state.as_ref()
    }
    pub(crate) fn refer_state(&self) -> Option<&ReferState> {
        self.extra.as_ref()?.refer_state.as_ref()
    }
    /// The peer's cell, if the driver linked it and it is still this call's peer.
    pub(crate) fn peer_cell(&self) -> Option<&Arc<CallCell>> {
        let cell = self.extra.as_ref()?.peer_cell.as_ref()?;
        let peer = self.peer()?;
        (cell.id() == Some(&peer.call_id)).then_some(cell)
    }
    /// Every state the call has been in ([`state_bit`] bits).
    pub(crate) fn visited(&self) -> u8 {
        let mut v = self.visited | state_bit(self.state());
        if let Some(info) = &self.info {
            for s in [
                CallState::Created,
                CallState::Ringing,
                CallState::Answered,
                CallState::Ending,
                CallState::Ended,
            ] {
                if info.has_reached(s) {
                    v |= state_bit(s);
                }
            }
        }
        v
    }

    fn extra(&mut self) -> &mut LiveExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The info to change, copied first if the registry (or a snapshot) still shares it;
    /// made from the id when this cell knew nothing yet.
    fn info_mut(&mut self, id: Option<&CallId>) -> Option<&mut CallInfo> {
        if self.info.is_none() {
            self.info = Some(Arc::new(CallInfo::new(id?.clone())));
        }
        self.info.as_mut().map(Arc::make_mut)
    }

    /// Takes the registry's info (the registry's `Arc`: nothing is copied). Most events find
    /// the cell holding that very `Arc` already: then nothing changes.
    fn take_info(&mut self, info: &Arc<CallInfo>) {
        if self.info.as_ref().is_some_and(|own| Arc::ptr_eq(own, info)) {
            return;
        }
        self.visited = self.visited();
        self.info = Some(info.clone());
    }

    /// A state event: the info is changed only where it says something else.
    fn on_state(&mut self, event: &CallEvent) {
        let CallEvent::StateChanged {
            call_id,
            state,
            prev_state,
            end_reason,
            tag,
            peer,
        } = event
        else {
            return;
        };
        self.visited |= state_bit(*state) | state_bit(*prev_state);
        let same = self.info.as_ref().is_some_and(|i| {
            i.state == *state
                && i.prev_state == *prev_state
                && (end_reason.is_none() || i.end_reason == *end_reason)
                && (tag.is_none() || i.tag == *tag)
                && (peer.is_none() || i.peer.as_deref() == peer.as_ref())
        });
        if same {
            return;
        }
        let Some(info) = self.info_mut(Some(call_id)) else {
            return;
        };
        info.state = *state;
        info.prev_state = *prev_state;
        if end_reason.is_some() {
            info.end_reason.clone_from(end_reason);
        }
        if tag.is_some() {
            info.tag.clone_from(tag);
        }
        if let Some(p) = peer {
            info.peer = Some(Box::new(p.clone()));
        }
    }
}

/// One call's shared state: its id (set once; a call made with `new_call` has none until it
/// is dialed) and what the driver last knew of it.
#[derive(Debug, Default)]
pub(crate) struct CallCell {
    id: OnceLock<CallId>,
    live: Mutex<CallLive>,
}

impl CallCell {
    pub(crate) fn with_id(id: CallId, info: Option<&Arc<CallInfo>>) -> Self {
        let cell = CallCell::default();
        let _ = cell.id.set(id);
        if let Some(info) = info {
            lock(&cell.live).take_info(info);
        }
        cell
    }

    pub(crate) fn id(&self) -> Option<&CallId> {
        self.id.get()
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&CallLive) -> T) -> T {
        f(&lock(&self.live))
    }

    /// Applies one event of this call (`info`: the registry's entry, if it still has one).
    pub(crate) fn apply(&self, event: &CallEvent, info: Option<&Arc<CallInfo>>) {
        let mut live = lock(&self.live);
        if let Some(info) = info {
            live.take_info(info);
        }
        match event {
            CallEvent::IncomingCall { call } => live.take_info(call),
            CallEvent::StateChanged { .. } => live.on_state(event),
            CallEvent::ConnectUpdate {
                call_id,
                state,
                peer,
            } => {
                live.extra().connect_state = Some(state.clone());
                if let Some(p) = peer {
                    if live.peer() != Some(p) {
                        if let Some(info) = live.info_mut(Some(call_id)) {
                            info.peer = Some(Box::new(p.clone()));
                        }
                    }
                }
            }
            CallEvent::ReferUpdate { state, .. } => live.extra().refer_state = Some(state.clone()),
            CallEvent::DialCompleted { result, .. } => {
                let id = result.call_id.as_ref().or(self.id());
                if result.node_id.is_some() && live.node_id() != result.node_id.as_ref() {
                    if let Some(info) = live.info_mut(id) {
                        info.node_id.clone_from(&result.node_id);
                    }
                }
                if result.end_reason.is_some() && live.end_reason() != result.end_reason.as_ref() {
                    match live.info_mut(id) {
                        Some(info) => info.end_reason.clone_from(&result.end_reason),
                        None => live.extra().end_reason.clone_from(&result.end_reason),
                    }
                }
            }
            CallEvent::Released { .. } | CallEvent::Lost { .. } => live.gone = true,
            _ => {}
        }
    }

    /// Sets the id of a call made with `new_call` once its dial has a winner.
    pub(crate) fn set_id(&self, id: CallId) {
        let _ = self.id.set(id);
    }

    /// The peer's call id when the call has a peer whose cell is not linked yet.
    pub(crate) fn unlinked_peer(&self) -> Option<CallId> {
        let live = lock(&self.live);
        let peer = live.peer()?;
        match live.peer_cell() {
            Some(_) => None,
            None => Some(peer.call_id.clone()),
        }
    }

    /// Holds the peer's cell (see [`LiveExtra::peer_cell`]).
    pub(crate) fn link_peer(&self, peer: Arc<CallCell>) {
        let old = lock(&self.live).extra().peer_cell.replace(peer);
        drop(old);
    }

    /// Lets go of the peer's cell (taken out under the lock, dropped after it).
    fn unlink_peer(&self) {
        let old = {
            let mut live = lock(&self.live);
            live.extra.as_mut().and_then(|e| e.peer_cell.take())
        };
        drop(old);
    }
}

/// Every call cell handles hold, by call id and (while dialing) by dial tag. Entries are weak:
/// the cells live as long as the handles do.
#[derive(Debug, Default)]
pub(crate) struct CallCells {
    by_id: Mutex<HashMap<CallId, Weak<CallCell>, rustc_hash::FxBuildHasher>>,
    by_tag: Mutex<HashMap<DialTag, Weak<CallCell>, rustc_hash::FxBuildHasher>>,
}

impl CallCells {
    /// The cell of `id`, shared with every other live handle of it (made if there is none);
    /// `info`, the registry's entry, brings it up to date.
    pub(crate) fn get_or_make(&self, id: &CallId, info: Option<&Arc<CallInfo>>) -> Arc<CallCell> {
        let mut map = lock(&self.by_id);
        if let Some(cell) = map.get(id).and_then(Weak::upgrade) {
            if let Some(info) = info {
                lock(&cell.live).take_info(info);
            }
            return cell;
        }
        let cell = Arc::new(CallCell::with_id(id.clone(), info));
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        map.insert(id.clone(), Arc::downgrade(&cell));
        cell
    }

    /// Tracks a dial's cell by its tag until the dial completes.
    pub(crate) fn dialing(&self, tag: DialTag, cell: &Arc<CallCell>) {
        lock(&cell.live).extra().tag = Some(tag.clone());
        lock(&self.by_tag).insert(tag, Arc::downgrade(cell));
    }

    /// Brings the cell of `id`, if a handle holds one, up to date with the registry's entry.
    pub(crate) fn refresh(&self, id: &CallId, info: &Arc<CallInfo>) {
        let cell = lock(&self.by_id).get(id).and_then(Weak::upgrade);
        if let Some(cell) = cell {
            lock(&cell.live).take_info(info);
        }
    }

    /// Lets every cell go of its peer's (the client stopped: no event will end the calls).
    pub(crate) fn unlink_peers(&self) {
        let cells: Vec<Arc<CallCell>> = lock(&self.by_id)
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for cell in cells {
            cell.unlink_peer();
        }
    }

    /// Applies a call event to the cells it concerns. `info` is the registry's entry.
    /// Returns the call's cell while the call goes on (for the driver to link its peer).
    pub(crate) fn apply(
        &self,
        event: &CallEvent,
        info: Option<&Arc<CallInfo>>,
    ) -> Option<Arc<CallCell>> {
        if let Some(tag) = event.dial_tag() {
            let mut tags = lock(&self.by_tag);
            if let Some(cell) = tags.get(tag).and_then(Weak::upgrade) {
                cell.apply(event, info);
                if let CallEvent::DialCompleted { result, .. } = event {
                    if let Some(id) = &result.call_id {
                        cell.set_id(id.clone());
                        lock(&self.by_id).insert(id.clone(), Arc::downgrade(&cell));
                    }
                }
            }
            if matches!(event, CallEvent::DialCompleted { .. }) {
                tags.remove(tag);
            }
            if matches!(
                event,
                CallEvent::DialCompleted { .. } | CallEvent::DialProgress { .. }
            ) {
                return None;
            }
        }
        let id = event.call_id()?;
        let mut map = lock(&self.by_id);
        let cell = map.get(id).and_then(Weak::upgrade)?;
        cell.apply(event, info);
        let over = matches!(
            event,
            CallEvent::StateChanged {
                state: CallState::Ended,
                ..
            } | CallEvent::Released { .. }
                | CallEvent::Lost { .. }
        );
        if over {
            // Nothing more will come for it; the handles keep the last state.
            map.remove(id);
            drop(map);
            cell.unlink_peer();
            return None;
        }
        Some(cell)
    }
}

/// What a running component has shown so far: its last update and what its execute
/// response carried.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActionLive {
    pub(crate) last_update: Option<CallEvent>,
    pub(crate) url: Option<String>,
    pub(crate) source_device: Option<DeviceInfo>,
}

/// One running component's shared state, and the params it was started with (set once,
/// before the action is handed out).
#[derive(Debug, Default)]
pub(crate) struct ActionCell(Mutex<ActionLive>, std::sync::OnceLock<serde_json::Value>);

impl ActionCell {
    pub(crate) fn get(&self) -> ActionLive {
        lock(&self.0).clone()
    }

    /// Keeps the execute params as sent (Node's `action.payload`).
    pub(crate) fn set_payload(&self, payload: serde_json::Value) {
        let _ = self.1.set(payload);
    }

    /// The execute params as sent, if the command sent any.
    pub(crate) fn payload(&self) -> Option<&serde_json::Value> {
        self.1.get()
    }

    pub(crate) fn update(&self, event: &CallEvent) {
        if matches!(event, CallEvent::ControlCompleted { .. }) {
            return;
        }
        let mut live = lock(&self.0);
        if let CallEvent::RecordUpdate { url: Some(u), .. } = event {
            live.url = Some(u.clone());
        }
        live.last_update = Some(event.clone());
    }

    /// Copies what the execute response carried; true once there is nothing more to wait for.
    pub(crate) fn copy_running(&self, result: &ComponentResult) -> bool {
        let mut live = lock(&self.0);
        match &result.outcome {
            ComponentOutcome::Record(o) if o.url.is_some() => {
                live.url.clone_from(&o.url);
                true
            }
            ComponentOutcome::Tap(o) if o.source_device.is_some() => {
                live.source_device.clone_from(&o.source_device);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_event(id: &CallId, state: CallState, prev: CallState) -> CallEvent {
        CallEvent::StateChanged {
            call_id: id.clone(),
            state,
            prev_state: prev,
            end_reason: (state == CallState::Ended).then_some(EndReason::Hangup),
            tag: None,
            peer: None,
        }
    }

    #[test]
    fn a_cell_shares_the_registry_info_then_keeps_its_own() {
        let id = CallId::new("c1");
        let mut info = CallInfo::new(id.clone());
        info.state = CallState::Answered;
        info.prev_state = CallState::Created;
        info.context = Some(Arc::from("office"));
        let registry = Arc::new(info);
        let cell = CallCell::with_id(id.clone(), Some(&registry));
        let shared = |cell: &CallCell, reg: &Arc<CallInfo>| {
            cell.read(|l| l.info().is_some_and(|i| Arc::ptr_eq(i, reg)))
        };
        assert!(shared(&cell, &registry), "no copy of the registry's info");
        // An event the registry already shows copies nothing.
        let answered = state_event(&id, CallState::Answered, CallState::Created);
        cell.apply(&answered, Some(&registry));
        assert!(shared(&cell, &registry));
        // The call left the registry: the cell changes its own copy; a snapshot stays.
        let snapshot = cell.read(|l| l.info().cloned()).expect("info");
        cell.apply(&state_event(&id, CallState::Ended, CallState::Ending), None);
        cell.read(|l| {
            assert_eq!(
                (l.state(), l.prev_state()),
                (CallState::Ended, CallState::Ending)
            );
            assert_eq!(l.end_reason(), Some(&EndReason::Hangup));
            assert_eq!(l.context().map(|c| &**c), Some("office"));
            let all = state_bit(CallState::Answered) | state_bit(CallState::Ending);
            assert_eq!(l.visited() & all, all, "states seen before and after");
        });
        assert_eq!(
            snapshot.state,
            CallState::Answered,
            "a snapshot does not change"
        );
        assert!(!shared(&cell, &registry));
    }

    #[test]
    fn rare_state_lives_in_the_extra_part() {
        let cell = CallCell::default();
        assert!(cell.read(|l| l.extra.is_none() && l.tag().is_none()));
        cell.apply(
            &CallEvent::ReferUpdate {
                call_id: CallId::new("c2"),
                state: ReferState::InProgress,
                refer_to: None,
                refer_response_code: None,
                refer_notify_code: None,
            },
            None,
        );
        assert_eq!(
            cell.read(|l| l.refer_state().cloned()),
            Some(ReferState::InProgress)
        );
        assert_eq!(cell.read(CallLive::state), CallState::None);
    }
}
