//! Test support for the core, shared by relay-proto's own integration tests, relay-mock's fuzz
//! harness (`relay_mock::fuzzing`), the cargo-fuzz targets in `fuzz/` and the benchmarks.
//!
//! * [`frame`]: builders of the server frames a test feeds to a [`Session`] (results, errors,
//!   relay results, event broadcasts), so the JSON layout of a server frame is written once.
//! * [`Handshake`]: the one scripted Blade handshake (connect, setup, subscription) every
//!   hand-driven test answers with.
//! * [`ready_session`] and [`frames`]: a session past its handshake, and the `frames` fuzz entry.
//!
//! Only built with the `fuzzing` feature (enable it in `[dev-dependencies]` only); not part of
//! the stable API.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Input, Output, SequentialIds, Session, SessionConfig};

/// Builders of server-to-client frames.
pub mod frame {
    use serde_json::{json, Value};

    /// A JSON-RPC success answer to request `id`.
    pub fn result(id: &Value, result: Value) -> Value {
        json!({"jsonrpc":"2.0","id":id,"result":result})
    }

    /// A JSON-RPC error answer to request `id`.
    pub fn error(id: &Value, code: i64, message: &str) -> Value {
        json!({"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}})
    }

    /// The answer to a `blade.execute` of `protocol`: `relay_result` is the inner `result`
    /// (`{"code":"200","message":"OK"}` and friends).
    pub fn relay_result(id: &Value, protocol: &str, relay_result: Value) -> Value {
        result(
            id,
            json!({"requester_nodeid":"client-node","responder_nodeid":"server",
                "protocol":protocol,"result":relay_result}),
        )
    }

    /// A calling event (`queuing.relay.events`) of `protocol`, as the server broadcasts it.
    pub fn broadcast(protocol: &str, event_type: &str, params: Value) -> Value {
        json!({"jsonrpc":"2.0","id":"bbbbbbbb-0000-4000-8000-000000000010","method":"blade.broadcast",
            "params":{"broadcaster_nodeid":"server","protocol":protocol,"channel":"notifications",
                "event":"queuing.relay.events",
                "params":{"event_type":event_type,"event_channel":protocol,"timestamp":1.5,
                    "project_id":"project","params":params}}})
    }

    /// A messaging event (`queuing.relay.messaging`) of `protocol` for `context`.
    pub fn messaging_broadcast(
        id: &str,
        protocol: &str,
        event_type: &str,
        context: &str,
        params: Value,
    ) -> Value {
        json!({"jsonrpc":"2.0","id":id,"method":"blade.broadcast",
            "params":{"broadcaster_nodeid":"server","channel":"notifications",
                "event":"queuing.relay.messaging",
                "params":{"event_channel":protocol,"event_type":event_type,"context":context,
                    "params":params}}})
    }
}

/// The scripted server side of the Blade handshake: which answers a hand-driven test feeds.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// The protocol string `setup` hands out.
    pub protocol: String,
    /// The Blade session id `blade.connect` hands out.
    pub sessionid: String,
    /// The client's node id.
    pub nodeid: String,
    /// Whether `blade.connect` says the previous session was restored.
    pub restored: bool,
}

impl Handshake {
    /// A handshake handing out `protocol`, with a fixed session and node id.
    pub fn new(protocol: &str) -> Self {
        Self {
            protocol: protocol.to_owned(),
            sessionid: "session-1".to_owned(),
            nodeid: "client-node".to_owned(),
            restored: false,
        }
    }

    /// Sets the Blade session id.
    pub fn with_sessionid(mut self, sessionid: &str) -> Self {
        self.sessionid = sessionid.to_owned();
        self
    }

    /// Sets the client's node id.
    pub fn with_nodeid(mut self, nodeid: &str) -> Self {
        self.nodeid = nodeid.to_owned();
        self
    }

    /// Sets `session_restored` of the connect result.
    pub fn with_restored(mut self, restored: bool) -> Self {
        self.restored = restored;
        self
    }

    /// The `blade.connect` result.
    pub fn connect_result(&self) -> Value {
        json!({"session_restored":self.restored,"sessionid":self.sessionid,"nodeid":self.nodeid,
            "master_nodeid":"00000000-0000-0000-0000-000000000000",
            "authorization":{"project":"project","expires_at":null,
                "scopes":["calling","messaging","tasking"],"signature":"SIG"},
            "routes":[],"protocols":[],"subscriptions":[],"authorities":[],"authorizations":[],
            "accesses":[],"protocols_uncertified":["signalwire"]})
    }

    /// The `setup` result.
    pub fn setup_result(&self) -> Value {
        json!({"requester_nodeid":self.nodeid,"responder_nodeid":"server",
            "protocol":"signalwire","result":{"protocol":self.protocol}})
    }

    /// The `blade.subscription` result.
    pub fn subscription_result(&self) -> Value {
        json!({"command":"add","failed_channels":[],"protocol":self.protocol,
            "subscribe_channels":["notifications"]})
    }

    /// The answer frame to `request` if it is one of the three handshake requests.
    pub fn answer(&self, request: &Value) -> Option<Value> {
        let id = request.get("id")?;
        let result = match request["method"].as_str()? {
            "blade.connect" => self.connect_result(),
            "blade.subscription" => self.subscription_result(),
            "blade.execute" if request["params"]["method"] == "setup" => self.setup_result(),
            _ => return None,
        };
        Some(frame::result(id, result))
    }
}

fn drain(s: &mut Session, sent: &mut Vec<Value>) {
    loop {
        match s.poll_output() {
            Output::Transmit(f) => {
                // A panic here is the finding: the fuzzer reports any frame that is not JSON.
                let v: Value = serde_json::from_str(&f).expect("the session only sends JSON");
                assert_eq!(v.get("jsonrpc"), Some(&json!("2.0")), "{v}");
                sent.push(v);
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
}

/// The protocol [`ready_session`] is handed.
pub const READY_PROTOCOL: &str = "signalwire_SIG_x";

/// A session (context `office`, sequential ids) after the [`Handshake`], on a fixed clock,
/// with every frame it sent.
pub fn ready_session(now: Instant) -> (Session, Vec<Value>) {
    let cfg = SessionConfig::new("project", "token")
        .with_contexts(["office"])
        .with_id_generator(SequentialIds::new());
    let mut s = Session::new(cfg, now);
    let mut sent = vec![];
    drain(&mut s, &mut sent);
    let _ = s.handle_input(now, Input::Opened);
    drain(&mut s, &mut sent);
    let hs = Handshake::new(READY_PROTOCOL).with_sessionid("s");
    for _ in 0..3 {
        let Some(answer) = sent.last().and_then(|f| hs.answer(f)) else {
            break;
        };
        let _ = s.handle_input(now, Input::Frame(&answer.to_string()));
        drain(&mut s, &mut sent);
    }
    (s, sent)
}

/// Feeds `data` to a ready session as text frames (split on newlines), then lets time pass.
/// Panics only if the session breaks an invariant.
pub fn frames(data: &[u8]) {
    #[allow(clippy::disallowed_methods)] // the fuzz harness is the driver, not the core
    let t0 = Instant::now();
    let (mut s, mut sent) = ready_session(t0);
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        let _ = s.handle_input(t0, Input::Frame(line));
        drain(&mut s, &mut sent);
    }
    let _ = s.handle_input(t0 + Duration::from_secs(30), Input::Timeout);
    drain(&mut s, &mut sent);
    assert!(s.in_flight() <= 1024);
}
