//! Fault injection, scripted outcomes through the Rust API, and robustness against garbage.

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use relay_mock::{Fault, Outcome, ScriptedEvent};
use relay_proto::wire::{EventType, Method};
use serde_json::{json, Value};

#[test]
fn drop_after_frames_keeps_session() {
    let mut h = Harness::new();
    let c = h.open();
    let (sid, _) = h.login(c, &[]);
    h.server.inject(Fault::DropAfterFrames { frames: 1 });
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"a","method":"blade.ping","params":{}}),
    );
    assert!(h.closes.is_empty());
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"b","method":"blade.ping","params":{}}),
    );
    assert_eq!(h.closes, [(c, None)]);
    assert!(
        h.take_response("b").is_some(),
        "the Nth frame is sent before the drop"
    );
    // Frames on the dead socket are ignored.
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"c","method":"blade.ping","params":{}}),
    );
    assert!(h.take_response("c").is_none());
    let c2 = h.open();
    let r = h.request(
        c2,
        "blade.connect",
        connect_params("test-project", "test-token", Some(&sid)),
    );
    assert_eq!(r["result"]["session_restored"], true);
}

#[test]
fn drop_on_method_swallow_delay() {
    let mut h = Harness::new();
    let c = h.open();
    h.login(c, &[]);
    h.server.inject(Fault::SwallowResponses {
        method: Method::Ping,
        count: 1,
    });
    h.server.inject(Fault::DelayResponses {
        method: Method::Subscription,
        delay: Duration::from_secs(2),
        count: 1,
    });
    let id = h.request_id(c, "blade.ping", json!({}));
    assert!(h.take_response(&id).is_none());
    let id = h.request_id(
        c,
        "blade.subscription",
        json!({"command":"add","protocol":"p","channels":[]}),
    );
    h.advance(Duration::from_millis(1999));
    assert!(h.take_response(&id).is_none());
    h.advance(Duration::from_millis(1));
    assert!(h.take_response(&id).is_some());
    h.server.inject(Fault::DropOnMethod {
        method: Method::Ping,
    });
    let id = h.request_id(c, "blade.ping", json!({}));
    assert!(h.take_response(&id).is_none());
    assert_eq!(h.closes, [(c, None)]);
}

#[test]
fn duplicate_reorder_corrupt() {
    let mut h = Harness::new();
    let c = h.open();
    let (_, proto) = h.login(c, &["x"]);
    h.server.inject(Fault::DuplicateEvents { count: 1 });
    h.control("inbound_call", json!({"context":"x"})).unwrap();
    let ev = h.events(c);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0], ev[1]);

    h.server.inject(Fault::ReorderEvents { count: 1 });
    h.execute(
        c,
        &proto,
        "messaging.send",
        json!({"context":"x","from_number":"+1","to_number":"+2"}),
    );
    h.advance(Duration::from_millis(200));
    let names = h.event_names(c);
    // queued goes to the session twice (sender and receiver are the same session: once), swapped with initiated.
    assert_eq!(names[0], "messaging.state:initiated");
    assert_eq!(names[1], "messaging.state:queued");

    h.server.inject(Fault::CorruptFrames { count: 1 });
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"z","method":"blade.ping","params":{}}),
    );
    let (_, last) = h.inbox.pop().unwrap();
    assert!(last.is_string(), "corrupt frame is not JSON: {last}");
    assert_eq!(h.request(c, "blade.ping", json!({}))["result"], json!({}));
}

#[test]
fn refuse_connections_for_a_while() {
    let mut h = Harness::new();
    h.open();
    h.server.inject(Fault::RefuseConnections {
        duration: Duration::from_secs(5),
    });
    let c = h.open();
    assert_eq!(h.closes, [(c, None)]);
    h.advance(Duration::from_secs(5));
    let c2 = h.open();
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.request(c2, "blade.ping", json!({}))["result"], json!({}));
}

#[test]
fn scripted_events_and_delays_via_rust_api() {
    let mut h = Harness::new();
    let c = h.open();
    let (_, proto) = h.login(c, &["x"]);
    let r = h.control("inbound_call", json!({"context":"x"})).unwrap();
    h.events(c);
    let ids = json!({"call_id": r["call_id"], "node_id": r["node_id"]});
    h.server.script().arm(
        Method::CallingAnswer,
        Outcome::Events(vec![ScriptedEvent {
            after: Duration::from_millis(5),
            event_type: EventType::CallState,
            params: json!({"call_state":"ended","end_reason":"error"}),
        }]),
    );
    assert_eq!(
        h.execute(c, &proto, "calling.answer", ids.clone())["code"],
        "200"
    );
    h.advance(Duration::from_millis(5));
    let ev = h.events(c);
    assert_eq!(ev[0]["params"]["call_state"], "ended");
    assert_eq!(ev[0]["params"]["call_id"], ids["call_id"]);

    h.server.script().arm(
        Method::Ping,
        Outcome::Delayed {
            delay: Duration::from_secs(1),
            then: Box::new(Outcome::Default),
        },
    );
    h.server.script().arm(
        Method::CallingAnswer,
        Outcome::RpcError {
            code: -32603,
            message: "x".into(),
        },
    );
    let id = h.request_id(c, "blade.ping", json!({}));
    assert!(h.take_response(&id).is_none());
    h.advance(Duration::from_secs(1));
    assert!(h.take_response(&id).is_some());
    let r = h.request(
        c,
        "blade.execute",
        json!({"protocol":proto,"method":"calling.answer","params":ids}),
    );
    assert_eq!(r["error"]["code"], -32603);
}

#[test]
fn malformed_requests_get_errors_not_drops() {
    let mut h = Harness::new();
    let c = h.open();
    h.login(c, &[]);
    h.send_text(c, "not json");
    let (_, e) = h.inbox.pop().unwrap();
    assert_eq!(e["error"]["code"], -32700);
    // One rule with relay-proto's encoder: an error to a request without a usable id carries
    // `"id": null` (JSON-RPC 2.0 §5).
    assert_eq!(e.get("id"), Some(&Value::Null), "null id");
    h.send_text(c, "[1,2]");
    assert_eq!(h.inbox.pop().unwrap().1["error"]["code"], -32600);
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"q","method":"blade.execute","params":{"method":"x"}}),
    );
    assert_eq!(h.take_response("q").unwrap()["error"]["code"], -32602);
    h.send(
        c,
        &json!({"jsonrpc":"2.0","id":"r","method":"blade.execute","params":7}),
    );
    assert_eq!(h.take_response("r").unwrap()["error"]["code"], -32602);
    assert!(h.closes.is_empty());
    assert_eq!(h.request(c, "blade.ping", json!({}))["result"], json!({}));
}

fn no_nulls_at_top(h: &mut Harness) {
    for (_, v) in h.inbox.drain(..) {
        assert!(!v.is_null());
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z._]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("blade.execute"),
            Just("calling.play"),
            Just("blade.connect"),
            Just("calling.dial"),
            Just("signalwire")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("method".to_owned()),
                    Just("params".to_owned()),
                    Just("protocol".to_owned()),
                    Just("call_id".to_owned()),
                    Just("control_id".to_owned()),
                    Just("devices".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,200}") {
        let mut h = Harness::new();
        let c = h.open();
        h.login(c, &["x"]);
        h.send_text(c, &s);
        no_nulls_at_top(&mut h);
        prop_assert!(h.closes.is_empty());
    }

    #[test]
    fn arbitrary_json_never_panics(frames in prop::collection::vec(arb_json(), 1..8), method in prop_oneof![Just("blade.execute"), Just("blade.connect"), Just("blade.subscription")]) {
        let mut h = Harness::new();
        let c = h.open();
        let (_, proto) = h.login(c, &["x"]);
        h.control("inbound_call", json!({"context":"x"})).unwrap();
        for f in &frames {
            h.send(c, f);
            let wrapped = json!({"jsonrpc":"2.0","id":"p","method":method,"params":{"protocol":proto,"method":f.get("method").cloned().unwrap_or(json!("calling.play")),"params":f}});
            h.send(c, &wrapped);
            h.advance(Duration::from_millis(400));
        }
        no_nulls_at_top(&mut h);
    }
}
