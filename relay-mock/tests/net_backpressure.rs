//! Sending to a slow client: frames queue up (bounded in bytes) instead of the connection being
//! dropped after a fixed number of frames.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const LIMIT: Duration = Duration::from_secs(30);

async fn post(addr: std::net::SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(LIMIT, s.read_to_end(&mut buf))
        .await
        .expect("control answers in time")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    (
        head[9..12].parse().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

async fn request(ws: &mut Ws, id: &str, method: &str, params: Value) -> Value {
    let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    ws.send(Message::Text(frame.to_string())).await.unwrap();
    loop {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("an answer in time");
        if let Some(Ok(Message::Text(text))) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id && v.get("method").is_none() {
                return v;
            }
        } else if !matches!(msg, Some(Ok(_))) {
            panic!("socket ended: {msg:?}");
        }
    }
}

/// Connects, sets up and receives `office`.
async fn login(url: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let connect = json!({
        "version": {"major": 2, "minor": 1, "revision": 0},
        "authentication": {"project": "test-project", "token": "test-token"},
    });
    request(&mut ws, "c", "blade.connect", connect).await;
    let setup = json!({"protocol": "signalwire", "method": "setup", "params": {}});
    let r = request(&mut ws, "s", "blade.execute", setup).await;
    let protocol = r["result"]["result"]["protocol"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = json!({"command": "add", "protocol": protocol, "channels": ["notifications"]});
    request(&mut ws, "u", "blade.subscription", sub).await;
    let receive = json!({"protocol": protocol, "method": "signalwire.receive",
        "params": {"contexts": ["office"]}});
    let r = request(&mut ws, "r", "blade.execute", receive).await;
    assert_eq!(r["result"]["result"]["code"], "200", "{r}");
    ws
}

/// Injects `n` inbound messages with a body of `size` bytes each.
async fn flood(addr: std::net::SocketAddr, n: usize, size: usize) {
    let body = "x".repeat(size);
    for i in 0..n {
        let msg = json!({"context": "office", "from": "+1", "to": "+2", "body": body});
        let (status, answer) = post(addr, "/__control/inbound_message", &msg).await;
        assert_eq!(status, 200, "message {i}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_late_gets_every_frame() {
    let server = start_with(MockConfig::default(), ServeOptions::default())
        .await
        .unwrap();
    let mut ws = login(&server.ws_url()).await;
    // 1,500 frames of ~16 KiB (~24 MiB) while the client reads nothing: more frames than the
    // old 1,024-frame queue and more bytes than the socket buffers hold.
    flood(server.addr(), 1500, 16 * 1024).await;
    let mut received = 0;
    while received < 1500 {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("frames keep coming");
        match msg {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["params"]["params"]["event_type"] == "messaging.receive" {
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
    let mut ws = login(&server.ws_url()).await;
    flood(server.addr(), 800, 16 * 1024).await;
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
    let (status, _) = post(server.addr(), "/__control/reset", &json!({})).await;
    assert_eq!(status, 200);
    let _ws = login(&server.ws_url()).await;
    server.shutdown().await;
}
