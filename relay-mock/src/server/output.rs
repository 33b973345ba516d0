//! Outgoing frames: responses, broadcasts, server requests, and the fault filters on the way out.

use relay_proto::wire::{rpc, BroadcastKind, Method};
use relay_proto::RequestId;
use serde_json::{json, Value};

use super::{Action, ConnId, Fault, MockServer, Pending, ServerOutput, SessKey, BACKLOG_LIMIT};

/// What kind of frame is going out (faults treat events differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Response,
    Event,
    Request,
}

impl MockServer {
    /// Sends one frame, through the armed faults.
    pub(crate) fn send(&mut self, conn: ConnId, text: String, kind: Kind) {
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            return;
        }
        let mut text = text;
        // Corrupt.
        if let Some(Fault::CorruptFrames { count }) = self
            .faults
            .iter_mut()
            .find(|f| matches!(f, Fault::CorruptFrames { .. }))
        {
            *count = count.saturating_sub(1);
            let cut = text.len() / 2;
            let mut cut_at = cut;
            while cut_at > 0 && !text.is_char_boundary(cut_at) {
                cut_at -= 1;
            }
            text.truncate(cut_at);
            self.prune_faults();
        }
        if kind == Kind::Event {
            // Reorder: hold this one back, or release the held one after it.
            if let Some((held_conn, held_text)) = self.held.take() {
                if held_conn == conn {
                    self.push_send(conn, text.clone());
                    self.push_send(held_conn, held_text);
                    return;
                }
                self.push_send(held_conn, held_text);
            }
            if let Some(Fault::ReorderEvents { count }) = self
                .faults
                .iter_mut()
                .find(|f| matches!(f, Fault::ReorderEvents { .. }))
            {
                *count = count.saturating_sub(1);
                self.prune_faults();
                self.held = Some((conn, text));
                self.schedule_in(std::time::Duration::from_millis(100), Action::ReleaseHeld);
                return;
            }
            if let Some(Fault::DuplicateEvents { count }) = self
                .faults
                .iter_mut()
                .find(|f| matches!(f, Fault::DuplicateEvents { .. }))
            {
                *count = count.saturating_sub(1);
                self.prune_faults();
                self.push_send(conn, text.clone());
            }
        }
        self.push_send(conn, text);
    }

    pub(crate) fn release_held(&mut self) {
        if let Some((conn, text)) = self.held.take() {
            self.push_send(conn, text);
        }
    }

    fn push_send(&mut self, conn: ConnId, text: String) {
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            return;
        }
        self.recorder.s2c(self.now, conn, &text);
        self.out.push_back(ServerOutput::Send { conn, text });
        let mut drop_now = false;
        if let Some(Fault::DropAfterFrames { frames }) = self
            .faults
            .iter_mut()
            .find(|f| matches!(f, Fault::DropAfterFrames { .. }))
        {
            if *frames == 0 {
                drop_now = true;
                *frames = u64::MAX;
            } else {
                *frames -= 1;
            }
        }
        if drop_now {
            self.faults
                .retain(|f| !matches!(f, Fault::DropAfterFrames { frames: u64::MAX }));
            self.close_conn(conn, None);
        }
    }

    pub(crate) fn prune_faults(&mut self) {
        self.faults.retain(|f| match f {
            Fault::SwallowResponses { count, .. }
            | Fault::DelayResponses { count, .. }
            | Fault::DuplicateEvents { count }
            | Fault::ReorderEvents { count }
            | Fault::CorruptFrames { count } => *count > 0,
            _ => true,
        });
    }

    /// `{"jsonrpc":"2.0","id":id,"result":result}` (relay-proto's encoder).
    pub(crate) fn reply(&mut self, conn: ConnId, id: &RequestId, result: &Value) {
        self.send(conn, rpc::encode_result(id, result), Kind::Response);
    }

    /// A JSON-RPC error; `"id": null` when the request had no usable id (JSON-RPC 2.0 §5, and
    /// relay-proto's `encode_error`: both sides follow one rule).
    pub(crate) fn reply_error(
        &mut self,
        conn: ConnId,
        id: Option<&RequestId>,
        code: i64,
        msg: &str,
    ) {
        self.send(conn, rpc::encode_error(id, code, msg), Kind::Response);
    }

    /// A server-originated request (`blade.ping` with params, `blade.disconnect` without).
    pub(crate) fn send_request(&mut self, conn: ConnId, method: Method, params: Option<Value>) {
        let id = RequestId::new(self.new_id());
        let text = match params {
            Some(p) => rpc::encode_request(&id, method.as_str(), &p),
            None => json!({"jsonrpc": "2.0", "id": id.as_str(), "method": method.as_str()})
                .to_string(),
        };
        self.send(conn, text, Kind::Request);
    }

    /// Sends (or, while the session has no subscribed socket, queues) an event for `session`.
    pub(crate) fn emit(&mut self, session: SessKey, pending: Pending) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        match s.conn {
            Some(conn) if s.subscribed => {
                let text = self.render(session, &pending);
                self.send(conn, text, Kind::Event);
            }
            _ => {
                if s.backlog.len() >= BACKLOG_LIMIT {
                    s.backlog.pop_front();
                }
                s.backlog.push_back(pending);
            }
        }
    }

    /// Sends everything queued for `session` (after its client subscribed again).
    pub(crate) fn flush_backlog(&mut self, session: SessKey) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let backlog = std::mem::take(&mut s.backlog);
        for p in backlog {
            self.emit(session, p);
        }
    }

    fn render(&mut self, session: SessKey, pending: &Pending) -> String {
        let id = self.new_id();
        let ts = self.timestamp();
        let (protocol, project) = self
            .sessions
            .get(&session)
            .map(|s| (s.protocol.clone().unwrap_or_default(), s.project.clone()))
            .unwrap_or_default();
        let (event, inner) = match pending {
            Pending::Calling { event_type, params } => (
                BroadcastKind::Calling.as_str(),
                json!({
                    "event_type": event_type,
                    "event_channel": protocol,
                    "timestamp": ts,
                    "project_id": project,
                    "space_id": self.space_id,
                    "params": params,
                }),
            ),
            Pending::Messaging {
                event_type,
                context,
                params,
            } => (
                BroadcastKind::Messaging.as_str(),
                json!({
                    "event_type": event_type,
                    "space_id": self.space_id,
                    "project_id": project,
                    "context": context,
                    "timestamp": ts,
                    "params": params,
                }),
            ),
            Pending::Task { context, message } => (
                BroadcastKind::Tasks.as_str(),
                json!({
                    "project_id": project,
                    "space_id": self.space_id,
                    "context": context,
                    "message": message,
                    "timestamp": ts,
                    "event_channel": protocol,
                }),
            ),
        };
        let params = json!({
            "broadcaster_nodeid": self.server_node,
            "protocol": protocol,
            "channel": "notifications",
            "event": event,
            "params": inner,
        });
        rpc::encode_request(&RequestId::new(id), Method::Broadcast.as_str(), &params)
    }
}

/// Adds the members of `extra` (an object) to `base` without overwriting.
pub(crate) fn merge(mut base: Value, extra: Option<Value>) -> Value {
    if let (Some(b), Some(Value::Object(e))) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.entry(k).or_insert(v);
        }
    }
    base
}
