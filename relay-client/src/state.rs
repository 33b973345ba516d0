//! What the driver shares with the handles without a round trip: the session's identity,
//! whether it is connected, its registered contexts, and every call handle's live state.

use std::sync::Mutex;

use relay_proto::Session;

use crate::live::CallCells;

/// What the driver last knew of the session, readable without asking it.
#[derive(Debug, Default)]
pub(crate) struct SharedState {
    snapshot: Mutex<Snapshot>,
    /// The live state of every call a handle holds.
    pub(crate) calls: CallCells,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) session_id: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) node_id: Option<String>,
    pub(crate) connected: bool,
    /// Contexts the server accepted, in the order it did.
    pub(crate) contexts: Vec<String>,
}

impl SharedState {
    pub(crate) fn get(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records contexts the server accepted.
    pub(crate) fn add_contexts(&self, contexts: &[String]) {
        let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        for c in contexts {
            if !s.contexts.contains(c) {
                s.contexts.push(c.clone());
            }
        }
    }

    /// Copies what changed from `session`.
    pub(crate) fn update(&self, session: &Session) {
        let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if s.session_id.as_deref() != session.session_id() {
            s.session_id = session.session_id().map(str::to_owned);
        }
        if s.protocol.as_deref() != session.protocol() {
            s.protocol = session.protocol().map(str::to_owned);
        }
        if s.node_id.as_deref() != session.node_id() {
            s.node_id = session.node_id().map(str::to_owned);
        }
        s.connected = session.is_ready();
    }
}
