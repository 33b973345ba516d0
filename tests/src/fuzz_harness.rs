//! Harness functions shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/tests/fuzz_corpus.rs`). The fuzz targets include this file with
//! `#[path = "../../tests/src/fuzz_harness.rs"] mod fuzz_harness;`, so a corpus input runs the
//! exact same code under the fuzzer and under `cargo test`.
//!
//! Every function takes arbitrary bytes and panics only when the code under test breaks an
//! invariant (or panics itself).
#![allow(clippy::disallowed_methods)] // the harness is the driver: it reads the clock once

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use relay_mock::{ConnId, MockConfig, MockServer, ServerOutput};
use relay_proto::calling::{
    CollectDigits, CollectParams, Device, DialParams, EndReason, Media, PlayParams, PromptParams,
};
use relay_proto::{
    CallEvent, CallId, CloseInfo, ControlId, Event, Input, MessageParams, Output, Session,
    TransportAction,
};
use serde_json::{json, Value};

/// Most steps one input may drive (keeps every execution fast).
const MAX_STEPS: usize = 256;

// ------------------------------------------------------------------------------------------
// mock_frames
// ------------------------------------------------------------------------------------------

struct MockDriver {
    server: MockServer,
    now: Instant,
    /// Open connections, oldest first.
    conns: Vec<ConnId>,
    closed: BTreeSet<ConnId>,
    max_conn: u64,
    protocol: String,
    sessionid: String,
    calls: Vec<String>,
    controls: Vec<String>,
    node: String,
    next_id: u64,
}

impl MockDriver {
    fn new(now: Instant) -> Self {
        let mut d = MockDriver {
            server: MockServer::new(MockConfig::default()),
            now,
            conns: vec![],
            closed: BTreeSet::new(),
            max_conn: 0,
            protocol: String::new(),
            sessionid: String::new(),
            calls: vec![],
            controls: vec![],
            node: String::new(),
            next_id: 0,
        };
        d.open(false);
        d
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("h{}", self.next_id)
    }

    /// Opens a connection and runs a full handshake on it (restoring the first session when
    /// `restore`), ending with `signalwire.receive` for `office`.
    fn open(&mut self, restore: bool) {
        let conn = self.server.connection_opened(self.now);
        self.max_conn = self.max_conn.max(conn.0);
        self.conns.push(conn);
        self.drain();
        let mut connect = json!({"authentication":{"project":"test-project","token":"test-token"},
            "version":{"major":2,"minor":1,"revision":0},"agent":"fuzz"});
        if restore && !self.sessionid.is_empty() {
            connect["sessionid"] = json!(self.sessionid);
        }
        let id = self.id();
        let f = json!({"jsonrpc":"2.0","id":id,"method":"blade.connect","params":connect});
        self.send(conn, &f.to_string());
        let id = self.id();
        let f = json!({"jsonrpc":"2.0","id":id,"method":"blade.execute",
            "params":{"protocol":"signalwire","method":"setup","params":{}}});
        self.send(conn, &f.to_string());
        let id = self.id();
        let f = json!({"jsonrpc":"2.0","id":id,"method":"blade.subscription",
            "params":{"command":"add","protocol":self.protocol,"channels":["notifications"]}});
        self.send(conn, &f.to_string());
        let id = self.id();
        let f = json!({"jsonrpc":"2.0","id":id,"method":"blade.execute",
            "params":{"protocol":self.protocol,"method":"signalwire.receive",
            "params":{"contexts":["office"]}}});
        self.send(conn, &f.to_string());
    }

    fn send(&mut self, conn: ConnId, text: &str) {
        self.server.handle_frame(self.now, conn, text);
        self.drain();
    }

    /// Replaces `$P` (protocol), `$S` (session id), `$C`/`$D` (last/previous call id), `$K`
    /// (last control id) and `$N` (last node id) so the fuzzer reaches paths that need ids it cannot guess.
    fn expand(&self, line: &str) -> String {
        if !line.contains('$') {
            return line.to_owned();
        }
        let last = |v: &Vec<String>, back: usize| {
            v.len()
                .checked_sub(1 + back)
                .and_then(|i| v.get(i))
                .cloned()
                .unwrap_or_default()
        };
        line.replace("$P", &self.protocol)
            .replace("$S", &self.sessionid)
            .replace("$C", &last(&self.calls, 0))
            .replace("$D", &last(&self.calls, 1))
            .replace("$K", &last(&self.controls, 0))
            .replace("$N", &self.node)
    }

    fn drain(&mut self) {
        let mut n = 0usize;
        while let Some(out) = self.server.poll_output() {
            n += 1;
            assert!(n < 1_000_000, "the server never stops producing output");
            match out {
                ServerOutput::Send { conn, text } => {
                    assert!(
                        conn.0 >= 1 && conn.0 <= self.max_conn,
                        "send to unknown {conn:?}"
                    );
                    let v: Value = serde_json::from_str(&text).expect("the server only sends JSON");
                    assert_eq!(v.get("jsonrpc"), Some(&json!("2.0")), "{v}");
                    self.learn(&v);
                }
                ServerOutput::Close { conn, .. } => {
                    assert!(
                        conn.0 >= 1 && conn.0 <= self.max_conn,
                        "close of unknown {conn:?}"
                    );
                    self.conns.retain(|c| *c != conn);
                    self.closed.insert(conn);
                }
            }
        }
    }

    /// Remembers protocol, session, call and control ids the server hands out.
    fn learn(&mut self, v: &Value) {
        let r = &v["result"];
        if let Some(s) = r["sessionid"].as_str() {
            if self.sessionid.is_empty() {
                self.sessionid = s.to_owned();
            }
        }
        if let Some(p) = r["result"]["protocol"].as_str() {
            self.protocol = p.to_owned();
        }
        let mut remember = |p: &Value| {
            if let Some(n) = p["node_id"].as_str() {
                self.node = n.to_owned();
            }
            if let Some(c) = p["call_id"].as_str() {
                if !self.calls.iter().any(|x| x == c) {
                    self.calls.push(c.to_owned());
                }
            }
            if let Some(c) = p["control_id"].as_str() {
                if !self.controls.iter().any(|x| x == c) {
                    self.controls.push(c.to_owned());
                }
            }
        };
        remember(&r["result"]);
        remember(&v["params"]["params"]["params"]);
        remember(&v["params"]["params"]["params"]["call"]);
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        self.server.handle_timeout(self.now);
        self.drain();
        assert!(
            self.server.poll_timeout().map_or(true, |t| t > self.now),
            "handle_timeout left due work behind"
        );
    }

    fn step(&mut self, line: &str) {
        self.tick(Duration::from_millis(37));
        let line = line.trim_end_matches('\r');
        let mut chars = line.chars();
        match chars.next() {
            Some('~') => {
                let ms: u64 = chars.as_str().trim().parse().unwrap_or(1000).min(3_600_000);
                self.tick(Duration::from_millis(ms));
            }
            Some('+') if self.max_conn < 6 => self.open(chars.as_str().starts_with('r')),
            Some('-') => {
                let i = chars.as_str().trim().parse::<usize>().unwrap_or(0);
                if let Some(c) = self.conns.get(i).copied() {
                    self.server.connection_closed(self.now, c);
                    self.conns.retain(|x| *x != c);
                    self.closed.insert(c);
                    self.drain();
                }
            }
            Some('#') => {
                let rest = self.expand(chars.as_str());
                let (endpoint, body) = rest.split_once(' ').unwrap_or((&rest, ""));
                let body = serde_json::from_str(body).unwrap_or(Value::Null);
                let r = self.server.control(self.now, endpoint, body);
                if let Ok(v) = &r {
                    let _ = serde_json::to_string(v).expect("control results serialise");
                }
                self.drain();
            }
            Some('%') => {
                let rest = chars.as_str();
                let (auth, body) = match rest.strip_prefix('!') {
                    Some(body) => (None, body),
                    // base64("test-project:test-token")
                    None => (Some("Basic dGVzdC1wcm9qZWN0OnRlc3QtdG9rZW4="), rest),
                };
                let body = self.expand(body);
                let r = self.server.deliver_task(self.now, auth, body.as_bytes());
                assert!(matches!(r.status, 204 | 400 | 401 | 404 | 413), "{r:?}");
                self.drain();
            }
            Some('@') => {
                let rest = chars.as_str();
                let (n, text) = rest.split_once(' ').unwrap_or((rest, ""));
                // Any connection ever opened, closed ones included (they must be ignored).
                let conn = ConnId(n.parse::<u64>().unwrap_or(1).min(self.max_conn + 1));
                let text = self.expand(text);
                self.server.handle_frame(self.now, conn, &text);
                self.drain();
            }
            _ => {
                let conn = self.conns.last().copied().unwrap_or(ConnId(1));
                let text = self.expand(line);
                self.server.handle_frame(self.now, conn, &text);
                self.drain();
            }
        }
    }

    /// Lets every scheduled action fire.
    fn finish(&mut self) {
        for _ in 0..256 {
            let Some(t) = self.server.poll_timeout() else {
                break;
            };
            let by = t.saturating_duration_since(self.now);
            self.tick(by);
        }
        let _ = self.server.transcript_jsonl();
    }
}

/// Arbitrary bytes, split into lines, driven into a [`MockServer`] whose first connection has
/// completed a valid handshake. Line prefixes: `~ms` advance time, `+` open another connection
/// (`+r` restoring the first session), `-i` close the i-th open connection, `#endpoint json` a
/// control request, `%body` a REST task (`%!body` without credentials), `@n frame` a frame on
/// connection n; anything else is a frame on the newest connection. `$P $S $C $D $K $N` expand
/// to the protocol, session id, last/previous call id, last control id and last node id. Every line is also a
/// 37 ms tick; at the end every scheduled action is run. Panics on any server panic, on output
/// that is not JSON-RPC 2.0, and on a timer left due after `handle_timeout`.
pub fn mock_frames(data: &[u8]) {
    let t0 = Instant::now();
    let mut d = MockDriver::new(t0);
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n').take(MAX_STEPS) {
        d.step(line);
    }
    d.finish();
}

// ------------------------------------------------------------------------------------------
// session_ops
// ------------------------------------------------------------------------------------------

/// A cursor over the fuzz input; reads past the end give zeros.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn pick<'b, T>(&mut self, items: &'b [T]) -> Option<&'b T> {
        if items.is_empty() {
            return None;
        }
        let i = self.u8() as usize % items.len();
        items.get(i)
    }
    fn str(&mut self, items: &[&str]) -> String {
        self.pick(items).copied().unwrap_or("").to_owned()
    }
    /// A short string straight from the input (lossy UTF-8).
    fn raw(&mut self, max: usize) -> String {
        let n = (self.u8() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos += n;
        String::from_utf8_lossy(&self.data[start..end]).into_owned()
    }
}

struct SessionDriver {
    s: Session,
    now: Instant,
    /// Client requests sent and not yet answered by this driver: (id, method, inner method).
    pending: Vec<(Value, String, String)>,
    request_ids: BTreeSet<String>,
    calls: Vec<String>,
    controls: Vec<ControlId>,
    tags: Vec<String>,
    want_connect: bool,
    open: bool,
    next_id: u64,
}

const CALL_POOL: &[&str] = &["call-a", "call-b", "call-c"];
const CONTROL_POOL: &[&str] = &["ctl-x", "ctl-y"];

impl SessionDriver {
    fn new(now: Instant) -> Self {
        let (s, sent) = relay_proto::fuzzing::ready_session(now);
        let mut d = SessionDriver {
            s,
            now,
            pending: vec![],
            request_ids: BTreeSet::new(),
            calls: CALL_POOL.iter().map(|c| (*c).to_owned()).collect(),
            controls: CONTROL_POOL.iter().map(|c| ControlId::new(*c)).collect(),
            tags: vec!["tag-z".to_owned()],
            want_connect: false,
            open: true,
            next_id: 0,
        };
        for f in &sent {
            if let Some(id) = f.get("id").and_then(Value::as_str) {
                if f.get("method").is_some() {
                    d.request_ids.insert(id.to_owned());
                }
            }
        }
        d.drain();
        d
    }

    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.s.poll_output() {
                Output::Transmit(f) => {
                    let v: Value = serde_json::from_str(&f).expect("the session only sends JSON");
                    assert_eq!(v.get("jsonrpc"), Some(&json!("2.0")), "{v}");
                    if let Some(m) = v.get("method").and_then(Value::as_str) {
                        let id = v.get("id").cloned().unwrap_or(Value::Null);
                        let key = id.as_str().expect("request ids are strings").to_owned();
                        assert!(self.request_ids.insert(key), "request id reused: {v}");
                        let inner = v["params"]["method"].as_str().unwrap_or("").to_owned();
                        self.pending.push((id, m.to_owned(), inner));
                        if self.pending.len() > 64 {
                            self.pending.remove(0);
                        }
                    }
                }
                Output::Transport(TransportAction::Connect) => self.want_connect = true,
                Output::Transport(TransportAction::Close { .. }) if self.open => {
                    self.open = false;
                    let _ = self.s.handle_input(
                        self.now,
                        Input::Closed(CloseInfo {
                            code: Some(1000),
                            reason: "asked",
                        }),
                    );
                }
                Output::Event(e) => self.learn(&e),
                Output::Timeout(_) => return,
                _ => {}
            }
        }
        panic!("the session never stops producing output");
    }

    fn learn(&mut self, e: &Event) {
        if let Event::Call(CallEvent::IncomingCall { call }) = e {
            self.remember_call(call.id.as_str());
        }
    }

    fn remember_call(&mut self, id: &str) {
        if !self.calls.iter().any(|c| c == id) {
            self.calls.push(id.to_owned());
            if self.calls.len() > 16 {
                self.calls.remove(CALL_POOL.len());
            }
        }
    }

    fn input(&mut self, frame: &str) {
        let _ = self.s.handle_input(self.now, Input::Frame(frame));
        self.drain();
    }

    fn broadcast(&mut self, event_type: &str, params: Value) {
        self.next_id += 1;
        let protocol = self.s.protocol().unwrap_or("signalwire_SIG_x").to_owned();
        let f = json!({"jsonrpc":"2.0","id":format!("srv-{}", self.next_id),
            "method":"blade.broadcast","params":{"broadcaster_nodeid":"srv","channel":"notifications",
            "event":"queuing.relay.events","params":{"event_channel":protocol,
            "event_type":event_type,"timestamp":1_700_000_000.5,"project_id":"project",
            "space_id":"space","params":params}}});
        self.input(&f.to_string());
    }

    fn call(&mut self, b: &mut Bytes<'_>) -> String {
        b.pick(&self.calls).cloned().unwrap_or_default()
    }

    fn control(&mut self, b: &mut Bytes<'_>) -> ControlId {
        b.pick(&self.controls)
            .cloned()
            .unwrap_or_else(|| ControlId::new("none"))
    }

    fn device(b: &mut Bytes<'_>) -> Value {
        if b.u8() % 2 == 0 {
            json!({"type":"phone","params":{"from_number":"+15550000001","to_number":"+15550000002","timeout":30}})
        } else {
            json!({"type":"sip","params":{"from":"a@x","to":"b@y"}})
        }
    }

    fn call_mut<F>(&mut self, b: &mut Bytes<'_>, f: F)
    where
        F: FnOnce(&mut relay_proto::calling::CallMut<'_>, Instant) -> Option<ControlId>,
    {
        let id = CallId::new(self.call(b));
        let now = self.now;
        if let Ok(mut c) = self.s.call_mut(&id) {
            if let Some(ctl) = f(&mut c, now) {
                self.controls.push(ctl);
                if self.controls.len() > 16 {
                    self.controls.remove(CONTROL_POOL.len());
                }
            }
        }
        self.drain();
    }

    fn media(b: &mut Bytes<'_>) -> Media {
        match b.u8() % 4 {
            0 => Media::tts(b.raw(8)),
            1 => Media::audio("https://x.invalid/a.mp3"),
            2 => Media::silence(f64::from(b.u8()) / 16.0),
            _ => Media::ringtone("us", None),
        }
    }

    /// Answers one pending request (picked by the input) the way a server would.
    fn respond(&mut self, b: &mut Bytes<'_>) {
        if self.pending.is_empty() {
            return;
        }
        let i = b.u8() as usize % self.pending.len();
        let (id, method, inner) = self.pending.remove(i);
        let mode = b.u8() % 8;
        let protocol = self.s.protocol().unwrap_or("signalwire_SIG_x").to_owned();
        let frame = if mode == 7 {
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32000 - i64::from(b.u8()),"message":"nope"}})
        } else {
            let result = match method.as_str() {
                "blade.connect" => {
                    json!({"sessionid":"s","nodeid":"n","authorization":{"signature":"SIG"},
                        "session_restored": mode % 2 == 0})
                }
                "blade.subscription" => json!({"command":"add","protocol":protocol,
                    "subscribe_channels":["notifications"]}),
                "blade.ping" => json!({}),
                _ if inner == "setup" => {
                    json!({"protocol":"signalwire","result":{"protocol":protocol}})
                }
                _ => {
                    let code = b.str(&["200", "200", "400", "404", "500", "x"]);
                    let mut r = json!({"code":code,"message":"m"});
                    if mode % 3 == 0 {
                        r["call_id"] = json!(self.call(b));
                    }
                    if inner == "messaging.send" {
                        r["message_id"] = json!(format!("msg-{}", b.u8() % 4));
                    }
                    json!({"protocol":protocol,"requester_nodeid":"n","responder_nodeid":"srv","result":r})
                }
            };
            json!({"jsonrpc":"2.0","id":id,"result":result})
        };
        self.input(&frame.to_string());
    }

    fn op(&mut self, b: &mut Bytes<'_>) {
        let now = self.now;
        match b.u8() % 24 {
            0 => {
                let call_id = self.call(b);
                let state = b.str(&["created", "ringing", "answered", "ending", "ended", "bogus"]);
                let mut p = json!({"call_id":call_id,"node_id":"node-1","call_state":state,
                    "direction":"outbound","device":Self::device(b)});
                if b.u8() % 2 == 0 {
                    if let Some(t) = b.pick(&self.tags) {
                        p["tag"] = json!(t);
                    }
                }
                if state == "ending" || state == "ended" {
                    p["end_reason"] = json!(b.str(&["hangup", "busy", "error", "weird"]));
                }
                self.broadcast("calling.call.state", p);
            }
            1 => {
                let call_id = if b.u8() % 2 == 0 {
                    format!("in-{}", b.u8() % 8)
                } else {
                    self.call(b)
                };
                let ctx = b.str(&["office", "other", ""]);
                let state = b.str(&["created", "ringing", "answered"]);
                let p = json!({"call_id":call_id,"node_id":"node-1","call_state":state,
                    "context":ctx,"direction":"inbound","device":Self::device(b)});
                self.remember_call(&call_id);
                self.broadcast("calling.call.receive", p);
            }
            2 => {
                let p = json!({"call_id":self.call(b),"control_id":self.control(b).as_str(),
                    "node_id":"node-1","state":b.str(&["playing","finished","error","paused","x"])});
                self.broadcast("calling.call.play", p);
            }
            3 => {
                let result = match b.u8() % 7 {
                    0 => json!({"type":"digit","params":{"digits":"12","terminator":"#"}}),
                    1 => json!({"type":"speech","params":{"text":"hi","confidence":0.5}}),
                    2 => json!({"type":"no_input"}),
                    3 => json!({"type":"no_match"}),
                    4 => json!({"type":"error"}),
                    5 => json!({"type":"start_of_input"}),
                    _ => json!({"type":"speech","partial":true,"params":{"text":"h"}}),
                };
                let mut p = json!({"call_id":self.call(b),"control_id":self.control(b).as_str(),
                    "node_id":"node-1","result":result});
                if b.u8() % 2 == 0 {
                    p["final"] = json!(b.u8() % 2 == 0);
                }
                self.broadcast("calling.call.collect", p);
            }
            4 => {
                let tag = b.pick(&self.tags).cloned().unwrap_or_default();
                let state = b.str(&["dialing", "answered", "failed", "x"]);
                let mut p = json!({"tag":tag,"node_id":"node-1","dial_state":state});
                if b.u8() % 2 == 0 {
                    let call_id = self.call(b);
                    p["call"] = json!({"call_id":call_id,"node_id":"node-1","tag":tag,
                        "call_state":"answered","device":Self::device(b),"dial_winner":true});
                }
                self.broadcast("calling.call.dial", p);
            }
            5 => {
                let mut p = json!({"call_id":self.call(b),"node_id":"node-1",
                    "connect_state":b.str(&["connecting","connected","failed","disconnected"])});
                if b.u8() % 2 == 0 {
                    p["peer"] = json!({"call_id":self.call(b),"node_id":"node-2",
                        "device":Self::device(b)});
                }
                self.broadcast("calling.call.connect", p);
            }
            6..=8 => self.respond(b),
            9 => {
                let to = b.str(&["+15550000002", "", "sip:b@y"]);
                let device = if to.starts_with("sip:") {
                    Device::sip("sip:a@x", to)
                } else {
                    Device::phone("+15550000001", to)
                };
                let params = match b.u8() % 3 {
                    0 => DialParams::single(device),
                    1 => DialParams::serial([device.clone(), device]),
                    _ => DialParams::parallel([device.clone(), device]),
                };
                if let Ok(tag) = self.s.dial(now, &params) {
                    self.tags.push(tag.as_str().to_owned());
                    if self.tags.len() > 8 {
                        self.tags.remove(1);
                    }
                }
                self.drain();
            }
            10 => self.call_mut(b, |c, now| c.answer(now).ok()),
            11 => {
                let media = (0..b.u8() % 3).map(|_| Self::media(b)).collect::<Vec<_>>();
                let vol = f64::from(b.u8() as i8) / 2.0;
                let params = PlayParams::new(media).with_volume(vol);
                self.call_mut(b, |c, now| c.play(now, &params).ok());
            }
            12 => {
                let media = (0..b.u8() % 2).map(|_| Self::media(b)).collect::<Vec<_>>();
                let params = PromptParams {
                    media,
                    collect: CollectParams {
                        digits: Some(CollectDigits {
                            max: Some(u32::from(b.u8() % 5)),
                            terminators: Some(b.str(&["#", "", "*#", "x"])),
                            digit_timeout: Some(f64::from(b.u8())),
                        }),
                        speech: None,
                        initial_timeout: Some(f64::from(b.u8() as i8)),
                        partial_results: b.u8() % 2 == 0,
                    },
                    volume: None,
                };
                self.call_mut(b, |c, now| c.prompt(now, &params).ok());
            }
            13 => {
                let ctl = self.control(b);
                let action = b.u8() % 4;
                self.call_mut(b, |c, now| {
                    let _ = match action {
                        0 => c.stop(now, &ctl),
                        1 => c.pause(now, &ctl),
                        2 => c.resume(now, &ctl),
                        _ => c.volume(now, &ctl, 3.0),
                    };
                    None
                });
            }
            14 => {
                let reason = match b.u8() % 3 {
                    0 => EndReason::Hangup,
                    1 => EndReason::Busy,
                    _ => EndReason::Other("x".into()),
                };
                self.call_mut(b, |c, now| c.hangup(now, reason).ok());
            }
            15 => {
                let params = MessageParams::text(
                    b.str(&["office", "", "other"]),
                    "+15550000001",
                    b.str(&["+15550000002", " "]),
                    b.raw(8),
                );
                let _ = self.s.messaging_send(now, &params);
                self.drain();
            }
            16 => {
                let secs = u64::from(b.u8());
                self.now += Duration::from_millis(secs * 250);
                let _ = self.s.handle_input(self.now, Input::Timeout);
                self.drain();
            }
            17 => {
                if let Some(t) = self.s.poll_timeout() {
                    self.now = self.now.max(t);
                }
                let _ = self.s.handle_input(self.now, Input::Timeout);
                self.drain();
            }
            18 => {
                if self.open {
                    self.open = false;
                    let code = b.pick(&[None, Some(1000), Some(1006), Some(4001)]).copied();
                    let _ = self.s.handle_input(
                        now,
                        Input::Closed(CloseInfo {
                            code: code.flatten(),
                            reason: "fuzz",
                        }),
                    );
                    self.pending.clear();
                    self.drain();
                }
            }
            19 => {
                if self.want_connect && !self.open {
                    self.want_connect = false;
                    self.open = true;
                    let _ = self.s.handle_input(now, Input::Opened);
                    self.drain();
                }
            }
            20 => {
                if b.u8() % 8 == 0 {
                    self.s.close(now);
                    self.drain();
                }
            }
            21 => {
                self.next_id += 1;
                let f = match b.u8() % 3 {
                    0 => json!({"jsonrpc":"2.0","id":format!("srv-p{}", self.next_id),
                        "method":"blade.ping","params":{}}),
                    1 => json!({"jsonrpc":"2.0","id":format!("srv-d{}", self.next_id),
                        "method":"blade.disconnect","params":{}}),
                    _ => {
                        let protocol = self.s.protocol().unwrap_or("").to_owned();
                        json!({"jsonrpc":"2.0","id":format!("srv-m{}", self.next_id),
                            "method":"blade.broadcast","params":{"broadcaster_nodeid":"srv",
                            "channel":"notifications","event":"queuing.relay.messaging",
                            "params":{"event_channel":protocol,"event_type":b.str(&["messaging.receive","messaging.state"]),
                            "context":"office","params":{"message_id":format!("msg-{}", b.u8() % 4),
                            "context":"office","direction":"inbound","from_number":"+1","to_number":"+2",
                            "body":"hi","media":[],"segments":1,"tags":[],
                            "message_state":b.str(&["received","queued","delivered","failed","x"])}}}})
                    }
                };
                self.input(&f.to_string());
            }
            22 => {
                let p = json!({"call_id":self.call(b),"control_id":self.control(b).as_str(),
                    "node_id":"node-1","state":b.str(&["finished","error","recording"]),
                    "record":{"audio":{"format":"mp3"}},"url":"u","duration":1,"size":2});
                let t = b.str(&[
                    "calling.call.record",
                    "calling.call.tap",
                    "calling.call.send_digits",
                    "calling.call.detect",
                    "calling.call.fax",
                    "calling.call.refer",
                    "calling.call.nope",
                ]);
                self.broadcast(&t, p);
            }
            _ => {
                let text = b.raw(200);
                self.input(&text);
            }
        }
        assert!(self.s.in_flight() <= 1024);
        assert!(self.s.queued() <= 4096);
    }
}

/// Arbitrary bytes read as a sequence of operations on a ready [`Session`]: server events built
/// from templates with fuzzed fields (call state, receive, play, collect, dial, connect, record,
/// messaging), answers to the session's own requests (success, relay error, RPC error),
/// commands (dial, answer, play, prompt, stop/pause/resume/volume, hangup, messaging send),
/// timeouts, transport close/reopen, `close`, raw frames. Panics on a session panic, on a
/// transmitted frame that is not JSON-RPC 2.0, and on a request id sent twice.
pub fn session_ops(data: &[u8]) {
    let t0 = Instant::now();
    let mut d = SessionDriver::new(t0);
    let mut b = Bytes { data, pos: 0 };
    let mut steps = 0;
    while !b.done() && steps < MAX_STEPS * 2 {
        d.op(&mut b);
        steps += 1;
    }
    // Let every timer fire.
    for _ in 0..64 {
        let Some(t) = d.s.poll_timeout() else { break };
        d.now = d.now.max(t);
        let _ = d.s.handle_input(d.now, Input::Timeout);
        d.drain();
    }
}
