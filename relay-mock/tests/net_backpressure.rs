//! Sending to a slow client: frames queue up (bounded in bytes) instead of the connection being
//! dropped after a fixed number of frames.

use futures::StreamExt;
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

mod support;

use relay_mock::control::{ControlClient, ControlClientError, InboundMessage};
use support::{event_type, login, LIMIT};

/// Injects up to `n` inbound messages with a body of `size` bytes each; stops early when the
/// session is no longer live (404). Returns how many were delivered.
async fn flood(control: &ControlClient, n: usize, size: usize) -> usize {
    let message = InboundMessage::text("office", "+1", "+2", &"x".repeat(size));
    for i in 0..n {
        match control.inbound_message(&message).await {
            Ok(_) => {}
            Err(ControlClientError::Status { status: 404, .. }) => return i,
            Err(e) => panic!("message {i}: {e}"),
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_late_gets_every_frame() {
    let server = start_with(MockConfig::default(), ServeOptions::default())
        .await
        .unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    // 1,500 frames of ~16 KiB (~24 MiB) while the client reads nothing: more frames than the
    // old 1,024-frame queue and more bytes than the socket buffers hold.
    assert_eq!(flood(&server.control_client(), 1500, 16 * 1024).await, 1500);
    let mut received = 0;
    while received < 1500 {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("frames keep coming");
        match msg {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if event_type(&v) == "messaging.receive" {
                    received += 1;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended after {received} messages: {other:?}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_the_byte_bound_is_dropped_and_the_server_goes_on() {
    let opts = ServeOptions::default().max_queued_bytes(256 * 1024);
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    let delivered = flood(&server.control_client(), 800, 16 * 1024).await;
    assert!(delivered < 800, "the session was dropped on the way");
    // Reading now finds the end of the socket, not 800 messages.
    let mut received = 0;
    loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("the socket ends in time")
        {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(received < 800, "{received}");
    server.control_client().reset().await.unwrap();
    let _ws = login(&server.ws_url(), &["office"]).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_not_held_up_by_a_client_that_does_not_read() {
    let server = start_with(MockConfig::default(), ServeOptions::default())
        .await
        .unwrap();
    let (_ws, _) = login(&server.ws_url(), &["office"]).await;
    // More than the socket buffers hold: the server's send to this client is stuck.
    assert_eq!(flood(&server.control_client(), 1000, 16 * 1024).await, 1000);
    let stopped = tokio::time::timeout(LIMIT, server.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown waited on a stuck send");
}
