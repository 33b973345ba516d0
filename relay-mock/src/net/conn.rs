//! One accepted TCP stream: either a WebSocket session or a single HTTP request.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::actor::{Event, Outgoing, OUTGOING_QUEUE};
use super::http::{self, ReadError, RequestHead};

/// How long a client may take to send its request head or body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the peer's close frame after sending ours.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Largest WebSocket message accepted from a client.
const MAX_WS_MESSAGE: usize = 4 * 1024 * 1024;

/// Serves one accepted stream to completion.
pub(crate) async fn handle(mut stream: TcpStream, events: mpsc::Sender<Event>) {
    let (head, rest) = match http::read_head(&mut stream, READ_TIMEOUT).await {
        Ok(v) => v,
        Err(ReadError::Io) => return,
        Err(ReadError::Bad(status, msg)) => {
            let resp = http::render_response(status, &http::error_body(msg), &[]);
            http::respond_and_close(&mut stream, &resp).await;
            return;
        }
    };
    if head.is_websocket_upgrade() {
        websocket(stream, head, rest, events).await;
    } else {
        let expects_continue = head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue && rest.is_empty() {
            // curl waits (1 s) for this before sending a body larger than 1 KiB.
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        let (status, body) = match http::read_body(&mut stream, &head, rest, READ_TIMEOUT).await {
            Ok(body) => route(&head, body, &events).await,
            Err(ReadError::Io) => return,
            Err(ReadError::Bad(status, msg)) => (status, http::error_body(msg)),
        };
        tracing::debug!(method = %head.method, path = %head.path, status, "http request");
        let resp = http::render_response(status, &body, &[]);
        http::respond_and_close(&mut stream, &resp).await;
    }
}

/// Dispatches one HTTP request; returns the status and JSON body.
async fn route(head: &RequestHead, body: Vec<u8>, events: &mpsc::Sender<Event>) -> (u16, String) {
    if head.path == "/api/relay/rest/tasks" {
        if head.method != "POST" {
            return (405, http::error_body("use POST"));
        }
        let (reply, rx) = oneshot::channel();
        let authorization = head.header("authorization").map(str::to_string);
        let event = Event::Task {
            authorization,
            body,
            reply,
        };
        return match ask(events, event, rx).await {
            Some(r) => (r.status, r.body),
            None => unavailable(),
        };
    }
    let Some(name) = head.path.strip_prefix("/__control/") else {
        return (404, http::error_body("not found"));
    };
    if name.is_empty() || name.contains('/') {
        return (404, http::error_body("unknown control endpoint"));
    }
    let body = match head.method.as_str() {
        "GET" if matches!(name, "health" | "sessions" | "frames") => {
            http::query_to_json(&head.query)
        }
        "GET" => return (405, http::error_body("this control endpoint takes POST")),
        "POST" => match parse_json_object(&body) {
            Ok(v) => v,
            Err(msg) => return (400, http::error_body(&msg)),
        },
        _ => return (405, http::error_body("use GET or POST")),
    };
    let (reply, rx) = oneshot::channel();
    let event = Event::Control {
        endpoint: name.to_string(),
        body,
        reply,
    };
    match ask(events, event, rx).await {
        Some(Ok(v)) => (200, v.to_string()),
        Some(Err(e)) => {
            let status = if (400..=599).contains(&e.status) {
                e.status
            } else {
                500
            };
            (status, http::error_body(&e.message))
        }
        None => unavailable(),
    }
}

fn unavailable() -> (u16, String) {
    (503, http::error_body("server is shutting down"))
}

/// An empty body is `{}`; anything else must be a JSON object.
fn parse_json_object(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("body must be a JSON object".into()),
        Err(e) => Err(format!("invalid JSON body: {e}")),
    }
}

async fn ask<T>(events: &mpsc::Sender<Event>, event: Event, rx: oneshot::Receiver<T>) -> Option<T> {
    events.send(event).await.ok()?;
    rx.await.ok()
}

/// Completes the upgrade by hand (the head is already read) and runs the session.
async fn websocket(
    mut stream: TcpStream,
    head: RequestHead,
    rest: Vec<u8>,
    events: mpsc::Sender<Event>,
) {
    let key = head.header("sec-websocket-key").unwrap_or_default();
    if key.is_empty() {
        let resp = http::render_response(400, &http::error_body("missing Sec-WebSocket-Key"), &[]);
        http::respond_and_close(&mut stream, &resp).await;
        return;
    }
    if head.header("sec-websocket-version").map(str::trim) != Some("13") {
        let resp = http::render_response(
            426,
            &http::error_body("unsupported WebSocket version"),
            &[("Sec-WebSocket-Version", "13")],
        );
        http::respond_and_close(&mut stream, &resp).await;
        return;
    }
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig {
        max_message_size: Some(MAX_WS_MESSAGE),
        max_frame_size: Some(MAX_WS_MESSAGE),
        max_write_buffer_size: 16 * 1024 * 1024,
        ..Default::default()
    };
    let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await;

    let (out_tx, out_rx) = mpsc::channel(OUTGOING_QUEUE);
    let (reply, rx) = oneshot::channel();
    let Some(conn) = ask(&events, Event::Opened { out: out_tx, reply }, rx).await else {
        return;
    };
    tracing::debug!(conn = conn.0, path = %head.path, "websocket session");
    let code = pump(ws, out_rx, &events, conn).await;
    let _ = events.send(Event::Closed { conn, code }).await;
}

/// Moves frames both ways until either side ends; returns the close code to report.
async fn pump(
    mut ws: WebSocketStream<TcpStream>,
    mut out_rx: mpsc::Receiver<Outgoing>,
    events: &mpsc::Sender<Event>,
    conn: crate::ConnId,
) -> u16 {
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if events.send(Event::Frame { conn, text }).await.is_err() {
                        return 1001;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite queues the echo; flush it before dropping the stream.
                    let _ = ws.flush().await;
                    return frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                }
                Some(Ok(Message::Binary(_))) => {
                    tracing::debug!(conn = conn.0, "ignoring a binary frame");
                }
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                Some(Err(err)) => {
                    tracing::debug!(conn = conn.0, %err, "websocket read ended");
                    return 1006;
                }
                None => return 1006,
            },
            outgoing = out_rx.recv() => match outgoing {
                Some(Outgoing::Text(text)) => {
                    if ws.send(Message::Text(text)).await.is_err() {
                        return 1006;
                    }
                }
                Some(Outgoing::Close(Some(code))) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: "".into() };
                    let _ = ws.close(Some(frame)).await;
                    // Give the client a moment to answer the close handshake.
                    let _ = tokio::time::timeout(CLOSE_LINGER, async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    return code;
                }
                // Abrupt close, or the actor gave up on (or forgot) this connection:
                // drop the TCP stream without a close frame.
                Some(Outgoing::Close(None)) | None => return 1006,
            },
        }
    }
}
