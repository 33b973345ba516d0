//! The client's connection events and accessors on virtual time: open, ready, a dropped
//! socket (close, disconnected, reconnecting), a refused reconnect (socket error), and the
//! restored session.

mod sim;

use futures::StreamExt;
use relay_client::{ClientEvent, ClientEvents};
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
