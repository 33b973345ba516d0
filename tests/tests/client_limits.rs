//! The client refuses frames over `Bounds::max_frame_size` at the WebSocket layer, on both
//! runtimes: a server that sends one drops that connection and the session reconnects,
//! instead of the client buffering whatever the peer sends.

mod client_support;

use std::time::Duration;

use client_support::{bounded, config};
use futures::channel::oneshot;
use futures::{SinkExt, StreamExt};
use relay_client::{Connector, RelayClient, Runtime};
use tokio_tungstenite::tungstenite::Message;

/// Twice the default 1 MiB bound.
const OVERSIZED: usize = 2 << 20;

/// What the hostile server saw.
#[derive(Debug)]
struct Seen {
    /// The first connection ended (the client dropped it) after the oversized frame.
    first_dropped: bool,
    /// A second connection came.
    reconnected: bool,
}

/// A WebSocket server on its own thread: on the first connection it waits for the client's
/// first frame, answers with one oversized text frame and watches the connection end; then it
/// waits for the reconnect.
fn hostile_server() -> (String, oneshot::Receiver<Seen>) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (seen_tx, seen_rx) = oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("test alive");
            let limit = Duration::from_secs(15);
            let (tcp, _) = listener.accept().await.expect("first connection");
            let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
            let _connect = ws.next().await;
            let big = "x".repeat(OVERSIZED);
            let _ = ws.send(Message::Text(big)).await;
            // Ends (error or close) once the client drops the connection.
            let first_dropped =
                tokio::time::timeout(limit, async { while let Some(Ok(_)) = ws.next().await {} })
                    .await
                    .is_ok();
            let reconnected = tokio::time::timeout(limit, listener.accept()).await.is_ok();
            let _ = seen_tx.send(Seen {
                first_dropped,
                reconnected,
            });
        });
    });
    let addr = addr_rx.recv().expect("server address");
    (format!("ws://{addr}"), seen_rx)
}

async fn oversized_frame_drops_the_connection<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let (url, seen) = hostile_server();
    let client = RelayClient::connect(config(&[]), url, rt.clone(), conn);
    let seen = bounded(&rt, "hostile server report", seen)
        .await
        .expect("server thread reports");
    assert!(
        seen.first_dropped,
        "the client kept reading an oversized frame"
    );
    assert!(seen.reconnected, "the session did not reconnect");
    assert!(!client.is_connected());
    client.disconnect().await;
}

#[test]
fn the_websocket_config_carries_the_bound() {
    let limits = relay_client::WsLimits::new(relay_proto::Bounds::default().max_frame_size);
    let config = relay_client::websocket_config(limits);
    assert_eq!(config.max_message_size, Some(1 << 20));
    assert_eq!(config.max_frame_size, Some(1 << 20));
}

on_both_runtimes!(oversized_frame_drops_the_connection);
