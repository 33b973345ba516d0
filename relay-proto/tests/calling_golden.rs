//! Golden flows for call control: inbound answer/play/hangup, dials, connect, pass, refer.
//! Outgoing frames are compared field for field with PROTOCOL.md §4; typed event sequences
//! are `insta` snapshots.

mod calling_common;

use std::time::Duration;

use calling_common::Harness;
use relay_proto::calling::{
    CallEvent, CallState, ConnectParams, Device, DialParams, EndReason, Media, PlayParams,
    ReferParams, SipDevice, SipHeader,
};
use relay_proto::{CallId, DialTag};
use serde_json::json;

#[test]
fn inbound_answer_play_hangup() {
    let mut h = Harness::new();
    let call = h.inbound("call-a");
    let info = h.s.call(&call).expect("registered");
    assert_eq!(info.state, CallState::Created);
    assert_eq!(info.context.as_deref(), Some("office"));
    assert_eq!(info.from(), Some("+15551110000"));

    let answer = h.s.call_mut(&call).unwrap().answer(h.now).unwrap();
    let rid = h.expect_execute(
        "calling.answer",
        json!({"node_id":"node-a","call_id":"call-a"}),
    );
    // The state event races ahead of the response (§6.5).
    h.state("call-a", "answered");
    h.ok(&rid);
    assert!(h.s.call(&call).unwrap().answered());

    let play =
        h.s.call_mut(&call)
            .unwrap()
            .play(
                h.now,
                &PlayParams::new([
                    Media::audio("https://example.com/a.mp3"),
                    Media::tts("hello"),
                    Media::silence(Duration::from_secs(2)),
                    Media::ringtone("us", Some(Duration::from_millis(3400))),
                ])
                .with_volume(3.0),
            )
            .unwrap();
    let rid = h.expect_execute(
        "calling.play",
        json!({"node_id":"node-a","call_id":"call-a","control_id":play.as_str(),
            "play":[{"type":"audio","params":{"url":"https://example.com/a.mp3"}},
                    {"type":"tts","params":{"text":"hello"}},
                    {"type":"silence","params":{"duration":2}},
                    {"type":"ringtone","params":{"name":"us","duration":3.4}}],
            "volume":3}),
    );
    h.ok(&rid);
    let pev = |state: &str| json!({"control_id":play.as_str(),"call_id":"call-a","node_id":"node-a","state":state});
    h.ev("calling.call.play", pev("playing"));

    let ids = json!({"node_id":"node-a","call_id":"call-a","control_id":play.as_str()});
    let r = h.s.call_mut(&call).unwrap().pause(h.now, &play).unwrap();
    let rid = h.expect_execute("calling.play.pause", ids.clone());
    assert_eq!(r.as_str(), rid);
    h.ok(&rid);
    h.ev("calling.call.play", pev("paused"));
    let _ = h.s.call_mut(&call).unwrap().resume(h.now, &play).unwrap();
    let rid = h.expect_execute("calling.play.resume", ids.clone());
    h.ok(&rid);
    h.ev("calling.call.play", pev("playing"));
    let _ =
        h.s.call_mut(&call)
            .unwrap()
            .volume(h.now, &play, -4.5)
            .unwrap();
    let mut vol = ids.clone();
    vol["volume"] = json!(-4.5);
    let rid = h.expect_execute("calling.play.volume", vol);
    h.ok(&rid);
    h.ev("calling.call.play", pev("finished"));

    let hang =
        h.s.call_mut(&call)
            .unwrap()
            .hangup(h.now, EndReason::Hangup)
            .unwrap();
    let rid = h.expect_execute(
        "calling.end",
        json!({"node_id":"node-a","call_id":"call-a","reason":"hangup"}),
    );
    h.ok(&rid);
    h.state("call-a", "ending");
    h.ended("call-a", "hangup");
    assert!(h.s.call(&call).is_none(), "ended call removed");
    assert_eq!(h.s.calls().count(), 0);

    let events = h.take_events();
    for id in [&answer, &play, &hang] {
        assert_eq!(Harness::finished_count(&events, id), 1);
    }
    insta::assert_debug_snapshot!(events);
}

fn phone(from: &str, to: &str) -> Device {
    Device::phone(from, to)
}

fn dial_state(tag: &DialTag, call_id: &str, state: &str) -> serde_json::Value {
    json!({"call_state":state,"tag":tag.as_str(),"call_id":call_id,"node_id":"node-b",
        "direction":"outbound","created_by":"dial",
        "device":{"type":"phone","params":{"from_number":"+15550000001","to_number":"+15550000002","timeout":30}}})
}

#[test]
fn dial_single_device() {
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::single(phone("+15550000001", "+15550000002")).with_region("us-east"),
        )
        .unwrap();
    let rid = h.expect_execute(
        "calling.dial",
        json!({"tag":tag.as_str(),"region":"us-east",
            "devices":[[{"type":"phone","params":{"from_number":"+15550000001","to_number":"+15550000002","timeout":30}}]]}),
    );
    // created races ahead of the response.
    h.ev("calling.call.state", dial_state(&tag, "call-b", "created"));
    h.ok(&rid);
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"dialing","tag":tag.as_str(),"node_id":"node-b"}),
    );
    h.ev("calling.call.state", dial_state(&tag, "call-b", "ringing"));
    h.ev("calling.call.state", dial_state(&tag, "call-b", "answered"));
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str(),"node_id":"node-b",
            "call":{"call_id":"call-b","node_id":"node-b","tag":tag.as_str(),"dial_winner":true,
                "device":{"type":"phone","params":{"from_number":"+15550000001","to_number":"+15550000002","timeout":30}}}}),
    );
    let c = h.s.call(&CallId::new("call-b")).expect("winner registered");
    assert_eq!(c.state, CallState::Answered);
    assert_eq!(c.tag.as_ref(), Some(&tag));
    assert_eq!(h.s.pending_dials(), 0);
    assert_eq!(h.s.calls().count(), 1);
    insta::assert_debug_snapshot!(h.take_events());
}

#[test]
fn dial_parallel_winner_and_stray_legs() {
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::parallel([phone("+1000", "+1001"), phone("+1000", "+1002")]),
        )
        .unwrap();
    let rid = h.expect_execute(
        "calling.dial",
        json!({"tag":tag.as_str(),"devices":[[
            {"type":"phone","params":{"from_number":"+1000","to_number":"+1001","timeout":30}},
            {"type":"phone","params":{"from_number":"+1000","to_number":"+1002","timeout":30}}]]}),
    );
    h.ok(&rid);
    for leg in ["leg-1", "leg-2"] {
        h.ev("calling.call.state", dial_state(&tag, leg, "created"));
        h.ev("calling.call.state", dial_state(&tag, leg, "ringing"));
    }
    h.ev("calling.call.state", dial_state(&tag, "leg-2", "answered"));
    let mut end = dial_state(&tag, "leg-1", "ended");
    end["end_reason"] = json!("cancel");
    h.ev("calling.call.state", end);
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str(),"node_id":"node-b",
            "call":{"call_id":"leg-2","node_id":"node-b","tag":tag.as_str(),"dial_winner":true}}),
    );
    // One call object per call id: the loser is gone, the winner is answered.
    let calls: Vec<_> = h.s.calls().map(|c| (c.id.clone(), c.state)).collect();
    assert_eq!(calls, vec![(CallId::new("leg-2"), CallState::Answered)]);
    let events = h.take_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CallEvent::DialCompleted { .. }))
            .count(),
        1
    );
    insta::assert_debug_snapshot!(events);
}

#[test]
fn dial_serial_tree_wire_shape() {
    let mut h = Harness::new();
    let sip = Device::Sip(SipDevice {
        from: Some("sip:alice@example.com".into()),
        to: "sip:bob@example.net".into(),
        timeout: Some(Duration::from_secs(20)),
        headers: vec![SipHeader::new("X-My-Header", "v")],
        codecs: vec!["PCMU".into(), "OPUS".into()],
        webrtc_media: true,
        from_name: Some("Alice".into()),
    });
    let tag =
        h.s.dial(
            h.now,
            &DialParams {
                devices: vec![
                    vec![phone("+1000", "+1001")],
                    vec![
                        sip,
                        phone("+1000", "+1003").with_timeout(Duration::from_secs(15)),
                    ],
                ],
                region: None,
            },
        )
        .unwrap();
    h.expect_execute(
        "calling.dial",
        json!({"tag":tag.as_str(),"devices":[
            [{"type":"phone","params":{"from_number":"+1000","to_number":"+1001","timeout":30}}],
            [{"type":"sip","params":{"from":"sip:alice@example.com","to":"sip:bob@example.net","timeout":20,
                "codecs":["PCMU","OPUS"],"webrtc_media":true,
                "headers":[{"name":"X-My-Header","value":"v"}],"from_name":"Alice"}},
             {"type":"phone","params":{"from_number":"+1000","to_number":"+1003","timeout":15}}]]}),
    );
    let serial = DialParams::serial([phone("+1", "+2"), phone("+1", "+3")]);
    assert_eq!(serial.devices.len(), 2);
    let _ = h.s.dial(h.now, &serial).unwrap();
    let sent = h.take_sent();
    assert_eq!(
        sent[0]["params"]["params"]["devices"],
        json!([[{"type":"phone","params":{"from_number":"+1","to_number":"+2","timeout":30}}],
               [{"type":"phone","params":{"from_number":"+1","to_number":"+3","timeout":30}}]])
    );
}

#[test]
fn dial_failed() {
    let mut h = Harness::new();
    // Multi-device dial: resolves on `dial failed` after the legs ended.
    let tag =
        h.s.dial(
            h.now,
            &DialParams::serial([phone("+1", "+2"), phone("+1", "+3")]),
        )
        .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    let mut end = dial_state(&tag, "leg-1", "ended");
    end["end_reason"] = json!("busy");
    h.ev("calling.call.state", dial_state(&tag, "leg-1", "created"));
    h.ev("calling.call.state", end);
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"failed","tag":tag.as_str(),"node_id":"node-b"}),
    );
    // Single device: the leg's end resolves the dial; the later `failed` is ignored.
    let tag2 =
        h.s.dial(h.now, &DialParams::single(phone("+1", "+9")))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    h.ev("calling.call.state", dial_state(&tag2, "leg-9", "created"));
    let mut end = dial_state(&tag2, "leg-9", "ended");
    end["end_reason"] = json!("noAnswer");
    h.ev("calling.call.state", end);
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"failed","tag":tag2.as_str(),"node_id":"node-b"}),
    );
    // A dial whose request fails.
    let tag3 =
        h.s.dial(h.now, &DialParams::single(phone("+1", "+8")))
            .unwrap();
    let rid = h.last_sent_id();
    h.respond(&rid, json!({"code":"400","message":"bad number"}));
    assert_eq!(h.s.calls().count(), 0);
    assert_eq!(h.s.pending_dials(), 0);
    let events = h.take_events();
    for t in [&tag, &tag2, &tag3] {
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, CallEvent::DialCompleted { tag, result } if tag == t && !result.successful))
                .count(),
            1
        );
    }
    insta::assert_debug_snapshot!(events);
}

#[test]
fn connect_nested_with_ringback_and_peer() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = ConnectParams::tree(vec![
        vec![Device::phone_to("+15550000003")],
        vec![
            Device::phone_to("+15550000004"),
            Device::sip("sip:a@x", "sip:b@y").with_timeout(Duration::from_secs(20)),
        ],
        vec![Device::phone("+15559999999", "+15550000005").with_timeout(Duration::from_secs(10))],
    ])
    .with_ringback(Media::ringtone("us", Some(Duration::from_secs(20))));
    let conn =
        h.s.call_mut(&call)
            .unwrap()
            .connect(h.now, &params)
            .unwrap();
    // Phone peers without `from` take the call's from_number; timeout 30 (the inbound device
    // has none).
    let rid = h.expect_execute(
        "calling.connect",
        json!({"node_id":"node-a","call_id":"call-a",
            "devices":[
              [{"type":"phone","params":{"to_number":"+15550000003","from_number":"+15551110000","timeout":30}}],
              [{"type":"phone","params":{"to_number":"+15550000004","from_number":"+15551110000","timeout":30}},
               {"type":"sip","params":{"from":"sip:a@x","to":"sip:b@y","timeout":20}}],
              [{"type":"phone","params":{"to_number":"+15550000005","from_number":"+15559999999","timeout":10}}]],
            "ringback":{"type":"ringtone","params":{"name":"us","duration":20}}}),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"connecting","call_id":"call-a","node_id":"node-a"}),
    );
    h.ev(
        "calling.call.state",
        json!({"call_state":"created","call_id":"call-b","node_id":"node-b","direction":"outbound",
            "device":{"type":"phone","params":{"from_number":"+15551110000","to_number":"+15550000004"}},
            "peer":{"call_id":"call-a","node_id":"node-a"}}),
    );
    h.ev(
        "calling.call.state",
        json!({"call_state":"answered","call_id":"call-b","node_id":"node-b",
            "peer":{"call_id":"call-a","node_id":"node-a"}}),
    );
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"connected","call_id":"call-a","node_id":"node-a",
            "peer":{"call_id":"call-b","node_id":"node-b",
                "device":{"type":"phone","params":{"from_number":"+15551110000","to_number":"+15550000004"}}}}),
    );
    let a = h.s.call(&call).unwrap();
    assert_eq!(a.peer.as_ref().map(|p| p.call_id.as_str()), Some("call-b"));
    let b = h.s.call(&CallId::new("call-b")).unwrap();
    assert_eq!(b.state, CallState::Answered);
    assert_eq!(b.peer.as_ref().map(|p| p.call_id.as_str()), Some("call-a"));

    let disc = h.s.call_mut(&call).unwrap().disconnect(h.now).unwrap();
    let rid = h.expect_execute(
        "calling.disconnect",
        json!({"node_id":"node-a","call_id":"call-a"}),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"disconnected","call_id":"call-a","node_id":"node-a",
            "peer":{"call_id":"call-b","node_id":"node-b"}}),
    );
    assert!(h.s.call(&call).unwrap().peer.is_none());
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &conn), 1);
    assert_eq!(Harness::finished_count(&events, &disc), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn pass_inbound() {
    let mut h = Harness::new();
    let call = h.inbound("call-a");
    h.take_events();
    let pass = h.s.call_mut(&call).unwrap().pass(h.now).unwrap();
    let rid = h.expect_execute(
        "calling.pass",
        json!({"node_id":"node-a","call_id":"call-a"}),
    );
    h.respond(&rid, json!({"code":"200","message":"Call passed"}));
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &pass), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn refer_sip() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let refer =
        h.s.call_mut(&call)
            .unwrap()
            .refer(
                h.now,
                &ReferParams {
                    to: "sip:transfer@example.com".into(),
                    headers: vec![SipHeader::new("X-Foo", "bar")],
                },
            )
            .unwrap();
    let rid = h.expect_execute(
        "calling.refer",
        json!({"node_id":"node-a","call_id":"call-a",
            "device":{"type":"sip","params":{"to":"sip:transfer@example.com",
                "headers":[{"name":"X-Foo","value":"bar"}]}}}),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.refer",
        json!({"call_id":"call-a","node_id":"node-a","state":"inProgress",
            "sip_refer_to":"sip:transfer@example.com"}),
    );
    h.ev(
        "calling.call.refer",
        json!({"call_id":"call-a","node_id":"node-a","state":"success",
            "sip_refer_to":"sip:transfer@example.com","sip_refer_response_code":202,
            "sip_notify_response_code":"200"}),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &refer), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn hangup_reasons_on_the_wire() {
    let mut h = Harness::new();
    for (i, (reason, wire)) in [
        (EndReason::Hangup, "hangup"),
        (EndReason::Cancel, "cancel"),
        (EndReason::Busy, "busy"),
        (EndReason::NoAnswer, "noAnswer"),
        (EndReason::Decline, "decline"),
        (EndReason::Error, "error"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("call-{i}");
        let call = h.answered_inbound(&id);
        let _ = h.s.call_mut(&call).unwrap().hangup(h.now, reason).unwrap();
        h.expect_execute(
            "calling.end",
            json!({"node_id":"node-a","call_id":id,"reason":wire}),
        );
    }
}

#[test]
fn connect_sip_call_defaults_from_its_device() {
    let mut h = Harness::new();
    h.ev(
        "calling.call.receive",
        json!({"call_state":"created","context":"office","direction":"inbound",
            "device":{"type":"sip","params":{"from":"sip:caller@x","to":"sip:us@y","headers":[]}},
            "call_id":"call-s","node_id":"node-s"}),
    );
    let call = CallId::new("call-s");
    let _ =
        h.s.call_mut(&call)
            .unwrap()
            .connect(h.now, &ConnectParams::single(Device::sip_to("sip:agent@z")))
            .unwrap();
    h.expect_execute(
        "calling.connect",
        json!({"node_id":"node-s","call_id":"call-s",
            "devices":[[{"type":"sip","params":{"from":"sip:caller@x","to":"sip:agent@z","timeout":30}}]]}),
    );
}

#[test]
fn connect_defaults_cross_device_types_as_node_does() {
    // Node's reduceConnectParams: the call's caller and a phone call's timeout go to a peer
    // of either type.
    let mut h = Harness::new();
    h.ev(
        "calling.call.receive",
        json!({"call_state":"created","context":"office","direction":"inbound",
            "device":{"type":"phone","params":{"from_number":"+15551110000","to_number":"+15552220000","timeout":20}},
            "call_id":"call-p","node_id":"node-p"}),
    );
    let call = CallId::new("call-p");
    let _ =
        h.s.call_mut(&call)
            .unwrap()
            .connect(h.now, &ConnectParams::single(Device::sip_to("sip:agent@z")))
            .unwrap();
    h.expect_execute(
        "calling.connect",
        json!({"node_id":"node-p","call_id":"call-p",
            "devices":[[{"type":"sip","params":{"from":"+15551110000","to":"sip:agent@z","timeout":20}}]]}),
    );
    h.ev(
        "calling.call.receive",
        json!({"call_state":"created","context":"office","direction":"inbound",
            "device":{"type":"sip","params":{"from":"sip:caller@x","to":"sip:us@y"}},
            "call_id":"call-s","node_id":"node-s"}),
    );
    let call = CallId::new("call-s");
    let _ =
        h.s.call_mut(&call)
            .unwrap()
            .connect(
                h.now,
                &ConnectParams::single(Device::phone_to("+15553330000")),
            )
            .unwrap();
    h.expect_execute(
        "calling.connect",
        json!({"node_id":"node-s","call_id":"call-s",
            "devices":[[{"type":"phone","params":{"from_number":"sip:caller@x","to_number":"+15553330000","timeout":30}}]]}),
    );
}

#[test]
fn commands_on_a_call_that_just_ended_are_refused_with_a_typed_outcome() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    h.ended("call-a", "hangup");
    h.take_events();
    let p =
        h.s.call_mut(&call)
            .expect("recently ended calls still take commands")
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    assert!(h.take_sent().is_empty());
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &p), 1);
    assert!(matches!(
        &events[0],
        CallEvent::ComponentFinished { result, .. }
            if !result.successful && matches!(result.error, Some(relay_proto::RequestError::Refused(_)))
    ));
}

#[test]
fn calls_survive_a_reconnect_and_in_flight_commands_fail_once() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let play =
        h.s.call_mut(&call)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    h.drop_and_reconnect();
    // The call is still there and usable on the new connection.
    assert_eq!(h.s.call(&call).unwrap().state, CallState::Answered);
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [CallEvent::ComponentFinished { control_id, result, .. }]
                if *control_id == play
                    && matches!(result.error, Some(relay_proto::RequestError::ConnectionLost))
        ),
        "{events:#?}"
    );
    h.take_sent();
    let p2 =
        h.s.call_mut(&call)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    h.ev(
        "calling.call.play",
        json!({"control_id":p2.as_str(),"call_id":"call-a","node_id":"node-a","state":"finished"}),
    );
    assert_eq!(Harness::finished_count(&h.take_events(), &p2), 1);
}

#[test]
fn closing_the_session_finishes_every_component_and_dial_once() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let play =
        h.s.call_mut(&call)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    let wait =
        h.s.call_mut(&call)
            .unwrap()
            .wait_for(h.now, &[CallState::Ended])
            .unwrap();
    let tag =
        h.s.dial(h.now, &DialParams::single(phone("+1", "+2")))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    h.take_events();
    h.s.close(h.now);
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &play), 1);
    assert_eq!(Harness::finished_count(&events, &wait), 1);
    assert_eq!(
        events
            .iter()
            .filter(
                |e| matches!(e, CallEvent::DialCompleted { tag: t, result } if *t == tag
                && result.error == Some(relay_proto::RequestError::SessionStopped))
            )
            .count(),
        1
    );
    assert_eq!(h.s.calls().count(), 0);
    assert_eq!(h.s.pending_dials(), 0);
}

#[test]
fn event_accessors_route_by_call_control_and_tag() {
    let mut h = Harness::new();
    let call = h.inbound("call-a");
    let p =
        h.s.call_mut(&call)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    h.ev(
        "calling.call.play",
        json!({"control_id":p.as_str(),"call_id":"call-a","node_id":"node-a","state":"finished"}),
    );
    let events = h.take_events();
    assert!(events.iter().all(|e| e.call_id() == Some(&call)));
    assert!(events[1..].iter().all(|e| e.control_id() == Some(&p)));
    let tag =
        h.s.dial(h.now, &DialParams::single(phone("+1", "+2")))
            .unwrap();
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"failed","tag":tag.as_str(),"node_id":"n"}),
    );
    let events = h.take_events();
    assert_eq!(events[0].dial_tag(), Some(&tag));
    assert_eq!(events[0].call_id(), None);
}

#[test]
fn dial_serial_first_fails_second_answers() {
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::serial([phone("+1000", "+1001"), phone("+1000", "+1002")]),
        )
        .unwrap();
    let rid = h.expect_execute(
        "calling.dial",
        json!({"tag":tag.as_str(),"devices":[
            [{"type":"phone","params":{"from_number":"+1000","to_number":"+1001","timeout":30}}],
            [{"type":"phone","params":{"from_number":"+1000","to_number":"+1002","timeout":30}}]]}),
    );
    h.ok(&rid);
    h.ev("calling.call.state", dial_state(&tag, "leg-1", "created"));
    h.ev("calling.call.state", dial_state(&tag, "leg-1", "ringing"));
    let mut end = dial_state(&tag, "leg-1", "ended");
    end["end_reason"] = json!("noAnswer");
    h.ev("calling.call.state", end);
    // The first leg ending does not resolve a multi-device dial.
    assert_eq!(h.s.pending_dials(), 1);
    h.ev("calling.call.state", dial_state(&tag, "leg-2", "created"));
    h.ev("calling.call.state", dial_state(&tag, "leg-2", "answered"));
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str(),"node_id":"node-b",
            "call":{"call_id":"leg-2","node_id":"node-b","tag":tag.as_str(),"dial_winner":true}}),
    );
    let calls: Vec<_> = h.s.calls().map(|c| (c.id.clone(), c.state)).collect();
    assert_eq!(calls, vec![(CallId::new("leg-2"), CallState::Answered)]);
    insta::assert_debug_snapshot!(h.take_events());
}
