//! What the registry knows about one call ([`CallInfo`]): plain data, one `Arc` shared by the
//! registry, the events that carry it and the client's handles.

use std::sync::Arc;

use crate::calling::events::{CallState, DeviceInfo, EndReason, PeerInfo};
use crate::calling::states::Direction;
use crate::ids::{CallId, DialTag, NodeId};

/// A call, as the registry knows it. Read it with [`Session::call`](crate::Session::call).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct CallInfo {
    /// Call id.
    pub id: CallId,
    /// Node id (sent back on every command).
    pub node_id: Option<NodeId>,
    /// The dial tag, for legs of our dials.
    pub tag: Option<DialTag>,
    /// Current state.
    pub state: CallState,
    /// Previous state.
    pub prev_state: CallState,
    /// Why it ended (on `ending`/`ended`).
    pub end_reason: Option<EndReason>,
    /// The context an inbound call was offered to (shared: one allocation per distinct
    /// context in a session).
    pub context: Option<Arc<str>>,
    /// `inbound` or `outbound`.
    pub direction: Option<Direction>,
    /// The call's device (shared: the registry, its events and every handle of the call hold
    /// the same one; it changes only when the server sends a different device).
    pub device: Option<Arc<DeviceInfo>>,
    /// The bridged leg, if any (boxed: most calls never have one).
    pub peer: Option<Box<PeerInfo>>,
    /// Bit set of the states this call has been in (for `wait_for`).
    pub(crate) visited: u8,
}

impl std::fmt::Debug for CallInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallInfo")
            .field("id", &self.id)
            .field("node_id", &self.node_id)
            .field("tag", &self.tag)
            .field("state", &self.state)
            .field("prev_state", &self.prev_state)
            .field("end_reason", &self.end_reason)
            .field("context", &self.context)
            .field("direction", &self.direction)
            .field("device", &self.device)
            .field("peer", &self.peer)
            .finish()
    }
}

impl CallInfo {
    /// A call known only by its id (state `none`, nothing else known yet).
    pub fn new(id: CallId) -> Self {
        CallInfo {
            id,
            node_id: None,
            tag: None,
            state: CallState::None,
            prev_state: CallState::None,
            end_reason: None,
            context: None,
            direction: None,
            device: None,
            peer: None,
            visited: CallState::None.bit(),
        }
    }
    /// Not `ending`/`ended`.
    pub fn active(&self) -> bool {
        !self.ended()
    }
    /// `ending` or `ended`.
    pub fn ended(&self) -> bool {
        self.state.is_ended()
    }
    /// In state `answered`.
    pub fn answered(&self) -> bool {
        self.state == CallState::Answered
    }
    /// Ended with reason `busy`.
    pub fn busy(&self) -> bool {
        self.state == CallState::Ended && self.end_reason == Some(EndReason::Busy)
    }
    /// Ended with reason `error`.
    pub fn failed(&self) -> bool {
        self.state == CallState::Ended && self.end_reason == Some(EndReason::Error)
    }
    /// Whether the call has been in `state` (not merely past it).
    pub fn has_reached(&self, state: CallState) -> bool {
        self.visited & state.bit() != 0
    }
    /// The caller (`from_number` or `from` of the device).
    pub fn from(&self) -> Option<&str> {
        self.device.as_deref().and_then(DeviceInfo::from)
    }
    /// The callee.
    pub fn to(&self) -> Option<&str> {
        self.device.as_deref().and_then(DeviceInfo::to)
    }
    /// The device type (`phone`, `sip`, ...).
    pub fn call_type(&self) -> Option<&str> {
        self.device.as_ref().map(|d| d.device_type.as_str())
    }

    /// Takes the device an event carried, keeping the shared one when it is the same.
    pub(crate) fn set_device(&mut self, device: Option<&DeviceInfo>) {
        if let Some(d) = device {
            if self.device.as_deref() != Some(d) {
                self.device = Some(Arc::new(d.clone()));
            }
        }
    }

    pub(crate) fn set_state(&mut self, state: CallState) {
        self.prev_state = self.state;
        self.state = state;
        self.visited |= state.bit();
    }
}
