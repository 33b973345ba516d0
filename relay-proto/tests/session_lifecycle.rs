//! Session-layer behaviour: the handshake, keepalive, timeouts, reconnect and the offline
//! queue, on a virtual clock, including one test per fixed Node SDK fault (PROTOCOL.md §13).
#![allow(clippy::disallowed_methods)]

mod session_common;

use std::time::Duration;

use relay_proto::{
    Backoff, Bounds, CommandError, Event, Input, InputError, MessageParams, RequestError,
    StopReason, TransportAction,
};
use serde_json::json;
use session_common::*;

fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

fn is_close(t: &TransportAction) -> bool {
    matches!(t, TransportAction::Close { .. })
}

#[test]
fn golden_handshake_frames() {
    let mut h = Harness::new(config().with_contexts(["office", "home"]));
    assert_eq!(
        h.transport,
        vec![TransportAction::Connect],
        "a new session asks for a transport"
    );
    h.handshake(false);
    let expected = vec![
        json!({"jsonrpc":"2.0","id":id(1),"method":"blade.connect","params":{
            "version":{"major":2,"minor":1,"revision":0},
            "authentication":{"project":"22222222-2222-4222-8222-222222222222","token":"PT_TOKEN"},
            "agent":"Rust SDK/test"}}),
        json!({"jsonrpc":"2.0","id":id(2),"method":"blade.execute","params":{
            "protocol":"signalwire","method":"setup","params":{}}}),
        json!({"jsonrpc":"2.0","id":id(3),"method":"blade.subscription","params":{
            "command":"add","protocol":PROTO,"channels":["notifications"]}}),
        json!({"jsonrpc":"2.0","id":id(4),"method":"blade.ping","params":{}}),
        json!({"jsonrpc":"2.0","id":id(5),"method":"blade.execute","params":{
            "protocol":PROTO,"method":"signalwire.receive","params":{"contexts":["office","home"]}}}),
    ];
    // serde_json::Value equality ignores key order: this is the canonicalised comparison.
    assert_eq!(h.sent, expected);
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Ready { protocol, restored: false, reconnected: false, session_id }]
            if protocol == PROTO && session_id.as_str() == SESSION),
        "{events:?}"
    );
    let receive = h.sent[4].clone();
    h.reply_relay_ok(&receive);
    assert!(
        matches!(&h.take_events()[..], [Event::ContextsRegistered { outcome: Ok(()), contexts, .. }] if contexts == &["office", "home"])
    );
    // Registering a known context again sends nothing.
    assert_eq!(h.s.receive(h.now, ["office"]), Ok(None));
}

#[test]
fn default_agent_names_the_rust_sdk() {
    let mut h = Harness::new(relay_proto::SessionConfig::new("p", "t"));
    h.opened();
    let agent = h.last_sent()["params"]["agent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(agent.starts_with("Rust SDK/"), "{agent}");
}

#[test]
fn bug1_offline_queue_is_sent_once_and_emptied() {
    let mut h = Harness::new(config());
    let msg = MessageParams::text("office", "+15550000001", "+15550000002", "hi");
    let req = h.s.messaging_send(h.now, &msg).unwrap();
    h.drain();
    assert_eq!(h.s.queued(), 1);
    h.handshake(false);
    assert_eq!(
        h.sent_method("messaging.send").len(),
        1,
        "sent after the handshake"
    );
    assert_eq!(h.sent_method("messaging.send")[0]["id"], req.as_str());
    assert_eq!(h.s.queued(), 0, "and removed from the queue");
    // Answer it, then flap the connection twice: it must never be sent again.
    let m = h.sent_method("messaging.send")[0].clone();
    h.reply(
        &m,
        json!({"result":{"code":"200","message":"ok","message_id":"m1"}}),
    );
    for _ in 0..2 {
        h.closed();
        h.step_timer();
        h.handshake(true);
    }
    assert_eq!(
        h.sent_method("messaging.send").len(),
        1,
        "never re-sent after later reconnects"
    );
}

#[test]
fn bug2_stale_request_timeout_never_closes_a_newer_connection() {
    let mut h = Harness::new(config());
    h.handshake(false);
    let req =
        h.s.execute(
            h.now,
            "calling.answer",
            json!({"call_id":"c","node_id":"n"}),
        )
        .unwrap();
    h.drain();
    h.advance(Duration::from_millis(200));
    h.closed();
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Response { request, outcome: Err(RequestError::ConnectionLost) } if *request == req)),
        "in-flight request fails with ConnectionLost: {ev:?}");
    h.step_timer();
    h.handshake(true);
    let closes_before = h.transport.iter().filter(|t| is_close(t)).count();
    // Run 30 s past the original deadline, answering every ping.
    for _ in 0..30 {
        h.advance(Duration::from_secs(1));
        if let Some(p) = h.sent_method("blade.ping").last().cloned() {
            h.reply(&p, json!({}));
        }
    }
    assert_eq!(
        h.transport.iter().filter(|t| is_close(t)).count(),
        closes_before,
        "no close on the new connection"
    );
    assert!(h.s.is_ready());
    assert!(
        !h.take_events().iter().any(|e| matches!(
            e,
            Event::Response {
                outcome: Err(RequestError::Timeout),
                ..
            }
        )),
        "the lost request is not reported twice"
    );
}

#[test]
fn bug3_one_keepalive_per_connection_after_server_closes() {
    let mut h = Harness::new(config());
    h.handshake(false);
    for _ in 0..3 {
        h.closed(); // server-initiated close
        h.step_timer();
        h.handshake(true);
    }
    let before = h.sent_method("blade.ping").len();
    for _ in 0..30 {
        h.advance(Duration::from_secs(1));
        if let Some(p) = h.sent_method("blade.ping").last().cloned() {
            h.reply(&p, json!({}));
        }
    }
    assert_eq!(
        h.sent_method("blade.ping").len() - before,
        3,
        "exactly one ping per 10 s"
    );
}

#[test]
fn bug6_server_error_minus_32000_is_an_ordinary_error() {
    let mut h = Harness::new(config());
    h.handshake(false);
    let req = h.s.execute(h.now, "calling.answer", json!({})).unwrap();
    h.drain();
    let frame = h.last_sent().clone();
    h.reply_error(&frame, -32000, "Timeout");
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Response { request, outcome: Err(RequestError::Rpc(err)) } if *request == req && err.code == -32000)), "{ev:?}");
    assert!(!h.transport.iter().any(is_close), "no reconnect for -32000");
    assert!(h.s.is_ready());
}

#[test]
fn bug7_numeric_200_succeeds_and_nested_result_is_data() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.take_events();
    h.s.execute(h.now, "x.y", json!({})).unwrap();
    h.drain();
    let f = h.last_sent().clone();
    h.reply(
        &f,
        json!({"result":{"code":200,"message":"ok","result":{"code":"500"}}}),
    );
    match &h.take_events()[..] {
        [Event::Response { outcome: Ok(r), .. }] => {
            assert!(r.is_success());
            assert_eq!(
                r.raw()["result"]["code"],
                "500",
                "nested result kept as data"
            );
        }
        other => panic!("{other:?}"),
    }
    h.s.execute(h.now, "x.y", json!({})).unwrap();
    h.drain();
    let f = h.last_sent().clone();
    h.reply(&f, json!({"result":{"code":"404","message":"nope"}}));
    assert!(
        matches!(&h.take_events()[..], [Event::Response { outcome: Err(RequestError::Relay(r)), .. }] if r.code.as_deref() == Some("404"))
    );
}

#[test]
fn bug9_commands_before_ready_are_queued_not_sent_with_null_protocol() {
    let mut h = Harness::new(config());
    h.s.execute(h.now, "calling.dial", json!({"tag":"t"}))
        .unwrap();
    h.drain();
    h.opened();
    assert!(
        h.sent_method("calling.dial").is_empty(),
        "not sent during the handshake"
    );
    h.handshake_rest();
    let dial = h.sent_method("calling.dial");
    assert_eq!(dial.len(), 1);
    assert_eq!(
        dial[0]["params"]["protocol"], PROTO,
        "carries the negotiated protocol"
    );
    for f in h.sent_method("blade.execute") {
        assert!(f["params"]["protocol"].is_string());
    }
}

impl Harness {
    /// The handshake after `opened()` was already fed.
    fn handshake_rest(&mut self) {
        let connect = self.sent_method("blade.connect").last().cloned().unwrap();
        self.reply(
            &connect,
            json!({"sessionid":SESSION,"nodeid":"n","authorization":{"signature":"SIG"}}),
        );
        let setup = self.sent_method("setup").last().cloned().unwrap();
        self.reply(&setup, json!({"result":{"protocol":PROTO}}));
        let sub = self
            .sent_method("blade.subscription")
            .last()
            .cloned()
            .unwrap();
        self.reply(&sub, json!({"command":"add"}));
        assert!(self.s.is_ready());
    }
}

#[test]
fn bug13_null_garbage_and_broadcast_without_params_never_poison_the_session() {
    let mut h = Harness::new(config());
    h.handshake(false);
    for bad in ["null", "123", "\"str\"", "[]", "{", "#SPU123", ""] {
        let r = h.input(Input::Frame(bad));
        assert!(
            matches!(
                r,
                Err(InputError::Decode(_)) | Err(InputError::PeerMisbehaved(_))
            ),
            "{bad}: {r:?}"
        );
    }
    let r = h.feed(json!({"jsonrpc":"2.0","id":"b1","method":"blade.broadcast"}));
    assert!(matches!(r, Err(InputError::PeerMisbehaved(_))), "{r:?}");
    // Still works afterwards.
    h.feed(json!({"jsonrpc":"2.0","id":"b2","method":"blade.broadcast","params":{"protocol":PROTO,"event":"queuing.relay.tasks","params":{"context":"office","message":{"k":1}}}})).unwrap();
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Task { context, .. } if context == "office")));
    assert!(h.s.is_ready());
}

#[test]
fn keepalive_missed_pong_closes_backs_off_and_resumes_everything() {
    let mut h = Harness::new(config().with_contexts(["office"]).with_backoff(Backoff {
        initial: Duration::from_secs(1),
        jitter: 0.2,
        ..Backoff::default()
    }));
    h.handshake(false);
    assert_eq!(
        h.sent_method("blade.ping").len(),
        1,
        "first ping right after ready"
    );
    let p = h.sent_method("blade.ping")[0].clone();
    h.reply(&p, json!({}));
    h.advance(Duration::from_secs(10));
    assert_eq!(
        h.sent_method("blade.ping").len(),
        2,
        "second ping 10 s later"
    );
    // Do not answer; at the next tick the transport is closed.
    h.advance(Duration::from_secs(10));
    assert!(
        matches!(h.transport.last(), Some(TransportAction::Close { .. })),
        "{:?}",
        h.transport
    );
    assert_eq!(
        h.sent_method("blade.ping").len(),
        2,
        "no ping while closing"
    );
    // A command issued while the link is down is queued.
    let msg = MessageParams::text("office", "+1", "+2", "queued");
    h.s.messaging_send(h.now, &msg).unwrap();
    h.drain();
    h.closed();
    let at = h.take_events().iter().find_map(|e| match e {
        Event::Disconnected { reconnect_at } => *reconnect_at,
        _ => None,
    });
    let delay = at.expect("reconnect scheduled") - h.now;
    assert!(
        delay >= Duration::from_millis(800) && delay <= Duration::from_millis(1200),
        "backoff 1 s +/- 20%: {delay:?}"
    );
    let connects = h
        .transport
        .iter()
        .filter(|t| **t == TransportAction::Connect)
        .count();
    h.step_timer();
    assert_eq!(
        h.transport
            .iter()
            .filter(|t| **t == TransportAction::Connect)
            .count(),
        connects + 1
    );
    h.opened();
    let connect = h.last_sent().clone();
    assert_eq!(
        connect["params"]["sessionid"], SESSION,
        "resumes the Blade session"
    );
    h.reply(&connect, json!({"session_restored":true,"sessionid":SESSION,"nodeid":"n","authorization":{"signature":"SIG"}}));
    let setup = h.last_sent().clone();
    assert_eq!(
        setup["params"]["params"],
        json!({"protocol":PROTO}),
        "asks for the previous protocol"
    );
    h.reply(&setup, json!({"result":{"protocol":PROTO}}));
    let sub = h.last_sent().clone();
    h.reply(&sub, json!({"command":"add"}));
    assert_eq!(
        h.sent_method("signalwire.receive").len(),
        2,
        "contexts received again"
    );
    assert_eq!(
        h.sent_method("messaging.send").len(),
        1,
        "queued command sent exactly once"
    );
    assert!(h.take_events().iter().any(|e| matches!(
        e,
        Event::Ready {
            restored: true,
            reconnected: true,
            ..
        }
    )));
}

#[test]
fn setup_does_not_ask_for_a_protocol_of_another_signature() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.closed();
    h.step_timer();
    h.opened();
    let connect = h.last_sent().clone();
    h.reply(
        &connect,
        json!({"sessionid":"new","authorization":{"signature":"OTHER"}}),
    );
    assert_eq!(h.last_sent()["params"]["params"], json!({}));
}

#[test]
fn server_ping_is_answered_with_its_params() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.feed(json!({"jsonrpc":"2.0","id":"srv-1","method":"blade.ping","params":{"timestamp":12.5,"payload":"x"}})).unwrap();
    assert_eq!(
        h.last_sent(),
        &json!({"jsonrpc":"2.0","id":"srv-1","result":{"timestamp":12.5,"payload":"x"}})
    );
    h.feed(json!({"jsonrpc":"2.0","id":"srv-2","method":"blade.ping"}))
        .unwrap();
    assert_eq!(
        h.last_sent(),
        &json!({"jsonrpc":"2.0","id":"srv-2","result":{}})
    );
}

#[test]
fn blade_disconnect_pauses_then_reconnects_at_once_when_the_server_closes() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.feed(json!({"jsonrpc":"2.0","id":"d1","method":"blade.disconnect"}))
        .unwrap();
    assert!(h.take_events().contains(&Event::Paused));
    let sent = h.sent.len();
    h.s.execute(h.now, "calling.answer", json!({})).unwrap();
    h.drain();
    h.advance(Duration::from_secs(3));
    assert_eq!(
        h.sent.len(),
        sent,
        "nothing sent while paused, not even pings"
    );
    h.closed();
    let at = h.take_events().iter().find_map(|e| match e {
        Event::Disconnected { reconnect_at } => *reconnect_at,
        _ => None,
    });
    assert_eq!(at, Some(h.now), "reconnect without waiting");
    h.step_timer();
    h.handshake(true);
    assert_eq!(h.sent_method("calling.answer").len(), 1);
}

#[test]
fn blade_disconnect_without_a_close_is_closed_by_us() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.feed(json!({"jsonrpc":"2.0","id":"d1","method":"blade.disconnect","params":{}}))
        .unwrap();
    h.advance(Duration::from_secs(11));
    assert!(
        h.transport.iter().any(is_close),
        "closed after the request timeout"
    );
}

#[test]
fn auth_failure_stops_without_retrying() {
    let mut h = Harness::new(config());
    h.opened();
    let connect = h.last_sent().clone();
    h.reply_error(&connect, -32002, "Authentication failed");
    let ev = h.take_events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::AuthFailed { error } if error.code == -32002)),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Stopped {
                reason: StopReason::AuthFailed(_)
            }
        )),
        "{ev:?}"
    );
    assert!(matches!(
        h.transport.last(),
        Some(TransportAction::Close { code: 1000, .. })
    ));
    h.closed();
    h.advance(Duration::from_secs(120));
    assert_eq!(
        h.transport
            .iter()
            .filter(|t| **t == TransportAction::Connect)
            .count(),
        1,
        "no retry"
    );
    assert!(
        h.s.execute(h.now, "x", json!({})).is_err(),
        "commands refused once stopped"
    );
}

#[test]
fn auth_failure_retries_with_backoff_when_configured() {
    let mut cfg = config();
    cfg.retry_on_auth_failure = true;
    let mut h = Harness::new(cfg);
    h.opened();
    let connect = h.last_sent().clone();
    h.reply_error(&connect, -32002, "Authentication failed");
    h.closed();
    h.step_timer();
    assert_eq!(
        h.transport
            .iter()
            .filter(|t| **t == TransportAction::Connect)
            .count(),
        2
    );
}

#[test]
fn request_timeout_is_typed_and_leaves_the_connection_alone() {
    let mut h = Harness::new(config());
    h.handshake(false);
    let p = h.sent_method("blade.ping")[0].clone();
    h.reply(&p, json!({}));
    let req = h.s.execute(h.now, "calling.play", json!({})).unwrap();
    h.drain();
    h.advance(Duration::from_secs(5));
    let p = h.sent_method("blade.ping").last().cloned().unwrap();
    h.reply(&p, json!({}));
    h.advance(Duration::from_secs(5));
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Response { request, outcome: Err(RequestError::Timeout) } if *request == req)), "{ev:?}");
    assert!(!h.transport.iter().any(is_close));
    // A late answer is ignored.
    let f = h.sent_method("calling.play")[0].clone();
    h.reply(&f, json!({"result":{"code":"200"}}));
    assert!(h.take_events().is_empty());
}

#[test]
fn reconnect_attempts_can_be_limited() {
    let mut h = Harness::new(config().with_backoff(Backoff {
        max_attempts: Some(3),
        ..Backoff::default()
    }));
    for _ in 0..3 {
        h.closed(); // connect attempt failed
        h.step_timer();
    }
    h.closed();
    let ev = h.take_events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Stopped {
                reason: StopReason::GaveUp { attempts: 3 }
            }
        )),
        "{ev:?}"
    );
    assert_eq!(h.next_timeout, None, "nothing scheduled once stopped");
}

#[test]
fn backoff_grows_between_failed_attempts_and_resets_after_ready() {
    let mut h = Harness::new(config().with_backoff(Backoff {
        jitter: 0.0,
        ..Backoff::default()
    }));
    let mut delays = vec![];
    for _ in 0..4 {
        h.closed();
        delays.push(h.step_timer().unwrap());
    }
    assert_eq!(delays, [500, 1000, 2000, 4000].map(Duration::from_millis));
    h.handshake(false);
    h.closed();
    assert_eq!(h.step_timer(), Some(Duration::from_millis(500)));
}

#[test]
fn in_flight_bound_holds_and_overflow_waits_in_the_queue() {
    let mut h = Harness::new(config().with_bounds(Bounds {
        max_in_flight: 3,
        max_offline_queue: 2,
        max_calls: 3,
        ..Bounds::default()
    }));
    h.handshake(false);
    // One slot is kept for the keepalive ping: two relay commands in flight, the rest queue.
    // On an open connection the wait is bounded by max(max_offline_queue, max_calls) = 3,
    // not by the offline bound: a burst of answers is not refused for want of a slot.
    for _ in 0..5 {
        h.s.execute(h.now, "x.y", json!({})).unwrap();
        h.drain();
        assert!(h.s.in_flight() <= 3);
    }
    assert_eq!(h.s.queued(), 3);
    assert!(matches!(
        h.s.execute(h.now, "x.y", json!({})),
        Err(CommandError::Capacity(
            relay_proto::error::Capacity::WaitingForSlot { limit: 3 }
        ))
    ));
    let first = h.sent_method("x.y")[0].clone();
    h.reply(&first, json!({"result":{"code":"200"}}));
    assert_eq!(
        h.s.queued(),
        2,
        "a freed slot sends the next queued command"
    );
    assert_eq!(h.sent_method("x.y").len(), 3);
}

#[test]
fn frames_over_the_size_bound_are_refused() {
    let mut h = Harness::new(config().with_bounds(Bounds {
        max_frame_size: 1024,
        ..Bounds::default()
    }));
    h.handshake(false);
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":\"{}\"}}",
        "a".repeat(2000)
    );
    assert!(matches!(
        h.input(Input::Frame(&big)),
        Err(InputError::PeerMisbehaved(
            relay_proto::error::PeerMisbehaved::FrameTooLarge {
                size: 2000..,
                limit: 1024
            }
        ))
    ));
}

#[test]
fn close_fails_everything_and_stops() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.feed(json!({"jsonrpc":"2.0","id":"d","method":"blade.disconnect"}))
        .unwrap();
    let q = h.s.execute(h.now, "x.y", json!({})).unwrap();
    h.drain();
    h.s.close(h.now);
    h.drain();
    let ev = h.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Response { request, outcome: Err(RequestError::SessionStopped) } if *request == q)), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Stopped {
            reason: StopReason::Closed
        }
    )));
    assert_eq!(
        h.transport.last(),
        Some(&TransportAction::Close {
            code: 1000,
            reason: "session closed".into()
        })
    );
}

#[test]
fn opened_out_of_turn_is_misuse_not_a_panic() {
    let mut h = Harness::new(config());
    h.handshake(false);
    assert!(matches!(
        h.input(Input::Opened),
        Err(InputError::Unexpected(
            relay_proto::error::UnexpectedInput::Opened
        ))
    ));
    assert!(h.s.is_ready());
}

#[test]
fn broadcasts_for_another_protocol_are_ignored_and_unknown_events_surface() {
    let mut h = Harness::new(config());
    h.handshake(false);
    h.take_events();
    h.feed(json!({"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"protocol":"other","event":"queuing.relay.tasks","params":{"context":"c","message":1}}})).unwrap();
    assert!(h.take_events().is_empty());
    h.feed(json!({"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"protocol":PROTO,"event":"brand.new","params":{"x":1}}})).unwrap();
    assert!(
        matches!(&h.take_events()[..], [Event::Unrecognized { event_type, .. }] if event_type == "brand.new")
    );
    h.feed(json!({"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"protocol":PROTO,"event":"relay","params":{"event_type":"messaging.future","params":{}}}})).unwrap();
    assert!(
        matches!(&h.take_events()[..], [Event::Unrecognized { event_type, .. }] if event_type == "messaging.future")
    );
    h.feed(json!({"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"protocol":PROTO,"event":"queuing.relay.messaging","params":{"event_type":"messaging.brand_new","params":{}}}})).unwrap();
    assert!(
        matches!(&h.take_events()[..], [Event::Unrecognized { event_type, .. }] if event_type == "messaging.brand_new")
    );
}

#[test]
fn unknown_server_requests_get_method_not_found() {
    let mut h = Harness::new(config());
    h.handshake(false);
    let r = h.feed(json!({"jsonrpc":"2.0","id":"q","method":"blade.whatever","params":{}}));
    assert!(matches!(r, Err(InputError::PeerMisbehaved(_))));
    assert_eq!(h.last_sent()["error"]["code"], -32601);
}
