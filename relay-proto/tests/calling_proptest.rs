//! Property test: random interleavings of commands, component events, responses (ok, relay
//! error, JSON-RPC error, timeout), call state changes, dials and their legs, stray events, and
//! the call's end. Invariants: every returned `ControlId` gets exactly one terminal outcome,
//! every dial exactly one result, the registry is empty once every call ended, nothing panics.

mod calling_common;

use std::collections::BTreeMap;
use std::time::Duration;

use calling_common::Harness;
use proptest::prelude::*;
use relay_proto::calling::{
    CallEvent, CallState, CollectDigits, CollectParams, ConnectParams, DetectKind, DetectMode,
    DetectParams, Device, DialParams, EndReason, FaxSendParams, Media, PlayParams, PromptParams,
    RecordParams, ReferParams, TapDevice, TapParams,
};
use relay_proto::{CallId, ControlId, DialTag, Input};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Op {
    Start(u8),
    Respond(u8, u8),
    Event(u8, u8),
    CallState(u8),
    Timeout,
    Dial(u8),
    DialEvent(u8, u8),
    LegState(u8, u8, u8),
    Stray(u8),
    Drop,
    /// A reconnect the server does not restore: the old calls and dials are gone.
    DropNotRestored,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Start),
        4 => (any::<u8>(), 0u8..3).prop_map(|(a, b)| Op::Respond(a, b)),
        5 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Event(a, b)),
        1 => (0u8..4).prop_map(Op::CallState),
        1 => Just(Op::Timeout),
        1 => (1u8..4).prop_map(Op::Dial),
        1 => (any::<u8>(), 0u8..3).prop_map(|(a, b)| Op::DialEvent(a, b)),
        2 => (any::<u8>(), 0u8..3, 0u8..5).prop_map(|(a, b, c)| Op::LegState(a, b, c)),
        1 => any::<u8>().prop_map(Op::Stray),
        1 => Just(Op::Drop),
        1 => Just(Op::DropNotRestored),
    ]
}

const KINDS: usize = 16;
const MAX_CALLS: usize = 4;

/// Events are accepted, or refused only because a bound was hit.
fn accepted(r: Result<(), relay_proto::InputError>) {
    match r {
        Ok(()) | Err(relay_proto::InputError::Capacity(_)) => {}
        Err(e) => panic!("event refused: {e}"),
    }
}

fn start(h: &mut Harness, call: &CallId, k: u8) -> Option<(ControlId, usize)> {
    let now = h.now;
    let mut c = h.s.call_mut(call).ok()?;
    let k = k as usize % KINDS;
    let machine_beep = DetectKind::Machine {
        initial_timeout: None,
        end_silence_timeout: None,
        machine_voice_threshold: None,
        machine_words_threshold: None,
        wait_for_beep: true,
    };
    let r = match k {
        0 => c.play(now, &PlayParams::new([Media::audio("u")])),
        1 => c.prompt(
            now,
            &PromptParams {
                collect: CollectParams {
                    digits: Some(CollectDigits::default()),
                    partial_results: true,
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
        2 => c.record(now, &RecordParams::default()),
        3 => c.detect(
            now,
            &DetectParams::new(DetectKind::machine()),
            DetectMode::Async,
        ),
        4 => c.detect(now, &DetectParams::new(machine_beep), DetectMode::Blocking),
        5 => c.send_fax(
            now,
            &FaxSendParams {
                document: "d".into(),
                ..Default::default()
            },
        ),
        6 => c.receive_fax(now),
        7 => c.tap(
            now,
            &TapParams {
                direction: None,
                device: TapDevice::Ws {
                    uri: "wss://t".into(),
                    codec: None,
                    rate: None,
                },
            },
        ),
        8 => c.send_digits(now, "12"),
        9 => c.answer(now),
        10 => c.hangup(now, EndReason::Hangup),
        11 => c.connect(now, &ConnectParams::single(Device::phone_to("+2"))),
        12 => c.disconnect(now),
        13 => c.refer(
            now,
            &ReferParams {
                to: "sip:x@y".into(),
                headers: vec![],
            },
        ),
        14 => c.wait_for(now, &[CallState::Answered]),
        _ => c.pass(now),
    };
    match r {
        Ok(id) => Some((id, k)),
        Err(relay_proto::CommandError::Capacity(_)) => None,
        Err(e) => panic!("valid command refused: {e}"),
    }
}

fn component_event(control: &ControlId, kind: usize, s: u8) -> (&'static str, Value) {
    let mut v = json!({"control_id":control.as_str(),"call_id":"call-a","node_id":"node-a"});
    let pick = |xs: &[&'static str]| xs[s as usize % xs.len()];
    let t = match kind {
        0 => {
            v["state"] = pick(&["playing", "paused", "finished", "error"]).into();
            "calling.call.play"
        }
        1 => {
            let (t, fin) = [
                ("start_of_input", true),
                ("digit", false),
                ("digit", true),
                ("no_input", true),
            ][s as usize % 4];
            v["final"] = fin.into();
            v["result"] = json!({"type":t,"params":{"digits":"1"}});
            "calling.call.collect"
        }
        2 => {
            v["state"] = pick(&["recording", "paused", "finished", "no_input"]).into();
            "calling.call.record"
        }
        3 | 4 => {
            let e = pick(&[
                "MACHINE",
                "READY",
                "NOT_READY",
                "HUMAN",
                "finished",
                "error",
            ]);
            v["detect"] = json!({"type":"machine","params":{"event":e}});
            "calling.call.detect"
        }
        5 | 6 => {
            let t = pick(&["page", "finished", "error"]);
            v["fax"] = json!({"type":t,"params":{"success":true,"pages":"2"}});
            "calling.call.fax"
        }
        7 => {
            v["state"] = pick(&["tapping", "finished"]).into();
            "calling.call.tap"
        }
        8 => {
            v["state"] = "finished".into();
            "calling.call.send_digits"
        }
        13 => {
            v["state"] = pick(&["inProgress", "success", "error", "busy"]).into();
            "calling.call.refer"
        }
        _ => {
            let st = pick(&["connecting", "connected", "failed", "disconnected"]);
            v = json!({"connect_state":st,"call_id":"call-a","node_id":"node-a"});
            if st == "connected" {
                v["peer"] = json!({"call_id":"peer-b","node_id":"node-b"});
            }
            "calling.call.connect"
        }
    };
    (t, v)
}

fn run(ops: Vec<Op>) {
    let mut h = Harness::with_config(|c| {
        c.with_bounds(relay_proto::Bounds {
            max_calls: MAX_CALLS,
            max_components_per_call: 8,
            ..relay_proto::Bounds::default()
        })
    });
    let call = h.answered_inbound("call-a");
    let mut started: Vec<(ControlId, usize)> = Vec::new();
    let mut dials: Vec<DialTag> = Vec::new();
    let mut outstanding: Vec<String> = Vec::new();
    let mut events: Vec<CallEvent> = Vec::new();

    for op in ops {
        match op {
            Op::Start(k) => {
                if let Some(s) = start(&mut h, &call, k) {
                    started.push(s);
                }
            }
            Op::Respond(i, outcome) => {
                if !outstanding.is_empty() {
                    let id = outstanding.remove(i as usize % outstanding.len());
                    match outcome {
                        0 => h.ok(&id),
                        1 => h.respond(&id, json!({"code":"500","message":"boom"})),
                        _ => h.rpc_error(&id),
                    }
                }
            }
            Op::Event(i, s) => {
                if !started.is_empty() {
                    let (c, k) = started[i as usize % started.len()].clone();
                    let (t, v) = component_event(&c, k, s);
                    // Events for a removed call are ignored; malformed ones cannot occur here.
                    accepted(h.event(t, v));
                }
            }
            Op::CallState(s) => {
                let st = ["created", "ringing", "answered", "ending"][s as usize % 4];
                h.state("call-a", st);
            }
            Op::Timeout => {
                h.now += Duration::from_secs(60);
                let now = h.now;
                h.s.handle_input(now, Input::Timeout).expect("timeout");
                h.drain();
                outstanding.clear();
            }
            Op::Dial(n) => {
                let devs = (0..n).map(|i| Device::phone("+1", format!("+2{i}")));
                if let Ok(t) = h.s.dial(h.now, &DialParams::parallel(devs)) {
                    dials.push(t);
                }
            }
            Op::DialEvent(i, s) => {
                if !dials.is_empty() {
                    let d = i as usize % dials.len();
                    let tag = dials[d].as_str().to_owned();
                    let v = match s {
                        0 => json!({"dial_state":"answered","tag":tag,"node_id":"n",
                            "call":{"call_id":format!("d{d}-l0"),"node_id":"n","tag":tag}}),
                        1 => json!({"dial_state":"failed","tag":tag,"node_id":"n"}),
                        _ => json!({"dial_state":"dialing","tag":tag,"node_id":"n"}),
                    };
                    accepted(h.event("calling.call.dial", v));
                }
            }
            Op::LegState(i, leg, s) => {
                if !dials.is_empty() {
                    let d = i as usize % dials.len();
                    let st = ["created", "ringing", "answered", "ending", "ended"][s as usize];
                    h.event(
                        "calling.call.state",
                        json!({"call_state":st,"tag":dials[d].as_str(),"call_id":format!("d{d}-l{leg}"),
                            "node_id":"n","end_reason":"cancel"}),
                    )
                    .map_or_else(|e| accepted(Err(e)), |_| ());
                }
            }
            Op::Drop => {
                // Calls survive a reconnect; requests in flight fail (ConnectionLost).
                h.drop_and_reconnect();
                outstanding.clear();
            }
            Op::DropNotRestored => {
                h.drop_and_reconnect_with(false);
                outstanding.clear();
                // (Dials that were still queued are sent on the new session and stay.)
                assert_eq!(
                    h.s.calls().count(),
                    0,
                    "a non-restored session keeps no call"
                );
            }
            Op::Stray(s) => {
                let id = format!("stray-{}", s % 3);
                h.state(&id, "answered");
                h.event(
                    "calling.call.play",
                    json!({"control_id":"c","call_id":id,"node_id":"n","state":"finished"}),
                )
                .expect("stray");
                assert!(h.s.call(&CallId::new(id)).is_none(), "no zombie");
            }
        }
        assert!(
            h.s.calls().count() + h.s.pending_dials() <= MAX_CALLS,
            "bound holds"
        );
        for f in h.take_sent() {
            assert_eq!(f["jsonrpc"], "2.0");
            if let Some(id) = f["id"].as_str() {
                outstanding.push(id.to_owned());
            }
        }
        events.extend(h.take_events());
    }

    // Wind down: answer everything, end every dial and every call.
    for id in std::mem::take(&mut outstanding) {
        h.ok(&id);
    }
    for (d, tag) in dials.iter().enumerate() {
        h.event(
            "calling.call.dial",
            json!({"dial_state":"failed","tag":tag.as_str(),"node_id":"n"}),
        )
        .expect("dial failed");
        let _ = d;
    }
    h.ended("call-a", "hangup");
    let rest: Vec<CallId> = h.s.calls().map(|c| c.id.clone()).collect();
    for id in rest {
        h.ended(id.as_str(), "hangup");
    }
    for f in h.take_sent() {
        if let Some(id) = f["id"].as_str() {
            h.ok(id);
        }
    }
    events.extend(h.take_events());

    let mut finished: BTreeMap<ControlId, usize> = BTreeMap::new();
    let mut dialed: BTreeMap<DialTag, usize> = BTreeMap::new();
    for e in &events {
        match e {
            CallEvent::ComponentFinished { control_id, .. } => {
                *finished.entry(control_id.clone()).or_default() += 1
            }
            CallEvent::DialCompleted { tag, .. } => *dialed.entry(tag.clone()).or_default() += 1,
            _ => {}
        }
    }
    for (c, k) in &started {
        assert_eq!(finished.get(c), Some(&1), "control {c} (kind {k}) outcomes");
    }
    assert_eq!(
        finished.len(),
        started.len(),
        "no outcome for an unknown id"
    );
    for t in &dials {
        assert_eq!(dialed.get(t), Some(&1), "dial {t} results");
    }
    assert_eq!(dialed.len(), dials.len());
    assert_eq!(h.s.calls().count(), 0, "registry empty");
    assert_eq!(h.s.pending_dials(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn every_id_gets_exactly_one_outcome(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

/// Random JSON built from the calling vocabulary, so decoding reaches deep into payloads.
fn json_value() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "call_id",
        "node_id",
        "control_id",
        "tag",
        "call_state",
        "state",
        "dial_state",
        "connect_state",
        "peer",
        "device",
        "type",
        "params",
        "result",
        "detect",
        "event",
        "fax",
        "pages",
        "url",
        "duration",
        "size",
        "final",
        "success",
        "call",
        "end_reason",
        "context",
        "digits",
        "text",
        "confidence",
        "tap",
        "sip_refer_to",
        "direction",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "call-a",
            "created",
            "answered",
            "ended",
            "finished",
            "playing",
            "MACHINE",
            "READY",
            "digit",
            "speech",
            "page",
            "connected",
            "disconnected",
            "phone",
            "1",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_calling_payloads_never_panic(
        events in prop::collection::vec((0usize..13, json_value()), 1..12)
    ) {
        let types = [
            "calling.call.receive", "calling.call.state", "calling.call.dial",
            "calling.call.connect", "calling.call.play", "calling.call.collect",
            "calling.call.record", "calling.call.detect", "calling.call.fax", "calling.call.tap",
            "calling.call.send_digits", "calling.call.refer", "calling.call.unknown",
        ];
        let mut h = Harness::new();
        let call = h.answered_inbound("call-a");
        let _ = h.s.call_mut(&call).unwrap().play(h.now, &PlayParams::new([Media::audio("u")]));
        for (t, mut v) in events {
            // Half the time, aim the payload at the known call.
            if let Some(m) = v.as_object_mut() {
                if t % 2 == 0 {
                    m.insert("call_id".into(), Value::from("call-a"));
                }
            }
            // Errors are fine (typed); panics are not.
            let _ = h.event(types[t], v);
        }
        let _ = h.take_events();
    }
}
