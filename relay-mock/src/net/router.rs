//! The axum app: WebSocket upgrade on any path, the control API and the task REST endpoint.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::actor::{Event, Shared};
use super::ws;

/// Largest accepted request body.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A body larger than [`MAX_BODY_BYTES`] but at most this long is read to its end (and thrown
/// away) before the 413, so the client sees the answer instead of a reset mid-upload.
const MAX_DRAINED_BYTES: usize = 16 * 1024 * 1024;
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest WebSocket message accepted from a client.
const MAX_WS_MESSAGE: usize = 4 * 1024 * 1024;

/// The app serving every request.
pub(crate) fn app(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .layer(axum::middleware::from_fn(close_unless_kept))
        .with_state(shared)
}

/// A plain HTTP response closes its connection, as the mock always did (clients read the
/// answer to its end), unless the request asked for `Connection: keep-alive`: a load
/// generator injecting calls one request at a time then costs the server no TCP connection
/// per call.
async fn close_unless_kept(request: Request, next: axum::middleware::Next) -> Response {
    let keep = has_token(request.headers(), header::CONNECTION, "keep-alive");
    let mut response = next.run(request).await;
    if !keep && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Whether a comma-separated header `name` lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether control endpoint `endpoint` creates events for clients (and so waits for
/// backpressure, see [`super::ServeOptions::high_water_bytes`]).
pub(crate) fn is_injection(endpoint: &str) -> bool {
    let name = endpoint
        .trim_start_matches('/')
        .trim_start_matches("__control/")
        .trim_end_matches('/');
    matches!(name, "inbound_call" | "inbound_message")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    request: Request,
) -> Response {
    if wants_websocket(request.headers()) {
        return match upgrade {
            Ok(upgrade) => websocket(shared, upgrade, request.uri().path()),
            Err(rejection) => rejection.into_response(),
        };
    }
    let (parts, body) = request.into_parts();
    let (status, body) = route(&shared, &parts.method, &parts.uri, &parts.headers, body).await;
    tracing::debug!(method = %parts.method, path = %parts.uri.path(), %status, "http request");
    json_response(status, body)
}

/// Whether the request asks for a WebSocket upgrade (`Upgrade: websocket`).
fn wants_websocket(headers: &HeaderMap) -> bool {
    has_token(headers, header::UPGRADE, "websocket")
}

fn websocket(shared: Arc<Shared>, upgrade: WebSocketUpgrade, path: &str) -> Response {
    let Ok(permit) = shared.ws_permits.clone().try_acquire_owned() else {
        tracing::warn!("too many WebSocket connections; refusing one");
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            error_body("too many WebSocket connections"),
        );
    };
    let path = path.to_owned();
    upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| async move {
            tracing::debug!(%path, "websocket upgrade");
            ws::session(socket, shared).await;
            drop(permit);
        })
}

fn json_response(status: StatusCode, body: String) -> Response {
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Dispatches one HTTP request; returns the status and JSON body.
async fn route(
    shared: &Shared,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> (StatusCode, String) {
    let path = uri.path();
    if path == "/api/relay/rest/tasks" {
        if method != Method::POST {
            return (StatusCode::METHOD_NOT_ALLOWED, error_body("use POST"));
        }
        let body = match read_body(headers, body).await {
            Ok(b) => b,
            Err(e) => return e,
        };
        let (reply, rx) = oneshot::channel();
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let event = Event::Task {
            authorization,
            body: body.to_vec(),
            reply,
        };
        shared.pressure.wait_drained().await;
        return match ask(&shared.events, event, rx).await {
            Some(r) => (status(r.status), r.body),
            None => unavailable(),
        };
    }
    let Some(name) = path.strip_prefix("/__control/") else {
        return (StatusCode::NOT_FOUND, error_body("not found"));
    };
    if name.is_empty() || name.contains('/') {
        return (
            StatusCode::NOT_FOUND,
            error_body("unknown control endpoint"),
        );
    }
    let body = match *method {
        Method::GET if matches!(name, "health" | "sessions" | "frames") => {
            query_to_json(uri.query().unwrap_or_default())
        }
        Method::GET => {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                error_body("this control endpoint takes POST"),
            )
        }
        Method::POST => {
            let raw = match read_body(headers, body).await {
                Ok(b) => b,
                Err(e) => return e,
            };
            match parse_json_object(&raw) {
                Ok(v) => v,
                Err(msg) => return (StatusCode::BAD_REQUEST, error_body(&msg)),
            }
        }
        _ => {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                error_body("use GET or POST"),
            )
        }
    };
    control(shared, name, body).await
}

async fn control(shared: &Shared, name: &str, body: Value) -> (StatusCode, String) {
    if is_injection(name) {
        shared.pressure.wait_drained().await;
    }
    let (reply, rx) = oneshot::channel();
    let event = Event::Control {
        endpoint: name.to_owned(),
        body,
        reply,
    };
    match ask(&shared.events, event, rx).await {
        Some(Ok(v)) => (StatusCode::OK, v.to_string()),
        Some(Err(e)) => {
            let status = if (400..=599).contains(&e.status) {
                status(e.status)
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (status, error_body(&e.message))
        }
        None => unavailable(),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn unavailable() -> (StatusCode, String) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        error_body("server is shutting down"),
    )
}

fn too_large() -> (StatusCode, String) {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        error_body("request body too large"),
    )
}

/// Reads the body, at most [`MAX_BODY_BYTES`]. A larger one is a 413, sent after reading the
/// rest of the upload when it is not huge (see [`MAX_DRAINED_BYTES`]).
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, (StatusCode, String)> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_DRAINED_BYTES as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                tracing::debug!(%e, "request body read failed");
                (StatusCode::BAD_REQUEST, error_body("cannot read the body"))
            })?;
            total = total.saturating_add(chunk.len());
            if total > MAX_DRAINED_BYTES {
                break;
            }
            if total <= MAX_BODY_BYTES {
                buf.extend_from_slice(&chunk);
            }
        }
        if total > MAX_BODY_BYTES {
            return Err(too_large());
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            error_body("request body timeout"),
        )),
    }
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

/// Parses `a=1&b=x` into a JSON object; integer-looking values become numbers.
fn query_to_json(query: &str) -> Value {
    let mut map = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = match v.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(v),
        };
        map.insert(k.to_owned(), value);
    }
    Value::Object(map)
}

/// A JSON `{"error": message}` body.
fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

async fn ask<T>(events: &mpsc::Sender<Event>, event: Event, rx: oneshot::Receiver<T>) -> Option<T> {
    events.send(event).await.ok()?;
    rx.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_become_json() {
        assert_eq!(
            query_to_json("since=3&x=y&flag"),
            serde_json::json!({"since": 3, "x": "y", "flag": ""})
        );
        assert_eq!(query_to_json(""), serde_json::json!({}));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(parse_json_object(b"  \n"), Ok(serde_json::json!({})));
        assert!(parse_json_object(b"[1]").is_err());
        assert!(parse_json_object(b"{nope").is_err());
        assert_eq!(
            parse_json_object(br#"{"a":1}"#),
            Ok(serde_json::json!({"a": 1}))
        );
    }

    #[test]
    fn only_event_making_endpoints_wait_for_backpressure() {
        assert!(is_injection("inbound_call"));
        assert!(is_injection("/__control/inbound_message/"));
        assert!(!is_injection("drop"));
        assert!(!is_injection("health"));
        assert!(!is_injection("reset"));
    }

    #[test]
    fn only_upgrade_websocket_is_a_websocket() {
        let mut h = HeaderMap::new();
        assert!(!wants_websocket(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("h2c, WebSocket"));
        assert!(wants_websocket(&h));
    }
}
