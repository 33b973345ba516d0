//! Outages over real sockets, on both runtimes: a server that accepts TCP but never answers
//! the WebSocket upgrade (a black hole for the connect). `disconnect()` and commands must not
//! wait for the connect timeout.

mod client_support;

use std::time::Duration;

use client_support::{bounded, config};
use relay_client::{ClientError, ClientOptions, Connector, RelayClient, Runtime};
use relay_proto::MessageParams;

/// Far longer than any bound below: a driver that waited for it would fail the test.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// What "at once" means over real sockets and a loaded CI machine.
const AT_ONCE: Duration = Duration::from_secs(2);

/// A TCP listener that accepts and then says nothing; returns its ws:// URL.
fn black_hole() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("ws://{addr}")
}

async fn at_once<R: Runtime, F: std::future::Future>(rt: &R, what: &str, fut: F) -> F::Output {
    let limit = rt.sleep_until(rt.now() + AT_ONCE);
    match futures::future::select(std::pin::pin!(fut), limit).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => panic!("{what} waited for the connect"),
    }
}

async fn disconnect_during_a_hung_connect<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let (client, _events) = RelayClient::connect_with(
        config(&["office"]),
        black_hole(),
        rt.clone(),
        conn,
        ClientOptions::default().with_connect_timeout(CONNECT_TIMEOUT),
    );
    // Let the connect get under way.
    rt.sleep_until(rt.now() + Duration::from_millis(200)).await;
    // A local refusal is answered while the connect hangs...
    let refused = at_once(
        &rt,
        "a locally refused command",
        client
            .messaging()
            .send(MessageParams::text("", "+15550001", "+15550002", "x")),
    )
    .await;
    assert!(
        matches!(
            &refused,
            Err(ClientError::Misuse(relay_proto::error::ApiMisuse::InvalidParameter { which, .. }))
                if which.contains("context")
        ),
        "{refused:?}"
    );
    // ... and so is disconnect.
    at_once(&rt, "disconnect", client.disconnect()).await;
    assert!(client.is_closed());
    // A command after the end fails at once.
    let late = bounded(&rt, "late command", client.wait_ready()).await;
    assert_eq!(late, Err(ClientError::Closed));
}

on_both_runtimes!(disconnect_during_a_hung_connect);
