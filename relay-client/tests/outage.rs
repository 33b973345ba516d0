//! Outages on virtual time: a server that refuses or black-holes connections. The driver must
//! keep serving commands, timers and `disconnect()` in every state (connecting, connected,
//! backing off), so nothing waits for a connect timeout.

mod sim;

use std::time::Duration;

use relay_client::{ClientError, ClientOptions, RelayClient, Runtime};
use relay_proto::{Event, MessageParams, RequestError, SessionConfig};
use sim::{config, run, setup, until, Accept, Server, VirtualRuntime};

fn connect_with(
    rt: &VirtualRuntime,
    server: &Server,
    config: SessionConfig,
) -> (RelayClient, relay_client::Events) {
    RelayClient::connect_with(
        config,
        "ws://in-memory",
        rt.clone(),
        server.clone(),
        ClientOptions::default().with_connect_timeout(Duration::from_secs(10)),
    )
}

#[test]
fn disconnect_during_a_black_holed_connect_returns_at_once() {
    let (rt, server) = setup();
    server.set_accept(Accept::BlackHole);
    let (client, _events) = connect_with(&rt, &server, config());
    let waited = run(&rt, async {
        // Let the driver start its (never-ending) connect, a few virtual seconds in.
        rt.sleep_until(rt.now() + Duration::from_secs(3)).await;
        assert_eq!(server.attempts(), 1, "one connect in flight");
        let t0 = rt.now();
        client.disconnect().await;
        rt.now() - t0
    });
    assert_eq!(waited, Duration::ZERO, "disconnect waited for the connect");
    assert!(client.is_closed());
}

#[test]
fn commands_are_served_while_a_connect_hangs() {
    let (rt, server) = setup();
    server.set_accept(Accept::BlackHole);
    let (client, _events) = connect_with(&rt, &server, config());
    run(&rt, async {
        rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
        let t0 = rt.now();
        // A purely local refusal: answered by the driver at once, connect or not.
        let refused = client
            .messaging()
            .send(MessageParams::text("", "+15550001", "+15550002", "x"))
            .await;
        assert!(
            matches!(
                &refused,
                Err(ClientError::Misuse(relay_proto::error::ApiMisuse::InvalidParameter { which, .. }))
                    if which.contains("context")
            ),
            "{refused:?}"
        );
        // So is a subscription, and a question about a call.
        let call = client.calling().call(relay_proto::CallId::from("nope"));
        assert_eq!(call.info().await.expect("info"), None);
        assert_eq!(
            rt.now() - t0,
            Duration::ZERO,
            "a command waited for the connect"
        );
        client.disconnect().await;
    });
}

#[test]
fn a_black_holed_connect_counts_as_failed_after_the_connect_timeout() {
    let (rt, server) = setup();
    server.set_accept(Accept::BlackHole);
    let (client, mut events) = connect_with(&rt, &server, config());
    run(&rt, async {
        let t0 = rt.now();
        until(&mut events, |e| matches!(e, Event::Disconnected { .. })).await;
        let failed_after = rt.now() - t0;
        assert_eq!(failed_after, Duration::from_secs(10), "the connect timeout");
        // The session backs off and tries again.
        server.set_accept(Accept::Open);
        until(&mut events, |e| matches!(e, Event::Ready { .. })).await;
        assert_eq!(server.attempts(), 2);
        assert!(client.is_connected());
        client.disconnect().await;
    });
}

#[test]
fn disconnect_while_backing_off_returns_at_once() {
    let (rt, server) = setup();
    server.set_accept(Accept::Refuse);
    let (client, mut events) = connect_with(&rt, &server, config());
    let waited = run(&rt, async {
        until(&mut events, |e| {
            matches!(
                e,
                Event::Disconnected {
                    reconnect_at: Some(_)
                }
            )
        })
        .await;
        let t0 = rt.now();
        client.disconnect().await;
        rt.now() - t0
    });
    assert_eq!(waited, Duration::ZERO);
}

#[test]
fn disconnect_while_connected_returns_at_once_with_a_close_frame() {
    let (rt, server) = setup();
    let (client, _events) = connect_with(&rt, &server, config());
    let waited = run(&rt, async {
        client.wait_ready().await.expect("ready");
        assert!(client.session_id().is_some());
        let t0 = rt.now();
        client.disconnect().await;
        rt.now() - t0
    });
    assert_eq!(waited, Duration::ZERO);
    assert!(!client.is_connected());
    assert_eq!(server.closes(), [1000], "one close frame, code 1000");
    assert_eq!(server.open_connections(), 0);
}

/// Issue 8 item 2: a command issued while the server refuses connections must fail with a
/// typed timeout. That deadline belongs to the core's offline queue (another change).
#[test]
fn a_command_issued_during_an_outage_times_out() {
    let (rt, server) = setup();
    server.set_accept(Accept::Refuse);
    let config = config().with_offline_timeout(Duration::from_secs(10));
    let (client, _events) = connect_with(&rt, &server, config);
    run(&rt, async {
        let t0 = rt.now();
        let sent = client
            .execute(
                "calling.end",
                serde_json::json!({"call_id": "c", "node_id": "n"}),
            )
            .await;
        // Never sent (the server refused every connection): safe to retry.
        assert_eq!(
            sent,
            Err(ClientError::Request(RequestError::OfflineTimeout))
        );
        let waited = rt.now() - t0;
        assert!(
            waited >= Duration::from_secs(10) && waited <= Duration::from_secs(11),
            "resolved after {waited:?}, expected the 10 s offline timeout"
        );
        client.disconnect().await;
    });
}

#[test]
fn a_peer_that_stops_reading_is_a_lost_connection_after_the_io_timeout() {
    let (rt, server) = setup();
    // Shorter than the 10 s request timeout, so the socket is what gives up first.
    let (client, _events) = RelayClient::connect_with(
        config(),
        "ws://in-memory",
        rt.clone(),
        server.clone(),
        ClientOptions::default().with_io_timeout(Duration::from_secs(3)),
    );
    run(&rt, async {
        client.wait_ready().await.expect("ready");
        server.stall_reads(true);
        let t0 = rt.now();
        // The frame waits in the driver; commands and timers go on meanwhile.
        let sent = client
            .messaging()
            .send(MessageParams::text("office", "+15550001", "+15550002", "x"))
            .await;
        // Messaging reports it in the result, as the Node SDK does.
        let sent = sent.expect("a send result");
        assert!(!sent.successful);
        assert_eq!(sent.error, Some(RequestError::ConnectionLost));
        assert_eq!(rt.now() - t0, Duration::from_secs(3), "the io timeout");
        server.stall_reads(false);
        // The session reconnects and works again.
        client.wait_ready().await.expect("ready again");
        let sent = client
            .messaging()
            .send(MessageParams::text("office", "+15550001", "+15550002", "y"))
            .await
            .expect("send after the reconnect");
        assert!(sent.successful);
        client.disconnect().await;
    });
}

#[test]
fn disconnect_while_the_peer_stopped_reading_returns_at_once() {
    let (rt, server) = setup();
    let (client, _events) = connect_with(&rt, &server, config());
    let waited = run(&rt, async {
        client.wait_ready().await.expect("ready");
        server.stall_reads(true);
        let t0 = rt.now();
        client.disconnect().await;
        rt.now() - t0
    });
    assert_eq!(waited, Duration::ZERO);
    assert!(client.is_closed());
}
