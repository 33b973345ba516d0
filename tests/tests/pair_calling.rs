//! Calling flows driven through `Pair` (our Session against relay-mock's server core on a
//! virtual clock), each pinned by a golden transcript.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use relay_mock::Pair;
use relay_proto::calling::{
    CollectDigits, CollectParams, ConnectParams, Device, DialParams, EndReason, Media, PlayParams,
    PromptParams, RecordParams,
};
use relay_proto::{CallEvent, CallId, ControlId, Event};
use relay_tests::{assert_golden, ready_pair};
use serde_json::json;

/// Drives until the component `id` finishes; returns whether it succeeded.
fn finished(p: &mut Pair, id: &ControlId) -> relay_proto::calling::ComponentResult {
    let mut out = None;
    let ok = p.drive_until(
        |p| {
            for e in p.take_events() {
                if let Event::Call(CallEvent::ComponentFinished {
                    control_id, result, ..
                }) = e
                {
                    if control_id == *id {
                        out = Some(*result);
                    }
                }
            }
            out.is_some()
        },
        Duration::from_secs(60),
    );
    assert!(ok, "component {id} never finished");
    out.expect("set when drive_until returned true")
}

fn incoming_call(p: &mut Pair) -> CallId {
    p.control(
        "inbound_call",
        json!({"context":"office","from":"+15551230001","to":"+15553210002"}),
    )
    .expect("a session receives office");
    let mut id = None;
    assert!(p.drive_until(
        |p| {
            for e in p.take_events() {
                if let Event::Call(CallEvent::IncomingCall { call }) = e {
                    id = Some(call.id.clone());
                }
            }
            id.is_some()
        },
        Duration::from_secs(5)
    ));
    id.expect("set above")
}

#[test]
fn inbound_answer_play_hangup() {
    let mut p = ready_pair(&["office"]);
    let call = incoming_call(&mut p);
    let now = p.now();
    let answer = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.answer(now))
        .unwrap();
    assert!(finished(&mut p, &answer).successful);
    let now = p.now();
    let play = PlayParams::new([
        Media::tts("hello"),
        Media::audio("https://example.com/a.mp3"),
    ]);
    let play = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.play(now, &play))
        .unwrap();
    let r = finished(&mut p, &play);
    assert!(r.successful, "{r:?}");
    let now = p.now();
    let hangup = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.hangup(now, EndReason::Hangup))
        .unwrap();
    assert!(finished(&mut p, &hangup).successful);
    assert!(
        p.session().call(&call).is_none(),
        "an ended call leaves the registry"
    );
    assert_golden("pair_inbound_answer_play_hangup", p.transcript());
}

#[test]
fn dial_then_connect_prompt_record() {
    let mut p = ready_pair(&[]);
    let now = p.now();
    let tag = p
        .session_mut()
        .dial(
            now,
            &DialParams::single(Device::phone("+15550000001", "+15550000002")),
        )
        .unwrap();
    let mut call = None;
    assert!(p.drive_until(
        |p| {
            for e in p.take_events() {
                if let Event::Call(CallEvent::DialCompleted { tag: t, result }) = e {
                    if t == tag {
                        assert!(result.successful, "{result:?}");
                        call = result.call_id.clone();
                    }
                }
            }
            call.is_some()
        },
        Duration::from_secs(30)
    ));
    let call = call.expect("dial answered");

    let now = p.now();
    let connect = ConnectParams::single(Device::phone_to("+15550000003"));
    let connect = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.connect(now, &connect))
        .unwrap();
    assert!(finished(&mut p, &connect).successful);

    let now = p.now();
    let prompt = PromptParams {
        media: vec![Media::tts("Enter your PIN")],
        collect: CollectParams {
            digits: Some(CollectDigits {
                max: Some(4),
                terminators: Some("#".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let prompt = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.prompt(now, &prompt))
        .unwrap();
    let r = finished(&mut p, &prompt);
    assert!(r.successful, "{r:?}");

    let now = p.now();
    let record = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.record(now, &RecordParams::default()))
        .unwrap();
    let r = finished(&mut p, &record);
    assert!(r.successful, "{r:?}");

    let now = p.now();
    let hangup = p
        .session_mut()
        .call_mut(&call)
        .and_then(|mut c| c.hangup(now, EndReason::Hangup))
        .unwrap();
    finished(&mut p, &hangup);
    assert_golden("pair_dial_connect_prompt_record", p.transcript());
}
