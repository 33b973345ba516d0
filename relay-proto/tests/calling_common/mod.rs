//! Test harness for the calling golden tests: a `Session` with `SequentialIds`, handshaken by
//! hand-fed server frames, plus helpers to feed calling events and collect outputs. Frames and
//! the handshake come from the shared fixture `relay_proto::fuzzing`.
#![allow(dead_code)]

use std::time::Instant;

use relay_proto::calling::CallEvent;
use relay_proto::fuzzing::{frame, Handshake};
use relay_proto::{CallId, ControlId, Event, Input, Output, SequentialIds, Session, SessionConfig};
use serde_json::{json, Value};

pub const PROTO: &str = "signalwire_SIG_proto";

pub struct Harness {
    pub s: Session,
    pub now: Instant,
    /// Frames the session transmitted (since the last `take_sent`).
    pub sent: Vec<Value>,
    /// Calling events (since the last `take_events`).
    pub events: Vec<CallEvent>,
    /// Every other event.
    pub other: Vec<Event>,
}

impl Harness {
    /// A ready session (handshake done, context `office` registered, outputs cleared).
    pub fn new() -> Self {
        Self::with_config(|c| c)
    }

    pub fn with_config(f: impl FnOnce(SessionConfig) -> SessionConfig) -> Self {
        let cfg = SessionConfig::new("project", "token")
            .with_contexts(["office"])
            .with_id_generator(SequentialIds::new());
        let cfg = f(cfg);
        #[allow(clippy::disallowed_methods)] // tests pick an arbitrary base instant
        let now = Instant::now();
        let s = Session::new(cfg, now);
        let mut h = Harness {
            s,
            now,
            sent: vec![],
            events: vec![],
            other: vec![],
        };
        h.drain();
        h.handshake();
        assert!(h.s.is_ready());
        h.sent.clear();
        h.events.clear();
        h.other.clear();
        h
    }

    /// Runs the Blade handshake on a freshly opened transport (after `Transport(Connect)`),
    /// answering connect, setup, subscription, the first ping and the context registration.
    pub fn handshake(&mut self) {
        self.handshake_with(false);
    }

    /// The handshake, with the server saying whether it restored the previous Blade session.
    pub fn handshake_with(&mut self, restored: bool) {
        self.drain();
        self.s
            .handle_input(self.now, Input::Opened)
            .expect("opened");
        self.drain();
        let script = Handshake::new(PROTO).with_restored(restored);
        for expected in ["blade.connect", "setup", "blade.subscription"] {
            self.drain();
            let req = self.sent.last().cloned().expect("a request was sent");
            assert!(
                req["method"] == expected || req["params"]["method"] == expected,
                "{req}"
            );
            let answer = script.answer(&req).expect("a handshake request");
            self.feed(answer).expect(expected);
        }
        // Answer the ping and the receive.
        let pending: Vec<String> = self
            .sent
            .iter()
            .filter(|f| {
                f["method"] == "blade.ping" || f["params"]["method"] == "signalwire.receive"
            })
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect();
        for id in pending {
            self.ok(&id);
        }
    }

    /// Drops the transport, waits for the reconnect and handshakes again (the session is
    /// resumed). Requests in flight fail with `ConnectionLost`.
    pub fn drop_and_reconnect(&mut self) {
        self.drop_and_reconnect_with(true);
    }

    /// Drops the transport and reconnects; the server restores the Blade session or not.
    pub fn drop_and_reconnect_with(&mut self, restored: bool) {
        let now = self.now;
        self.s
            .handle_input(now, Input::Closed(relay_proto::CloseInfo::default()))
            .expect("closed");
        self.drain();
        for _ in 0..8 {
            if let Some(at) = self.s.poll_timeout() {
                if at > self.now {
                    self.now = at;
                }
            }
            let now = self.now;
            self.s.handle_input(now, Input::Timeout).expect("timeout");
            let mut connect = false;
            loop {
                match self.s.poll_output() {
                    Output::Transport(relay_proto::TransportAction::Connect) => connect = true,
                    Output::Transmit(t) => self.sent.push(serde_json::from_str(&t).expect("json")),
                    Output::Event(Event::Call(e)) => self.events.push(e),
                    Output::Event(e) => self.other.push(e),
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            if connect {
                self.sent.clear();
                self.handshake_with(restored);
                assert!(self.s.is_ready(), "ready after reconnect");
                return;
            }
        }
        panic!("no reconnect");
    }

    /// Drains outputs into `sent`, `events` and `other`.
    pub fn drain(&mut self) {
        loop {
            match self.s.poll_output() {
                Output::Transmit(t) => self
                    .sent
                    .push(serde_json::from_str(&t).expect("valid JSON frame")),
                Output::Event(Event::Call(e)) => self.events.push(e),
                Output::Event(e) => self.other.push(e),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
    }

    pub fn feed(&mut self, frame: Value) -> Result<(), relay_proto::InputError> {
        let text = frame.to_string();
        let r = self.s.handle_input(self.now, Input::Frame(&text));
        self.drain();
        r
    }

    pub fn last_sent_id(&mut self) -> String {
        self.drain();
        self.sent
            .last()
            .and_then(|f| f["id"].as_str())
            .expect("a request was sent")
            .to_owned()
    }

    /// Takes the frames sent so far.
    pub fn take_sent(&mut self) -> Vec<Value> {
        self.drain();
        std::mem::take(&mut self.sent)
    }

    pub fn take_events(&mut self) -> Vec<CallEvent> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    /// Takes exactly one sent frame, asserts it is `blade.execute` of `method` with exactly
    /// `params`, and returns its request id.
    pub fn expect_execute(&mut self, method: &str, params: Value) -> String {
        let sent = self.take_sent();
        assert_eq!(sent.len(), 1, "expected one frame, got {sent:#?}");
        let f = &sent[0];
        assert_eq!(f["jsonrpc"], "2.0");
        assert_eq!(f["method"], "blade.execute", "{f}");
        assert_eq!(f["params"]["protocol"], PROTO, "{f}");
        assert_eq!(f["params"]["method"], method, "{f}");
        assert_eq!(f["params"]["params"], params, "{method} params");
        f["id"].as_str().expect("id").to_owned()
    }

    /// Answers a request with a relay result.
    pub fn respond(&mut self, id: &str, relay_result: Value) {
        self.feed(frame::relay_result(&json!(id), PROTO, relay_result))
            .expect("response accepted");
    }

    pub fn ok(&mut self, id: &str) {
        self.respond(id, json!({"code":"200","message":"OK"}));
    }

    pub fn rpc_error(&mut self, id: &str) {
        self.feed(frame::error(&json!(id), -32601, "nope"))
            .expect("error accepted");
    }

    /// Feeds a calling event as a `queuing.relay.events` broadcast.
    pub fn event(
        &mut self,
        event_type: &str,
        params: Value,
    ) -> Result<(), relay_proto::InputError> {
        self.feed(broadcast(event_type, params))
    }

    /// Feeds an event that must be accepted.
    pub fn ev(&mut self, event_type: &str, params: Value) {
        self.event(event_type, params)
            .unwrap_or_else(|e| panic!("{event_type} rejected: {e}"));
    }

    /// An inbound phone call `call_id` on node `node` offered to `office`.
    pub fn inbound(&mut self, call_id: &str) -> CallId {
        self.ev(
            "calling.call.receive",
            json!({"call_state":"created","context":"office","direction":"inbound",
                "device":{"type":"phone","params":{"from_number":"+15551110000","to_number":"+15552220000"}},
                "call_id":call_id,"node_id":"node-a"}),
        );
        CallId::new(call_id)
    }

    /// An inbound call, answered (state event applied; outputs cleared).
    pub fn answered_inbound(&mut self, call_id: &str) -> CallId {
        let id = self.inbound(call_id);
        self.state(call_id, "answered");
        self.take_sent();
        self.take_events();
        id
    }

    pub fn state(&mut self, call_id: &str, state: &str) {
        self.ev(
            "calling.call.state",
            json!({"call_state":state,"call_id":call_id,"node_id":"node-a","direction":"inbound"}),
        );
    }

    pub fn ended(&mut self, call_id: &str, reason: &str) {
        self.ev(
            "calling.call.state",
            json!({"call_state":"ended","end_reason":reason,"call_id":call_id,"node_id":"node-a"}),
        );
    }

    /// The `ComponentFinished` events for `control_id` seen so far in `events`.
    pub fn finished_count(events: &[CallEvent], control_id: &ControlId) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, CallEvent::ComponentFinished { control_id: c, .. } if c == control_id))
            .count()
    }
}

pub fn broadcast(event_type: &str, params: Value) -> Value {
    frame::broadcast(PROTO, event_type, params)
}
