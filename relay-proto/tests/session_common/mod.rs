//! A small hand-driven server for session tests: it answers the handshake and lets a test feed
//! any frame, on a virtual clock. Frames and the handshake come from the shared fixture
//! `relay_proto::fuzzing` (also used by calling_common, relay-mock's fuzz harness and benches).
#![allow(dead_code, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use relay_proto::fuzzing::{frame, Handshake};
use relay_proto::{
    CloseInfo, Event, Input, Output, SequentialIds, Session, SessionConfig, TransportAction,
};
use serde_json::{json, Value};

pub const PROTO: &str = "signalwire_SIG_66666666-6666-4666-8666-666666666666";
pub const SESSION: &str = "33333333-3333-4333-8333-333333333333";

pub struct Harness {
    pub s: Session,
    pub t0: Instant,
    pub now: Instant,
    pub sent: Vec<Value>,
    pub events: Vec<Event>,
    pub transport: Vec<TransportAction>,
    pub next_timeout: Option<Instant>,
    pub open: bool,
    /// The session asked to connect and the harness has not opened that connection yet
    /// (`transport.last()` stays `Connect` after that connection closed: it is no request).
    pub connect_pending: bool,
}

pub fn config() -> SessionConfig {
    SessionConfig::new("22222222-2222-4222-8222-222222222222", "PT_TOKEN")
        .with_id_generator(SequentialIds::new())
        .with_agent("Rust SDK/test")
}

impl Harness {
    pub fn new(cfg: SessionConfig) -> Self {
        let t0 = Instant::now();
        let s = Session::new(cfg, t0);
        let mut h = Harness {
            s,
            t0,
            now: t0,
            sent: vec![],
            events: vec![],
            transport: vec![],
            next_timeout: None,
            open: false,
            connect_pending: false,
        };
        h.drain();
        h
    }

    /// Drains outputs; every Transmit must be a valid JSON-RPC 2.0 object.
    pub fn drain(&mut self) {
        loop {
            match self.s.poll_output() {
                Output::Transmit(f) => {
                    let v: Value = serde_json::from_str(&f).expect("transmit is JSON");
                    assert_valid_jsonrpc(&v);
                    self.sent.push(v);
                }
                Output::Transport(t) => {
                    match t {
                        TransportAction::Close { .. } => {
                            self.open = false;
                            self.connect_pending = false;
                        }
                        TransportAction::Connect => self.connect_pending = true,
                        _ => {}
                    }
                    self.transport.push(t);
                }
                Output::Event(e) => self.events.push(e),
                Output::Timeout(t) => {
                    self.next_timeout = t;
                    break;
                }
                _ => {}
            }
        }
    }

    pub fn input(&mut self, i: Input<'_>) -> Result<(), relay_proto::InputError> {
        let r = self.s.handle_input(self.now, i);
        self.drain();
        r
    }

    pub fn opened(&mut self) {
        assert_eq!(
            self.transport.last(),
            Some(&TransportAction::Connect),
            "session asked to connect"
        );
        self.open = true;
        self.connect_pending = false;
        self.input(Input::Opened).expect("opened");
    }

    pub fn closed(&mut self) {
        self.open = false;
        self.input(Input::Closed(CloseInfo {
            code: Some(1006),
            reason: "test",
        }))
        .expect("closed");
    }

    pub fn feed(&mut self, v: Value) -> Result<(), relay_proto::InputError> {
        let text = v.to_string();
        self.input(Input::Frame(&text))
    }

    pub fn last_sent(&self) -> &Value {
        self.sent.last().expect("something was sent")
    }

    /// The sent requests with this (blade or relay) method.
    pub fn sent_method(&self, method: &str) -> Vec<Value> {
        self.sent
            .iter()
            .filter(|f| method_of(f) == method)
            .cloned()
            .collect()
    }

    /// Answers the request `req` with a Blade result.
    pub fn reply(&mut self, req: &Value, result: Value) {
        self.feed(frame::result(&req["id"], result))
            .expect("reply accepted");
    }

    pub fn reply_error(&mut self, req: &Value, code: i64, message: &str) {
        self.feed(frame::error(&req["id"], code, message))
            .expect("error accepted");
    }

    /// Answers a relay command with `{"code":"200", ...}`.
    pub fn reply_relay_ok(&mut self, req: &Value) {
        self.feed(frame::relay_result(
            &req["id"],
            PROTO,
            json!({"code":"200","message":"OK"}),
        ))
        .expect("reply accepted");
    }

    /// The scripted handshake of these tests.
    pub fn handshake_script(restored: bool) -> Handshake {
        Handshake::new(PROTO)
            .with_sessionid(SESSION)
            .with_nodeid("44444444-4444-4444-8444-444444444444")
            .with_restored(restored)
    }

    /// Opens the transport and answers connect, setup and subscription.
    pub fn handshake(&mut self, restored: bool) {
        self.opened();
        let script = Self::handshake_script(restored);
        for expected in ["blade.connect", "setup", "blade.subscription"] {
            let req = self.last_sent().clone();
            assert_eq!(method_of(&req), expected, "{req}");
            let answer = script.answer(&req).expect("a handshake request");
            self.feed(answer).expect("handshake answer accepted");
        }
        assert!(self.s.is_ready(), "ready after the handshake");
    }

    /// Moves the virtual clock and feeds a timeout.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.input(Input::Timeout).expect("timeout");
    }

    /// Advances to the next scheduled timeout, if any, returning how far it moved.
    pub fn step_timer(&mut self) -> Option<Duration> {
        let at = self.next_timeout?;
        let d = at.saturating_duration_since(self.now);
        self.now = at.max(self.now);
        self.input(Input::Timeout).expect("timeout");
        Some(d)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn elapsed_ms(&self) -> u128 {
        (self.now - self.t0).as_millis()
    }
}

pub fn method_of(frame: &Value) -> String {
    let m = frame["method"].as_str().unwrap_or_default();
    if m == "blade.execute" {
        frame["params"]["method"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        m.to_owned()
    }
}

pub fn assert_valid_jsonrpc(v: &Value) {
    let o = v.as_object().expect("frame is an object");
    assert_eq!(o.get("jsonrpc"), Some(&json!("2.0")), "{v}");
    let has_id = o.get("id").is_some_and(|i| i.is_string());
    if let Some(m) = o.get("method") {
        assert!(m.is_string(), "{v}");
        assert!(has_id, "requests carry a string id: {v}");
        assert!(
            o.get("params").is_some_and(Value::is_object),
            "params object: {v}"
        );
    } else {
        assert!(
            o.contains_key("result") ^ o.contains_key("error"),
            "response has result xor error: {v}"
        );
        assert!(o.contains_key("id"), "{v}");
    }
}
