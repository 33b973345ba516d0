//! The official SDK's test vectors decode into typed events (insta snapshots), and every
//! vector, fed as a frame, is handled without a panic.
#![allow(clippy::disallowed_methods)]

mod session_common;

use std::path::Path;

use relay_proto::{wire, Event};
use serde_json::{json, Value};
use session_common::*;

fn vector(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("vector is JSON")
}

/// Rewrites a vector's broadcast protocol to the harness's, as a server would.
fn with_protocol(mut frame: Value) -> Value {
    frame["params"]["protocol"] = json!(PROTO);
    frame
}

fn ready() -> Harness {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.take_events();
    h
}

#[test]
fn messaging_receive_vector() {
    let mut h = ready();
    h.feed(with_protocol(vector(
        "frame.blade.broadcast.messaging.receive.received.node.json",
    )))
    .unwrap();
    insta::assert_debug_snapshot!(h.take_events());
}

#[test]
fn messaging_state_vector() {
    let mut h = ready();
    h.feed(with_protocol(vector(
        "frame.blade.broadcast.messaging.state.queued.node.json",
    )))
    .unwrap();
    insta::assert_debug_snapshot!(h.take_events());
}

#[test]
fn task_vector() {
    // PROTOCOL.md 5.16 (the Relay-v2 Python SDK fixture).
    let mut h = ready();
    h.feed(json!({"jsonrpc":"2.0","id":"bbbbbbbb-0000-4000-8000-000000000020","method":"blade.broadcast",
        "params":{"broadcaster_nodeid":"77777777-7777-4777-8777-777777777777","protocol":PROTO,"channel":"notifications",
        "event":"queuing.relay.tasks",
        "params":{"project_id":"22222222-2222-4222-8222-222222222222","space_id":"99999999-9999-4999-8999-999999999999","context":"office",
                  "message":{"key":"value","data":"random stuff"},"timestamp":1569859833,"event_channel":PROTO}}}))
        .unwrap();
    insta::assert_debug_snapshot!(h.take_events());
}

#[test]
fn messaging_send_result_vectors() {
    for (name, ok) in [
        ("response.messaging.send.ok.node.json", true),
        ("response.messaging.send.error_400.node.json", false),
    ] {
        let mut h = ready();
        let msg =
            relay_proto::MessageParams::text("office", "+15550000001", "+15550000002", "Hello");
        let req = h.s.messaging_send(h.now, &msg).unwrap();
        h.drain();
        let sent = h.last_sent().clone();
        assert_eq!(
            sent["params"],
            json!({"protocol":PROTO,"method":"messaging.send","params":{"context":"office","body":"Hello","from_number":"+15550000001","to_number":"+15550000002"}})
        );
        let mut response = vector(name);
        response["id"] = sent["id"].clone();
        h.feed(response).unwrap();
        match &h.take_events()[..] {
            [Event::MessageSent { request, result }] => {
                assert_eq!(*request, req);
                assert_eq!(result.successful, ok, "{name}: {result:?}");
                if ok {
                    assert_eq!(
                        result.message_id.as_ref().map(|m| m.as_str()),
                        Some("message-uuid")
                    );
                } else {
                    assert!(result.error.is_some());
                }
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn message_params_are_validated() {
    use relay_proto::MessageParams;
    let ok = MessageParams::text("c", "+1", "+2", "b");
    assert!(ok.to_wire().is_ok());
    let no_body = MessageParams {
        body: None,
        ..ok.clone()
    };
    assert!(
        matches!(no_body.to_wire(), Err(relay_proto::CommandError::ApiMisuse(m)) if m.to_string().contains("body"))
    );
    let media_only = MessageParams {
        body: None,
        media: vec!["https://x/y.png".into()],
        ..ok.clone()
    };
    assert!(media_only.to_wire().is_ok());
    let no_to = MessageParams {
        to: " ".into(),
        ..ok.clone()
    };
    assert!(
        matches!(no_to.to_wire(), Err(relay_proto::CommandError::ApiMisuse(m)) if m.to_string().contains("`to`"))
    );
}

#[test]
fn client_request_vectors_decode_as_requests() {
    for name in [
        "request.blade.connect.jwt_token.node.json",
        "request.blade.connect.project_token.node.json",
        "request.blade.connect.with_agent.node.json",
        "request.blade.connect.with_sessionid_resume.node.json",
        "request.blade.execute.generic_envelope.node.json",
        "request.blade.ping.empty_params.node.json",
        "request.blade.subscription.add.node.json",
    ] {
        let v = vector(name);
        match wire::rpc::decode(&v.to_string()).unwrap() {
            wire::Incoming::Request { method, params, .. } => {
                if method == "blade.connect" {
                    let p: wire::ConnectParams = serde_json::from_value(params.clone()).unwrap();
                    // Round trip: re-encoding gives the same JSON.
                    assert_eq!(serde_json::to_value(&p).unwrap(), params, "{name}");
                }
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn every_vector_is_handled_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let frames = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        let mut h = ready();
        for f in frames {
            let _ = h.feed(with_protocol(f));
            n += 1;
        }
        // No vector may knock the session off its connection; only the server's
        // blade.disconnect is allowed to pause it (commands then queue until it reconnects).
        let name = path.display().to_string();
        let closes = h
            .transport
            .iter()
            .filter(|t| matches!(t, relay_proto::TransportAction::Close { .. }))
            .count();
        assert_eq!(closes, 0, "{name} made the session close its transport");
        if name.contains("blade.disconnect") {
            assert!(
                !h.s.is_ready(),
                "{name}: blade.disconnect pauses the session"
            );
        } else {
            assert!(h.s.is_ready(), "{name} left the session not ready");
        }
    }
    assert!(n > 20);
}

#[test]
fn replay_vector_drives_a_handshake() {
    let frames = vector("replay.connect_setup_subscribe.node.json");
    let frames = frames.as_array().unwrap();
    let mut h = Harness::new(config());
    h.opened();
    for f in frames.iter().take(3) {
        let mut f = f.clone();
        f["id"] = h.last_sent()["id"].clone();
        h.feed(f).unwrap();
    }
    assert!(h.s.is_ready(), "{:?}", h.events);
}
