//! Faithfulness: replay the server side of transcripts recorded with the official Node SDK
//! 2.6.0 against our `Session`, and check it sends the same frames as Node did, in the same
//! order (request ids mapped by position; `agent` differs by design). The session-level part
//! of each transcript (everything up to the first calling command) is replayed.
#![allow(clippy::disallowed_methods)]

mod session_common;

use std::collections::BTreeMap;
use std::path::Path;

use relay_proto::{Input, Output, Session, SessionConfig, TransportAction};
use serde_json::Value;

fn lines(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name);
    std::fs::read_to_string(path)
        .expect("transcript")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSONL line"))
        .collect()
}

fn without_agent(mut v: Value) -> Value {
    if let Some(p) = v.get_mut("params").and_then(Value::as_object_mut) {
        p.remove("agent");
    }
    v
}

/// Replays until the transcript's client sends a method the session layer does not issue on
/// its own. Returns how many client frames matched.
fn replay(name: &str, contexts: &[&str]) -> usize {
    let transcript = lines(name);
    let first = transcript
        .iter()
        .find(|l| l["dir"] == "c2s")
        .expect("a client frame");
    let auth = &first["frame"]["params"]["authentication"];
    let cfg = SessionConfig::new(
        auth["project"].as_str().unwrap(),
        auth["token"].as_str().unwrap(),
    )
    .with_contexts(contexts.iter().copied());
    let t0 = std::time::Instant::now();
    let mut s = Session::new(cfg, t0);
    let mut ours: Vec<Value> = vec![];
    let mut ids: BTreeMap<String, String> = BTreeMap::new(); // transcript id -> our id
    let mut matched = 0;
    let drain = |s: &mut Session, ours: &mut Vec<Value>| loop {
        match s.poll_output() {
            Output::Transmit(f) => ours.push(serde_json::from_str(&f).unwrap()),
            Output::Timeout(_) => break,
            Output::Transport(TransportAction::Connect) | Output::Event(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    drain(&mut s, &mut ours);
    for line in transcript {
        let now = t0 + std::time::Duration::from_millis(line["t"].as_u64().unwrap_or(0));
        let frame = line["frame"].clone();
        match line["dir"].as_str().unwrap() {
            "ctl" if frame["event"] == "ws_open" => {
                s.handle_input(now, Input::Opened).unwrap();
                drain(&mut s, &mut ours);
            }
            "ctl" => break,
            "c2s" => {
                let method = frame["method"].as_str().unwrap_or_default();
                let inner = frame["params"]["method"].as_str().unwrap_or_default();
                if method == "blade.execute" && inner.starts_with("calling.") {
                    break;
                }
                assert!(
                    !ours.is_empty(),
                    "{name}: Node sent {frame} but we sent nothing"
                );
                let mine = ours.remove(0);
                ids.insert(
                    frame["id"].as_str().unwrap().to_owned(),
                    mine["id"].as_str().unwrap().to_owned(),
                );
                let mut expected = without_agent(frame.clone());
                expected["id"] = mine["id"].clone();
                assert_eq!(
                    without_agent(mine),
                    expected,
                    "{name}: client frame #{matched} differs"
                );
                matched += 1;
            }
            "s2c" => {
                let mut f = frame.clone();
                if let Some(mapped) = f["id"].as_str().and_then(|i| ids.get(i)) {
                    f["id"] = Value::from(mapped.clone());
                }
                let _ = s.handle_input(now, Input::Frame(&f.to_string()));
                drain(&mut s, &mut ours);
            }
            other => panic!("unknown dir {other}"),
        }
    }
    matched
}

#[test]
fn handshake_matches_the_node_sdk() {
    assert_eq!(
        replay("handshake.jsonl", &[]),
        4,
        "connect, setup, subscription, ping"
    );
}

#[test]
fn consumer_handshake_matches_the_node_sdk() {
    let first_receive = lines("consumer_inbound_call.jsonl")
        .into_iter()
        .find(|l| l["frame"]["params"]["method"] == "signalwire.receive")
        .unwrap();
    let ctx: Vec<String> = first_receive["frame"]["params"]["params"]["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let ctx: Vec<&str> = ctx.iter().map(String::as_str).collect();
    assert_eq!(
        replay("consumer_inbound_call.jsonl", &ctx),
        5,
        "… plus signalwire.receive"
    );
}
