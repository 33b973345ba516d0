//! The network layer of relay-mock: HTTP control API and WebSocket on one port.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::net::start;
use relay_mock::MockConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// base64("test-project:test-token")
const BASIC_AUTH: &str = "Basic dGVzdC1wcm9qZWN0OnRlc3QtdG9rZW4=";

/// Sends raw bytes and returns (status, headers, body) of the response.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    raw(addr, req.as_bytes()).await
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

#[tokio::test]
async fn http_control_api() {
    let server = start(MockConfig::default()).await.unwrap();
    let addr = server.addr();

    let (status, head, body) = request(addr, "GET", "/__control/health", &[], "").await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert_eq!(json_body(&body)["ok"], json!(true));

    let (status, _, body) = request(addr, "GET", "/__control/sessions", &[], "").await;
    assert_eq!(status, 200, "{body}");
    assert!(json_body(&body)["sessions"].is_array(), "{body}");
    let (status, _, body) = request(addr, "GET", "/__control/frames?since=0", &[], "").await;
    assert_eq!(status, 200, "{body}");
    assert!(json_body(&body)["frames"].is_array(), "{body}");
    let (status, _, body) = request(addr, "POST", "/__control/reset", &[], "").await;
    assert_eq!(
        (status, json_body(&body)),
        (200, json!({"reset": true})),
        "empty body = {{}}"
    );
    let (status, _, _) = request(addr, "GET", "/__control/inbound_call", &[], "").await;
    assert_eq!(status, 405, "inbound_call is POST only");

    let (status, _, body) = request(addr, "POST", "/__control/no_such_thing", &[], "{}").await;
    assert_eq!(status, 404, "{body}");
    assert!(json_body(&body)["error"].is_string());

    let call = r#"{"context":"office","from":"+15551230001","to":"+15553210002"}"#;
    let (status, _, body) = request(addr, "POST", "/__control/inbound_call", &[], call).await;
    assert_eq!(status, 404, "no session receives office: {body}");
    assert!(json_body(&body)["error"].is_string());

    let (status, _, body) =
        request(addr, "POST", "/__control/inbound_call", &[], "{not json").await;
    assert_eq!(status, 400, "{body}");
    assert!(json_body(&body)["error"].is_string());
    let (status, _, _) = request(addr, "POST", "/__control/inbound_call", &[], "[1]").await;
    assert_eq!(status, 400);

    let (status, _, body) = request(addr, "GET", "/nowhere", &[], "").await;
    assert_eq!(status, 404);
    assert!(json_body(&body)["error"].is_string());

    let task = r#"{"context":"office","message":{"k":"v"}}"#;
    let (status, _, _) = request(addr, "POST", "/api/relay/rest/tasks", &[], task).await;
    assert_eq!(status, 401);
    let (status, head, body) = request(
        addr,
        "POST",
        "/api/relay/rest/tasks",
        &[("Authorization", BASIC_AUTH)],
        task,
    )
    .await;
    assert_eq!(status, 204, "{head}{body}");
    assert!(
        body.is_empty() && !head.contains("Content-Length"),
        "{head}"
    );

    server.shutdown().await;
}

#[tokio::test]
async fn malformed_http_gets_4xx_and_the_server_survives() {
    let server = start(MockConfig::default()).await.unwrap();
    let addr = server.addr();
    // Requests hyper cannot parse get its bare 400 (no body); they never reach the router.
    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno-colon\r\n\r\n",
        b"POST /__control/health HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"GET / HTTP/1.1\r\n\xff\xfe: x\r\n\r\n",
    ] {
        let (status, _, _) = raw(addr, bad).await;
        assert_eq!(status, 400, "{bad:?}");
    }
    let (status, _, body) = raw(
        addr,
        b"POST /__control/health HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
    )
    .await;
    assert_eq!(status, 413);
    assert!(json_body(&body)["error"].is_string());
    let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20_000));
    let (status, _, _) = raw(addr, &huge).await;
    assert_eq!(status, 431);
    // A client that connects and goes away must not disturb anything.
    drop(TcpStream::connect(addr).await.unwrap());
    let (status, _, _) = request(addr, "GET", "/__control/health", &[], "").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn websocket_blade_connect() {
    let server = start(MockConfig::default()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/any/path", server.ws_url()))
        .await
        .unwrap();
    let connect = json!({
        "jsonrpc": "2.0", "id": "req-1", "method": "blade.connect",
        "params": {
            "version": {"major": 2, "minor": 1, "revision": 0},
            "authentication": {"project": "test-project", "token": "test-token"},
            "agent": "relay-mock net test"
        }
    });
    ws.send(Message::Text(connect.to_string())).await.unwrap();
    let reply = loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a reply in time")
            .expect("stream open")
            .unwrap();
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == "req-1" {
                break v;
            }
        }
    };
    assert!(reply["result"]["sessionid"].is_string(), "{reply}");
    let (status, _, body) = request(server.addr(), "GET", "/__control/health", &[], "").await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
    // Shutdown drops the socket.
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("closed in time");
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
}

#[tokio::test]
async fn record_dir_gets_a_jsonl_transcript() {
    let dir = std::env::temp_dir().join(format!("relay-mock-record-test-{}", std::process::id()));
    let opts = relay_mock::net::ServeOptions::default().record_dir(&dir);
    let server = relay_mock::net::start_with(MockConfig::default(), opts)
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": "p1", "method": "blade.ping", "params": {}});
    ws.send(Message::Text(ping.to_string())).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    drop(ws);
    let summary = server.shutdown().await.expect("clean shutdown");
    let path = summary.transcript.expect("a transcript path");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text.lines().map(json_body).collect();
    assert!(
        lines
            .iter()
            .any(|l| l["dir"] == "c2s" && l["frame"]["id"] == "p1"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["t"].is_u64() && l["dir"].is_string()),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens a socket and completes `blade.connect`; returns the socket and the session id.
async fn connected_socket(url: &str) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let connect = json!({
        "jsonrpc": "2.0", "id": "c1", "method": "blade.connect",
        "params": {
            "version": {"major": 2, "minor": 1, "revision": 0},
            "authentication": {"project": "test-project", "token": "test-token"},
        }
    });
    ws.send(Message::Text(connect.to_string())).await.unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("connect result in time")
            .expect("socket open")
            .unwrap();
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == "c1" {
                let sid = v["result"]["sessionid"].as_str().unwrap().to_string();
                return (ws, sid);
            }
        }
    }
}

/// Reads until the socket ends; returns the close frame's code, or `None` for an abrupt end.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("socket ends in time");
        match next {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn control_drop_is_abrupt_and_blade_disconnect_closes_with_1001() {
    let server = start(MockConfig::default()).await.unwrap();
    let (mut ws, sid) = connected_socket(&server.ws_url()).await;
    let control = server.control_client();
    assert_eq!(control.drop_connection(Some(&sid)).await.unwrap(), 1);
    assert_eq!(close_code(&mut ws).await, None, "drop sends no close frame");

    let (mut ws, sid) = connected_socket(&server.ws_url()).await;
    assert_eq!(
        control.blade_disconnect(Some(&sid), Some(0)).await.unwrap(),
        1
    );
    assert_eq!(close_code(&mut ws).await, Some(1001));
    server.shutdown().await;
}

#[tokio::test]
async fn credentials_are_redacted_in_frames_and_transcripts() {
    let dir = std::env::temp_dir().join(format!("relay-mock-redact-test-{}", std::process::id()));
    let opts = relay_mock::net::ServeOptions::default().record_dir(&dir);
    let server = relay_mock::net::start_with(MockConfig::default(), opts)
        .await
        .unwrap();
    let (ws, _sid) = connected_socket(&server.ws_url()).await;
    let frames = server.control_client().frames(0).await.unwrap();
    assert!(!format!("{frames:?}").contains("test-token"), "{frames:?}");
    let connect = frames
        .frames
        .iter()
        .find(|f| f.frame["method"] == "blade.connect")
        .expect("the connect frame is recorded");
    assert_eq!(
        connect.frame["params"]["authentication"],
        json!({"project": "test-project", "token": "<redacted>"})
    );
    drop(ws);
    let path = server.shutdown().await.unwrap().transcript.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("blade.connect"), "{text}");
    assert!(!text.contains("test-token"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `head` then `body` in full (the server must read it all), then reads the response.
async fn upload(addr: std::net::SocketAddr, head: String, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body)
        .await
        .expect("the whole upload is accepted (no reset mid-upload)");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("a response, not a reset");
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    (head[9..12].parse().unwrap(), body.to_string())
}

#[tokio::test]
async fn oversized_bodies_get_413_after_the_upload() {
    let server = start(MockConfig::default()).await.unwrap();
    let addr = server.addr();
    let big = vec![b' '; 2 * 1024 * 1024];
    let head = format!(
        "POST /__control/reset HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let (status, body) = upload(addr, head, &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(json_body(&body)["error"].is_string());

    // Chunked, no length announced.
    let mut chunked = Vec::new();
    for _ in 0..32 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend(std::iter::repeat_n(b' ', 64 * 1024));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head =
        "POST /api/relay/rest/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (status, body) = upload(addr, head.to_string(), &chunked).await;
    assert_eq!(status, 413, "{body}");

    // Just under the limit is read and handled.
    let pad = "x".repeat(1024 * 1024 - 64);
    let small = json!({ "pad": pad }).to_string();
    let head = format!(
        "POST /__control/reset HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        small.len()
    );
    let (status, body) = upload(addr, head, small.as_bytes()).await;
    assert_eq!((status, json_body(&body)), (200, json!({"reset": true})));
    server.shutdown().await;
}

#[tokio::test]
async fn keep_alive_requests_share_one_connection() {
    let server = start(MockConfig::default()).await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let get = "GET /__control/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    for round in 0..2 {
        s.write_all(get.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let head_and_body = loop {
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
                .await
                .expect("answer in time")
                .unwrap();
            assert!(
                n > 0,
                "round {round}: the server closed a kept-alive connection"
            );
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                if body.ends_with('}') {
                    break (head.to_owned(), body.to_owned());
                }
            }
        };
        let (head, body) = head_and_body;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert_eq!(json_body(&body)["ok"], json!(true));
    }
    // Without keep-alive the answer still closes the connection.
    let (status, head, _) = request(server.addr(), "GET", "/__control/health", &[], "").await;
    assert_eq!(status, 200);
    assert!(head.contains("Connection: close"), "{head}");
    server.shutdown().await;
}
