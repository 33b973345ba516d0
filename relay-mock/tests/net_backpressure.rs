//! Sending to a slow client: backpressure (the load waits for the client) instead of a dropped
//! connection; a connection is dropped only when its client takes nothing for the stall
//! timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod support;

use relay_mock::control::{ControlClient, ControlClientError, InboundMessage};
use support::{event_type, login, Ws, LIMIT};

/// Injects up to `n` inbound messages with a body of `size` bytes each, counting deliveries in
/// `delivered`; stops early when the session is no longer live (404).
async fn flood(control: ControlClient, n: usize, size: usize, delivered: Arc<AtomicUsize>) {
    let message = InboundMessage::text("office", "+1", "+2", &"x".repeat(size));
    for i in 0..n {
        match control.inbound_message(&message).await {
            Ok(_) => {
                delivered.fetch_add(1, Ordering::AcqRel);
            }
            Err(ControlClientError::Status { status: 404, .. }) => return,
            Err(e) => panic!("message {i}: {e}"),
        }
    }
}

/// Reads until `n` `messaging.receive` events arrived.
async fn read_messages(ws: &mut Ws, n: usize) {
    let mut received = 0;
    while received < n {
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
}

/// A control client that waits as long as the tests do.
fn control(server: &relay_mock::net::RunningServer) -> ControlClient {
    server.control_client().with_timeout(LIMIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pauses_reading_slows_the_load_and_then_gets_every_frame() {
    let opts = ServeOptions::default().high_water_bytes(256 * 1024);
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    // 1,500 frames of ~16 KiB (~24 MiB) while the client reads nothing at first: far more
    // than the high-water mark and the socket buffers hold.
    let delivered = Arc::new(AtomicUsize::new(0));
    let injector = tokio::spawn(flood(control(&server), 1500, 16 * 1024, delivered.clone()));
    // The injections stall once the client's queue is past the high-water mark...
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = delivered.load(Ordering::Acquire);
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        last < 1500,
        "injections went on while the client read nothing"
    );
    // ...and resume as it reads: it loses nothing.
    read_messages(&mut ws, 1500).await;
    tokio::time::timeout(LIMIT, injector)
        .await
        .expect("the injector finishes")
        .unwrap();
    assert_eq!(delivered.load(Ordering::Acquire), 1500);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_answers_is_not_read_either() {
    const PINGS: usize = 50_000;
    let opts = ServeOptions::default().high_water_bytes(64 * 1024);
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (ws, _) = login(&server.ws_url(), &["office"]).await;
    let (mut tx, mut rx) = ws.split();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let sender = tokio::spawn(async move {
        let pad = "p".repeat(1024);
        for i in 0..PINGS {
            let ping = json!({"jsonrpc": "2.0", "id": format!("{i}-{pad}"),
                "method": "blade.ping", "params": {}});
            if tx.send(Message::Text(ping.to_string())).await.is_err() {
                break;
            }
            counter.fetch_add(1, Ordering::AcqRel);
        }
    });
    // The client reads nothing: once its answers fill the socket buffers (and its queue passes
    // the mark), the server reads no more of its ~55 MB of pings, so the client's sending
    // stalls instead of the answers piling up in the server.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = sent.load(Ordering::Acquire);
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        last < PINGS,
        "the server read every request while its answers piled up"
    );
    // Then every answer arrives, in order.
    let mut expected = 0;
    while expected < PINGS {
        match tokio::time::timeout(LIMIT, rx.next())
            .await
            .expect("answers keep coming")
        {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                let id = v["id"].as_str().unwrap_or_default();
                assert!(id.starts_with(&format!("{expected}-")), "{id:.20}");
                expected += 1;
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended after {expected} answers: {other:?}"),
        }
    }
    sender.await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_after_the_stall_timeout() {
    let opts = ServeOptions::default()
        .high_water_bytes(256 * 1024)
        .stall_timeout(Duration::from_millis(500));
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    let delivered = Arc::new(AtomicUsize::new(0));
    // The client never reads: the server drops it, and the injector then hears 404.
    tokio::time::timeout(
        LIMIT,
        flood(control(&server), 800, 16 * 1024, delivered.clone()),
    )
    .await
    .expect("the injections end once the client is dropped");
    assert!(delivered.load(Ordering::Acquire) < 800);
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
async fn a_client_past_the_byte_bound_is_dropped_and_the_server_goes_on() {
    // No backpressure (a mark above the bound): the last-resort bound drops the client.
    let opts = ServeOptions::default()
        .high_water_bytes(usize::MAX)
        .max_queued_bytes(256 * 1024);
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    let delivered = Arc::new(AtomicUsize::new(0));
    flood(control(&server), 800, 16 * 1024, delivered.clone()).await;
    assert!(
        delivered.load(Ordering::Acquire) < 800,
        "the session was dropped on the way"
    );
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
    // More than the socket buffers and the high-water mark hold: the server's send to this
    // client is stuck and the injector waits for it.
    let delivered = Arc::new(AtomicUsize::new(0));
    let injector = tokio::spawn(flood(control(&server), 1000, 16 * 1024, delivered.clone()));
    while delivered.load(Ordering::Acquire) < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = tokio::time::timeout(LIMIT, server.shutdown()).await;
    assert!(stopped.is_ok(), "shutdown waited on a stuck send");
    injector.abort();
}
