//! Input validation: every invalid command is refused with a typed `ApiMisuse` that says what
//! is wrong, and nothing is sent.

mod calling_common;

use std::time::Duration;

use calling_common::Harness;
use relay_proto::calling::{
    validate_send_digits, validate_volume, CollectParams, ConnectParams, DetectKind, DetectMode,
    DetectParams, Device, DialParams, EndReason, FaxSendParams, Media, PhoneDevice, PlayParams,
    PromptParams, ReferParams, SipDevice, SipHeader, TapDevice, TapParams,
};
use relay_proto::error::Capacity;
use relay_proto::{Bounds, CallId, CommandError, ControlId, InputError};
use serde_json::json;

fn misuse(r: Result<impl std::fmt::Debug, CommandError>, needle: &str) {
    match r {
        Err(CommandError::ApiMisuse(m)) => {
            let m = m.to_string();
            assert!(m.contains(needle), "{m:?} should mention {needle:?}")
        }
        other => panic!("expected ApiMisuse({needle}), got {other:?}"),
    }
}

#[test]
fn volume_range() {
    assert!(validate_volume(-40.0).is_ok());
    assert!(validate_volume(40.0).is_ok());
    misuse(validate_volume(40.5), "volume");
    misuse(validate_volume(-41.0), "volume");
    misuse(validate_volume(f64::NAN), "volume");
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    misuse(
        h.s.call_mut(&a).unwrap().play(
            h.now,
            &PlayParams::new([Media::audio("u")]).with_volume(50.0),
        ),
        "between -40 and +40",
    );
    let p =
        h.s.call_mut(&a)
            .unwrap()
            .play(h.now, &PlayParams::new([Media::audio("u")]))
            .unwrap();
    h.take_sent();
    misuse(h.s.call_mut(&a).unwrap().volume(h.now, &p, -99.0), "volume");
    assert!(h.take_sent().is_empty());
}

#[test]
fn send_digits_charset() {
    assert!(validate_send_digits("1234567890*#ABCDwW").is_ok());
    misuse(validate_send_digits(""), "at least one");
    misuse(validate_send_digits("12x"), "'x'");
    misuse(validate_send_digits("1 2"), "' '");
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    misuse(h.s.call_mut(&a).unwrap().send_digits(h.now, "1E"), "'E'");
    assert!(h.take_sent().is_empty());
}

#[test]
fn sip_header_names_are_tokens_and_values_have_no_line_breaks() {
    let mut h = Harness::new();
    let dev = |name: &str| {
        Device::Sip(SipDevice {
            from: Some("sip:a@x".into()),
            to: "sip:b@y".into(),
            headers: vec![SipHeader::new(name, "v")],
            ..Default::default()
        })
    };
    // Any name is sent, as Node does; an empty one or one with a space is not a header.
    misuse(h.s.dial(h.now, &DialParams::single(dev(""))), "empty");
    assert!(h.s.dial(h.now, &DialParams::single(dev("Via"))).is_ok());
    misuse(
        h.s.dial(h.now, &DialParams::single(dev("X-Bad Name"))),
        "invalid character",
    );
    assert!(h.s.dial(h.now, &DialParams::single(dev("X-Good"))).is_ok());
    h.take_sent();
    let a = h.answered_inbound("call-a");
    assert!(h
        .s
        .call_mut(&a)
        .unwrap()
        .refer(
            h.now,
            &ReferParams {
                to: "sip:x@y".into(),
                headers: vec![SipHeader::new("Contact", "v")],
            },
        )
        .is_ok());
    let sent = h.take_sent();
    assert_eq!(
        sent[0]["params"]["params"]["device"]["params"]["headers"],
        json!([{"name":"Contact","value":"v"}]),
        "{sent:?}"
    );
    let mut bad_value = SipHeader::new("X-A", "v");
    bad_value.value = "a\r\nInjected: 1".into();
    misuse(
        h.s.call_mut(&a).unwrap().refer(
            h.now,
            &ReferParams {
                to: "sip:x@y".into(),
                headers: vec![bad_value],
            },
        ),
        "line breaks",
    );
    misuse(
        h.s.call_mut(&a).unwrap().refer(
            h.now,
            &ReferParams {
                to: "tel:+1".into(),
                headers: vec![],
            },
        ),
        "SIP URI",
    );
}

#[test]
fn device_trees_and_endpoints() {
    let mut h = Harness::new();
    misuse(
        h.s.dial(h.now, &DialParams::default()),
        "device tree: is empty",
    );
    misuse(
        h.s.dial(
            h.now,
            &DialParams {
                devices: vec![vec![]],
                region: None,
            },
        ),
        "group 0",
    );
    misuse(
        h.s.dial(h.now, &DialParams::single(Device::phone_to("+1"))),
        "`from`: missing",
    );
    misuse(
        h.s.dial(h.now, &DialParams::single(Device::phone("+1", ""))),
        "`to`",
    );
    misuse(
        h.s.dial(
            h.now,
            &DialParams::single(Device::Phone(PhoneDevice {
                from: Some(" ".into()),
                to: "+2".into(),
                timeout: None,
            })),
        ),
        "`from`",
    );
    assert!(h.take_sent().is_empty());
    assert_eq!(h.s.pending_dials(), 0);
    // Connect: an empty tree; a peer without `from` on a call whose device is not known.
    let a = h.answered_inbound("call-a");
    misuse(
        h.s.call_mut(&a)
            .unwrap()
            .connect(h.now, &ConnectParams::default()),
        "device tree: is empty",
    );
    // A call offered without a device has no `from` to give.
    h.ev(
        "calling.call.receive",
        json!({"call_state":"created","context":"office","direction":"inbound",
            "call_id":"call-nodev","node_id":"node-a"}),
    );
    let nodev = CallId::new("call-nodev");
    misuse(
        h.s.call_mut(&nodev)
            .unwrap()
            .connect(h.now, &ConnectParams::single(Device::sip_to("sip:b@y"))),
        "`from`",
    );
}

#[test]
fn media_and_component_params() {
    let mut h = Harness::new();
    let a = h.answered_inbound("call-a");
    let mut c = h.s.call_mut(&a).unwrap();
    let now = h.now;
    misuse(c.play(now, &PlayParams::default()), "at least one media");
    misuse(c.play(now, &PlayParams::new([Media::audio("")])), "url");
    misuse(c.play(now, &PlayParams::new([Media::tts(" ")])), "text");
    misuse(
        c.play(now, &PlayParams::new([Media::silence(Duration::MAX)])),
        "duration",
    );
    misuse(
        c.play(now, &PlayParams::new([Media::ringtone("", None)])),
        "name",
    );
    misuse(
        c.prompt(now, &PromptParams::default()),
        "`digits`, `speech` or both",
    );
    misuse(
        c.prompt(
            now,
            &PromptParams {
                collect: CollectParams {
                    digits: Some(relay_proto::calling::CollectDigits {
                        terminators: Some("x".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
        "terminators",
    );
    misuse(c.send_fax(now, &FaxSendParams::default()), "document");
    misuse(
        c.tap(
            now,
            &TapParams {
                direction: None,
                device: TapDevice::Ws {
                    uri: "http://x".into(),
                    codec: None,
                    rate: None,
                },
            },
        ),
        "ws://",
    );
    misuse(
        c.tap(
            now,
            &TapParams {
                direction: None,
                device: TapDevice::Rtp {
                    addr: "1.2.3.4".into(),
                    port: 0,
                    codec: None,
                    ptime: None,
                    rate: None,
                },
            },
        ),
        "port",
    );
    misuse(
        c.detect(
            now,
            &DetectParams::new(DetectKind::Digit {
                digits: Some("12z".into()),
            }),
            DetectMode::Async,
        ),
        "'z'",
    );
    misuse(c.hangup(now, EndReason::parse("whatever")), "hangup reason");
    // Controls on components that do not support them.
    let sd = c.send_digits(now, "1").unwrap();
    misuse(c.stop(now, &sd), "does not support stop");
    misuse(
        c.pause(now, &ControlId::new("nope")),
        "no running component",
    );
    misuse(c.wait_for_names(now, &["nope"]), "call state: unknown");
    drop(c);
    misuse(h.s.call_mut(&CallId::new("nobody")), "unknown call");
}

#[test]
fn bounds_are_typed_capacity_errors() {
    let mut h = Harness::with_config(|c| {
        c.with_bounds(Bounds {
            max_calls: 2,
            max_components_per_call: 2,
            ..Bounds::default()
        })
    });
    let a = h.answered_inbound("call-a");
    let p = PlayParams::new([Media::audio("u")]);
    let _ = h.s.call_mut(&a).unwrap().play(h.now, &p).unwrap();
    let _ = h.s.call_mut(&a).unwrap().play(h.now, &p).unwrap();
    assert!(matches!(
        h.s.call_mut(&a).unwrap().play(h.now, &p),
        Err(CommandError::Capacity(Capacity::ComponentsPerCall {
            limit: 2
        }))
    ));
    let _ =
        h.s.dial(h.now, &DialParams::single(Device::phone("+1", "+2")))
            .unwrap();
    assert!(matches!(
        h.s.dial(h.now, &DialParams::single(Device::phone("+1", "+2"))),
        Err(CommandError::Capacity(Capacity::Calls { .. }))
    ));
    let r = h.event(
        "calling.call.receive",
        json!({"call_state":"created","context":"office","call_id":"call-z","node_id":"n"}),
    );
    assert!(matches!(
        r,
        Err(InputError::Capacity(Capacity::Calls { .. }))
    ));
    assert_eq!(h.s.calls().count(), 1);
}

#[test]
fn malformed_and_unknown_events() {
    let mut h = Harness::new();
    h.answered_inbound("call-a");
    // Malformed: typed PeerMisbehaved, session continues.
    for (t, p) in [
        ("calling.call.state", json!({"call_id":"call-a"})),
        (
            "calling.call.state",
            json!({"call_id":"call-a","call_state":"exploded"}),
        ),
        (
            "calling.call.play",
            json!({"call_id":"call-a","state":"playing"}),
        ),
        (
            "calling.call.detect",
            json!({"call_id":"call-a","control_id":"c","detect":{"type":"machine","params":{}}}),
        ),
        (
            "calling.call.collect",
            json!({"call_id":"call-a","control_id":"c"}),
        ),
        ("calling.call.receive", json!({"call_id":"x"})),
        ("calling.call.dial", json!({"dial_state":"answered"})),
    ] {
        let r = h.event(t, p.clone());
        assert!(
            matches!(r, Err(InputError::PeerMisbehaved(_))),
            "{t} {p}: {r:?}"
        );
    }
    // Unknown calling event types surface as Unrecognized.
    h.ev("calling.call.hologram", json!({"call_id":"call-a"}));
    assert!(h.other.iter().any(|e| matches!(
        e,
        relay_proto::Event::Unrecognized { event_type, .. } if event_type == "calling.call.hologram"
    )));
    assert!(h.s.call(&CallId::new("call-a")).is_some());
}

/// Every builder makes exactly the value the struct literal makes, so both send the same.
#[test]
fn builders_equal_their_literals() {
    let sip = SipDevice::new("sip:a@x", "sip:b@y")
        .timeout(Duration::from_secs(20))
        .header("X-A", "1")
        .codecs([relay_proto::calling::Codec::Opus])
        .webrtc_media(true)
        .from_name("A");
    assert_eq!(
        sip,
        SipDevice {
            from: Some("sip:a@x".into()),
            to: "sip:b@y".into(),
            timeout: Some(Duration::from_secs(20)),
            headers: vec![SipHeader::new("X-A", "1")],
            codecs: vec![relay_proto::calling::Codec::Opus],
            webrtc_media: true,
            from_name: Some("A".into()),
        }
    );
    let phone = PhoneDevice::new("+1", "+2").timeout(Duration::from_secs(5));
    assert_eq!(
        Device::from(phone),
        Device::phone("+1", "+2").with_timeout(Duration::from_secs(5))
    );
    let a = Device::phone_to("+3");
    let b = Device::sip_to("sip:c@z");
    assert_eq!(
        ConnectParams::serial([a.clone(), b.clone()]).devices,
        vec![vec![a.clone()], vec![b.clone()]]
    );
    assert_eq!(
        ConnectParams::parallel([a.clone(), b.clone()]).devices,
        vec![vec![a.clone(), b.clone()]]
    );
    assert_eq!(
        DialParams::tree(vec![vec![a.clone()]]),
        DialParams::single(a)
    );
    assert_eq!(
        TapParams::new(TapDevice::rtp("192.0.2.1", 1234).ptime(20).rate(8000))
            .direction(relay_proto::calling::AudioDirection::Listen),
        TapParams {
            direction: Some(relay_proto::calling::AudioDirection::Listen),
            device: TapDevice::Rtp {
                addr: "192.0.2.1".into(),
                port: 1234,
                codec: None,
                ptime: Some(20),
                rate: Some(8000),
            },
        }
    );
    // A WebSocket has no packet time: `ptime` leaves it as it was.
    assert_eq!(TapDevice::ws("wss://t").ptime(20), TapDevice::ws("wss://t"));
    assert_eq!(
        ReferParams::new("sip:x@y").header("X-R", "2"),
        ReferParams {
            to: "sip:x@y".into(),
            headers: vec![SipHeader::new("X-R", "2")],
        }
    );
    assert_eq!(
        FaxSendParams::new("https://d/f.pdf")
            .identity("+1")
            .header_info("hi"),
        FaxSendParams {
            document: "https://d/f.pdf".into(),
            identity: Some("+1".into()),
            header_info: Some("hi".into()),
        }
    );
    assert_eq!(
        DetectParams::fax(None).timeout(Duration::from_secs(9)),
        DetectParams {
            kind: DetectKind::Fax { tone: None },
            timeout: Some(Duration::from_secs(9)),
        }
    );
}
