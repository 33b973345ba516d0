//! The `mock_frames` target: a program of [`MockOp`]s (derived with `arbitrary`) driven into a
//! [`MockServer`] with several connections.
//!
//! The operations are what a client and a test can do to the server: requests of every method
//! of relay-proto's [`Method`] table with well-formed params (built from the ids the server
//! handed out) or fuzzed JSON ones, raw text frames, opening, restoring and closing
//! connections, the control API, REST task deliveries, transport faults, and virtual time. A
//! [`crate::Pair`] has one client; this target needs several connections, restores and closed
//! ones, so it drives the server directly.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use relay_proto::wire::Method;
use serde_json::{json, Map, Value};

use crate::{ConnId, Fault, MockConfig, MockServer, ServerOutput};

/// Most operations one input may run (keeps every execution fast).
const MAX_OPS: usize = 256;

/// Contexts the operations name (the first session receives `office`).
const CONTEXTS: &[&str] = &["office", "home", ""];

/// The control endpoints, plus one the server does not know.
const ENDPOINTS: &[&str] = &[
    "health",
    "reset",
    "sessions",
    "frames",
    "inbound_call",
    "inbound_message",
    "next",
    "end_call",
    "ping",
    "drop",
    "blade_disconnect",
    "nope",
];

/// `next` outcomes: the CONTROL_API table, plus ones no method accepts.
const OUTCOMES: &[&str] = &[
    "no_response",
    "error_code",
    "busy",
    "no_answer",
    "noAnswer",
    "error",
    "failed",
    "digit",
    "speech",
    "no_input",
    "no_match",
    "cancel",
    "undelivered",
    "HUMAN",
    "MACHINE,READY",
    "",
];

fn pick<T: AsRef<str>>(list: &[T], i: u8) -> Option<&str> {
    (!list.is_empty()).then(|| list[usize::from(i) % list.len()].as_ref())
}

fn method(i: u8) -> Method {
    Method::ALL[usize::from(i) % Method::ALL.len()]
}

/// A small JSON value for fuzzed params and bodies.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(i32),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object.
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn value(&self, depth: u8) -> Value {
        match self {
            _ if depth > 4 => Value::Null,
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Num(n) => json!(n),
            Json::Str(s) => json!(s),
            Json::Arr(a) => a.iter().map(|v| v.value(depth + 1)).collect(),
            Json::Obj(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.value(depth + 1)))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// One step of a `mock_frames` program.
#[derive(Arbitrary, Debug, Clone)]
pub enum MockOp {
    /// Advance virtual time by this many milliseconds.
    Wait(u16),
    /// Open another connection with a full handshake (restoring the first session).
    Open {
        /// Present the first session's id.
        restore: bool,
    },
    /// The peer closes the i-th open connection.
    Close(u8),
    /// A request on a connection.
    Request {
        /// Picks the connection: any ever opened, closed ones included, or an unknown one.
        conn: u8,
        /// Picks the method from relay-proto's table.
        method: u8,
        /// Picks the call among those the server handed out.
        call: u8,
        /// Picks the control id.
        control: u8,
        /// Fuzzed params instead of well-formed ones.
        params: Option<Json>,
    },
    /// A raw text frame on the newest connection.
    Raw(String),
    /// A control request.
    Control {
        /// Picks the endpoint.
        endpoint: u8,
        /// Picks a method (for `next`).
        method: u8,
        /// Picks the outcome (for `next`) or the context.
        choice: u8,
        /// Picks the call (for `end_call`).
        call: u8,
        /// A number (`count`, `since`, `close_after_ms`; 0 = absent).
        n: u16,
        /// Extra members of the body.
        extra: Option<Json>,
    },
    /// A REST task delivery.
    Task {
        /// With valid credentials.
        authorized: bool,
        /// Picks the context.
        context: u8,
        /// The message.
        message: Json,
    },
    /// A transport fault, armed through the Rust API.
    Inject {
        /// Which fault (0-7).
        kind: u8,
        /// Picks the method of the per-method faults.
        method: u8,
        /// Count, frames or milliseconds.
        n: u8,
    },
}

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
    /// A CorruptFrames fault was armed (the server may then send truncated JSON).
    corrupting: bool,
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
            corrupting: false,
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

    /// A call id the server handed out (picked by `i`), or one it never did.
    fn call(&self, i: u8) -> String {
        pick(&self.calls, i).unwrap_or("no-such-call").to_owned()
    }

    /// A control id seen before (picked by `i`), or a fresh one.
    fn control(&self, i: u8) -> String {
        match pick(&self.controls, i) {
            Some(c) if i % 4 != 0 => c.to_owned(),
            _ => format!("ctl-{i}"),
        }
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
                    match serde_json::from_str::<Value>(&text) {
                        Ok(v) => {
                            assert_eq!(v.get("jsonrpc"), Some(&json!("2.0")), "{v}");
                            self.learn(&v);
                        }
                        // Only a CorruptFrames fault makes the server send anything but JSON.
                        Err(e) => assert!(self.corrupting, "the server sent non-JSON: {e}"),
                    }
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

    /// Well-formed params for `method` (the ids the server handed out; fuzzed ones elsewhere).
    fn params(&self, method: Method, call: u8, control: u8) -> Value {
        let call_id = self.call(call);
        let control_id = self.control(control);
        let ids = json!({"call_id": call_id, "node_id": self.node, "control_id": control_id});
        let media = json!([{"type": "tts", "params": {"text": "hi"}},
            {"type": "silence", "params": {"duration": 0.2}}]);
        let device = json!({"type": "phone", "params": {"from_number": "+15550000001",
            "to_number": "+15550000002"}});
        let extra = match method {
            Method::Connect => {
                return json!({"version": {"major": 2, "minor": 1, "revision": 0},
                    "authentication": {"project": "test-project", "token": "test-token"},
                    "sessionid": self.sessionid});
            }
            Method::Subscription => {
                return json!({"command": "add", "protocol": self.protocol,
                    "channels": ["notifications"]});
            }
            Method::Setup => json!({}),
            Method::Receive => json!({"contexts": ["office", "home"]}),
            Method::CallingDial | Method::CallingBegin => {
                json!({"tag": "t", "devices": [[device.clone(), device]]})
            }
            Method::CallingConnect => json!({"devices": [[device]]}),
            Method::CallingRefer => json!({"device": {"type": "sip", "params": {"to": "sip:x"}}}),
            Method::CallingPlay | Method::CallingPlayAndCollect => json!({"play": media,
                "collect": {"digits": {"max": 2}}, "volume": 1}),
            Method::CallingRecord => json!({"record": {"audio": {"format": "wav"}}}),
            Method::CallingDetect => json!({"detect": {"type": "machine", "params": {}},
                "timeout": 1}),
            Method::MessagingSend => json!({"context": "office", "from_number": "+1",
                "to_number": "+2", "body": "hi"}),
            _ => json!({"digits": "12", "volume": 2, "reason": "hangup"}),
        };
        let mut p = ids;
        if let (Some(p), Value::Object(e)) = (p.as_object_mut(), extra) {
            p.extend(e);
        }
        p
    }

    /// A request frame: Blade methods at the top level, relay ones inside `blade.execute`.
    fn request(&mut self, conn: ConnId, method: Method, params: Value) {
        let id = self.id();
        let frame = if method.is_blade() {
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        } else {
            let protocol = if method == Method::Setup {
                "signalwire"
            } else {
                self.protocol.as_str()
            };
            json!({"jsonrpc": "2.0", "id": id, "method": "blade.execute",
                "params": {"protocol": protocol, "method": method, "params": params}})
        };
        self.send(conn, &frame.to_string());
    }

    fn control_op(&mut self, endpoint: u8, method_pick: u8, choice: u8, call: u8, n: u16) -> Value {
        let endpoint = pick(ENDPOINTS, endpoint).unwrap_or("health");
        let context = pick(CONTEXTS, choice).unwrap_or_default();
        let n = (n != 0).then_some(n);
        let mut body = match endpoint {
            "inbound_call" => json!({"context": context, "count": n.map(|n| n % 64),
                "type": if choice % 2 == 0 { "phone" } else { "sip" }}),
            "inbound_message" => json!({"context": context, "body": "hi"}),
            "next" => json!({"method": method(method_pick),
                "outcome": pick(OUTCOMES, choice), "code": n}),
            "end_call" => json!({"call_id": self.call(call), "reason": "busy"}),
            "frames" => json!({"since": n}),
            "blade_disconnect" => json!({"close_after_ms": n.map(|n| i64::from(n) - 100)}),
            "ping" | "drop" if choice % 3 == 0 => json!({"sessionid": self.sessionid}),
            _ => json!({}),
        };
        if let Some(o) = body.as_object_mut() {
            o.retain(|_, v| !v.is_null());
        }
        let r = self.server.control(self.now, endpoint, body.clone());
        if let Ok(v) = &r {
            let _ = serde_json::to_string(v).expect("control results serialise");
        }
        self.drain();
        body
    }

    fn inject(&mut self, kind: u8, method_pick: u8, n: u8) {
        let (method, count) = (method(method_pick), u32::from(n % 4));
        let fault = match kind % 8 {
            0 => Fault::DropAfterFrames {
                frames: u64::from(n),
            },
            1 => Fault::DropOnMethod { method },
            2 => Fault::SwallowResponses { method, count },
            3 => Fault::DelayResponses {
                method,
                delay: Duration::from_millis(u64::from(n) * 10),
                count,
            },
            4 => Fault::DuplicateEvents { count },
            5 => Fault::ReorderEvents { count },
            6 => {
                self.corrupting = true;
                Fault::CorruptFrames { count }
            }
            _ => Fault::RefuseConnections {
                duration: Duration::from_millis(u64::from(n) * 10),
            },
        };
        self.server.inject(fault);
    }

    fn run(&mut self, op: &MockOp) {
        self.tick(Duration::from_millis(37));
        match op {
            MockOp::Wait(ms) => self.tick(Duration::from_millis(u64::from(*ms))),
            MockOp::Open { restore } if self.max_conn < 6 => self.open(*restore),
            MockOp::Open { .. } => {}
            MockOp::Close(i) => {
                if let Some(c) = self.conns.get(usize::from(*i)).copied() {
                    self.server.connection_closed(self.now, c);
                    self.conns.retain(|x| *x != c);
                    self.closed.insert(c);
                    self.drain();
                }
            }
            MockOp::Request {
                conn,
                method: m,
                call,
                control,
                params,
            } => {
                // Any connection ever opened, closed ones included (they must be ignored).
                let conn = ConnId(u64::from(*conn) % (self.max_conn + 2));
                let method = method(*m);
                let params = match params {
                    Some(p) => p.value(0),
                    None => self.params(method, *call, *control),
                };
                self.request(conn, method, params);
            }
            MockOp::Raw(text) => {
                let conn = self.conns.last().copied().unwrap_or(ConnId(1));
                self.send(conn, text);
            }
            MockOp::Control {
                endpoint,
                method,
                choice,
                call,
                n,
                extra,
            } => {
                let body = self.control_op(*endpoint, *method, *choice, *call, *n);
                if let Some(extra) = extra {
                    // The same endpoint once more, with fuzzed members on top.
                    let mut body = body;
                    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra.value(0)) {
                        b.extend(e);
                    }
                    let endpoint = pick(ENDPOINTS, *endpoint).unwrap_or("health");
                    let _ = self.server.control(self.now, endpoint, body);
                    self.drain();
                }
            }
            MockOp::Task {
                authorized,
                context,
                message,
            } => {
                // base64("test-project:test-token")
                let auth = authorized.then_some("Basic dGVzdC1wcm9qZWN0OnRlc3QtdG9rZW4=");
                let body =
                    json!({"context": pick(CONTEXTS, *context), "message": message.value(0)});
                let r = self
                    .server
                    .deliver_task(self.now, auth, body.to_string().as_bytes());
                assert!(matches!(r.status, 204 | 400 | 401 | 404 | 413), "{r:?}");
                self.drain();
            }
            MockOp::Inject { kind, method, n } => self.inject(*kind, *method, *n),
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

/// Arbitrary bytes decoded by `arbitrary` into [`MockOp`]s, run on a [`MockServer`] whose first
/// connection has completed a valid handshake (connect, setup, subscription, receive
/// `office`). Every operation is also a 37 ms tick; at the end every scheduled action is run.
/// Panics on any server panic, on output that is not JSON-RPC 2.0 (unless a CorruptFrames
/// fault was armed), and on a timer left due after `handle_timeout`.
pub fn mock_frames(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match MockOp::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run_mock_ops(&ops);
}

/// Runs `ops` (see [`mock_frames`]) and returns the server.
pub fn run_mock_ops(ops: &[MockOp]) -> MockServer {
    let mut d = MockDriver::new(Instant::now());
    for op in ops {
        d.run(op);
    }
    d.finish();
    d.server
}
