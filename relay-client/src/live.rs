//! What the driver keeps current for the handles, readable without a round trip: one
//! [`CallCell`] per call (shared by every [`Call`](crate::Call) handle of it, outliving the
//! registry entry) and one [`ActionCell`] per running component.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use relay_proto::calling::{
    CallEvent, CallInfo, CallState, ComponentOutcome, ComponentResult, ConnectState, DeviceInfo,
    Direction, EndReason, PeerInfo, ReferState,
};
use relay_proto::{CallId, DialTag, NodeId};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last known state of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallLive {
    pub(crate) node_id: Option<NodeId>,
    pub(crate) tag: Option<DialTag>,
    pub(crate) state: CallState,
    pub(crate) prev_state: CallState,
    pub(crate) end_reason: Option<EndReason>,
    pub(crate) context: Option<String>,
    pub(crate) direction: Option<Direction>,
    /// Shared with the registry's [`CallInfo`] and its snapshots.
    pub(crate) device: Option<Arc<DeviceInfo>>,
    pub(crate) peer: Option<PeerInfo>,
    pub(crate) connect_state: Option<ConnectState>,
    pub(crate) refer_state: Option<ReferState>,
    /// The call left the registry without ending here (passed, or lost in a reconnect).
    pub(crate) gone: bool,
    /// Every state the call has been in (one bit per [`CallState`], see [`state_bit`]), so
    /// that `wait_for` can be answered after the call left the registry.
    pub(crate) visited: u8,
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

impl Default for CallLive {
    fn default() -> Self {
        CallLive {
            node_id: None,
            tag: None,
            state: CallState::None,
            prev_state: CallState::None,
            end_reason: None,
            context: None,
            direction: None,
            device: None,
            peer: None,
            connect_state: None,
            refer_state: None,
            gone: false,
            visited: 0,
        }
    }
}

impl CallLive {
    fn copy_info(&mut self, info: &CallInfo) {
        self.node_id.clone_from(&info.node_id);
        if info.tag.is_some() {
            self.tag.clone_from(&info.tag);
        }
        self.state = info.state;
        self.prev_state = info.prev_state;
        for s in [
            CallState::Created,
            CallState::Ringing,
            CallState::Answered,
            CallState::Ending,
            CallState::Ended,
        ] {
            if info.has_reached(s) {
                self.visited |= state_bit(s);
            }
        }
        self.visited |= state_bit(info.state);
        self.end_reason.clone_from(&info.end_reason);
        if info.context.is_some() {
            self.context.clone_from(&info.context);
        }
        if info.direction.is_some() {
            self.direction.clone_from(&info.direction);
        }
        if info.device.is_some() {
            // An `Arc` copy: the registry, the snapshot and this share one device.
            self.device.clone_from(&info.device);
        }
        self.peer.clone_from(&info.peer);
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
    pub(crate) fn with_id(id: CallId, info: Option<&CallInfo>) -> Self {
        let cell = CallCell::default();
        let _ = cell.id.set(id);
        if let Some(info) = info {
            lock(&cell.live).copy_info(info);
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
    pub(crate) fn apply(&self, event: &CallEvent, info: Option<&CallInfo>) {
        let mut live = lock(&self.live);
        if let Some(info) = info {
            live.copy_info(info);
        }
        match event {
            CallEvent::IncomingCall { call } => live.copy_info(call),
            CallEvent::StateChanged {
                state,
                prev_state,
                end_reason,
                tag,
                peer,
                ..
            } => {
                live.state = *state;
                live.prev_state = *prev_state;
                live.visited |= state_bit(*state) | state_bit(*prev_state);
                if end_reason.is_some() {
                    live.end_reason.clone_from(end_reason);
                }
                if tag.is_some() {
                    live.tag.clone_from(tag);
                }
                if peer.is_some() {
                    live.peer.clone_from(peer);
                }
            }
            CallEvent::ConnectUpdate { state, peer, .. } => {
                live.connect_state = Some(state.clone());
                if peer.is_some() {
                    live.peer.clone_from(peer);
                }
            }
            CallEvent::ReferUpdate { state, .. } => live.refer_state = Some(state.clone()),
            CallEvent::DialCompleted { result, .. } => {
                if result.node_id.is_some() {
                    live.node_id.clone_from(&result.node_id);
                }
                if result.end_reason.is_some() {
                    live.end_reason.clone_from(&result.end_reason);
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
}

/// Every call cell handles hold, by call id and (while dialing) by dial tag. Entries are weak:
/// the cells live as long as the handles do.
#[derive(Debug, Default)]
pub(crate) struct CallCells {
    by_id: Mutex<BTreeMap<CallId, Weak<CallCell>>>,
    by_tag: Mutex<BTreeMap<DialTag, Weak<CallCell>>>,
}

impl CallCells {
    /// The cell of `id`, shared with every other live handle of it (made if there is none).
    pub(crate) fn get_or_make(&self, id: &CallId, info: Option<&CallInfo>) -> Arc<CallCell> {
        let mut map = lock(&self.by_id);
        if let Some(cell) = map.get(id).and_then(Weak::upgrade) {
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
        lock(&cell.live).tag = Some(tag.clone());
        lock(&self.by_tag).insert(tag, Arc::downgrade(cell));
    }

    /// Applies a call event to the cells it concerns. `info` is the registry's entry.
    pub(crate) fn apply(&self, event: &CallEvent, info: Option<&CallInfo>) {
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
                return;
            }
        }
        let Some(id) = event.call_id() else {
            return;
        };
        let mut map = lock(&self.by_id);
        let Some(cell) = map.get(id).and_then(Weak::upgrade) else {
            return;
        };
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
        }
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
