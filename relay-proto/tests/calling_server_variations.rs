//! What an independent Relay server may do differently from relay-mock, each read as the
//! protocol means it (see `tests/tests/independent_server.rs` for the flows over a socket).

mod calling_common;

use calling_common::Harness;
use relay_proto::calling::{CallEvent, CallState, EndReason};

/// The `(prev_state, state)` of every `StateChanged` in `events`.
fn transitions(events: &[CallEvent]) -> Vec<(CallState, CallState)> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged {
                state, prev_state, ..
            } => Some((*prev_state, *state)),
            _ => None,
        })
        .collect()
}

/// Servers repeat state events. A repeat is not a transition: no `StateChanged`, and
/// `prev_state` keeps the state the call really came from; a command waiting for a state
/// still finishes exactly once.
#[test]
fn a_repeated_call_state_is_no_transition() {
    let mut h = Harness::new();
    let a = h.inbound("call-a");
    h.take_events();
    // `created` again (the receive said so), then `answered` twice.
    h.state("call-a", "created");
    h.state("call-a", "ringing");
    h.state("call-a", "answered");
    h.state("call-a", "answered");
    assert_eq!(
        transitions(&h.take_events()),
        [
            (CallState::Created, CallState::Ringing),
            (CallState::Ringing, CallState::Answered)
        ]
    );
    let info = h.s.call(&a).expect("in the registry");
    assert_eq!(
        (info.prev_state, info.state),
        (CallState::Ringing, CallState::Answered)
    );

    let hangup =
        h.s.call_mut(&a)
            .expect("call")
            .hangup(h.now, EndReason::Hangup)
            .expect("sent");
    h.take_sent();
    for _ in 0..2 {
        h.ev(
            "calling.call.state",
            serde_json::json!({"call_state":"ending","end_reason":"hangup","call_id":"call-a"}),
        );
    }
    h.ended("call-a", "hangup");
    h.ended("call-a", "hangup");
    let events = h.take_events();
    assert_eq!(
        transitions(&events),
        [
            (CallState::Answered, CallState::Ending),
            (CallState::Ending, CallState::Ended)
        ]
    );
    assert_eq!(Harness::finished_count(&events, &hangup), 1, "{events:#?}");
    assert!(h.s.call(&a).is_none());
}

/// A dial's `answered` event without its `call` (the official SDK completes the dial all
/// the same): the winner is the leg its state events announced, so the dial completes
/// instead of waiting for ever.
#[test]
fn a_dial_answered_without_its_call_completes_with_its_leg() {
    use relay_proto::calling::{Device, DialParams, DialState};
    use relay_proto::CallId;
    use serde_json::json;

    let completed = |events: &[CallEvent]| -> Vec<(bool, DialState, Option<String>)> {
        events
            .iter()
            .filter_map(|e| match e {
                CallEvent::DialCompleted { result, .. } => Some((
                    result.successful,
                    result.state.clone(),
                    result.call_id.as_ref().map(|c| c.as_str().to_owned()),
                )),
                _ => None,
            })
            .collect()
    };
    // One device: its one leg.
    let mut h = Harness::new();
    let tag =
        h.s.dial(h.now, &DialParams::single(Device::phone("+1", "+2")))
            .expect("dial");
    h.take_sent();
    h.ev(
        "calling.call.state",
        json!({"call_state":"created","tag":tag.as_str(),"call_id":"leg","node_id":"n"}),
    );
    h.ev(
        "calling.call.state",
        json!({"call_state":"answered","call_id":"leg","node_id":"n"}),
    );
    h.take_events();
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str(),"node_id":"n"}),
    );
    let events = h.take_events();
    assert_eq!(
        completed(&events),
        [(true, DialState::Answered, Some("leg".to_owned()))],
        "{events:#?}"
    );
    assert_eq!(h.s.pending_dials(), 0);
    assert_eq!(
        h.s.call(&CallId::new("leg")).map(|c| c.state),
        Some(CallState::Answered)
    );

    // Two devices in parallel: the leg that answered.
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::parallel([Device::phone("+1", "+2"), Device::phone("+1", "+3")]),
        )
        .expect("dial");
    for (leg, state) in [("l1", "ringing"), ("l2", "ringing"), ("l2", "answered")] {
        h.ev(
            "calling.call.state",
            json!({"call_state":state,"tag":tag.as_str(),"call_id":leg,"node_id":"n"}),
        );
    }
    h.take_events();
    h.ev(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str()}),
    );
    assert_eq!(
        completed(&h.take_events()),
        [(true, DialState::Answered, Some("l2".to_owned()))]
    );

    // Nothing says which leg won (two legs, none answered): still a broken rule, reported.
    let mut h = Harness::new();
    let tag =
        h.s.dial(
            h.now,
            &DialParams::parallel([Device::phone("+1", "+2"), Device::phone("+1", "+3")]),
        )
        .expect("dial");
    for leg in ["l1", "l2"] {
        h.ev(
            "calling.call.state",
            json!({"call_state":"ringing","tag":tag.as_str(),"call_id":leg,"node_id":"n"}),
        );
    }
    let r = h.event(
        "calling.call.dial",
        json!({"dial_state":"answered","tag":tag.as_str()}),
    );
    assert!(
        matches!(
            r,
            Err(relay_proto::InputError::PeerMisbehaved(
                relay_proto::error::PeerMisbehaved::DialAnsweredWithoutCall
            ))
        ),
        "{r:?}"
    );
    assert_eq!(h.s.pending_dials(), 1);
}
