//! Golden flows for the media components: prompt, record, detect, fax, tap, send_digits.

mod calling_common;

use std::time::Duration;

use calling_common::Harness;
use relay_proto::calling::{
    AudioDirection, CallEvent, CollectDigits, CollectParams, CollectSpeech, DetectKind, DetectMode,
    DetectParams, FaxSendParams, FaxTone, Media, PlayParams, PromptParams, RecordFormat,
    RecordParams, TapDevice, TapParams,
};
use relay_proto::ControlId;
use serde_json::{json, Value};

fn ids(c: &ControlId) -> Value {
    json!({"control_id":c.as_str(),"call_id":"call-a","node_id":"node-a"})
}

fn with(c: &ControlId, extra: Value) -> Value {
    let mut v = ids(c);
    for (k, x) in extra.as_object().expect("object") {
        v[k] = x.clone();
    }
    v
}

#[test]
fn prompt_digits() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = PromptParams {
        media: vec![Media::Tts {
            text: "Enter PIN".into(),
            language: Some("en-US".into()),
            gender: Some("female".into()),
        }],
        collect: CollectParams {
            digits: Some(CollectDigits {
                max: Some(4),
                terminators: Some("#".into()),
                digit_timeout: Some(Duration::from_secs(5)),
            }),
            initial_timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        },
        volume: Some(-4.0),
    };
    let p = h.s.call_mut(&call).unwrap().prompt(h.now, &params).unwrap();
    let rid = h.expect_execute(
        "calling.play_and_collect",
        with(
            &p,
            json!({"play":[{"type":"tts","params":{"text":"Enter PIN","language":"en-US","gender":"female"}}],
                "collect":{"initial_timeout":10,"digits":{"max":4,"terminators":"#","digit_timeout":5}},
                "volume":-4}),
        ),
    );
    h.ok(&rid);
    let _ = h.s.call_mut(&call).unwrap().volume(h.now, &p, 2.0).unwrap();
    let rid = h.expect_execute(
        "calling.play_and_collect.volume",
        with(&p, json!({"volume":2})),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.collect",
        with(&p, json!({"result":{"type":"start_of_input"}})),
    );
    h.ev(
        "calling.call.collect",
        with(
            &p,
            json!({"result":{"type":"digit","params":{"digits":"1234","terminator":"#"}}}),
        ),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &p), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn prompt_speech_with_partials() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = PromptParams {
        media: vec![],
        collect: CollectParams {
            speech: Some(CollectSpeech {
                end_silence_timeout: Some(Duration::from_secs(1)),
                speech_timeout: Some(Duration::from_secs(10)),
                language: Some("en-US".into()),
                hints: vec!["yes".into(), "no".into()],
            }),
            partial_results: true,
            ..Default::default()
        },
        volume: None,
    };
    let p = h.s.call_mut(&call).unwrap().prompt(h.now, &params).unwrap();
    let rid = h.expect_execute(
        "calling.play_and_collect",
        with(
            &p,
            json!({"play":[],"collect":{"partial_results":true,
                "speech":{"end_silence_timeout":1,"speech_timeout":10,"language":"en-US","hints":["yes","no"]}}}),
        ),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.collect",
        with(&p, json!({"final":false,"result":{"type":"speech","params":{"text":"ye","confidence":0.4}}})),
    );
    h.ev(
        "calling.call.collect",
        with(&p, json!({"final":true,"result":{"type":"speech","params":{"text":"yes","confidence":"0.93"}}})),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &p), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn record_input_sensitivity_and_extra_keys_go_into_audio() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    // An extra key is sent as it is; a key a field sets comes from the field.
    let params = RecordParams::new()
        .beep(false)
        .input_sensitivity(60.0)
        .extra("max_length", 120)
        .extra("beep", true);
    let r = h.s.call_mut(&call).unwrap().record(h.now, &params).unwrap();
    h.expect_execute(
        "calling.record",
        with(
            &r,
            json!({"record":{"audio":{"beep":false,"input_sensitivity":60.0,"max_length":120}}}),
        ),
    );
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        let params = RecordParams::new().input_sensitivity(bad);
        let err =
            h.s.call_mut(&call)
                .unwrap()
                .record(h.now, &params)
                .unwrap_err();
        assert!(
            err.to_string().contains("input_sensitivity"),
            "{bad}: {err}"
        );
    }
    assert!(h.take_sent().is_empty(), "a refused record sends nothing");
}

#[test]
fn record_flow() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = RecordParams {
        beep: Some(true),
        stereo: Some(false),
        format: Some(RecordFormat::Mp3),
        direction: Some(AudioDirection::Both),
        initial_timeout: Some(Duration::from_secs(5)),
        end_silence_timeout: Some(Duration::from_secs(3)),
        terminators: Some("#".into()),
        input_sensitivity: None,
        extra: Default::default(),
    };
    let r = h.s.call_mut(&call).unwrap().record(h.now, &params).unwrap();
    let rid = h.expect_execute(
        "calling.record",
        with(
            &r,
            json!({"record":{"audio":{"beep":true,"format":"mp3","stereo":false,"direction":"both",
                "initial_timeout":5,"end_silence_timeout":3,"terminators":"#"}}}),
        ),
    );
    h.respond(
        &rid,
        json!({"code":"200","message":"Recording started","url":"https://x/rec.mp3"}),
    );
    h.ev(
        "calling.call.record",
        with(&r, json!({"state":"recording"})),
    );
    let _ = h.s.call_mut(&call).unwrap().stop(h.now, &r).unwrap();
    let rid = h.expect_execute("calling.record.stop", ids(&r));
    h.ok(&rid);
    h.ev(
        "calling.call.record",
        with(
            &r,
            json!({"state":"finished","url":"https://x/rec.mp3","duration":"4","size":4096,
                "record":{"audio":{"format":"mp3","direction":"both","stereo":false}}}),
        ),
    );
    // An empty record is `{"audio":{}}`.
    let r2 =
        h.s.call_mut(&call)
            .unwrap()
            .record(h.now, &RecordParams::default())
            .unwrap();
    h.expect_execute("calling.record", with(&r2, json!({"record":{"audio":{}}})));
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &r), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn detect_machine_with_beep_blocking() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = DetectParams {
        kind: DetectKind::Machine {
            initial_timeout: Some(Duration::from_secs(5)),
            end_silence_timeout: Some(Duration::from_secs(1)),
            machine_voice_threshold: Some(Duration::from_millis(1250)),
            machine_words_threshold: Some(6),
            wait_for_beep: true,
        },
        timeout: Some(Duration::from_secs(30)),
    };
    let d =
        h.s.call_mut(&call)
            .unwrap()
            .detect(h.now, &params, DetectMode::Blocking)
            .unwrap();
    // Blocking: wait_for_beep is handled client-side and not sent.
    let rid = h.expect_execute(
        "calling.detect",
        with(
            &d,
            json!({"detect":{"type":"machine","params":{"initial_timeout":5,"end_silence_timeout":1,
                "machine_voice_threshold":1.25,"machine_words_threshold":6}},"timeout":30}),
        ),
    );
    h.ok(&rid);
    let det = |e: &str| {
        with(
            &d,
            json!({"detect":{"type":"machine","params":{"event":e}}}),
        )
    };
    h.ev("calling.call.detect", det("MACHINE"));
    h.ev("calling.call.detect", det("NOT_READY"));
    h.ev("calling.call.detect", det("READY"));
    // Finished early: the detector is stopped (bug 21).
    let rid = h.expect_execute("calling.detect.stop", ids(&d));
    h.ok(&rid);
    h.ev("calling.call.detect", det("finished"));
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &d), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn detect_async_joined_result_and_fax_digit_shapes() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let mut kind = DetectKind::machine();
    if let DetectKind::Machine { wait_for_beep, .. } = &mut kind {
        *wait_for_beep = true;
    }
    let d =
        h.s.call_mut(&call)
            .unwrap()
            .detect(h.now, &DetectParams::new(kind), DetectMode::Async)
            .unwrap();
    // Async: wait_for_beep is forwarded.
    let rid = h.expect_execute(
        "calling.detect",
        with(
            &d,
            json!({"detect":{"type":"machine","params":{"wait_for_beep":true}}}),
        ),
    );
    h.ok(&rid);
    let det = |e: &str| {
        with(
            &d,
            json!({"detect":{"type":"machine","params":{"event":e}}}),
        )
    };
    for e in ["MACHINE", "NOT_READY", "READY", "finished"] {
        h.ev("calling.call.detect", det(e));
    }
    let events = h.take_events();
    let fin = events.iter().find_map(|e| match e {
        CallEvent::ComponentFinished {
            control_id, result, ..
        } if *control_id == d => Some(result),
        _ => None,
    });
    let fin = fin.expect("finished");
    assert!(fin.successful);
    assert_eq!(
        fin.detect().unwrap().result.as_deref(),
        Some("MACHINE,NOT_READY,READY")
    );

    let f =
        h.s.call_mut(&call)
            .unwrap()
            .detect(
                h.now,
                &DetectParams::new(DetectKind::Fax {
                    tone: Some(FaxTone::Ced),
                }),
                DetectMode::Blocking,
            )
            .unwrap();
    h.expect_execute(
        "calling.detect",
        with(&f, json!({"detect":{"type":"fax","params":{"tone":"CED"}}})),
    );
    let g =
        h.s.call_mut(&call)
            .unwrap()
            .detect(
                h.now,
                &DetectParams::new(DetectKind::Digit {
                    digits: Some("0123456789#*".into()),
                }),
                DetectMode::Blocking,
            )
            .unwrap();
    h.expect_execute(
        "calling.detect",
        with(
            &g,
            json!({"detect":{"type":"digit","params":{"digits":"0123456789#*"}}}),
        ),
    );
    h.ev(
        "calling.call.detect",
        with(
            &g,
            json!({"detect":{"type":"digit","params":{"event":"1#"}}}),
        ),
    );
    let events = h.take_events();
    let fin = events.iter().find_map(|e| match e {
        CallEvent::ComponentFinished {
            control_id, result, ..
        } if *control_id == g => Some(result),
        _ => None,
    });
    assert_eq!(fin.and_then(|r| r.detect()?.result.as_deref()), Some("1#"));
}

#[test]
fn detect_human_and_machine_helpers() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let p = DetectParams::new(DetectKind::machine());
    let hu =
        h.s.call_mut(&call)
            .unwrap()
            .detect_human(h.now, &p)
            .unwrap();
    let ma =
        h.s.call_mut(&call)
            .unwrap()
            .detect_machine(h.now, &p)
            .unwrap();
    h.take_sent();
    for c in [&hu, &ma] {
        h.ev(
            "calling.call.detect",
            with(
                c,
                json!({"detect":{"type":"machine","params":{"event":"HUMAN"}}}),
            ),
        );
    }
    let events = h.take_events();
    let ok = |id: &ControlId| {
        events.iter().find_map(|e| match e {
            CallEvent::ComponentFinished {
                control_id, result, ..
            } if control_id == id => Some(result.successful),
            _ => None,
        })
    };
    assert_eq!(ok(&hu), Some(true));
    assert_eq!(ok(&ma), Some(false));
}

#[test]
fn fax_send_and_receive() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let f =
        h.s.call_mut(&call)
            .unwrap()
            .send_fax(
                h.now,
                &FaxSendParams {
                    document: "https://example.com/doc.pdf".into(),
                    identity: Some("+15550000001".into()),
                    header_info: Some("Custom header".into()),
                },
            )
            .unwrap();
    let rid = h.expect_execute(
        "calling.send_fax",
        with(
            &f,
            json!({"document":"https://example.com/doc.pdf","identity":"+15550000001","header_info":"Custom header"}),
        ),
    );
    h.ok(&rid);
    h.ev(
        "calling.call.fax",
        with(
            &f,
            json!({"fax":{"type":"page","params":{"direction":"send","number":1}}}),
        ),
    );
    h.ev(
        "calling.call.fax",
        with(
            &f,
            json!({"fax":{"type":"finished","params":{"direction":"send","identity":"+1xxx",
                "remote_identity":"+1yyy","document":"https://example.com/doc.pdf","success":true,
                "result":"1231","result_text":"","pages":"1"}}}),
        ),
    );
    let r = h.s.call_mut(&call).unwrap().receive_fax(h.now).unwrap();
    let rid = h.expect_execute("calling.receive_fax", ids(&r));
    h.ok(&rid);
    let _ = h.s.call_mut(&call).unwrap().stop(h.now, &r).unwrap();
    let rid = h.expect_execute("calling.receive_fax.stop", ids(&r));
    h.ok(&rid);
    h.ev(
        "calling.call.fax",
        with(
            &r,
            json!({"fax":{"type":"error","params":{"direction":"receive","pages":0}}}),
        ),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &f), 1);
    assert_eq!(Harness::finished_count(&events, &r), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn tap_flow() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let t =
        h.s.call_mut(&call)
            .unwrap()
            .tap(
                h.now,
                &TapParams {
                    direction: Some(AudioDirection::Listen),
                    device: TapDevice::Rtp {
                        addr: "127.0.0.1".into(),
                        port: 1234,
                        codec: Some("PCMU".into()),
                        ptime: Some(20),
                        rate: None,
                    },
                },
            )
            .unwrap();
    let rid = h.expect_execute(
        "calling.tap",
        with(
            &t,
            json!({"tap":{"type":"audio","params":{"direction":"listen"}},
                "device":{"type":"rtp","params":{"addr":"127.0.0.1","port":1234,"codec":"PCMU","ptime":20}}}),
        ),
    );
    h.respond(
        &rid,
        json!({"code":"200","message":"Tapping","control_id":t.as_str(),
            "source_device":{"type":"rtp","params":{"addr":"10.10.10.10","port":3000,"codec":"PCMU","rate":8000}}}),
    );
    let tev = |state: &str| {
        with(
            &t,
            json!({"state":state,"tap":{"type":"audio","params":{"direction":"listen"}},
                "device":{"type":"rtp","params":{"addr":"127.0.0.1","port":"1234","codec":"PCMU","ptime":"20"}}}),
        )
    };
    h.ev("calling.call.tap", tev("tapping"));
    let _ = h.s.call_mut(&call).unwrap().stop(h.now, &t).unwrap();
    let rid = h.expect_execute("calling.tap.stop", ids(&t));
    h.ok(&rid);
    h.ev("calling.call.tap", tev("finished"));
    // The ws form.
    let w =
        h.s.call_mut(&call)
            .unwrap()
            .tap(
                h.now,
                &TapParams {
                    direction: None,
                    device: TapDevice::Ws {
                        uri: "wss://example.com/tap".into(),
                        codec: None,
                        rate: Some(16000),
                    },
                },
            )
            .unwrap();
    h.expect_execute(
        "calling.tap",
        with(
            &w,
            json!({"tap":{"type":"audio","params":{}},
                "device":{"type":"ws","params":{"uri":"wss://example.com/tap","rate":16000}}}),
        ),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &t), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn send_digits_flow() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let d =
        h.s.call_mut(&call)
            .unwrap()
            .send_digits(h.now, "1234#w*")
            .unwrap();
    let rid = h.expect_execute("calling.send_digits", with(&d, json!({"digits":"1234#w*"})));
    h.ok(&rid);
    h.ev(
        "calling.call.send_digits",
        with(&d, json!({"state":"finished"})),
    );
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &d), 1);
    insta::assert_debug_snapshot!(events);
}

#[test]
fn every_stop_method() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let now = h.now;
    let mut c = h.s.call_mut(&call).unwrap();
    let started = [
        c.play(now, &PlayParams::new([Media::audio("u")])).unwrap(),
        c.prompt(
            now,
            &PromptParams {
                collect: CollectParams {
                    digits: Some(CollectDigits::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap(),
        c.record(now, &RecordParams::default()).unwrap(),
        c.detect(
            now,
            &DetectParams::new(DetectKind::machine()),
            DetectMode::Async,
        )
        .unwrap(),
        c.send_fax(
            now,
            &FaxSendParams {
                document: "d".into(),
                ..Default::default()
            },
        )
        .unwrap(),
        c.receive_fax(now).unwrap(),
        c.tap(
            now,
            &TapParams {
                direction: None,
                device: TapDevice::Ws {
                    uri: "ws://x".into(),
                    codec: None,
                    rate: None,
                },
            },
        )
        .unwrap(),
    ];
    drop(c);
    h.take_sent();
    let methods = [
        "calling.play.stop",
        "calling.play_and_collect.stop",
        "calling.record.stop",
        "calling.detect.stop",
        "calling.send_fax.stop",
        "calling.receive_fax.stop",
        "calling.tap.stop",
    ];
    for (id, method) in started.iter().zip(methods) {
        let _ = h.s.call_mut(&call).unwrap().stop(h.now, id).unwrap();
        let rid = h.expect_execute(method, ids(id));
        h.respond(&rid, json!({"code":"404","message":"component gone"}));
        let events = h.take_events();
        assert!(
            matches!(&events[..], [CallEvent::ControlCompleted { control_id, result, .. }]
                if control_id == id && !result.successful && result.code.as_deref() == Some("404")),
            "{events:#?}"
        );
    }
    // Ending the call finishes every running component once.
    h.ended("call-a", "hangup");
    let events = h.take_events();
    for id in &started {
        assert_eq!(Harness::finished_count(&events, id), 1);
    }
}

#[test]
fn node_convenience_methods() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let now = h.now;
    let mut c = h.s.call_mut(&call).unwrap();
    let a = c.play_audio(now, "https://x/a.mp3").unwrap();
    let t = c.play_tts(now, "hi").unwrap();
    let s = c.play_silence(now, Duration::from_millis(1500)).unwrap();
    let r = c.play_ringtone(now, "at", None).unwrap();
    let m = c.amd(now, DetectMode::Async).unwrap();
    let f = c
        .detect_fax(now, Some(FaxTone::Cng), DetectMode::Blocking)
        .unwrap();
    let d = c.detect_digit(now, None, DetectMode::Async).unwrap();
    let w = c.wait_for_ringing(now).unwrap();
    let w2 = c.wait_for_answered(now).unwrap();
    let w3 = c.wait_for_ending(now).unwrap();
    let w4 = c.wait_for_ended(now).unwrap();
    drop(c);
    let sent = h.take_sent();
    let params: Vec<Value> = sent.iter().map(|f| f["params"]["params"].clone()).collect();
    assert_eq!(
        params,
        vec![
            with(
                &a,
                json!({"play":[{"type":"audio","params":{"url":"https://x/a.mp3"}}]})
            ),
            with(&t, json!({"play":[{"type":"tts","params":{"text":"hi"}}]})),
            with(
                &s,
                json!({"play":[{"type":"silence","params":{"duration":1.5}}]})
            ),
            with(
                &r,
                json!({"play":[{"type":"ringtone","params":{"name":"at"}}]})
            ),
            with(&m, json!({"detect":{"type":"machine","params":{}}})),
            with(&f, json!({"detect":{"type":"fax","params":{"tone":"CNG"}}})),
            with(&d, json!({"detect":{"type":"digit","params":{}}})),
        ]
    );
    // ringing was skipped by this call (created -> answered), answered was reached.
    let events = h.take_events();
    assert_eq!(Harness::finished_count(&events, &w), 0);
    assert_eq!(Harness::finished_count(&events, &w2), 1);
    h.ended("call-a", "hangup");
    let events = h.take_events();
    let ok = |id: &ControlId| {
        events.iter().find_map(|e| match e {
            CallEvent::ComponentFinished {
                control_id, result, ..
            } if control_id == id => Some(result.successful),
            _ => None,
        })
    };
    assert_eq!(ok(&w), Some(false));
    assert_eq!(ok(&w3), Some(false));
    assert_eq!(ok(&w4), Some(true));
}

/// The builders send what the struct literals send; times go out in seconds (whole ones as
/// integers, fractions as decimals, as the official SDK sends them); a time beyond
/// `MAX_PARAM_DURATION` is refused before anything is sent.
#[test]
fn builders_and_durations_on_the_wire() {
    let mut h = Harness::new();
    let call = h.answered_inbound("call-a");
    let params = RecordParams::new()
        .beep(true)
        .stereo(false)
        .format(RecordFormat::Mp3)
        .direction(AudioDirection::Both)
        .initial_timeout(Duration::from_secs(5))
        .end_silence_timeout(Duration::from_millis(2500))
        .terminators("#");
    let r = h.s.call_mut(&call).unwrap().record(h.now, &params).unwrap();
    h.expect_execute(
        "calling.record",
        with(
            &r,
            json!({"record":{"audio":{"beep":true,"format":"mp3","stereo":false,"direction":"both",
                "initial_timeout":5,"end_silence_timeout":2.5,"terminators":"#"}}}),
        ),
    );

    let prompt = PromptParams::speech()
        .end_silence_timeout(Duration::from_secs(1))
        .speech_timeout(Duration::from_secs(10))
        .speech_language("en-US")
        .initial_timeout(Duration::from_millis(500))
        .partial_results(true)
        .media([Media::silence(Duration::from_millis(250))]);
    let p = h.s.call_mut(&call).unwrap().prompt(h.now, &prompt).unwrap();
    h.expect_execute(
        "calling.play_and_collect",
        with(
            &p,
            json!({"play":[{"type":"silence","params":{"duration":0.25}}],
                "collect":{"initial_timeout":0.5,"partial_results":true,
                "speech":{"end_silence_timeout":1,"speech_timeout":10,"language":"en-US"}}}),
        ),
    );

    let detect = DetectParams::digit(Some("12"))
        .initial_timeout(Duration::from_secs(3)) // switches to machine detection
        .machine_voice_threshold(Duration::from_millis(1250))
        .timeout(Duration::from_secs(30));
    let d =
        h.s.call_mut(&call)
            .unwrap()
            .detect(h.now, &detect, DetectMode::Async)
            .unwrap();
    h.expect_execute(
        "calling.detect",
        with(
            &d,
            json!({"detect":{"type":"machine","params":{"initial_timeout":3,
                "machine_voice_threshold":1.25}},"timeout":30}),
        ),
    );

    let too_long = Duration::from_secs(u64::from(u32::MAX) + 1);
    assert!(too_long > relay_proto::calling::MAX_PARAM_DURATION);
    let refused =
        h.s.call_mut(&call)
            .unwrap()
            .record(h.now, &RecordParams::new().end_silence_timeout(too_long));
    match refused {
        Err(relay_proto::CommandError::ApiMisuse(m)) => {
            assert!(m.to_string().contains("end_silence_timeout"), "{m}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let refused =
        h.s.call_mut(&call)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::silence(Duration::MAX)]));
    assert!(
        matches!(refused, Err(relay_proto::CommandError::ApiMisuse(_))),
        "{refused:?}"
    );
}
