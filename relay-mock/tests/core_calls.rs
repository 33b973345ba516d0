//! Calls and components on the virtual clock.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn inbound(h: &mut Harness, ctx: &str) -> (relay_mock::ConnId, String, String, String) {
    let conn = h.open();
    let (_, proto) = h.login(conn, &[ctx]);
    let r = h
        .control(
            "inbound_call",
            json!({"context": ctx, "from": "+1", "to": "+2"}),
        )
        .unwrap();
    let call_id = r["call_id"].as_str().unwrap().to_owned();
    let node_id = r["node_id"].as_str().unwrap().to_owned();
    let ev = h.events(conn);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["event_type"], "calling.call.receive");
    assert_eq!(ev[0]["params"]["context"], ctx);
    assert_eq!(
        ev[0]["params"]["device"],
        json!({"type":"phone","params":{"from_number":"+1","to_number":"+2"}})
    );
    (conn, proto, call_id, node_id)
}

fn ids(call_id: &str, node_id: &str) -> Value {
    json!({"call_id": call_id, "node_id": node_id})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn inbound_answer_play_hangup() {
    let mut h = Harness::new();
    let (conn, proto, cid, nid) = inbound(&mut h, "office");
    let r = h.execute(conn, &proto, "calling.answer", ids(&cid, &nid));
    assert_eq!(r["code"], "200");
    assert!(r.get("result").is_none());
    h.advance(Duration::from_millis(20));
    assert_eq!(h.event_names(conn), ["calling.call.state:answered"]);

    let p = with(
        ids(&cid, &nid),
        json!({"control_id":"c1","play":[{"type":"tts","params":{"text":"hi"}}]}),
    );
    assert_eq!(h.execute(conn, &proto, "calling.play", p)["code"], "200");
    assert_eq!(h.event_names(conn), ["calling.call.play:playing"]);
    h.advance(Duration::from_millis(299));
    assert!(h.events(conn).is_empty());
    h.advance(Duration::from_millis(1));
    let ev = h.events(conn);
    assert_eq!(
        ev[0]["params"],
        json!({"control_id":"c1","call_id":cid,"node_id":nid,"state":"finished"})
    );

    let r = h.execute(
        conn,
        &proto,
        "calling.end",
        with(ids(&cid, &nid), json!({"reason":"hangup"})),
    );
    assert_eq!(r["code"], "200");
    h.advance(Duration::from_millis(20));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        ["calling.call.state:ending", "calling.call.state:ended"]
    );
    assert_eq!(ev[1]["params"]["end_reason"], "hangup");
    assert_eq!(ev[1]["event_channel"], proto.as_str());
    // A second end is refused, end_call too.
    assert_eq!(
        h.control("end_call", json!({"call_id": cid}))
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn dial_single_device_order() {
    let mut h = Harness::new();
    let conn = h.open();
    let (_, proto) = h.login(conn, &[]);
    let dev = json!({"type":"phone","params":{"from_number":"+1","to_number":"+2","timeout":30}});
    let r = h.execute(
        conn,
        &proto,
        "calling.dial",
        json!({"tag":"T","devices":[[dev]]}),
    );
    assert_eq!(r["code"], "200");
    h.advance(Duration::from_secs(1));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.state:created",
            "calling.call.dial:dialing",
            "calling.call.state:ringing",
            "calling.call.state:answered",
            "calling.call.dial:answered"
        ]
    );
    assert_eq!(ev[0]["params"]["tag"], "T");
    let call = &ev[4]["params"]["call"];
    assert_eq!(call["dial_winner"], true);
    assert_eq!(call["call_id"], ev[0]["params"]["call_id"]);
    assert_eq!(call["device"], dev);
}

#[test]
fn dial_parallel_cancels_losers() {
    let mut h = Harness::new();
    let conn = h.open();
    let (_, proto) = h.login(conn, &[]);
    let d1 = json!({"type":"phone","params":{"from_number":"+1","to_number":"+2","timeout":30}});
    let d2 = json!({"type":"sip","params":{"from":"sip:a@b","to":"sip:c@d","timeout":30}});
    h.execute(
        conn,
        &proto,
        "calling.dial",
        json!({"tag":"T","devices":[[d1, d2]]}),
    );
    h.advance(Duration::from_secs(1));
    let names = h.event_names(conn);
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "calling.call.state:created")
            .count(),
        2
    );
    assert!(names.contains(&"calling.call.state:ended".to_owned()));
    assert_eq!(names.last().unwrap(), "calling.call.dial:answered");
}

fn answered_call(h: &mut Harness) -> (relay_mock::ConnId, String, Value) {
    let (conn, proto, cid, nid) = inbound(h, "office");
    h.execute(conn, &proto, "calling.answer", ids(&cid, &nid));
    h.advance(Duration::from_millis(20));
    h.events(conn);
    (conn, proto, ids(&cid, &nid))
}

#[test]
fn play_pause_resume_freezes_clock() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let p = with(
        ids.clone(),
        json!({"control_id":"p","play":[{"type":"ringtone","params":{"name":"us","duration":30}}]}),
    );
    h.execute(conn, &proto, "calling.play", p);
    h.advance(Duration::from_secs(10));
    h.execute(
        conn,
        &proto,
        "calling.play.pause",
        with(ids.clone(), json!({"control_id":"p"})),
    );
    h.advance(Duration::from_secs(100));
    h.execute(
        conn,
        &proto,
        "calling.play.resume",
        with(ids.clone(), json!({"control_id":"p"})),
    );
    assert_eq!(
        h.execute(
            conn,
            &proto,
            "calling.play.volume",
            with(ids.clone(), json!({"control_id":"p","volume":5}))
        )["code"],
        "200"
    );
    h.advance(Duration::from_millis(19_999));
    assert_eq!(
        h.event_names(conn),
        [
            "calling.call.play:playing",
            "calling.call.play:paused",
            "calling.call.play:playing"
        ]
    );
    h.advance(Duration::from_millis(1));
    assert_eq!(h.event_names(conn), ["calling.call.play:finished"]);
    // Stop after the end: 404 relay result.
    assert_eq!(
        h.execute(
            conn,
            &proto,
            "calling.play.stop",
            with(ids, json!({"control_id":"p"}))
        )["code"],
        "404"
    );
}

#[test]
fn collect_record_detect_timing() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    // play_and_collect: 0.3 s of tts then digits cut to max.
    let p = with(
        ids.clone(),
        json!({"control_id":"c","play":[{"type":"tts","params":{"text":"pin"}}],
        "collect":{"digits":{"max":2,"terminators":"*#"}}}),
    );
    h.execute(conn, &proto, "calling.play_and_collect", p);
    h.advance(Duration::from_millis(300));
    let ev = h.events(conn);
    assert_eq!(
        ev[0]["params"]["result"],
        json!({"type":"digit","params":{"digits":"12","terminator":"*"}})
    );

    // record: url in the response, recording now, finished after end_silence_timeout.
    let r = h.execute(
        conn,
        &proto,
        "calling.record",
        with(
            ids.clone(),
            json!({"control_id":"r","record":{"audio":{"end_silence_timeout":3}}}),
        ),
    );
    assert!(r["url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(h.event_names(conn), ["calling.call.record:recording"]);
    h.advance(Duration::from_secs(3));
    let ev = h.events(conn);
    assert_eq!(ev[0]["params"]["state"], "finished");
    assert_eq!(ev[0]["params"]["duration"], 3);

    // detect machine: 45 ms spacing, finished at timeout.
    h.execute(
        conn,
        &proto,
        "calling.detect",
        with(
            ids.clone(),
            json!({"control_id":"d","detect":{"type":"machine","params":{}},"timeout":5}),
        ),
    );
    h.advance(Duration::from_millis(135));
    assert_eq!(
        h.event_names(conn),
        [
            "calling.call.detect:MACHINE",
            "calling.call.detect:NOT_READY",
            "calling.call.detect:READY"
        ]
    );
    h.advance(Duration::from_secs(5));
    assert_eq!(h.event_names(conn), ["calling.call.detect:finished"]);
}

#[test]
fn fax_tap_digits_refer_timing() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    // fax: page at 0.5 s, finished at 1 s.
    h.execute(
        conn,
        &proto,
        "calling.send_fax",
        with(
            ids.clone(),
            json!({"control_id":"f","document":"https://x/d.pdf"}),
        ),
    );
    h.advance(Duration::from_millis(500));
    assert_eq!(h.event_names(conn), ["calling.call.fax:page"]);
    h.advance(Duration::from_millis(500));
    let ev = h.events(conn);
    assert_eq!(ev[0]["params"]["fax"]["params"]["success"], true);
    assert_eq!(
        ev[0]["params"]["fax"]["params"]["document"],
        "https://x/d.pdf"
    );

    // tap: source_device in the response, tapping, finished only on stop.
    let r = h.execute(conn, &proto, "calling.tap", with(ids.clone(), json!({"control_id":"t","tap":{"type":"audio","params":{}},"device":{"type":"rtp","params":{"addr":"1.2.3.4","port":9}}})));
    assert_eq!(r["source_device"]["type"], "rtp");
    h.advance(Duration::from_secs(60));
    assert_eq!(h.event_names(conn), ["calling.call.tap:tapping"]);
    h.execute(
        conn,
        &proto,
        "calling.tap.stop",
        with(ids.clone(), json!({"control_id":"t"})),
    );
    assert_eq!(h.event_names(conn), ["calling.call.tap:finished"]);

    // send_digits: 50 ms per digit.
    h.execute(
        conn,
        &proto,
        "calling.send_digits",
        with(ids.clone(), json!({"control_id":"s","digits":"1234"})),
    );
    h.advance(Duration::from_millis(199));
    assert!(h.events(conn).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.event_names(conn), ["calling.call.send_digits:finished"]);

    // refer.
    h.execute(
        conn,
        &proto,
        "calling.refer",
        with(
            ids,
            json!({"device":{"type":"sip","params":{"to":"sip:x@y"}}}),
        ),
    );
    h.advance(Duration::from_millis(20));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.refer:inProgress",
            "calling.call.refer:success"
        ]
    );
    assert_eq!(ev[1]["params"]["sip_refer_to"], "sip:x@y");
    assert_eq!(ev[1]["params"]["sip_refer_response_code"], "202");
}

#[test]
fn end_call_terminates_components_first() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let cid = ids["call_id"].as_str().unwrap().to_owned();
    h.execute(
        conn,
        &proto,
        "calling.play",
        with(
            ids.clone(),
            json!({"control_id":"p","play":[{"type":"silence","params":{"duration":60}}]}),
        ),
    );
    h.execute(conn, &proto, "calling.play_and_collect", with(ids.clone(), json!({"control_id":"c","play":[{"type":"silence","params":{"duration":60}}],"collect":{"speech":{}}})));
    h.execute(
        conn,
        &proto,
        "calling.record",
        with(
            ids.clone(),
            json!({"control_id":"r","record":{"audio":{"end_silence_timeout":30}}}),
        ),
    );
    h.execute(conn, &proto, "calling.tap", with(ids.clone(), json!({"control_id":"t","tap":{"type":"audio","params":{}},"device":{"type":"ws","params":{"uri":"wss://x"}}})));
    h.events(conn);
    let r = h
        .control("end_call", json!({"call_id": cid, "reason": "busy"}))
        .unwrap();
    assert_eq!(r, json!({"ended": cid}));
    h.advance(Duration::from_secs(120));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.play:finished",
            "calling.call.collect:error",
            "calling.call.record:finished",
            "calling.call.tap:finished",
            "calling.call.state:ending",
            "calling.call.state:ended"
        ]
    );
    assert_eq!(ev[5]["params"]["end_reason"], "busy");
}

#[test]
fn connect_then_peer_hangs_up() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let dev = json!({"type":"phone","params":{"from_number":"+1","to_number":"+3","timeout":30}});
    let r = h.execute(
        conn,
        &proto,
        "calling.connect",
        with(
            ids.clone(),
            json!({"devices":[[dev]],"ringback":{"type":"ringtone","params":{"name":"us"}}}),
        ),
    );
    assert_eq!(r["code"], "200");
    h.advance(Duration::from_secs(1));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.connect:connecting",
            "calling.call.state:created",
            "calling.call.state:ringing",
            "calling.call.state:answered",
            "calling.call.connect:connected"
        ]
    );
    let peer = ev[1]["params"]["call_id"].as_str().unwrap().to_owned();
    assert_eq!(ev[1]["params"]["peer"]["call_id"], ids["call_id"]);
    assert_eq!(ev[4]["params"]["peer"]["call_id"], peer.as_str());
    // The peer hangs up: A is told it is disconnected, B ends.
    h.control("end_call", json!({"call_id": peer})).unwrap();
    h.advance(Duration::from_secs(1));
    let names = h.event_names(conn);
    assert_eq!(
        names,
        [
            "calling.call.connect:disconnected",
            "calling.call.state:ending",
            "calling.call.state:ended"
        ]
    );
}

#[test]
fn unknown_call_and_method() {
    let mut h = Harness::new();
    let conn = h.open();
    let (_, proto) = h.login(conn, &[]);
    let r = h.execute(
        conn,
        &proto,
        "calling.answer",
        json!({"call_id":"nope","node_id":"x"}),
    );
    assert_eq!(r["code"], "404");
    let r = h.request(
        conn,
        "blade.execute",
        json!({"protocol":proto,"method":"calling.nope","params":{}}),
    );
    assert_eq!(r["result"]["result"]["code"], "404");
    let r = h.request(
        conn,
        "blade.execute",
        json!({"protocol":proto,"method":"foo.bar","params":{}}),
    );
    assert_eq!(r["error"]["code"], -32601);
    let r = h.request(conn, "blade.nope", json!({}));
    assert_eq!(r["error"]["code"], -32601);
}

/// A stopped recording (and one cut short by the call's end) reports the audio it recorded so
/// far, not its silence timeout; a fractional timeout is reported as such (not truncated).
#[test]
fn record_reports_what_it_recorded() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let record = |control_id: &str, timeout: Value| {
        with(
            ids.clone(),
            json!({"control_id": control_id,
                "record": {"audio": {"format": "wav", "end_silence_timeout": timeout}}}),
        )
    };

    // Stopped after 2.5 s of a 30 s silence timeout.
    let r = h.execute(conn, &proto, "calling.record", record("r1", json!(30)));
    let url = r["url"].as_str().unwrap().to_owned();
    assert_eq!(h.event_names(conn), ["calling.call.record:recording"]);
    h.advance(Duration::from_millis(2500));
    assert!(h.events(conn).is_empty());
    let stop = h.execute(
        conn,
        &proto,
        "calling.record.stop",
        with(ids.clone(), json!({"control_id": "r1"})),
    );
    assert_eq!(stop["code"], "200");
    let ev = h.events(conn);
    assert_eq!(ev.len(), 1);
    let p = &ev[0]["params"];
    assert_eq!(p["state"], "finished");
    assert_eq!(p["url"], url.as_str());
    assert_eq!(p["duration"], 2.5);
    assert_eq!(p["size"], 2500 * 8 + 44);
    assert_eq!(p["record"]["audio"]["format"], "wav");

    // Runs out its own 0.5 s timeout: 0.5, not 0.
    h.execute(conn, &proto, "calling.record", record("r2", json!(0.5)));
    h.advance(Duration::from_millis(499));
    assert_eq!(h.event_names(conn), ["calling.call.record:recording"]);
    h.advance(Duration::from_millis(1));
    let ev = h.events(conn);
    assert_eq!(ev[0]["params"]["state"], "finished");
    assert_eq!(ev[0]["params"]["duration"], 0.5);
    assert_eq!(ev[0]["params"]["size"], 4044);

    // A whole-second length stays an integer.
    h.execute(conn, &proto, "calling.record", record("r3", json!(2)));
    h.advance(Duration::from_secs(2));
    let ev = h.events(conn);
    assert_eq!(ev[1]["params"]["duration"], json!(2));

    // The far end hangs up 4 s into a recording: it recorded 4 s.
    h.execute(conn, &proto, "calling.record", record("r4", json!(30)));
    h.advance(Duration::from_secs(4));
    h.events(conn);
    let cid = ids["call_id"].as_str().unwrap();
    h.control("end_call", json!({"call_id": cid})).unwrap();
    h.advance(Duration::from_secs(1));
    let ev = h.events(conn);
    assert_eq!(summary(&ev[0]), "calling.call.record:finished");
    assert_eq!(ev[0]["params"]["control_id"], "r4");
    assert_eq!(ev[0]["params"]["duration"], json!(4));
    assert_eq!(ev[0]["params"]["size"], 4 * 8000 + 44);
}

/// The call hangs up while its `calling.connect` still rings: the connect fails and its legs
/// are cancelled (the ones the client has heard of with `ending`/`ended` `cancel`), instead of
/// the legs answering later and staying up with nobody to bridge them to.
#[test]
fn hangup_while_connecting_cancels_the_legs() {
    let d1 = json!({"type":"phone","params":{"from_number":"+1","to_number":"+3","timeout":30}});
    let d2 = json!({"type":"phone","params":{"from_number":"+1","to_number":"+4","timeout":30}});

    // Before the legs were announced: they vanish without an event.
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let connect = with(ids.clone(), json!({"devices": [[d1.clone(), d2.clone()]]}));
    assert_eq!(
        h.execute(conn, &proto, "calling.connect", connect)["code"],
        "200"
    );
    assert_eq!(h.event_names(conn), ["calling.call.connect:connecting"]);
    let r = h.execute(
        conn,
        &proto,
        "calling.end",
        with(ids.clone(), json!({"reason": "hangup"})),
    );
    assert_eq!(r["code"], "200");
    h.advance(Duration::from_secs(2));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.connect:failed",
            "calling.call.state:ending",
            "calling.call.state:ended"
        ]
    );
    assert_eq!(ev[0]["params"]["call_id"], ids["call_id"]);
    assert!(ev[0]["params"].get("peer").is_none());
    let health = h.control("health", json!({})).unwrap();
    assert_eq!(health["active_calls"], 0, "{health}");

    // After the legs rang: they are cancelled.
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let connect = with(ids.clone(), json!({"devices": [[d1.clone(), d2.clone()]]}));
    h.execute(conn, &proto, "calling.connect", connect);
    h.advance(Duration::from_millis(35));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.connect:connecting",
            "calling.call.state:created",
            "calling.call.state:created",
            "calling.call.state:ringing",
            "calling.call.state:ringing"
        ]
    );
    let legs = [
        ev[1]["params"]["call_id"].clone(),
        ev[2]["params"]["call_id"].clone(),
    ];
    let cid = ids["call_id"].as_str().unwrap();
    h.control("end_call", json!({"call_id": cid, "reason": "hangup"}))
        .unwrap();
    h.advance(Duration::from_secs(2));
    let ev = h.events(conn);
    let seen: Vec<(String, Value)> = ev
        .iter()
        .map(|e| (summary(e), e["params"]["call_id"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "calling.call.connect:failed".to_owned(),
                ids["call_id"].clone()
            ),
            ("calling.call.state:ending".to_owned(), legs[0].clone()),
            ("calling.call.state:ending".to_owned(), legs[1].clone()),
            (
                "calling.call.state:ending".to_owned(),
                ids["call_id"].clone()
            ),
            ("calling.call.state:ended".to_owned(), legs[0].clone()),
            ("calling.call.state:ended".to_owned(), legs[1].clone()),
            (
                "calling.call.state:ended".to_owned(),
                ids["call_id"].clone()
            ),
        ]
    );
    assert_eq!(ev[4]["params"]["end_reason"], "cancel");
    assert_eq!(ev[4]["params"]["peer"]["call_id"], ids["call_id"]);
    assert_eq!(ev[6]["params"]["end_reason"], "hangup");
    let health = h.control("health", json!({})).unwrap();
    assert_eq!(health["active_calls"], 0, "{health}");

    // A connect that completed is no longer "in progress": a later hangup tears the bridge
    // down as before (no `failed`).
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    h.execute(
        conn,
        &proto,
        "calling.connect",
        with(ids.clone(), json!({"devices": [[d1]]})),
    );
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.event_names(conn).last().map(String::as_str),
        Some("calling.call.connect:connected")
    );
    let cid = ids["call_id"].as_str().unwrap();
    h.control("end_call", json!({"call_id": cid})).unwrap();
    h.advance(Duration::from_secs(1));
    let names = h.event_names(conn);
    assert_eq!(names[0], "calling.call.connect:disconnected");
    assert!(!names.contains(&"calling.call.connect:failed".to_owned()));
}

/// The ringing peer leg hangs up before the bridge is made: the connect fails (no `connected`
/// to a leg that is gone) and the call stays up, unbridged.
#[test]
fn peer_hangs_up_while_ringing_fails_the_connect() {
    let mut h = Harness::new();
    let (conn, proto, ids) = answered_call(&mut h);
    let dev = json!({"type":"phone","params":{"from_number":"+1","to_number":"+3","timeout":30}});
    h.execute(
        conn,
        &proto,
        "calling.connect",
        with(ids.clone(), json!({"devices": [[dev]]})),
    );
    h.advance(Duration::from_millis(35));
    let ev = h.events(conn);
    assert_eq!(summary(&ev[1]), "calling.call.state:created");
    let leg = ev[1]["params"]["call_id"].as_str().unwrap().to_owned();
    h.control("end_call", json!({"call_id": leg, "reason": "busy"}))
        .unwrap();
    h.advance(Duration::from_secs(1));
    let ev = h.events(conn);
    assert_eq!(
        ev.iter().map(summary).collect::<Vec<_>>(),
        [
            "calling.call.state:ending",
            "calling.call.state:ended",
            "calling.call.connect:failed"
        ]
    );
    assert_eq!(ev[1]["params"]["end_reason"], "busy");
    assert_eq!(ev[2]["params"]["call_id"], ids["call_id"]);
    // Not bridged: disconnect fails, media still works on the call.
    h.execute(conn, &proto, "calling.disconnect", ids.clone());
    h.advance(Duration::from_millis(20));
    assert_eq!(h.event_names(conn), ["calling.call.connect:failed"]);
    let play = with(
        ids,
        json!({"control_id":"p","play":[{"type":"tts","params":{"text":"still here"}}]}),
    );
    assert_eq!(h.execute(conn, &proto, "calling.play", play)["code"], "200");
}
