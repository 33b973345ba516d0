//! Fault injection against the real `relay_proto::Session`, through `relay_mock::Pair`.

use std::time::Duration;

use relay_mock::transcript::Dir;
use relay_mock::{Fault, Outcome, Pair};
use relay_proto::wire::Method;
use relay_proto::{Event, Input, MessageParams, MessageState, RequestError, SendResult};
use relay_tests::{count_client, message_states, ready_pair};
use serde_json::json;

fn send(p: &mut Pair) -> relay_proto::RequestId {
    let now = p.now();
    p.session_mut()
        .messaging_send(
            now,
            &MessageParams::text("office", "+15551230001", "+15553210002", "hi"),
        )
        .expect("send accepted")
}

fn sent_result(events: &[Event]) -> Vec<SendResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { result, .. } => Some(result.clone()),
            _ => None,
        })
        .collect()
}

fn ws_opens(p: &mut Pair) -> usize {
    p.transcript()
        .iter()
        .filter(|l| l.dir == Dir::Ctl && l.frame["event"] == "ws_open")
        .count()
}

fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

#[test]
fn swallowed_ping_closes_and_reconnects() {
    let p = &mut ready_pair(&["office"]);
    let sid = p.session().session_id().map(str::to_owned).unwrap();
    p.take_events();
    p.server_mut().inject(Fault::SwallowResponses {
        method: Method::Ping,
        count: 1,
    });
    // The next keepalive ping is swallowed; by the following tick the session gives up on the
    // connection and reconnects.
    assert!(p.drive_until(|p| p.events().any(is_disconnected), Duration::from_secs(30)));
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(60)));
    p.drive();
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::Ready { session_id, restored: true, reconnected: true, .. }
                if session_id.as_str() == sid)),
        "{ev:?}"
    );
    assert_eq!(ws_opens(p), 2);
    // The client closed the first socket itself (a close frame, not an abrupt drop).
    assert!(p
        .transcript()
        .iter()
        .any(|l| l.conn == Some(1) && l.dir == Dir::Ctl && l.frame["event"] == "ws_close"));
    // Keepalive works again on the new connection.
    p.advance(Duration::from_secs(35));
    assert!(p.session().is_ready());
    assert!(!p.take_events().iter().any(is_disconnected));
}

#[test]
fn refused_connections_are_retried_with_backoff() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    p.server_mut().inject(Fault::RefuseConnections {
        duration: Duration::from_secs(5),
    });
    let start = p.now();
    p.control("drop", json!({})).unwrap();
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(120)));
    let waited = p.now().duration_since(start);
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
    assert!(
        waited < Duration::from_secs(20),
        "backoff should stay small: {waited:?}"
    );
    let opens = ws_opens(p);
    assert!(
        opens >= 4,
        "1 initial + several refused attempts + 1 success, got {opens}"
    );
    let ev = p.take_events();
    let disconnects = ev.iter().filter(|e| is_disconnected(e)).count();
    assert_eq!(disconnects, opens - 1, "{ev:?}");
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Ready {
                restored: true,
                reconnected: true,
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Stopped { .. })));
    // Growing delays between attempts.
    let times: Vec<u64> = p
        .transcript()
        .iter()
        .filter(|l| l.dir == Dir::Ctl && l.frame["event"] == "ws_open")
        .map(|l| l.t)
        .collect();
    let gaps: Vec<u64> = times.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|w| w[1] >= w[0]),
        "backoff delays should not shrink: {times:?}"
    );
}

#[test]
fn corrupt_frames_are_reported_and_session_stays_ready() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    // Directly: a garbage frame is an error for the caller, not a state change.
    let now = p.now();
    assert!(p
        .session_mut()
        .handle_input(now, Input::Frame("{\"jsonrpc\":\"2.0\",\"id\""))
        .is_err());
    assert!(p.session().is_ready());
    // Through the server: the next frame it sends is corrupted.
    p.server_mut().inject(Fault::CorruptFrames { count: 1 });
    p.control("inbound_message", json!({"context":"office","body":"lost"}))
        .unwrap();
    p.drive();
    let ev = p.take_events();
    assert!(ev.is_empty(), "{ev:?}");
    assert!(p.session().is_ready());
    let last = p.transcript().last().unwrap();
    assert!(last.frame.is_string(), "corrupted frame recorded as text");
    // The connection keeps working.
    p.control("inbound_message", json!({"context":"office","body":"ok"}))
        .unwrap();
    p.drive();
    let ev = p.take_events();
    assert!(
        matches!(ev.as_slice(), [Event::Message(m)] if m.message.body.as_deref() == Some("ok")),
        "{ev:?}"
    );
    assert_eq!(ws_opens(p), 1);
}

#[test]
fn swallowed_send_times_out_without_closing() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    p.server_mut().inject(Fault::SwallowResponses {
        method: Method::MessagingSend,
        count: 1,
    });
    let req = send(p);
    let start = p.now();
    assert!(p.drive_until(
        |p| p.events().any(|e| matches!(e, Event::MessageSent { .. })),
        Duration::from_secs(30)
    ));
    let waited = p.now().duration_since(start);
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "default request timeout is 10 s: {waited:?}"
    );
    let ev = p.take_events();
    assert!(!ev.iter().any(is_disconnected), "{ev:?}");
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::MessageSent { request, result }
                if request == &req && !result.successful
                    && result.error == Some(RequestError::Timeout))),
        "{ev:?}"
    );
    assert!(p.session().is_ready());
    assert_eq!(ws_opens(p), 1);
    assert_eq!(p.session().in_flight(), 0);
    // The next send goes through on the same connection.
    send(p);
    p.drive();
    let r = sent_result(&p.take_events());
    assert!(r.len() == 1 && r[0].successful, "{r:?}");
}

#[test]
fn dropped_send_is_connection_lost_and_not_resent() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    p.server_mut().inject(Fault::DropOnMethod {
        method: Method::MessagingSend,
    });
    let req = send(p);
    p.drive();
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::MessageSent { request, result }
                if request == &req && !result.successful
                    && result.error == Some(RequestError::ConnectionLost))),
        "{ev:?}"
    );
    assert!(ev.iter().any(is_disconnected), "{ev:?}");
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(60)));
    p.advance(Duration::from_secs(15));
    assert!(p.session().is_ready());
    assert_eq!(count_client(p.transcript(), "messaging.send"), 1);
    assert_eq!(ws_opens(p), 2);
    assert_eq!(p.session().queued(), 0);
}

fn faulty_events(fault: Fault) -> Vec<Event> {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    p.server_mut().inject(fault);
    send(p);
    p.advance(Duration::from_secs(2));
    assert!(p.session().is_ready());
    p.take_events()
}

#[test]
fn duplicated_state_events_all_surface() {
    let ev = faulty_events(Fault::DuplicateEvents { count: 4 });
    let r = sent_result(&ev);
    assert!(r.len() == 1 && r[0].successful, "{ev:?}");
    use MessageState::*;
    assert_eq!(
        message_states(&ev),
        [Queued, Queued, Initiated, Initiated, Sent, Sent, Delivered, Delivered]
    );
}

#[test]
fn reordered_state_events_all_surface() {
    let ev = faulty_events(Fault::ReorderEvents { count: 4 });
    let r = sent_result(&ev);
    assert!(r.len() == 1 && r[0].successful, "{ev:?}");
    let mut got = message_states(&ev);
    assert_eq!(got.len(), 4, "{ev:?}");
    // Order is the server's (swapped), not re-sorted; each state surfaces exactly once.
    assert_ne!(
        got,
        [
            MessageState::Queued,
            MessageState::Initiated,
            MessageState::Sent,
            MessageState::Delivered
        ]
    );
    let key = |s: &MessageState| format!("{s:?}");
    got.sort_by_key(key);
    let mut want = vec![
        MessageState::Queued,
        MessageState::Initiated,
        MessageState::Sent,
        MessageState::Delivered,
    ];
    want.sort_by_key(key);
    assert_eq!(got, want);
}

#[test]
fn relay_error_is_unsuccessful_send() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    p.server_mut().script().arm(
        Method::MessagingSend,
        Outcome::RelayError {
            code: "500".into(),
            message: "Scripted failure".into(),
        },
    );
    let req = send(p);
    p.advance(Duration::from_secs(1));
    let ev = p.take_events();
    let sent: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { request, result } => Some((request.clone(), result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{ev:?}");
    assert_eq!(sent[0].0, req);
    let r = &sent[0].1;
    assert!(!r.successful);
    assert_eq!(r.code.as_deref(), Some("500"));
    assert_eq!(r.message.as_deref(), Some("Scripted failure"));
    assert!(r.message_id.is_none());
    assert!(matches!(r.error, Some(RequestError::Relay(_))), "{r:?}");
    assert!(
        message_states(&ev).is_empty(),
        "no state events after a relay error"
    );
    assert!(p.session().is_ready());
}
