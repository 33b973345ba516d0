//! The `mock_frames` target: text lines driven into a [`MockServer`] with several connections.
//!
//! The input stays line-based text rather than an `arbitrary` enum on purpose: its seed corpus
//! is the client side of the golden transcripts (`tests/transcripts/`), real frames the fuzzer
//! mutates field by field. A [`crate::Pair`] has one client; this target needs several
//! connections, restores and closed ones, so it drives the server directly.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{ConnId, MockConfig, MockServer, ServerOutput};

/// Most lines one input may drive (keeps every execution fast).
const MAX_STEPS: usize = 256;

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
