//! Nothing waits forever: waits whose final event was lost with the transport, waits of a
//! session the server did not restore, and commands stuck in the offline queue all get exactly
//! one outcome within their bound. Virtual time only.

mod calling_common;

use std::time::{Duration, Instant};

use calling_common::Harness;
use relay_proto::calling::{
    CallEvent, CallState, CollectDigits, CollectParams, ConnectParams, Device, DialParams, Media,
    PlayParams, PromptParams, RecordParams,
};
use relay_proto::{
    CloseInfo, ControlId, DialTag, Event, Input, Output, RequestError, SessionConfig, Timer,
};
use serde_json::json;

const LOST: Duration = Duration::from_secs(30);

fn harness() -> Harness {
    Harness::with_config(|c: SessionConfig| c.with_lost_event_timeout(LOST))
}

/// Moves virtual time forward by `d` and feeds the timeout.
fn advance(h: &mut Harness, d: Duration) {
    h.now += d;
    let now = h.now;
    h.s.handle_input(now, Input::Timeout).expect("timeout");
    h.drain();
}

/// Runs every timer due up to `until` (reconnects included, left unanswered).
fn run_until(h: &mut Harness, until: Instant) {
    while let Some(at) = h.s.poll_timeout() {
        if at > until {
            break;
        }
        h.now = h.now.max(at);
        let now = h.now;
        h.s.handle_input(now, Input::Timeout).expect("timeout");
        h.drain();
    }
    h.now = h.now.max(until);
}

fn outcomes(events: &[CallEvent], id: &ControlId) -> Vec<Option<RequestError>> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::ComponentFinished {
                control_id, result, ..
            } if control_id == id => Some(result.error.clone()),
            _ => None,
        })
        .collect()
}

fn dial_outcomes(events: &[CallEvent], tag: &DialTag) -> Vec<Option<RequestError>> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::DialCompleted { tag: t, result } if t == tag => Some(result.error.clone()),
            _ => None,
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Play,
    Prompt,
    Record,
}

/// Starts a component of `kind` on `call-a` and lets the server accept it.
fn start(h: &mut Harness, kind: Kind) -> ControlId {
    let call = relay_proto::CallId::new("call-a");
    let mut c = h.s.call_mut(&call).expect("call");
    let now = h.now;
    let id = match kind {
        Kind::Play => c.play(now, &PlayParams::new([Media::tts("hi")])),
        Kind::Prompt => c.prompt(
            now,
            &PromptParams {
                media: vec![Media::tts("PIN?")],
                collect: CollectParams {
                    digits: Some(CollectDigits {
                        max: Some(4),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                volume: None,
            },
        ),
        Kind::Record => c.record(now, &RecordParams::default()),
    }
    .expect("started");
    let rid = h.last_sent_id();
    h.ok(&rid);
    id
}

/// The final event of a component of `kind`.
fn final_event(h: &mut Harness, kind: Kind, id: &ControlId) {
    let ids = json!({"control_id": id.as_str(), "call_id": "call-a", "node_id": "node-a"});
    let mut p = ids.clone();
    match kind {
        Kind::Play => {
            p["state"] = json!("finished");
            h.ev("calling.call.play", p);
        }
        Kind::Prompt => {
            p["result"] = json!({"type":"digit","params":{"digits":"12","terminator":"#"}});
            h.ev("calling.call.collect", p);
        }
        Kind::Record => {
            p["state"] = json!("finished");
            p["url"] = json!("https://x.invalid/r.wav");
            p["record"] = json!({"audio":{}});
            h.ev("calling.call.record", p);
        }
    }
}

#[test]
fn a_swallowed_final_event_resolves_as_lost_within_the_bound_after_a_restore() {
    for kind in [Kind::Play, Kind::Prompt, Kind::Record] {
        let mut h = harness();
        h.answered_inbound("call-a");
        let id = start(&mut h, kind);
        h.take_events();
        // The final event is swallowed: the socket dies with it.
        h.drop_and_reconnect();
        let restored_at = h.now;
        assert!(outcomes(&h.take_events(), &id).is_empty(), "{kind:?}");
        // Still open just before the bound (counted from the restored handshake).
        run_until(&mut h, restored_at + LOST - Duration::from_millis(1));
        assert!(outcomes(&h.take_events(), &id).is_empty(), "{kind:?}");
        advance(&mut h, Duration::from_millis(1));
        assert_eq!(
            h.s.timeout_reason(),
            Some(&Timer::LostComponent {
                call_id: "call-a".into(),
                control_id: id.clone()
            }),
            "{kind:?}"
        );
        assert_eq!(
            outcomes(&h.take_events(), &id),
            vec![Some(RequestError::Lost)],
            "{kind:?}"
        );
        // A late final event cannot produce a second outcome.
        final_event(&mut h, kind, &id);
        let until = h.now + 3 * LOST;
        run_until(&mut h, until);
        assert!(outcomes(&h.take_events(), &id).is_empty(), "{kind:?}");
        // The call still works.
        assert_eq!(
            h.s.call(&"call-a".into()).unwrap().state,
            CallState::Answered
        );
    }
}

#[test]
fn a_real_outcome_after_the_restore_wins_and_nothing_follows() {
    for kind in [Kind::Play, Kind::Prompt, Kind::Record] {
        let mut h = harness();
        h.answered_inbound("call-a");
        let id = start(&mut h, kind);
        h.drop_and_reconnect();
        advance(&mut h, Duration::from_secs(5));
        final_event(&mut h, kind, &id);
        assert_eq!(outcomes(&h.take_events(), &id), vec![None], "{kind:?}");
        let until = h.now + 3 * LOST;
        run_until(&mut h, until);
        assert!(outcomes(&h.take_events(), &id).is_empty(), "{kind:?}");
        assert!(
            h.s.timers()
                .iter()
                .all(|(_, t)| !matches!(t, Timer::LostComponent { .. })),
            "{kind:?}: {:?}",
            h.s.timers()
        );
    }
}

#[test]
fn running_components_are_not_bounded_without_a_transport_loss() {
    let mut h = harness();
    h.answered_inbound("call-a");
    let id = start(&mut h, Kind::Record);
    h.take_events();
    // A long recording is legitimate: hours pass (pings answered), no outcome is invented.
    for _ in 0..400 {
        advance(&mut h, Duration::from_secs(10));
        let pings: Vec<String> = h
            .take_sent()
            .iter()
            .filter(|f| f["method"] == "blade.ping")
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect();
        for p in pings {
            h.feed(json!({"jsonrpc":"2.0","id":p,"result":{}}))
                .expect("pong");
        }
    }
    assert!(h.s.is_ready());
    assert!(outcomes(&h.take_events(), &id).is_empty());
    final_event(&mut h, Kind::Record, &id);
    assert_eq!(outcomes(&h.take_events(), &id), vec![None]);
}

#[test]
fn call_level_waits_and_dials_are_bounded_after_a_restore() {
    let mut h = harness();
    let call = h.inbound("call-a");
    let now = h.now;
    let answer = h.s.call_mut(&call).unwrap().answer(now).unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    let connect =
        h.s.call_mut(&call)
            .unwrap()
            .connect(
                now,
                &ConnectParams::tree(vec![vec![Device::phone("+1", "+2")]]),
            )
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    let wait =
        h.s.call_mut(&call)
            .unwrap()
            .wait_for(now, &[CallState::Ended])
            .unwrap();
    let tag =
        h.s.dial(now, &DialParams::single(Device::phone("+1", "+3")))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    h.take_events();
    h.drop_and_reconnect();
    let restored_at = h.now;
    run_until(&mut h, restored_at + LOST - Duration::from_millis(1));
    let events = h.take_events();
    assert!(outcomes(&events, &answer).is_empty());
    assert!(dial_outcomes(&events, &tag).is_empty());
    advance(&mut h, Duration::from_millis(1));
    let events = h.take_events();
    for id in [&answer, &connect, &wait] {
        assert_eq!(outcomes(&events, id), vec![Some(RequestError::Lost)]);
    }
    assert_eq!(dial_outcomes(&events, &tag), vec![Some(RequestError::Lost)]);
    assert_eq!(h.s.pending_dials(), 0);
    assert!(h.s.fired_timers().contains(&Timer::LostDial(tag.clone())));
}

#[test]
fn a_session_that_is_not_restored_resolves_everything_of_the_old_calls_at_once() {
    let mut h = harness();
    let call = h.answered_inbound("call-a");
    let play = start(&mut h, Kind::Play);
    let now = h.now;
    let wait =
        h.s.call_mut(&call)
            .unwrap()
            .wait_for(now, &[CallState::Ended])
            .unwrap();
    let tag =
        h.s.dial(now, &DialParams::single(Device::phone("+1", "+3")))
            .unwrap();
    let rid = h.last_sent_id();
    h.ok(&rid);
    h.take_events();
    h.drop_and_reconnect_with(false);
    let events = h.take_events();
    assert_eq!(outcomes(&events, &play), vec![Some(RequestError::Lost)]);
    assert_eq!(outcomes(&events, &wait), vec![Some(RequestError::Lost)]);
    assert_eq!(dial_outcomes(&events, &tag), vec![Some(RequestError::Lost)]);
    let lost_at = events
        .iter()
        .position(|e| matches!(e, CallEvent::Lost { call_id } if *call_id == call))
        .expect("the call is reported lost");
    // Its components were finished before the call was reported.
    assert!(events[..lost_at].iter().any(
        |e| matches!(e, CallEvent::ComponentFinished { control_id, .. } if *control_id == play)
    ));
    assert!(h.s.call(&call).is_none());
    // A command on it gets a typed refusal, not a hang.
    let now = h.now;
    let p = h.s.call_mut(&call).unwrap().play_tts(now, "x").unwrap();
    assert!(matches!(
        outcomes(&h.take_events(), &p).as_slice(),
        [Some(RequestError::Refused(_))]
    ));
    assert!(h
        .s
        .timers()
        .iter()
        .all(|(_, t)| !matches!(t, Timer::LostComponent { .. } | Timer::LostDial(_))));
}

#[test]
fn waits_resolve_even_when_the_session_never_comes_back() {
    let mut h = harness();
    h.answered_inbound("call-a");
    let play = start(&mut h, Kind::Play);
    h.take_events();
    let lost_at = h.now;
    h.s.handle_input(lost_at, Input::Closed(CloseInfo::default()))
        .unwrap();
    h.drain();
    // Every reconnect attempt fails: the server refuses connections.
    let until = lost_at + LOST;
    while let Some(at) = h.s.poll_timeout() {
        if at > until {
            break;
        }
        h.now = h.now.max(at);
        let now = h.now;
        h.s.handle_input(now, Input::Timeout).unwrap();
        let mut connect = false;
        loop {
            match h.s.poll_output() {
                Output::Transport(relay_proto::TransportAction::Connect) => connect = true,
                Output::Event(Event::Call(e)) => h.events.push(e),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        if connect {
            h.s.handle_input(now, Input::Closed(CloseInfo::default()))
                .unwrap();
            h.drain();
        }
    }
    assert!(h.now <= until);
    assert_eq!(
        outcomes(&h.take_events(), &play),
        vec![Some(RequestError::Lost)]
    );
}

#[test]
fn flapping_cannot_keep_a_wait_open_beyond_twice_the_bound() {
    let mut h = harness();
    h.answered_inbound("call-a");
    let play = start(&mut h, Kind::Play);
    h.take_events();
    let first_drop = h.now;
    let mut seen = Vec::new();
    for _ in 0..12 {
        h.drop_and_reconnect();
        advance(&mut h, Duration::from_secs(10));
        seen.extend(outcomes(&h.take_events(), &play));
        if !seen.is_empty() {
            break;
        }
    }
    assert_eq!(seen, vec![Some(RequestError::Lost)]);
    assert!(h.now <= first_drop + 2 * LOST + Duration::from_secs(11));
}

#[test]
fn time_going_backwards_is_clamped() {
    let mut h = harness();
    h.answered_inbound("call-a");
    let play = start(&mut h, Kind::Play);
    h.drop_and_reconnect();
    let deadline = h.s.poll_timeout().expect("armed");
    // A clock that steps back an hour neither panics nor re-arms anything.
    let back = h.now - Duration::from_secs(3600);
    h.s.handle_input(back, Input::Timeout).unwrap();
    h.drain();
    assert!(h.s.fired_timers().is_empty());
    assert_eq!(h.s.poll_timeout(), Some(deadline));
    let until = h.now + 2 * LOST;
    run_until(&mut h, until);
    assert_eq!(
        outcomes(&h.take_events(), &play),
        vec![Some(RequestError::Lost)]
    );
}

#[test]
fn spurious_timeouts_are_harmless() {
    let mut h = harness();
    h.answered_inbound("call-a");
    let play = start(&mut h, Kind::Play);
    h.take_events();
    h.take_sent();
    let before = h.s.timers();
    for _ in 0..5 {
        let now = h.now;
        h.s.handle_input(now, Input::Timeout).unwrap();
        h.drain();
        assert!(h.s.fired_timers().is_empty());
        assert_eq!(h.s.timeout_reason(), None);
    }
    assert_eq!(h.s.timers(), before);
    assert!(h.take_sent().is_empty());
    assert!(outcomes(&h.take_events(), &play).is_empty());
}

#[test]
fn a_command_queued_while_disconnected_fails_at_its_offline_deadline() {
    let offline = Duration::from_secs(12);
    let mut h = Harness::with_config(|c: SessionConfig| c.with_offline_timeout(offline));
    let t0 = h.now;
    h.s.handle_input(t0, Input::Closed(CloseInfo::default()))
        .unwrap();
    h.drain();
    let id = h.s.execute(t0, "calling.whatever", json!({})).unwrap();
    assert_eq!(h.s.queued(), 1);
    assert!(h
        .s
        .timers()
        .contains(&(t0 + offline, Timer::Offline(id.clone()))));
    // Every reconnect attempt fails (unlimited backoff); nothing is ever sent.
    let mut outcome = None;
    while outcome.is_none() {
        let at = h.s.poll_timeout().expect("a timer is armed");
        assert!(at <= t0 + offline, "nothing resolved it by its deadline");
        h.now = h.now.max(at);
        let now = h.now;
        h.s.handle_input(now, Input::Timeout).unwrap();
        let mut connect = false;
        loop {
            match h.s.poll_output() {
                Output::Transport(relay_proto::TransportAction::Connect) => connect = true,
                Output::Transmit(f) => panic!("sent while disconnected: {f}"),
                Output::Event(Event::Response {
                    request,
                    outcome: o,
                }) if request == id => {
                    assert_eq!(h.s.timeout_reason(), Some(&Timer::Offline(id.clone())));
                    outcome = Some(o);
                }
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        if connect {
            h.s.handle_input(now, Input::Closed(CloseInfo::default()))
                .unwrap();
            h.drain();
        }
    }
    assert_eq!(h.now, t0 + offline);
    assert_eq!(outcome, Some(Err(RequestError::OfflineTimeout)));
    assert_eq!(h.s.queued(), 0);
}

#[test]
fn a_wait_for_started_during_an_outage_is_bounded_too() {
    let mut h = harness();
    let call = h.answered_inbound("call-a");
    let t0 = h.now;
    h.s.handle_input(t0, Input::Closed(CloseInfo::default()))
        .unwrap();
    h.drain();
    // The call may end during the outage, unseen; this wait sends nothing.
    let wait =
        h.s.call_mut(&call)
            .unwrap()
            .wait_for(t0, &[CallState::Ended])
            .unwrap();
    assert!(h.s.timers().contains(&(
        t0 + LOST,
        Timer::LostComponent {
            call_id: call.clone(),
            control_id: wait.clone()
        }
    )));
    let until = t0 + LOST;
    run_until(&mut h, until);
    assert_eq!(
        outcomes(&h.take_events(), &wait),
        vec![Some(RequestError::Lost)]
    );
}
