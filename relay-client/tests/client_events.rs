//! The client's connection events and accessors on virtual time: open, ready, a dropped
//! socket (close, disconnected, reconnecting), a refused reconnect (socket error), and the
//! restored session; a rejected or unanswered handshake (`signalwire.error`).

mod sim;

use futures::StreamExt;
use relay_client::{ClientEvent, ClientEvents, ClientOptions, RelayClient, SessionFailure};
use relay_proto::SessionConfig;
use serde_json::json;
use sim::{connect, run, setup, Accept};

async fn next(events: &mut ClientEvents) -> ClientEvent {
    events.next().await.expect("stream open").expect("no lag")
}

#[test]
fn connection_events_and_accessors_follow_a_drop_and_a_restore() {
    let (rt, server) = setup();
    let (client, _events) = connect(&rt, &server);
    run(&rt, async {
        // The in-memory connect is instant: the first open and ready happen before the
        // subscription; the reconnect below shows both.
        client.wait_ready().await.expect("ready");
        let mut events = client.client_events().await.expect("subscribe");
        let session_id = client.session_id().expect("session id once ready");
        assert!(client.protocol().is_some_and(|p| !p.is_empty()));
        assert!(client.is_connected());
        client.receive(["sales"]).await.expect("receive");
        assert_eq!(client.contexts(), ["office", "sales"]);

        // The server drops the socket and refuses the first reconnect.
        server.set_accept(Accept::Refuse);
        server.control("drop", json!({}));
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::SocketClose { .. }
        ));
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::Disconnected { .. }
        ));
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::Reconnecting { .. }
        ));
        assert!(!client.is_connected());
        // The first attempt (after the backoff) was refused while we waited: a socket error,
        // then the session backs off again; the next attempt opens and restores the session.
        assert_eq!(
            next(&mut events).await,
            ClientEvent::SocketError {
                reason: "connection refused".into()
            }
        );
        server.set_accept(Accept::Open);
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::Disconnected { code: None, .. }
        ));
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::Reconnecting { .. }
        ));
        assert_eq!(next(&mut events).await, ClientEvent::SocketOpen);
        assert_eq!(
            next(&mut events).await,
            ClientEvent::Restored {
                session_id: session_id.clone()
            }
        );
        assert!(client.is_connected());
        client.disconnect().await;
        assert!(matches!(
            next(&mut events).await,
            ClientEvent::SocketClose {
                code: Some(1000),
                ..
            }
        ));
    });
}

#[test]
fn a_refused_connect_is_a_socket_error() {
    let (rt, server) = setup();
    server.set_accept(Accept::Refuse);
    let (client, _events) = connect(&rt, &server);
    run(&rt, async {
        let mut events = client.client_events().await.expect("subscribe");
        let mut saw_error = false;
        while !saw_error {
            match next(&mut events).await {
                ClientEvent::SocketError { reason } => {
                    assert_eq!(reason, "connection refused");
                    saw_error = true;
                }
                ClientEvent::Disconnected { code: None, .. } | ClientEvent::Reconnecting { .. } => {
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(client.session_id(), None);
        client.disconnect().await;
    });
}

/// Reads client events until one is a [`ClientEvent::Error`]; every other event on the way
/// must be a connection event.
async fn next_error(events: &mut ClientEvents) -> SessionFailure {
    loop {
        match next(events).await {
            ClientEvent::Error { error } => return error,
            ClientEvent::SocketOpen
            | ClientEvent::SocketError { .. }
            | ClientEvent::SocketClose { .. }
            | ClientEvent::Disconnected { .. }
            | ClientEvent::Reconnecting { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_rejected_login_is_a_client_error_event() {
    let (rt, server) = setup();
    // Refused until the test has subscribed, so no event is missed.
    server.set_accept(Accept::Refuse);
    let (client, _events) = RelayClient::connect_with(
        SessionConfig::new("test-project", "wrong-token")
            .with_seed(7)
            .with_contexts(["office"]),
        "ws://in-memory",
        rt.clone(),
        server.clone(),
        ClientOptions::default(),
    );
    run(&rt, async {
        let mut events = client.client_events().await.expect("subscribe");
        server.set_accept(Accept::Open);
        match next_error(&mut events).await {
            SessionFailure::AuthFailed { code, message } => {
                assert_eq!(code, -32002, "{message}");
            }
            other => panic!("expected an authentication failure, got {other:?}"),
        }
        // Without retry_on_auth_failure the client stops: waiting for ready fails.
        assert!(client.wait_ready().await.is_err());
        assert!(!client.is_connected());
    });
}

#[test]
fn an_unanswered_handshake_is_a_client_error_event_and_the_client_recovers() {
    let (rt, server) = setup();
    server.set_accept(Accept::Refuse);
    let (client, _events) = connect(&rt, &server);
    run(&rt, async {
        let mut events = client.client_events().await.expect("subscribe");
        // The answer to blade.connect never arrives: the handshake times out.
        server.swallow_then_cut(
            Box::new(|frame| frame["result"]["authorization"].is_object()),
            u64::MAX,
        );
        server.set_accept(Accept::Open);
        assert_eq!(
            next_error(&mut events).await,
            SessionFailure::Handshake {
                code: 4000,
                reason: "handshake request timed out".into()
            }
        );
        // The next attempt is answered: the client becomes ready.
        client
            .wait_ready()
            .await
            .expect("ready after the failed handshake");
        assert!(client.is_connected());
        client.disconnect().await;
    });
}
