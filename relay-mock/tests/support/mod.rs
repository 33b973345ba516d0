//! Helpers of the network tests: a raw Relay client over a real WebSocket.
#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub const LIMIT: Duration = Duration::from_secs(30);

/// The next text frame as JSON; panics if the socket ends or nothing comes in time.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// Skips frames until one matches.
pub async fn wait_for(ws: &mut Ws, what: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next_json(ws).await;
        if what(&v) {
            return v;
        }
    }
}

/// The `event_type` of a broadcast frame.
pub fn event_type(v: &Value) -> &str {
    v["params"]["params"]["event_type"]
        .as_str()
        .or_else(|| v["params"]["event"].as_str())
        .unwrap_or_default()
}

/// Sends a request and waits for its response (other frames are skipped).
pub async fn request(ws: &mut Ws, id: &str, method: &str, params: Value) -> Value {
    let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    ws.send(Message::Text(frame.to_string())).await.unwrap();
    wait_for(ws, |v| v["id"] == id && v.get("method").is_none()).await
}

/// Connects, sets up, subscribes and receives `contexts`; returns the socket and session id.
pub async fn login(url: &str, contexts: &[&str]) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let connect = json!({
        "version": {"major": 2, "minor": 1, "revision": 0},
        "authentication": {"project": "test-project", "token": "test-token"},
    });
    let r = request(&mut ws, "c", "blade.connect", connect).await;
    let sid = r["result"]["sessionid"].as_str().unwrap().to_owned();
    let setup = json!({"protocol": "signalwire", "method": "setup", "params": {}});
    let r = request(&mut ws, "s", "blade.execute", setup).await;
    let protocol = r["result"]["result"]["protocol"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = json!({"command": "add", "protocol": protocol, "channels": ["notifications"]});
    request(&mut ws, "u", "blade.subscription", sub).await;
    if !contexts.is_empty() {
        let receive = json!({"protocol": protocol, "method": "signalwire.receive",
            "params": {"contexts": contexts}});
        let r = request(&mut ws, "r", "blade.execute", receive).await;
        assert_eq!(r["result"]["result"]["code"], "200", "{r}");
    }
    (ws, sid)
}
