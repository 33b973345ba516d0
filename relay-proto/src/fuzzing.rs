//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the test that replays their
//! committed corpus. Only built with the `fuzzing` feature; not part of the stable API.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Input, Output, SequentialIds, Session, SessionConfig};

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

/// A session after a scripted handshake, on a fixed clock.
pub fn ready_session(now: Instant) -> (Session, Vec<Value>) {
    let cfg = SessionConfig::new("project", "token")
        .with_contexts(["office"])
        .with_id_generator(SequentialIds::new());
    let mut s = Session::new(cfg, now);
    let mut sent = vec![];
    drain(&mut s, &mut sent);
    let _ = s.handle_input(now, Input::Opened);
    drain(&mut s, &mut sent);
    let answers = [
        json!({"sessionid":"s","nodeid":"n","authorization":{"signature":"SIG"}}),
        json!({"result":{"protocol":"signalwire_SIG_x"}}),
        json!({"command":"add"}),
    ];
    for a in answers {
        let id = sent
            .last()
            .and_then(|f| f.get("id"))
            .cloned()
            .unwrap_or(Value::Null);
        let frame = json!({"jsonrpc":"2.0","id":id,"result":a}).to_string();
        let _ = s.handle_input(now, Input::Frame(&frame));
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
