//! Sessions, routing and every control endpoint (each `next` row).

mod common;

use std::time::Duration;

use common::*;
use relay_mock::MockConfig;
use relay_proto::wire::Method;
use serde_json::{json, Value};

#[test]
fn bad_credentials_error_then_close() {
    let mut h = Harness::new();
    let conn = h.open();
    let r = h.request(
        conn,
        "blade.connect",
        connect_params("test-project", "wrong", None),
    );
    assert_eq!(r["error"]["code"], -32002);
    assert_eq!(h.closes, [(conn, Some(1008))]);
}

#[test]
fn restore_keeps_session_protocol_and_calls() {
    let mut h = Harness::new();
    let c1 = h.open();
    let (sid, proto) = h.login(c1, &["office"]);
    let r = h
        .control("inbound_call", json!({"context":"office"}))
        .unwrap();
    let cid = r["call_id"].as_str().unwrap().to_owned();
    h.events(c1);
    assert_eq!(h.control("drop", json!({})).unwrap(), json!({"dropped": 1}));
    assert_eq!(h.closes, [(c1, None)]);
    // While away, the far end answers nothing but a play finishes: events wait for the session.
    h.control("end_call", json!({"call_id": cid})).unwrap();
    h.advance(Duration::from_secs(1));
    let c2 = h.open();
    let r = h.request(
        c2,
        "blade.connect",
        connect_params("test-project", "test-token", Some(&sid)),
    );
    assert_eq!(r["result"]["session_restored"], true);
    assert_eq!(r["result"]["sessionid"], sid.as_str());
    let r = h.request(
        c2,
        "blade.execute",
        json!({"protocol":"signalwire","method":"setup","params":{"protocol":proto}}),
    );
    assert_eq!(r["result"]["result"]["protocol"], proto.as_str());
    assert!(h.events(c2).is_empty(), "nothing before the subscription");
    h.request(
        c2,
        "blade.subscription",
        json!({"command":"add","protocol":proto,"channels":["notifications"]}),
    );
    assert_eq!(
        h.event_names(c2),
        ["calling.call.state:ending", "calling.call.state:ended"]
    );
    let s = h.control("sessions", json!({})).unwrap();
    assert_eq!(s["sessions"][0]["connected"], true);
    assert_eq!(s["sessions"][0]["conn"], 2);
}

#[test]
fn round_robin_routing_and_pass() {
    let mut h = Harness::new();
    let a = h.open();
    h.login(a, &["ctx"]);
    let b = h.open();
    h.login(b, &["ctx"]);
    let mut got = Vec::new();
    for _ in 0..4 {
        let r = h.control("inbound_call", json!({"context":"ctx"})).unwrap();
        got.push(r["sessionid"].as_str().unwrap().to_owned());
    }
    assert_ne!(got[0], got[1]);
    assert_eq!(got[0], got[2]);
    assert_eq!(got[1], got[3]);
    // Each call went to exactly one socket.
    assert_eq!(h.events(a).len() + h.events(b).len(), 4);
    // Nobody on another context: 404.
    assert_eq!(
        h.control("inbound_call", json!({"context":"other"}))
            .unwrap_err()
            .status,
        404
    );
    // Pass moves the call to the other session.
    let r = h.control("inbound_call", json!({"context":"ctx"})).unwrap();
    let (owner, other) = if h.events(a).is_empty() {
        (b, a)
    } else {
        (a, b)
    };
    h.events(b);
    let proto = h.control("sessions", json!({})).unwrap()["sessions"][0]["protocol"]
        .as_str()
        .unwrap()
        .to_owned();
    let pr = h.execute(
        owner,
        &proto,
        "calling.pass",
        json!({"call_id": r["call_id"], "node_id": r["node_id"]}),
    );
    assert_eq!(pr["code"], "200");
    let ev = h.events(other);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["params"]["call_id"], r["call_id"]);
    assert!(h.events(owner).is_empty());
}

#[test]
fn ping_drop_blade_disconnect() {
    let mut h = Harness::new();
    let c = h.open();
    let (sid, _) = h.login(c, &[]);
    assert_eq!(
        h.control("ping", json!({"sessionid": sid})).unwrap(),
        json!({"sent": 1})
    );
    let (_, f) = h.inbox.pop().unwrap();
    assert_eq!(f["method"], "blade.ping");
    assert!(f["id"].is_string());
    assert_eq!(
        h.control("ping", json!({"sessionid": "nope"}))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        h.control("blade_disconnect", json!({"close_after_ms": 500}))
            .unwrap(),
        json!({"sent": 1})
    );
    let (_, f) = h.inbox.pop().unwrap();
    assert_eq!(f["method"], "blade.disconnect");
    assert!(f.get("params").is_none());
    h.advance(Duration::from_millis(499));
    assert!(h.closes.is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.closes, [(c, Some(1001))]);
}

#[test]
fn inbound_message_and_messaging_send() {
    let mut h = Harness::new();
    let c = h.open();
    let (_, proto) = h.login(c, &["home"]);
    let r = h
        .control(
            "inbound_message",
            json!({"context":"home","from":"+1","to":"+2","body":"hi"}),
        )
        .unwrap();
    assert!(r["message_id"].is_string());
    let ev = h.events(c);
    assert_eq!(ev[0]["event_type"], "messaging.receive");
    assert_eq!(ev[0]["context"], "home");
    assert_eq!(ev[0]["params"]["message_state"], "received");
    let r = h.execute(
        c,
        &proto,
        "messaging.send",
        json!({"context":"home","from_number":"+1","to_number":"+2","body":"x"}),
    );
    assert_eq!(r["code"], "200");
    assert!(r["message_id"].is_string());
    h.advance(Duration::from_millis(100));
    assert_eq!(
        h.event_names(c),
        [
            "messaging.state:queued",
            "messaging.state:initiated",
            "messaging.state:sent",
            "messaging.state:delivered"
        ]
    );
}

#[test]
fn tasks_over_rest() {
    let mut h = Harness::new();
    let c = h.open();
    h.login(c, &["office"]);
    let auth = "Basic dGVzdC1wcm9qZWN0OnRlc3QtdG9rZW4="; // test-project:test-token
    let r = h.server.deliver_task(
        h.now,
        Some(auth),
        br#"{"context":"office","message":{"k":"v"}}"#,
    );
    h.drain();
    assert_eq!(r.status, 204);
    let ev = h.events(c);
    assert_eq!(ev[0]["message"], json!({"k":"v"}));
    assert_eq!(h.server.deliver_task(h.now, None, b"{}").status, 401);
    assert_eq!(
        h.server.deliver_task(h.now, Some(auth), b"nope").status,
        400
    );
    assert_eq!(
        h.server
            .deliver_task(h.now, Some(auth), b"{\"message\":1}")
            .status,
        400
    );
}

fn arm(h: &mut Harness, method: &str, outcome: &str) {
    let r = h
        .control("next", json!({"method": method, "outcome": outcome}))
        .unwrap();
    assert_eq!(r["armed"], true);
}

fn call_setup(h: &mut Harness) -> (relay_mock::ConnId, String, Value) {
    let c = h.open();
    let (_, proto) = h.login(c, &["o"]);
    let r = h.control("inbound_call", json!({"context":"o"})).unwrap();
    h.events(c);
    (
        c,
        proto,
        json!({"call_id": r["call_id"], "node_id": r["node_id"]}),
    )
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn next_generic_rows() {
    let mut h = Harness::new();
    let (c, proto, ids) = call_setup(&mut h);
    arm(&mut h, "blade.ping", "no_response");
    let id = h.request_id(c, "blade.ping", json!({}));
    assert!(h.take_response(&id).is_none());
    assert_eq!(h.request(c, "blade.ping", json!({}))["result"], json!({}));

    let r = h
        .control(
            "next",
            json!({"method":"calling.play","outcome":"error_code","code":"500","message":"boom"}),
        )
        .unwrap();
    assert_eq!(r, json!({"armed": true, "pending": 1}));
    let r = h.execute(
        c,
        &proto,
        "calling.play",
        with(ids.clone(), json!({"control_id":"x","play":[]})),
    );
    assert_eq!(r, json!({"code":"500","message":"boom"}));
    h.advance(Duration::from_secs(1));
    assert!(h.events(c).is_empty());

    arm(&mut h, "calling.play", "error");
    h.execute(
        c,
        &proto,
        "calling.play",
        with(ids.clone(), json!({"control_id":"y","play":[]})),
    );
    assert_eq!(h.event_names(c), ["calling.call.play:error"]);

    assert_eq!(
        h.control("next", json!({"method":"calling.play"}))
            .unwrap_err()
            .status,
        400
    );
    assert_eq!(
        h.control("next", json!({"method":"calling.play","outcome":"busy"}))
            .unwrap_err()
            .status,
        400
    );
}

#[test]
fn next_dial_rows() {
    for (outcome, reason, expected) in [
        (
            "busy",
            "busy",
            vec![
                "calling.call.state:created",
                "calling.call.state:ending",
                "calling.call.state:ended",
                "calling.call.dial:failed",
            ],
        ),
        (
            "no_answer",
            "noAnswer",
            vec![
                "calling.call.state:created",
                "calling.call.state:ringing",
                "calling.call.state:ending",
                "calling.call.state:ended",
                "calling.call.dial:failed",
            ],
        ),
    ] {
        let mut h = Harness::new();
        let c = h.open();
        let (_, proto) = h.login(c, &[]);
        arm(&mut h, "calling.dial", outcome);
        let dev =
            json!({"type":"phone","params":{"from_number":"+1","to_number":"+2","timeout":30}});
        assert_eq!(
            h.execute(
                c,
                &proto,
                "calling.dial",
                json!({"tag":"T","devices":[[dev]]})
            )["code"],
            "200"
        );
        h.advance(Duration::from_secs(1));
        let ev = h.events(c);
        assert_eq!(ev.iter().map(summary).collect::<Vec<_>>(), expected);
        assert_eq!(ev[ev.len() - 2]["params"]["end_reason"], reason);
        assert_eq!(ev.last().unwrap()["params"]["tag"], "T");
    }
}

#[test]
fn next_connect_failed() {
    let mut h = Harness::new();
    let (c, proto, ids) = call_setup(&mut h);
    arm(&mut h, "calling.connect", "failed");
    let dev = json!({"type":"phone","params":{"to_number":"+3","from_number":"+1","timeout":30}});
    h.execute(
        c,
        &proto,
        "calling.connect",
        with(ids, json!({"devices":[[dev]]})),
    );
    h.advance(Duration::from_secs(1));
    let ev = h.events(c);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.connect:connecting",
            "calling.call.state:created",
            "calling.call.state:ending",
            "calling.call.state:ended",
            "calling.call.connect:failed"
        ]
    );
    assert!(ev[4]["params"].get("peer").is_none());
}

#[test]
fn next_collect_rows() {
    for outcome in ["digit", "speech", "no_input", "no_match", "error"] {
        let mut h = Harness::new();
        let (c, proto, ids) = call_setup(&mut h);
        arm(&mut h, "calling.play_and_collect", outcome);
        h.execute(
            c,
            &proto,
            "calling.play_and_collect",
            with(
                ids,
                json!({"control_id":"k","play":[],"collect":{"digits":{}}}),
            ),
        );
        h.advance(Duration::from_millis(10));
        let ev = h.events(c);
        assert_eq!(ev[0]["params"]["result"]["type"], outcome);
        if outcome == "speech" {
            assert_eq!(ev[0]["params"]["result"]["params"]["text"], "hello world");
        }
    }
}

#[test]
fn next_detect_record_refer_messaging_rows() {
    let mut h = Harness::new();
    let (c, proto, ids) = call_setup(&mut h);
    arm(&mut h, "calling.detect", "HUMAN");
    h.execute(
        c,
        &proto,
        "calling.detect",
        with(
            ids.clone(),
            json!({"control_id":"d","detect":{"type":"machine","params":{}}}),
        ),
    );
    h.advance(Duration::from_millis(50));
    assert_eq!(h.event_names(c), ["calling.call.detect:HUMAN"]);
    h.execute(
        c,
        &proto,
        "calling.detect.stop",
        with(ids.clone(), json!({"control_id":"d"})),
    );
    assert_eq!(h.event_names(c), ["calling.call.detect:finished"]);
    arm(&mut h, "calling.detect", "5");
    h.execute(
        c,
        &proto,
        "calling.detect",
        with(
            ids.clone(),
            json!({"control_id":"d2","detect":{"type":"digit","params":{}}}),
        ),
    );
    h.advance(Duration::from_millis(50));
    assert_eq!(h.event_names(c), ["calling.call.detect:5"]);

    arm(&mut h, "calling.record", "no_input");
    h.execute(
        c,
        &proto,
        "calling.record",
        with(ids.clone(), json!({"control_id":"r","record":{"audio":{}}})),
    );
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.event_names(c),
        [
            "calling.call.record:recording",
            "calling.call.record:no_input"
        ]
    );

    for outcome in ["cancel", "busy", "noAnswer", "error"] {
        arm(&mut h, "calling.refer", outcome);
        h.execute(
            c,
            &proto,
            "calling.refer",
            with(
                ids.clone(),
                json!({"device":{"type":"sip","params":{"to":"sip:a@b"}}}),
            ),
        );
        h.advance(Duration::from_millis(20));
        assert_eq!(
            h.event_names(c),
            [
                "calling.call.refer:inProgress".to_owned(),
                format!("calling.call.refer:{outcome}")
            ]
        );
    }

    for outcome in ["undelivered", "failed"] {
        arm(&mut h, "messaging.send", outcome);
        h.execute(
            c,
            &proto,
            "messaging.send",
            json!({"context":"o","from_number":"+1","to_number":"+2","body":"b"}),
        );
        h.advance(Duration::from_millis(100));
        let ev = h.events(c);
        assert_eq!(
            ev.iter().map(summary).collect::<Vec<_>>(),
            [
                "messaging.state:queued",
                "messaging.state:initiated",
                "messaging.state:sent",
                format!("messaging.state:{outcome}").as_str()
            ]
        );
        assert!(ev[3]["params"]["reason"].is_string());
    }
}

#[test]
fn reset_health_frames() {
    let mut h = Harness::with(MockConfig::default().seed(7));
    let (c, _, ids) = call_setup(&mut h);
    arm(&mut h, "calling.play", "error");
    assert_eq!(
        h.control("reset", json!({})).unwrap(),
        json!({"reset": true})
    );
    assert_eq!(h.server.script().pending(Method::CallingPlay), 0);
    assert_eq!(
        h.control("end_call", json!({"call_id": ids["call_id"]}))
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        h.control("/__control/health", json!(null)).unwrap()["ok"],
        true
    );
    let f = h.control("frames", json!({"since": 0})).unwrap();
    let frames = f["frames"].as_array().unwrap();
    assert_eq!(frames[0]["dir"], "ctl");
    assert_eq!(frames[1]["dir"], "c2s");
    let next = f["next"].as_u64().unwrap();
    let f = h.control("frames", json!({"since": next})).unwrap();
    assert!(f["frames"].as_array().unwrap().is_empty());
    let _ = c;
    assert_eq!(h.control("nope", json!({})).unwrap_err().status, 404);
}

#[test]
fn same_seed_same_frames() {
    let run = |seed| {
        let mut h = Harness::with(MockConfig::default().seed(seed));
        let (_c, _, _) = call_setup(&mut h);
        h.server.transcript_jsonl()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn health_counts_calls_in_progress_and_unanswered() {
    let mut h = Harness::new();
    let c = h.open();
    let (_, proto) = h.login(c, &["office"]);
    let r = h
        .control("inbound_call", json!({"context": "office", "count": 3}))
        .unwrap();
    let ids: Vec<String> = r["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap().to_owned())
        .collect();
    let health = |h: &mut Harness| {
        let v = h.control("health", json!({})).unwrap();
        (
            v["calls"].clone(),
            v["active_calls"].clone(),
            v["unanswered_calls"].clone(),
        )
    };
    assert_eq!(health(&mut h), (json!(3), json!(3), json!(3)));
    // One answered, one hung up: 2 in progress, 1 unanswered, all 3 remembered.
    let answer = json!({"call_id": ids[0], "node_id": r["calls"][0]["node_id"]});
    let a = h.execute(c, &proto, "calling.answer", answer);
    assert_eq!(a["code"], "200", "{a}");
    h.control("end_call", json!({"call_id": ids[1]})).unwrap();
    h.advance(Duration::from_secs(1));
    assert_eq!(health(&mut h), (json!(3), json!(2), json!(1)));
    h.control("reset", json!({})).unwrap();
    assert_eq!(health(&mut h), (json!(0), json!(0), json!(0)));
}
