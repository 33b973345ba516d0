//! relay-mock's own CPU per call: `N` inbound calls, each answered, played one TTS and hung up,
//! pushed straight through the sans-IO [`relay_mock::MockServer`] (no sockets, media speed 0,
//! a virtual clock) by a client that only formats its requests. Two figures: the wall time spent
//! inside the server calls (frames in, outputs drained, timers run, the batch injection), and the
//! thread's CPU time for the whole run (server plus the cheap client; from
//! `/proc/thread-self/schedstat`, so it does not count time the thread waited for a core).
//!
//! ```text
//! cargo run --release -p relay-benches --example mock_load -- [calls] [batch] [rounds]
//! ```
//! Prints both per call (medians of `rounds`) and the frames sent per call.
#![allow(clippy::print_stdout)] // a benchmark driver: its output is the report

use std::time::{Duration, Instant};

use relay_mock::{ConnId, MockConfig, MockServer, ServerOutput};
use serde_json::{json, Value};

/// The server plus the virtual clock and the time spent inside it.
struct Driver {
    server: MockServer,
    conn: ConnId,
    now: Instant,
    spent: Duration,
    frames: u64,
    last: Vec<String>,
    protocol: String,
    next_id: u64,
}

impl Driver {
    fn new() -> Self {
        let mut server = MockServer::new(MockConfig::default().media_speed(0.0));
        let now = Instant::now();
        let conn = server.connection_opened(now);
        let mut d = Driver {
            server,
            conn,
            now,
            spent: Duration::ZERO,
            frames: 0,
            last: Vec::new(),
            protocol: String::new(),
            next_id: 0,
        };
        d.handshake();
        d
    }

    /// Drains the outputs, keeping the texts of this step in `last`.
    fn drain(&mut self) {
        self.last.clear();
        while let Some(out) = self.server.poll_output() {
            if let ServerOutput::Send { text, .. } = out {
                self.frames += 1;
                self.last.push(text);
            }
        }
    }

    fn frame(&mut self, text: &str) {
        let t = Instant::now();
        self.server.handle_frame(self.now, self.conn, text);
        self.drain();
        self.spent += t.elapsed();
    }

    /// Runs every timer, advancing the virtual clock, until nothing is scheduled.
    fn settle(&mut self) {
        let t = Instant::now();
        while let Some(at) = self.server.poll_timeout() {
            self.now = self.now.max(at);
            self.server.handle_timeout(self.now);
            self.drain();
        }
        self.spent += t.elapsed();
    }

    fn handshake(&mut self) {
        self.frame(
            r#"{"jsonrpc":"2.0","id":"c1","method":"blade.connect","params":{"version":{"major":2,"minor":1,"revision":0},"authentication":{"project":"test-project","token":"test-token"},"agent":"load"}}"#,
        );
        self.frame(
            r#"{"jsonrpc":"2.0","id":"c2","method":"blade.execute","params":{"protocol":"signalwire","method":"setup","params":{}}}"#,
        );
        let reply: Value = serde_json::from_str(&self.last[0]).unwrap_or_default();
        self.protocol = reply["result"]["result"]["protocol"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let sub = json!({"jsonrpc":"2.0","id":"c3","method":"blade.subscription",
            "params":{"command":"add","protocol":self.protocol,"channels":["notifications"]}});
        self.frame(&sub.to_string());
        let recv = json!({"jsonrpc":"2.0","id":"c4","method":"blade.execute",
            "params":{"protocol":self.protocol,"method":"signalwire.receive",
            "params":{"contexts":["office"]}}});
        self.frame(&recv.to_string());
    }

    /// One relay command as a client formats it.
    fn execute(&mut self, method: &str, params: &str) {
        self.next_id += 1;
        let text = format!(
            r#"{{"jsonrpc":"2.0","id":"r{}","method":"blade.execute","params":{{"protocol":"{}","method":"{method}","params":{params}}}}}"#,
            self.next_id, self.protocol
        );
        self.frame(&text);
    }

    /// `batch` calls: injected in one control request, then answered, played and hung up.
    fn batch(&mut self, batch: usize) {
        let t = Instant::now();
        let r = self.server.control(
            self.now,
            "inbound_call",
            json!({"context": "office", "count": batch}),
        );
        self.drain();
        self.spent += t.elapsed();
        let ids: Vec<(String, String)> = r
            .ok()
            .and_then(|v| v.get("calls").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (s("call_id"), s("node_id"))
            })
            .collect();
        for (call, node) in &ids {
            self.execute(
                "calling.answer",
                &format!(r#"{{"call_id":"{call}","node_id":"{node}"}}"#),
            );
        }
        self.settle();
        for (i, (call, node)) in ids.iter().enumerate() {
            self.execute(
                "calling.play",
                &format!(
                    r#"{{"call_id":"{call}","node_id":"{node}","control_id":"p{i}","volume":0,"play":[{{"type":"tts","params":{{"text":"Hello"}}}}]}}"#
                ),
            );
        }
        self.settle();
        for (call, node) in &ids {
            self.execute(
                "calling.end",
                &format!(r#"{{"call_id":"{call}","node_id":"{node}","reason":"hangup"}}"#),
            );
        }
        self.settle();
    }
}

/// CPU time of this thread so far (Linux; zero elsewhere).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (calls, batch, rounds) = (arg(1, 10_000), arg(2, 100).max(1), arg(3, 5).max(1));
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut frames = 0.0;
    for _ in 0..rounds {
        let mut d = Driver::new();
        d.spent = Duration::ZERO;
        d.frames = 0;
        let cpu0 = thread_cpu();
        let mut done = 0;
        while done < calls {
            let n = batch.min(calls - done);
            d.batch(n);
            done += n;
        }
        cpu.push((thread_cpu() - cpu0).as_secs_f64() * 1e6 / calls as f64);
        wall.push(d.spent.as_secs_f64() * 1e6 / calls as f64);
        frames = d.frames as f64 / calls as f64;
    }
    let (w, wmin, wmax) = median(wall);
    let (c, cmin, cmax) = median(cpu);
    println!(
        "mock_load calls={calls} batch={batch} rounds={rounds}: server wall {w:.1} µs/call \
         ({wmin:.1}-{wmax:.1}), thread CPU {c:.1} µs/call ({cmin:.1}-{cmax:.1}), \
         {frames:.1} frames sent per call"
    );
}
