//! Shared helpers for the core tests: a tiny driver around MockServer on a virtual clock.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use relay_mock::{ConnId, MockConfig, MockServer, ServerOutput};
use serde_json::{json, Value};

/// Drives a MockServer by hand.
pub struct Harness {
    pub server: MockServer,
    pub now: Instant,
    pub start: Instant,
    next_id: u64,
    /// Everything sent, per connection, in order, not yet taken.
    pub inbox: Vec<(ConnId, Value)>,
    pub closes: Vec<(ConnId, Option<u16>)>,
    /// Setup asks for this protocol on the next login.
    pub protocol_hint: Option<String>,
}

pub fn connect_params(project: &str, token: &str, sessionid: Option<&str>) -> Value {
    let mut p = json!({"version":{"major":2,"minor":1,"revision":0},
        "authentication":{"project":project,"token":token},"agent":"test"});
    if let Some(s) = sessionid {
        p["sessionid"] = json!(s);
    }
    p
}

impl Harness {
    pub fn new() -> Self {
        Self::with(MockConfig::default())
    }

    pub fn with(config: MockConfig) -> Self {
        let now = Instant::now();
        Self {
            server: MockServer::new(config),
            now,
            start: now,
            next_id: 0,
            inbox: Vec::new(),
            closes: Vec::new(),
            protocol_hint: None,
        }
    }

    pub fn drain(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                ServerOutput::Send { conn, text } => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    self.inbox.push((conn, v));
                }
                ServerOutput::Close { conn, code } => self.closes.push((conn, code)),
            }
        }
    }

    pub fn open(&mut self) -> ConnId {
        let c = self.server.connection_opened(self.now);
        self.drain();
        c
    }

    pub fn send(&mut self, conn: ConnId, frame: &Value) {
        self.server.handle_frame(self.now, conn, &frame.to_string());
        self.drain();
    }

    pub fn send_text(&mut self, conn: ConnId, text: &str) {
        self.server.handle_frame(self.now, conn, text);
        self.drain();
    }

    pub fn next_id(&mut self) -> String {
        self.next_id += 1;
        format!("req-{}", self.next_id)
    }

    /// Sends a request and returns its response (taken out of the inbox).
    pub fn request(&mut self, conn: ConnId, method: &str, params: Value) -> Value {
        let id = self.next_id();
        self.send(
            conn,
            &json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
        );
        self.take_response(&id)
            .unwrap_or_else(|| panic!("no response to {method}"))
    }

    /// Sends a request, does not wait.
    pub fn request_id(&mut self, conn: ConnId, method: &str, params: Value) -> String {
        let id = self.next_id();
        self.send(
            conn,
            &json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
        );
        id
    }

    pub fn take_response(&mut self, id: &str) -> Option<Value> {
        let i = self
            .inbox
            .iter()
            .position(|(_, v)| v["id"] == id && v.get("method").is_none())?;
        Some(self.inbox.remove(i).1)
    }

    /// `blade.execute` relay call; returns the relay result.
    pub fn execute(&mut self, conn: ConnId, protocol: &str, method: &str, params: Value) -> Value {
        let r = self.request(
            conn,
            "blade.execute",
            json!({"protocol":protocol,"method":method,"params":params}),
        );
        r["result"]["result"].clone()
    }

    /// Full handshake plus receive; returns (sessionid, protocol).
    pub fn login(&mut self, conn: ConnId, contexts: &[&str]) -> (String, String) {
        self.login_as(conn, contexts, None)
    }

    pub fn login_as(
        &mut self,
        conn: ConnId,
        contexts: &[&str],
        sessionid: Option<&str>,
    ) -> (String, String) {
        let r = self.request(
            conn,
            "blade.connect",
            connect_params("test-project", "test-token", sessionid),
        );
        let sid = r["result"]["sessionid"].as_str().unwrap().to_owned();
        let mut setup = json!({});
        if let Some(p) = self.protocol_hint.take() {
            setup = json!({"protocol": p});
        }
        let r = self.request(
            conn,
            "blade.execute",
            json!({"protocol":"signalwire","method":"setup","params":setup}),
        );
        let proto = r["result"]["result"]["protocol"]
            .as_str()
            .unwrap()
            .to_owned();
        self.request(
            conn,
            "blade.subscription",
            json!({"command":"add","protocol":proto,"channels":["notifications"]}),
        );
        if !contexts.is_empty() {
            let rr = self.execute(
                conn,
                &proto,
                "signalwire.receive",
                json!({"contexts":contexts}),
            );
            assert_eq!(rr["code"], "200");
        }
        (sid, proto)
    }

    /// Advances virtual time by `d`, firing timers on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            match self.server.poll_timeout() {
                Some(t) if t <= end => {
                    if t > self.now {
                        self.now = t;
                    }
                    self.server.handle_timeout(self.now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
        self.server.handle_timeout(self.now);
        self.drain();
    }

    /// Takes all broadcast events (inner `params`) for `conn`, in order.
    pub fn events(&mut self, conn: ConnId) -> Vec<Value> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for (c, v) in self.inbox.drain(..) {
            if c == conn && v["method"] == "blade.broadcast" {
                out.push(v["params"]["params"].clone());
            } else {
                rest.push((c, v));
            }
        }
        self.inbox = rest;
        out
    }

    /// Event summaries like `calling.call.play:playing` for assertions.
    pub fn event_names(&mut self, conn: ConnId) -> Vec<String> {
        self.events(conn).iter().map(summary).collect()
    }

    pub fn control(
        &mut self,
        endpoint: &str,
        body: Value,
    ) -> Result<Value, relay_mock::ControlError> {
        let r = self.server.control(self.now, endpoint, body);
        self.drain();
        r
    }

    pub fn ms(&self) -> u128 {
        self.now.duration_since(self.start).as_millis()
    }
}

/// `event_type:state` for an inner event object.
pub fn summary(e: &Value) -> String {
    let p = &e["params"];
    let et = e["event_type"].as_str().unwrap_or("?");
    let state = p["call_state"]
        .as_str()
        .or(p["dial_state"].as_str())
        .or(p["connect_state"].as_str())
        .or(p["state"].as_str())
        .or(p["message_state"].as_str())
        .or(p["result"]["type"].as_str())
        .or(p["detect"]["params"]["event"].as_str())
        .or(p["fax"]["type"].as_str())
        .unwrap_or("");
    format!("{et}:{state}")
}
