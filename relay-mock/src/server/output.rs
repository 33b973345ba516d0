//! Outgoing frames: responses, broadcasts, server requests, and the fault filters on the way out.

use relay_proto::wire::{rpc, BroadcastKind, EventType, Method};
use relay_proto::RequestId;
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    Action, ConnId, Fault, MockServer, Params, Pending, ServerOutput, SessKey, BACKLOG_LIMIT,
};
use relay_proto::wire::JsonText;

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
    pub(crate) fn reply<R: Serialize + ?Sized>(
        &mut self,
        conn: ConnId,
        id: &RequestId,
        result: &R,
    ) {
        match rpc::encode_result_with(id, result) {
            Ok(text) => self.send(conn, text, Kind::Response),
            Err(e) => tracing::error!(%e, "result not serializable"),
        }
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
            None => {
                json!({"jsonrpc": "2.0", "id": id.as_str(), "method": method.as_str()}).to_string()
            }
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
                if let Some(text) = self.render(session, &pending) {
                    self.send(conn, text, Kind::Event);
                }
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

    fn render(&mut self, session: SessKey, pending: &Pending) -> Option<String> {
        let id = RequestId::new(self.new_id());
        let timestamp = self.timestamp();
        let (protocol, project_id) = self
            .sessions
            .get(&session)
            .map(|s| {
                (
                    s.protocol.as_deref().unwrap_or_default(),
                    s.project.as_str(),
                )
            })
            .unwrap_or_default();
        let space_id = self.space_id.as_str();
        let (event, params) = match pending {
            // The frequent one, written piece by piece (the same bytes as the serde path).
            Pending::Calling { event_type, params } => {
                return calling_broadcast(&CallingBroadcast {
                    id: id.as_str(),
                    broadcaster_nodeid: &self.server_node,
                    protocol,
                    event_type,
                    params,
                    project_id,
                    space_id,
                    timestamp,
                })
                .map_err(|e| tracing::error!(%e, "broadcast not serializable"))
                .ok();
            }
            Pending::Messaging {
                event_type,
                context,
                params,
            } => (
                BroadcastKind::Messaging,
                EventOut::Messaging {
                    context,
                    event_type,
                    params,
                    project_id,
                    space_id,
                    timestamp,
                },
            ),
            Pending::Task { context, message } => (
                BroadcastKind::Tasks,
                EventOut::Task {
                    context,
                    event_channel: protocol,
                    message,
                    project_id,
                    space_id,
                    timestamp,
                },
            ),
        };
        let params = BroadcastOut {
            broadcaster_nodeid: &self.server_node,
            channel: "notifications",
            event: event.as_str(),
            params,
            protocol,
        };
        rpc::encode_request_with(&id, Method::Broadcast.as_str(), &params)
            .map_err(|e| tracing::error!(%e, "broadcast not serializable"))
            .ok()
    }
}

/// The parts of a calling `blade.broadcast`.
pub(crate) struct CallingBroadcast<'a> {
    pub id: &'a str,
    pub broadcaster_nodeid: &'a str,
    pub protocol: &'a str,
    pub event_type: &'a EventType,
    pub params: &'a Params,
    pub project_id: &'a str,
    pub space_id: &'a str,
    pub timestamp: f64,
}

/// The literal pieces of a calling broadcast, around its 8 strings, its params and its
/// timestamp (see [`calling_broadcast`]).
const BROADCAST_LITERALS: [&str; 11] = [
    "{\"jsonrpc\":\"2.0\",\"id\":",
    ",\"method\":\"blade.broadcast\",\"params\":{\"broadcaster_nodeid\":",
    ",\"channel\":\"notifications\",\"event\":",
    ",\"params\":{\"event_channel\":",
    ",\"event_type\":",
    ",\"params\":",
    ",\"project_id\":",
    ",\"space_id\":",
    ",\"timestamp\":",
    "},\"protocol\":",
    "}}",
];

/// Room for a timestamp (`1700000000.123`, or up to 24 bytes for any f64).
const TIMESTAMP_ROOM: usize = 24;

/// A calling `blade.broadcast` frame, byte for byte what serde_json writes for
/// `RequestOut { params: BroadcastOut { params: EventOut::Calling } }` (members in the same
/// order), in one buffer sized for it.
pub(crate) fn calling_broadcast(b: &CallingBroadcast<'_>) -> Result<String, serde_json::Error> {
    let raw = match b.params {
        Params::Text(raw) => Some(raw.as_str()),
        Params::Tree(_) => None,
    };
    // The members' lengths, the quotes around them, the literal pieces and a timestamp:
    // exact for a frame with nothing to escape, so that a ~1 KB frame stays in malloc's
    // per-thread cache sizes (a slack of a few hundred bytes took it out of them).
    let mut out = JsonText::with_capacity(
        raw.map_or(512, str::len)
            + 2 * b.protocol.len()
            + b.id.len()
            + b.broadcaster_nodeid.len()
            + BroadcastKind::Calling.as_str().len()
            + b.event_type.as_str().len()
            + b.project_id.len()
            + b.space_id.len()
            + 2 * 8
            + BROADCAST_LITERALS.iter().map(|l| l.len()).sum::<usize>()
            + TIMESTAMP_ROOM,
    );
    let [l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10] = BROADCAST_LITERALS;
    out.raw(l0)
        .str(b.id)
        .raw(l1)
        .str(b.broadcaster_nodeid)
        .raw(l2)
        .str(BroadcastKind::Calling.as_str())
        .raw(l3)
        .str(b.protocol)
        .raw(l4)
        .str(b.event_type.as_str())
        .raw(l5);
    match (raw, b.params) {
        (Some(raw), _) => {
            out.raw(raw);
        }
        (None, params) => {
            out.value(params)?;
        }
    }
    out.raw(l6)
        .str(b.project_id)
        .raw(l7)
        .str(b.space_id)
        .raw(l8)
        .value(&b.timestamp)?
        .raw(l9)
        .str(b.protocol)
        .raw(l10);
    Ok(out.finish())
}

/// The `params` of a `blade.broadcast`, serialized straight from borrowed parts (keys in the
/// order the server has always written them).
#[derive(Serialize)]
struct BroadcastOut<'a> {
    broadcaster_nodeid: &'a str,
    channel: &'static str,
    event: &'static str,
    params: EventOut<'a>,
    protocol: &'a str,
}

/// The inner event of a broadcast, per stream.
#[derive(Serialize)]
#[serde(untagged)]
enum EventOut<'a> {
    /// Only in the test that holds [`calling_broadcast`] to the serde path.
    #[cfg(test)]
    Calling {
        event_channel: &'a str,
        event_type: &'a EventType,
        params: &'a Params,
        project_id: &'a str,
        space_id: &'a str,
        timestamp: f64,
    },
    Messaging {
        context: &'a str,
        event_type: &'a EventType,
        params: &'a Value,
        project_id: &'a str,
        space_id: &'a str,
        timestamp: f64,
    },
    Task {
        context: &'a str,
        event_channel: &'a str,
        message: &'a Value,
        project_id: &'a str,
        space_id: &'a str,
        timestamp: f64,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame as the derived structs write it (how every broadcast was written before).
    fn serde_frame(b: &CallingBroadcast<'_>) -> String {
        let params = BroadcastOut {
            broadcaster_nodeid: b.broadcaster_nodeid,
            channel: "notifications",
            event: BroadcastKind::Calling.as_str(),
            params: EventOut::Calling {
                event_channel: b.protocol,
                event_type: b.event_type,
                params: b.params,
                project_id: b.project_id,
                space_id: b.space_id,
                timestamp: b.timestamp,
            },
            protocol: b.protocol,
        };
        let id = RequestId::new(b.id.to_owned());
        rpc::encode_request_with(&id, Method::Broadcast.as_str(), &params).unwrap()
    }

    #[test]
    fn calling_broadcasts_are_the_bytes_serde_writes() {
        let tree = json!({"call_id": "c\"1", "device": {"type": "phone", "params": {"from_number": "+1\n"}}, "n": 1.5});
        let params = [
            Params::text(&tree),
            Params::Tree(tree.clone()),
            Params::Tree(json!({})),
        ];
        let types = [
            EventType::CallState,
            EventType::CallReceive,
            EventType::CallPlay,
            EventType::Unrecognized("calling.call.\"odd\"".into()),
        ];
        for params in &params {
            for event_type in &types {
                for (protocol, timestamp) in [
                    ("signalwire_0123abcd_5f6e-77_test-project", 1_700_000_000.0),
                    ("", 1_700_000_000.123),
                    ("p\\r\u{1}\u{e9}", 1_700_012_345.678),
                ] {
                    let b = CallingBroadcast {
                        id: "9b2c1e36-5d2c-4a4e-9d55-0d7a7d0f4c11",
                        broadcaster_nodeid: "node-\"x\"",
                        protocol,
                        event_type,
                        params,
                        project_id: "test-project",
                        space_id: "space",
                        timestamp,
                    };
                    let frame = calling_broadcast(&b).unwrap();
                    assert_eq!(frame, serde_frame(&b));
                    if protocol.starts_with("signalwire") && matches!(params, Params::Text(_)) {
                        // Sized exactly up front (bar the timestamp's room): never grown.
                        assert!(frame.capacity() - frame.len() <= TIMESTAMP_ROOM);
                    }
                }
            }
        }
    }
}
