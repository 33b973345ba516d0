//! Sending to a slow client: frames queue up (bounded in bytes) instead of the connection being
//! dropped after a fixed number of frames.

use futures::StreamExt;
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

mod support;

use relay_mock::control::{ControlClient, InboundMessage};
use support::{event_type, login, LIMIT};

/// Injects `n` inbound messages with a body of `size` bytes each.
async fn flood(control: &ControlClient, n: usize, size: usize) {
    let message = InboundMessage::text("office", "+1", "+2", &"x".repeat(size));
    for i in 0..n {
        if let Err(e) = control.inbound_message(&message).await {
            panic!("message {i}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_late_gets_every_frame() {
    let server = start_with(MockConfig::default(), ServeOptions::default())
        .await
        .unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    // 1,500 frames of ~16 KiB (~24 MiB) while the client reads nothing: more frames than the
    // old 1,024-frame queue and more bytes than the socket buffers hold.
    flood(&server.control_client(), 1500, 16 * 1024).await;
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
    flood(&server.control_client(), 800, 16 * 1024).await;
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
