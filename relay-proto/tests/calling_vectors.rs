//! Every calling fixture of the protocol reference (`tests/vectors/`, copied from
//! `shared/protocol/vectors/`) decodes into the typed payload, and is accepted by a session
//! that knows the call and component it names.

mod calling_common;

use std::path::PathBuf;

use calling_common::Harness;
use relay_proto::calling::{
    decode_payload, CallEvent, CallingPayload, DetectKind, DetectMode, DetectParams, DeviceType,
    FaxSendParams, Media, PlayParams, PromptParams, RecordParams, TapDevice, TapParams,
};
use relay_proto::wire::{EventType, RelayResult};
use relay_proto::{CallId, IdGenerator, IdKind};
use serde_json::Value;

fn vectors(prefix: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("vectors dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).expect("read");
            (n, serde_json::from_str(&text).expect("json"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_event_fixture_decodes() {
    let all = vectors("event.calling.");
    assert!(all.len() >= 40, "fixtures present: {}", all.len());
    for (name, v) in all {
        let t = v["event_type"].as_str().expect("event_type");
        let p = decode_payload(&EventType::parse(t), &v["params"])
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: unknown type {t}"));
        // Spot checks of lenient fields.
        match (&*name, &p) {
            ("event.calling.call.fax.finished_send.node.json", CallingPayload::Fax(f)) => {
                assert_eq!(f.fax.params["pages"], "1");
            }
            ("event.calling.call.tap.finished.node.json", CallingPayload::Tap(t)) => {
                assert!(t.device.is_some());
            }
            _ => {}
        }
    }
}

#[test]
fn every_broadcast_frame_fixture_decodes() {
    for (name, v) in vectors("frame.blade.broadcast.calling.") {
        let inner = &v["params"]["params"];
        let t = inner["event_type"].as_str().expect("event_type");
        assert!(
            decode_payload(&EventType::parse(t), &inner["params"])
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .is_some(),
            "{name}"
        );
    }
}

#[test]
fn every_response_fixture_decodes() {
    for (name, v) in vectors("response.calling.") {
        let r = RelayResult::from_blade_result(&v["result"]);
        assert!(r.code.is_some(), "{name}");
        if name.contains("error_400") {
            assert!(!r.is_success(), "{name}");
        } else {
            assert!(r.is_success(), "{name}");
        }
    }
}

/// Control ids and tags are the fixtures' `mocked-uuid`; request ids count.
struct MockedIds(u64);

impl IdGenerator for MockedIds {
    fn next_id(&mut self, kind: IdKind) -> String {
        match kind {
            IdKind::Control | IdKind::Tag => "mocked-uuid".into(),
            _ => {
                self.0 += 1;
                format!("req-{}", self.0)
            }
        }
    }
}

fn mocked() -> Harness {
    Harness::with_config(|c| c.with_id_generator(MockedIds(0)))
}

#[test]
fn component_event_fixtures_drive_components() {
    let comps = [
        "play",
        "collect",
        "record",
        "detect",
        "fax",
        "tap",
        "send_digits",
    ];
    for (name, v) in vectors("event.calling.call.") {
        let t = v["event_type"].as_str().unwrap().to_owned();
        let Some(family) = comps.iter().find(|c| t == format!("calling.call.{c}")) else {
            continue;
        };
        let mut h = mocked();
        h.ev(
            "calling.call.receive",
            serde_json::json!({"call_state":"created","context":"office","call_id":"call-id","node_id":"node-id"}),
        );
        let call = CallId::new("call-id");
        let mut c = h.s.call_mut(&call).unwrap();
        let now = h.now;
        let id = match *family {
            "play" => c.play(now, &PlayParams::new([Media::audio("u")])),
            "collect" => c.prompt(
                now,
                &PromptParams {
                    collect: relay_proto::calling::CollectParams {
                        digits: Some(Default::default()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            ),
            "record" => c.record(now, &RecordParams::default()),
            "detect" => {
                let kind = match v["params"]["detect"]["type"].as_str() {
                    Some("fax") => DetectKind::Fax { tone: None },
                    Some("digit") => DetectKind::Digit { digits: None },
                    _ => DetectKind::machine(),
                };
                c.detect(now, &DetectParams::new(kind), DetectMode::Async)
            }
            "fax" => c.send_fax(
                now,
                &FaxSendParams {
                    document: "d".into(),
                    ..Default::default()
                },
            ),
            "tap" => c.tap(
                now,
                &TapParams {
                    direction: None,
                    device: TapDevice::Ws {
                        uri: "wss://x".into(),
                        codec: None,
                        rate: None,
                    },
                },
            ),
            _ => c.send_digits(now, "1"),
        }
        .unwrap();
        assert_eq!(id.as_str(), "mocked-uuid");
        h.take_events();
        h.event(&t, v["params"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let events = h.take_events();
        assert!(!events.is_empty(), "{name}: no typed event");
        let finished = events
            .iter()
            .any(|e| matches!(e, CallEvent::ComponentFinished { .. }));
        let terminal =
            name.contains("finished") || name.contains("error") || name.contains("collect.digit");
        if terminal {
            assert!(finished, "{name}: expected completion, got {events:#?}");
        }
    }
}

#[test]
fn call_level_fixtures_are_accepted() {
    for (name, v) in vectors("event.calling.call.") {
        let t = v["event_type"].as_str().unwrap().to_owned();
        if ![
            "calling.call.state",
            "calling.call.dial",
            "calling.call.connect",
        ]
        .contains(&t.as_str())
        {
            continue;
        }
        let mut h = mocked();
        h.ev(
            "calling.call.receive",
            serde_json::json!({"call_state":"created","context":"office","call_id":"call-id","node_id":"node-id"}),
        );
        // A pending dial with the fixtures' tag.
        let _ =
            h.s.dial(
                h.now,
                &relay_proto::calling::DialParams::single(relay_proto::calling::Device::phone(
                    "+1", "+2",
                )),
            )
            .unwrap();
        h.take_events();
        // A state the call is already in is taken, but is no transition: nothing to report.
        let repeat = t == "calling.call.state"
            && h.s
                .call(&CallId::new(
                    v["params"]["call_id"].as_str().unwrap_or_default(),
                ))
                .is_some_and(|c| v["params"]["call_state"] == c.state.as_str());
        h.event(&t, v["params"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !h.take_events().is_empty() || repeat,
            "{name}: no typed event"
        );
    }
}

#[test]
fn response_fixtures_feed_components() {
    // record: the url comes from the response.
    let mut h = mocked();
    h.ev(
        "calling.call.receive",
        serde_json::json!({"call_state":"created","context":"office","call_id":"call-id","node_id":"node-id"}),
    );
    let call = CallId::new("call-id");
    for (fixture, expect_ok) in [
        ("response.calling.record.ok_with_url.node.json", true),
        ("response.calling.tap.ok_with_source_device.node.json", true),
        ("response.calling.execute.error_400.node.json", false),
    ] {
        let v = &vectors(fixture)[0].1;
        let mut c = h.s.call_mut(&call).unwrap();
        let now = h.now;
        let id = if fixture.contains("tap") {
            c.tap(
                now,
                &TapParams {
                    direction: None,
                    device: TapDevice::Ws {
                        uri: "wss://x".into(),
                        codec: None,
                        rate: None,
                    },
                },
            )
        } else {
            c.record(now, &RecordParams::default())
        }
        .unwrap();
        let rid = h.last_sent_id();
        let mut frame = v.clone();
        frame["id"] = Value::from(rid);
        h.feed(frame).unwrap();
        let mut ev = serde_json::json!({"control_id":id.as_str(),"call_id":"call-id","node_id":"node-id","state":"finished"});
        let t = if fixture.contains("tap") {
            "calling.call.tap"
        } else {
            "calling.call.record"
        };
        if expect_ok {
            if t == "calling.call.record" {
                ev["state"] = "finished".into();
            }
            h.ev(t, ev);
        }
        let events = h.take_events();
        let r = events
            .iter()
            .find_map(|e| match e {
                CallEvent::ComponentFinished { result, .. } => Some(result.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{fixture}: no outcome"));
        assert_eq!(r.successful, expect_ok, "{fixture}");
        if fixture.contains("record") {
            assert!(
                r.record().unwrap().url.is_some(),
                "{fixture}: url from the response"
            );
        }
        if fixture.contains("tap") {
            assert_eq!(
                r.tap()
                    .and_then(|t| t.source_device.as_ref())
                    .map(|d| &d.device_type),
                Some(&DeviceType::Rtp)
            );
        }
        if !expect_ok {
            assert_eq!(r.code.as_deref(), Some("400"));
        }
    }
}
