//! Golden flows of a real `relay_proto::Session` against `relay_mock::MockServer` on a virtual
//! clock: each test asserts the typed events and checks the server transcript against
//! `tests/transcripts/<name>.jsonl` (see `relay_tests::assert_golden`).

use std::time::Duration;

use relay_mock::transcript::Dir;
use relay_mock::{Named, Outcome};
use relay_proto::wire::Method;
use relay_proto::{Event, MessageEventKind, MessageParams, MessageState};
use relay_tests::{assert_golden, client_methods, count_client, message_states, ready_pair};
use serde_json::json;

#[test]
fn handshake_with_contexts() {
    let p = &mut ready_pair(&["office", "home"]);
    let ev = p.take_events();
    let ready: Vec<&Event> = ev
        .iter()
        .filter(|e| matches!(e, Event::Ready { .. }))
        .collect();
    assert_eq!(ready.len(), 1, "{ev:?}");
    match ready[0] {
        Event::Ready {
            session_id,
            protocol,
            restored,
            reconnected,
        } => {
            assert!(!restored && !reconnected);
            assert_eq!(Some(session_id.as_str()), p.session().session_id());
            assert!(protocol.starts_with("signalwire_"), "{protocol}");
        }
        _ => unreachable!(),
    }
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::ContextsRegistered { contexts, outcome: Ok(()), .. }
                if contexts == &["office".to_owned(), "home".to_owned()])),
        "{ev:?}"
    );
    assert_eq!(
        client_methods(p.transcript()),
        [
            "blade.connect",
            "setup",
            "blade.subscription",
            "blade.ping",
            "signalwire.receive"
        ]
    );
    assert_golden("handshake_with_contexts", p.transcript());
}

#[test]
fn inbound_message() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    let r = p
        .control(
            "inbound_message",
            json!({"context":"office","from":"+15551230001","to":"+15553210002","body":"hello"}),
        )
        .expect("inbound_message");
    p.drive();
    let ev = p.take_events();
    let msgs: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(msgs.len(), 1, "{ev:?}");
    let m = msgs[0];
    assert_eq!(m.kind, MessageEventKind::Received);
    assert_eq!(m.context, "office");
    assert_eq!(m.message.state, MessageState::Received);
    assert_eq!(m.message.body.as_deref(), Some("hello"));
    assert_eq!(m.message.from.as_deref(), Some("+15551230001"));
    assert_eq!(m.message.to.as_deref(), Some("+15553210002"));
    assert_eq!(m.message.direction.as_deref(), Some("inbound"));
    assert_eq!(
        serde_json::to_value(&m.message.id).unwrap(),
        r["message_id"]
    );
    assert_golden("inbound_message", p.transcript());
}

fn send_flow(name: &str, arm: Option<&str>, final_state: MessageState) {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    if let Some(o) = arm {
        p.server_mut().script().arm(
            Method::MessagingSend,
            Outcome::Named(Named::parse(Method::MessagingSend, o).expect(o)),
        );
    }
    let now = p.now();
    let req = p
        .session_mut()
        .messaging_send(
            now,
            &MessageParams::text("office", "+15551230001", "+15553210002", "hi"),
        )
        .expect("send");
    assert!(p.drive_until(
        |p| message_states(&p.events().cloned().collect::<Vec<_>>())
            .last()
            .is_some_and(MessageState::is_terminal),
        Duration::from_secs(5)
    ));
    let ev = p.take_events();
    let sent: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::MessageSent { request, result } => Some((request, result)),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{ev:?}");
    assert_eq!(sent[0].0, &req);
    let result = sent[0].1;
    assert!(result.successful, "{result:?}");
    assert_eq!(result.code.as_deref(), Some("200"));
    let id = result.message_id.clone().expect("message id");
    assert_eq!(
        message_states(&ev),
        [
            MessageState::Queued,
            MessageState::Initiated,
            MessageState::Sent,
            final_state.clone()
        ]
    );
    for e in &ev {
        if let Event::Message(m) = e {
            assert_eq!(m.message.id, id);
            assert_eq!(m.context, "office");
            assert_eq!(m.message.direction.as_deref(), Some("outbound"));
            if m.message.state == MessageState::Undelivered {
                assert!(m.message.reason.is_some(), "{m:?}");
            }
        }
    }
    assert_eq!(count_client(p.transcript(), "messaging.send"), 1);
    assert_golden(name, p.transcript());
}

#[test]
fn messaging_send_delivered() {
    send_flow("messaging_send_delivered", None, MessageState::Delivered);
}

#[test]
fn messaging_send_undelivered() {
    send_flow(
        "messaging_send_undelivered",
        Some("undelivered"),
        MessageState::Undelivered,
    );
}

#[test]
fn task_delivered() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    let auth = format!(
        "Basic {}",
        relay_proto::task::base64(b"test-project:test-token")
    );
    let body = json!({"context":"office","message":{"hello":"world","n":1}}).to_string();
    let now = p.now();
    let r = p
        .server_mut()
        .deliver_task(now, Some(&auth), body.as_bytes());
    assert_eq!(r.status, 204, "{r:?}");
    p.drive();
    let ev = p.take_events();
    assert_eq!(
        ev,
        [Event::Task {
            context: "office".into(),
            message: json!({"hello":"world","n":1}),
        }]
    );
    // Bad credentials: 401 and nothing reaches the session.
    let bad = format!("Basic {}", relay_proto::task::base64(b"test-project:nope"));
    let now = p.now();
    let r = p
        .server_mut()
        .deliver_task(now, Some(&bad), body.as_bytes());
    assert_eq!(r.status, 401);
    p.drive();
    assert!(p.take_events().is_empty());
    assert_golden("task_delivered", p.transcript());
}

#[test]
fn drop_reconnects_with_same_session() {
    let p = &mut ready_pair(&["office"]);
    let sid = p.session().session_id().map(str::to_owned).unwrap();
    let proto = p.session().protocol().map(str::to_owned).unwrap();
    p.take_events();
    assert_eq!(p.control("drop", json!({})).unwrap(), json!({"dropped": 1}));
    p.drive();
    assert!(!p.session().is_ready());
    let ev = p.take_events();
    assert!(
        matches!(
            ev.as_slice(),
            [Event::Disconnected {
                reconnect_at: Some(_)
            }]
        ),
        "{ev:?}"
    );
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(60)));
    p.drive();
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::Ready { session_id, protocol, restored: true, reconnected: true }
                if session_id.as_str() == sid && protocol == &proto)),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::ContextsRegistered { contexts, outcome: Ok(()), .. }
                if contexts == &["office".to_owned()])),
        "{ev:?}"
    );
    assert_eq!(p.session().session_id(), Some(sid.as_str()));
    let conn2: Vec<String> = client_methods(
        &p.transcript()
            .iter()
            .filter(|l| l.conn == Some(2))
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        conn2,
        [
            "blade.connect",
            "setup",
            "blade.subscription",
            "blade.ping",
            "signalwire.receive"
        ]
    );
    // The reconnect carries the old sessionid and protocol.
    let connect = p
        .transcript()
        .iter()
        .find(|l| l.conn == Some(2) && l.dir == Dir::C2s && l.frame["method"] == "blade.connect")
        .unwrap();
    assert_eq!(connect.frame["params"]["sessionid"], json!(sid));
    // Inbound traffic flows on the new socket.
    p.control("inbound_message", json!({"context":"office","body":"x"}))
        .unwrap();
    p.drive();
    assert!(p
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Message(_))));
    assert_golden("drop_reconnects_with_same_session", p.transcript());
}

#[test]
fn blade_disconnect_pauses_then_reconnects() {
    let p = &mut ready_pair(&["office"]);
    let sid = p.session().session_id().map(str::to_owned).unwrap();
    p.take_events();
    p.control("blade_disconnect", json!({"close_after_ms": 500}))
        .unwrap();
    p.drive();
    let ev = p.take_events();
    assert_eq!(ev, [Event::Paused]);
    // A command issued while paused is queued, not sent.
    let now = p.now();
    p.session_mut()
        .messaging_send(now, &MessageParams::text("office", "+1", "+2", "queued"))
        .unwrap();
    p.drive();
    assert_eq!(p.session().queued(), 1);
    assert_eq!(count_client(p.transcript(), "messaging.send"), 0);
    assert!(p.drive_until(
        |p| p.session().is_ready() && p.conn().is_some_and(|c| c.0 == 2),
        Duration::from_secs(60)
    ));
    // Let the queued message run to its final state.
    p.advance(Duration::from_secs(1));
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Disconnected { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e,
            Event::Ready { session_id, restored: true, reconnected: true, .. }
                if session_id.as_str() == sid)),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::MessageSent { result, .. } if result.successful)),
        "{ev:?}"
    );
    assert_eq!(
        message_states(&ev),
        [
            MessageState::Queued,
            MessageState::Initiated,
            MessageState::Sent,
            MessageState::Delivered
        ]
    );
    assert_eq!(count_client(p.transcript(), "messaging.send"), 1);
    assert_golden("blade_disconnect_pauses_then_reconnects", p.transcript());
}

#[test]
fn server_ping_is_answered() {
    let p = &mut ready_pair(&["office"]);
    p.take_events();
    assert_eq!(p.control("ping", json!({})).unwrap(), json!({"sent": 1}));
    p.drive();
    let t = p.transcript();
    let ping = t
        .iter()
        .rev()
        .find(|l| l.dir == Dir::S2c && l.frame["method"] == "blade.ping")
        .expect("server ping sent");
    let id = ping.frame["id"].clone();
    let answer = t
        .iter()
        .find(|l| l.dir == Dir::C2s && l.frame["id"] == id && l.frame.get("method").is_none())
        .expect("session answered the server ping");
    assert!(answer.frame.get("result").is_some(), "{}", answer.frame);
    assert!(p.session().is_ready());
    assert!(p.take_events().is_empty());
    assert_golden("server_ping_is_answered", p.transcript());
}

#[test]
fn task_request_is_recorded_as_http_lines() {
    let p = &mut ready_pair(&["office"]);
    let auth = format!(
        "Basic {}",
        relay_proto::task::base64(b"test-project:test-token")
    );
    let body = json!({"context":"office","message":{"k":1}}).to_string();
    let now = p.now();
    let before = p.transcript().len();
    let r = p
        .server_mut()
        .deliver_task(now, Some(&auth), body.as_bytes());
    assert_eq!(r.status, 204);
    let http: Vec<_> = p.transcript()[before..]
        .iter()
        .filter(|l| l.transport.as_deref() == Some("http"))
        .collect();
    assert_eq!(http.len(), 2, "request and response lines");
    assert_eq!(http[0].frame["method"], "POST");
    assert_eq!(http[0].frame["path"], relay_proto::task::TASK_PATH);
    assert_eq!(http[1].frame["status"], 204);
    let recorded = http[0].frame.to_string();
    assert!(
        !recorded.contains(&auth[6..]),
        "credentials are not recorded: {recorded}"
    );
}
