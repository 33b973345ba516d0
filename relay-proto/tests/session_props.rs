//! Property tests: nothing from the wire panics the session, every frame it sends is valid
//! JSON-RPC 2.0, and the in-flight bound holds whatever happens.
#![allow(clippy::disallowed_methods)]

mod session_common;

use std::time::Duration;

use proptest::prelude::*;
use relay_proto::{Bounds, Input, MessageParams};
use serde_json::{json, Value};
use session_common::*;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z._0-9]{0,12}".prop_map(Value::from),
        Just(json!("blade.broadcast")),
        Just(json!("queuing.relay.events")),
        Just(json!(PROTO)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("jsonrpc".to_string()),
                    Just("id".to_string()),
                    Just("method".to_string()),
                    Just("params".to_string()),
                    Just("result".to_string()),
                    Just("error".to_string()),
                    Just("event".to_string()),
                    Just("event_type".to_string()),
                    Just("protocol".to_string()),
                    Just("code".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Op {
    Garbage(String),
    Json(Value),
    Execute,
    Send,
    AnswerOldest(bool),
    Advance(u64),
    Close,
    Reconnect,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        ".{0,40}".prop_map(Op::Garbage),
        arb_json().prop_map(Op::Json),
        Just(Op::Execute),
        Just(Op::Send),
        any::<bool>().prop_map(Op::AnswerOldest),
        (0u64..15_000).prop_map(Op::Advance),
        Just(Op::Close),
        Just(Op::Reconnect),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,200}") {
        let mut h = Harness::new(config());
        h.handshake(false);
        let _ = h.input(Input::Frame(&s));
        prop_assert!(h.s.is_ready());
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let mut h = Harness::new(config());
        h.handshake(false);
        let _ = h.feed(v);
    }

    #[test]
    fn random_operation_sequences_keep_every_invariant(ops in prop::collection::vec(arb_op(), 1..60)) {
        let bound = 4;
        let mut h = Harness::new(config().with_contexts(["office"]).with_bounds(Bounds { max_in_flight: bound, max_offline_queue: 8, max_calls: 12, ..Bounds::default() }));
        h.handshake(false);
        let mut answered = std::collections::BTreeSet::new();
        for op in ops {
            match op {
                Op::Garbage(s) => { let _ = h.input(Input::Frame(&s)); }
                Op::Json(v) => { let _ = h.feed(v); }
                Op::Execute => { let _ = h.s.execute(h.now, "calling.answer", json!({})); h.drain(); }
                Op::Send => { let _ = h.s.messaging_send(h.now, &MessageParams::text("office", "+1", "+2", "x")); h.drain(); }
                Op::AnswerOldest(ok) => {
                    let next = h.sent.iter().find(|f| f.get("method").is_some() && !answered.contains(&f["id"].to_string())).cloned();
                    if let (Some(f), true) = (next, h.open) {
                        answered.insert(f["id"].to_string());
                        let reply = if ok { json!({"jsonrpc":"2.0","id":f["id"],"result":{"result":{"code":"200"}}}) }
                                    else { json!({"jsonrpc":"2.0","id":f["id"],"error":{"code":-32000,"message":"x"}}) };
                        let _ = h.feed(reply);
                    }
                }
                Op::Advance(ms) => { h.now += Duration::from_millis(ms); let _ = h.input(Input::Timeout); }
                Op::Close => { if h.open || matches!(h.transport.last(), Some(relay_proto::TransportAction::Close { .. })) { h.closed(); } }
                Op::Reconnect => {
                    // Opens the connection the session asked for, firing the next timer first
                    // (the reconnect back-off) when there is none. Whether a connect is asked
                    // for is `connect_pending`, not the last transport action: that stays
                    // `Connect` after the connection it opened has closed (the old check then
                    // fed `Opened` to a session waiting for its reconnect timer).
                    if !h.connect_pending {
                        if let Some(t) = h.next_timeout { if t > h.now { h.now = t; } let _ = h.input(Input::Timeout); }
                    }
                    if h.connect_pending && !h.open { h.handshake(true); }
                }
            }
            prop_assert!(h.s.in_flight() <= bound, "in flight {} > {}", h.s.in_flight(), bound);
            prop_assert!(h.s.queued() <= 12, "queued {} > max(max_offline_queue, max_calls)", h.s.queued());
        }
        // Harness::drain asserted that every transmitted frame is valid JSON-RPC 2.0.
        for f in &h.sent { assert_valid_jsonrpc(f); }
    }
}
