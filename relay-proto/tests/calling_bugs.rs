//! One test per calling bug of the official SDK (PROTOCOL.md §13, bugs 14–27), showing it is
//! fixed here.

mod calling_common;

use calling_common::Harness;
use relay_proto::calling::{
    CallEvent, CallState, CollectResultType, ComponentResult, ConnectParams, ConnectState,
    DetectKind, DetectMode, DetectParams, Device, DialParams, EndReason, Media, PlayParams,
    PlayState, RecordParams,
};
use relay_proto::{CallId, ControlId, RequestError};
use serde_json::json;

fn result_of<'a>(events: &'a [CallEvent], id: &ControlId) -> &'a ComponentResult {
    let found: Vec<&ComponentResult> = events
        .iter()
        .filter_map(|e| match e {
            CallEvent::ComponentFinished {
                control_id, result, ..
            } if control_id == id => Some(&**result),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "exactly one outcome for {id}: {events:#?}");
    found[0]
}

#[test]
fn bug14_first_state_of_inbound_and_server_created_legs_is_applied() {
    let mut h = Harness::new();
    let a = h.inbound("call-a");
    assert_eq!(h.s.call(&a).unwrap().state, CallState::Created);
    // A connect peer leg announced by a state event starts in the state it announces.
    h.ev(
        "calling.call.state",
        json!({"call_state":"created","call_id":"peer-call-id","node_id":"peer-node-id",
            "direction":"outbound","peer":{"call_id":"call-a","node_id":"node-a"},
            "device":{"type":"phone","params":{"from_number":"+1234","to_number":"15678"}}}),
    );
    let b =
        h.s.call(&CallId::new("peer-call-id"))
            .expect("peer leg registered");
    assert_eq!(b.state, CallState::Created);
    assert_eq!(b.peer.as_ref().unwrap().call_id.as_str(), "call-a");
    // A leg of a multi-device dial too.
    let tag =
        h.s.dial(
            h.now,
            &DialParams::parallel([Device::phone("+1", "+2"), Device::phone("+1", "+3")]),
        )
        .unwrap();
    h.ev(
        "calling.call.state",
        json!({"call_state":"ringing","tag":tag.as_str(),"call_id":"leg-1","node_id":"n"}),
    );
    assert_eq!(
        h.s.call(&CallId::new("leg-1")).unwrap().state,
        CallState::Ringing
    );
}

#[test]
fn bug15_no_zombie_or_duplicate_calls() {
    let mut h = Harness::new();
    // An event for a call nobody knows creates nothing.
    h.state("stranger", "created");
    h.ev(
        "calling.call.play",
        json!({"control_id":"x","call_id":"stranger","node_id":"n","state":"playing"}),
    );
    assert_eq!(h.s.calls().count(), 0);
    // An ended call is removed; a late event for it does not bring it back.
    h.answered_inbound("call-a");
    h.ended("call-a", "hangup");
    h.state("call-a", "ended");
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"connected","call_id":"call-a","node_id":"node-a"}),
    );
    assert_eq!(h.s.calls().count(), 0);
    // A duplicate receive does not duplicate the call.
    h.inbound("call-c");
    h.inbound("call-c");
    assert_eq!(h.s.calls().count(), 1);
    // A failed multi-device dial leaves nothing behind.
    let tag =
        h.s.dial(
            h.now,
            &DialParams::serial([Device::phone("+1", "+2"), Device::phone("+1", "+3")]),
        )
        .unwrap();
    for leg in ["l1", "l2"] {
        h.ev(
            "calling.call.state",
            json!({"call_state":"created","tag":tag.as_str(),"call_id":leg,"node_id":"n"}),
        );
        h.ev(
            "calling.call.state",
            json!({"call_state":"ended","end_reason":"busy","tag":tag.as_str(),"call_id":leg,"node_id":"n"}),
        );
    }
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"failed","tag":tag.as_str()}),
    );
    let ids: Vec<_> = h.s.calls().map(|c| c.id.as_str().to_owned()).collect();
    assert_eq!(ids, vec!["call-c"]);
    assert_eq!(h.s.pending_dials(), 0);
}

#[test]
fn bug16_multi_dial_winner_is_one_answered_call_with_device() {
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::parallel([Device::phone("+1", "+2"), Device::phone("+1", "+3")]),
        )
        .unwrap();
    let dev = json!({"type":"phone","params":{"from_number":"+1","to_number":"+3","timeout":30}});
    // The winner's answered state arrives before the dial event (the SDK fixtures' order).
    h.ev(
        "calling.call.state",
        json!({"call_state":"answered","tag":tag.as_str(),"call_id":"w","node_id":"n","device":dev}),
    );
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str(),"node_id":"n",
            "call":{"call_id":"w","node_id":"n","tag":tag.as_str(),"dial_winner":true,"device":dev}}),
    );
    let events = h.take_events();
    let res = events
        .iter()
        .find_map(|e| match e {
            CallEvent::DialCompleted { result, .. } => Some(result.clone()),
            _ => None,
        })
        .unwrap();
    assert!(res.successful);
    let w = h.s.call(res.call_id.as_ref().unwrap()).unwrap();
    assert_eq!(w.state, CallState::Answered);
    assert_eq!(
        (w.from(), w.to(), w.call_type()),
        (Some("+1"), Some("+3"), Some("phone"))
    );
    assert_eq!(h.s.calls().count(), 1);
}

#[test]
fn bug17_wait_for_is_truthful() {
    let mut h = Harness::new();
    let a = h.inbound("call-a");
    // Unknown names are a typed error.
    let err =
        h.s.call_mut(&a)
            .unwrap()
            .wait_for_names(h.now, &["answred"])
            .unwrap_err();
    assert!(
        matches!(err, relay_proto::CommandError::ApiMisuse(ref m) if m.to_string().contains("answred")),
        "{err}"
    );
    // Already reached: immediate true.
    let now_ok =
        h.s.call_mut(&a)
            .unwrap()
            .wait_for(h.now, &[CallState::Created])
            .unwrap();
    // Skipped states do not count: created -> ended without answered/ending.
    let ans =
        h.s.call_mut(&a)
            .unwrap()
            .wait_for(h.now, &[CallState::Answered])
            .unwrap();
    let ending =
        h.s.call_mut(&a)
            .unwrap()
            .wait_for_names(h.now, &["ending"])
            .unwrap();
    let ended = h.s.call_mut(&a).unwrap().wait_for(h.now, &[]).unwrap();
    assert!(h.take_sent().is_empty(), "wait_for sends nothing");
    h.ended("call-a", "noAnswer");
    let events = h.take_events();
    assert!(result_of(&events, &now_ok).successful);
    assert!(!result_of(&events, &ans).successful);
    assert!(!result_of(&events, &ending).successful);
    assert!(result_of(&events, &ended).successful);
}

#[test]
fn bug18_paused_is_not_terminal() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let p =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let r =
        h.s.call_mut(&a)
            .unwrap()
            .record(h.now, &RecordParams::default())
            .unwrap();
    for (t, c, s) in [
        ("calling.call.play", &p, "paused"),
        ("calling.call.record", &r, "paused"),
    ] {
        h.ev(
            t,
            json!({"control_id":c.as_str(),"call_id":"call-a","node_id":"node-a","state":s}),
        );
    }
    assert!(h
        .take_events()
        .iter()
        .all(|e| !matches!(e, CallEvent::ComponentFinished { .. })));
    // Still running: it can be resumed and later finishes normally.
    let _ = h.s.call_mut(&a).unwrap().resume(h.now, &p).unwrap();
    h.ev(
        "calling.call.play",
        json!({"control_id":p.as_str(),"call_id":"call-a","node_id":"node-a","state":"finished"}),
    );
    h.ev(
        "calling.call.record",
        json!({"control_id":r.as_str(),"call_id":"call-a","node_id":"node-a","state":"finished","url":"u"}),
    );
    let events = h.take_events();
    assert!(result_of(&events, &p).successful);
    assert!(result_of(&events, &r).successful);
}

#[test]
fn bug19_connect_resolves_on_disconnected_without_connected() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let c =
        h.s.call_mut(&a)
            .unwrap()
            .connect(h.now, &ConnectParams::single(Device::phone_to("+2")))
            .unwrap();
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"disconnected","call_id":"call-a","node_id":"node-a"}),
    );
    let events = h.take_events();
    let r = result_of(&events, &c);
    assert!(!r.successful);
    assert_eq!(r.connect().unwrap().state, Some(ConnectState::Disconnected));
}

#[test]
fn bug20_partial_results_and_start_of_input_are_progress() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let params = relay_proto::calling::PromptParams {
        collect: relay_proto::calling::CollectParams {
            digits: Some(Default::default()),
            partial_results: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let p = h.s.call_mut(&a).unwrap().prompt(h.now, &params).unwrap();
    let base = json!({"control_id":p.as_str(),"call_id":"call-a","node_id":"node-a"});
    let mut e1 = base.clone();
    e1["result"] = json!({"type":"start_of_input"});
    let mut e2 = base.clone();
    e2["final"] = json!(false);
    e2["result"] = json!({"type":"digit","params":{"digits":"1"}});
    h.ev("calling.call.collect", e1);
    h.ev("calling.call.collect", e2);
    assert!(h
        .take_events()
        .iter()
        .all(|e| !matches!(e, CallEvent::ComponentFinished { .. })));
    let mut e3 = base;
    e3["result"] = json!({"type":"no_match"});
    h.ev("calling.call.collect", e3);
    let events = h.take_events();
    let r = result_of(&events, &p);
    assert!(!r.successful);
    assert_eq!(
        r.prompt().unwrap().result_type,
        Some(CollectResultType::NoMatch)
    );
}

#[test]
fn bug21_blocking_detect_stops_the_server_detector() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let d =
        h.s.call_mut(&a)
            .unwrap()
            .detect(
                h.now,
                &DetectParams::new(DetectKind::machine()),
                DetectMode::Blocking,
            )
            .unwrap();
    h.take_sent();
    h.ev(
        "calling.call.detect",
        json!({"control_id":d.as_str(),"call_id":"call-a","node_id":"node-a",
            "detect":{"type":"machine","params":{"event":"HUMAN"}}}),
    );
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["params"]["method"], "calling.detect.stop");
    assert_eq!(
        sent[0]["params"]["params"],
        json!({"node_id":"node-a","call_id":"call-a","control_id":d.as_str()})
    );
    let events = h.take_events();
    assert_eq!(
        result_of(&events, &d).detect().unwrap().result.as_deref(),
        Some("HUMAN")
    );
}

#[test]
fn bug22_pass_on_ending_call_is_a_typed_refusal_and_answer_is_idempotent() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let again = h.s.call_mut(&a).unwrap().answer(h.now).unwrap();
    assert!(
        h.take_sent().is_empty(),
        "answering an answered call sends nothing"
    );
    h.state("call-a", "ending");
    h.take_events();
    let pass = h.s.call_mut(&a).unwrap().pass(h.now).unwrap();
    let play =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let hang =
        h.s.call_mut(&a)
            .unwrap()
            .hangup(h.now, EndReason::Busy)
            .unwrap();
    assert!(
        h.take_sent().is_empty(),
        "nothing is sent on an ending call"
    );
    let events = h.take_events();
    for id in [&pass, &play, &hang] {
        let r = result_of(&events, id);
        assert!(!r.successful);
        assert!(matches!(r.error, Some(RequestError::Refused(_))), "{r:?}");
    }
    let _ = again;
}

#[test]
fn bug23_terminal_event_then_error_response_stays_successful() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let p =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let rid = h.last_sent_id();
    h.ev(
        "calling.call.play",
        json!({"control_id":p.as_str(),"call_id":"call-a","node_id":"node-a","state":"finished"}),
    );
    h.respond(&rid, json!({"code":"500","message":"late failure"}));
    let events = h.take_events();
    assert!(result_of(&events, &p).successful);
}

#[test]
fn bug24_receive_takes_a_single_context_without_throwing() {
    let mut h = Harness::new();
    let id = h.s.receive(h.now, ["sales"]).unwrap();
    assert!(id.is_some());
    let sent = h.take_sent();
    assert_eq!(sent[0]["params"]["method"], "signalwire.receive");
    assert_eq!(sent[0]["params"]["params"], json!({"contexts":["sales"]}));
    // Inbound calls on it arrive as typed events.
    h.ev(
        "calling.call.receive",
        json!({"call_state":"created","context":"sales","call_id":"c","node_id":"n"}),
    );
    assert!(matches!(h.take_events()[0], CallEvent::IncomingCall { .. }));
}

#[test]
fn bug25_every_update_is_delivered_not_one_callback_per_name() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let p =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    for s in ["playing", "paused", "playing", "finished"] {
        h.ev(
            "calling.call.play",
            json!({"control_id":p.as_str(),"call_id":"call-a","node_id":"node-a","state":s}),
        );
    }
    let states: Vec<PlayState> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::PlayUpdate { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    use PlayState::{Finished, Paused, Playing};
    assert_eq!(states, [Playing, Paused, Playing, Finished]);
}

#[test]
fn bug26_parameters_are_not_mutated() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let mut kind = DetectKind::machine();
    if let DetectKind::Machine { wait_for_beep, .. } = &mut kind {
        *wait_for_beep = true;
    }
    let detect = DetectParams::new(kind);
    let before = detect.clone();
    let _ =
        h.s.call_mut(&a)
            .unwrap()
            .detect(h.now, &detect, DetectMode::Blocking)
            .unwrap();
    assert_eq!(detect, before);
    let play = PlayParams::new([Media::tts("hi")]);
    let before = play.clone();
    let _ = h.s.call_mut(&a).unwrap().play(h.now, &play).unwrap();
    assert_eq!(play, before);
}

#[test]
fn bug27_connect_peer_exists_without_a_prior_state_event() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let c =
        h.s.call_mut(&a)
            .unwrap()
            .connect(h.now, &ConnectParams::single(Device::phone_to("+2")))
            .unwrap();
    h.ev(
        "calling.call.connect",
        json!({"connect_state":"connected","call_id":"call-a","node_id":"node-a",
            "peer":{"call_id":"call-b","node_id":"node-b",
                "device":{"type":"phone","params":{"from_number":"+1","to_number":"+2"}}}}),
    );
    let events = h.take_events();
    let r = result_of(&events, &c);
    assert!(r.successful);
    assert_eq!(
        r.connect().unwrap().peer.as_ref().unwrap().call_id.as_str(),
        "call-b"
    );
    let b = h.s.call(&CallId::new("call-b")).expect("peer registered");
    assert_eq!(b.peer.as_ref().unwrap().call_id.as_str(), "call-a");
    assert_eq!(b.to(), Some("+2"));
    // It is a full call: commands work on it.
    let _ =
        h.s.call_mut(&CallId::new("call-b"))
            .unwrap()
            .hangup(h.now, EndReason::Hangup)
            .unwrap();
    assert_eq!(h.take_sent()[1]["params"]["params"]["call_id"], "call-b");
}

#[test]
fn bug15_passed_call_leaves_the_registry() {
    let mut h = Harness::new();
    let a = h.inbound("call-a");
    let play =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    let pass = h.s.call_mut(&a).unwrap().pass(h.now).unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    assert!(h.s.call(&a).is_none());
    let events = h.take_events();
    assert!(result_of(&events, &pass).successful);
    assert!(!result_of(&events, &play).successful);
    assert!(events
        .iter()
        .any(|e| matches!(e, CallEvent::Released { call_id } if *call_id == a)));
}
