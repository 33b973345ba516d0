//! A deliberately small HTTP/1.1 request-head parser and response writer.
//!
//! relay-mock serves the control API and the WebSocket upgrade on one port, so every accepted
//! TCP stream starts with an HTTP request head. This module reads that head (bounded), decides
//! whether it is a WebSocket upgrade, and otherwise reads a `Content-Length` body (bounded) and
//! writes a `Connection: close` JSON response. Anything malformed becomes a 4xx, never a panic.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest accepted request head (request line plus headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most header lines accepted in one request.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Request method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// Path part of the request target, without the query string.
    pub path: String,
    /// Query string without the leading `?` (empty when absent).
    pub query: String,
    /// Header (lower-cased name, value) pairs in order of appearance.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header holds `token` in its comma-separated list (case-insensitive).
    fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether this request asks for a WebSocket upgrade.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == "GET"
            && self.header_has_token("upgrade", "websocket")
            && self.header_has_token("connection", "upgrade")
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed or the socket failed before a full head arrived; answer nothing.
    Io,
    /// The request is malformed or too large; answer with this status and message.
    Bad(u16, &'static str),
}

/// Reads bytes until the end of the request head. Returns the parsed head and any bytes read
/// past it (the start of the body or of the first WebSocket frame).
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Result<(RequestHead, Vec<u8>), ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let fut = async {
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(end) = find_head_end(&buf) {
                let head = parse_head(&buf[..end])?;
                let rest = buf[end..].to_vec();
                return Ok((head, rest));
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(ReadError::Bad(431, "request head too large"));
            }
            let n = stream.read(&mut chunk).await.map_err(|_| ReadError::Io)?;
            if n == 0 {
                return Err(ReadError::Io);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ReadError::Bad(408, "request head timeout")),
    }
}

/// Reads the `Content-Length` body, given the bytes already read past the head.
pub async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    mut already: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, ReadError> {
    if head.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad(
            411,
            "chunked bodies are not supported; send Content-Length",
        ));
    }
    let len = match head.header("content-length") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| ReadError::Bad(400, "invalid Content-Length"))?,
    };
    if len > MAX_BODY_BYTES {
        return Err(ReadError::Bad(413, "request body too large"));
    }
    if already.len() > len {
        // Pipelined data after the body: we only serve one request per connection.
        already.truncate(len);
    }
    let missing = len - already.len();
    if missing > 0 {
        let start = already.len();
        already.resize(len, 0);
        let fut = stream.read_exact(&mut already[start..]);
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(ReadError::Io),
            Err(_) => return Err(ReadError::Bad(408, "request body timeout")),
        }
    }
    Ok(already)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a request head (everything up to and including the blank line).
pub fn parse_head(raw: &[u8]) -> Result<RequestHead, ReadError> {
    let text =
        std::str::from_utf8(raw).map_err(|_| ReadError::Bad(400, "request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(ReadError::Bad(400, "malformed request line")),
    };
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad(400, "malformed method"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ReadError::Bad(505, "unsupported HTTP version"));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ReadError::Bad(400, "malformed header name"));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431, "too many headers"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let target = strip_authority(target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    Ok(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
    })
}

/// Turns an absolute-form target (`http://host:port/path`) into its origin form (`/path`).
fn strip_authority(target: &str) -> &str {
    for scheme in ["http://", "https://", "ws://", "wss://"] {
        if let Some(rest) = target.strip_prefix(scheme) {
            return match rest.find('/') {
                Some(i) => &rest[i..],
                None => "/",
            };
        }
    }
    target
}

/// Parses `a=1&b=x` into a JSON object; integer-looking values become numbers.
pub fn query_to_json(query: &str) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = match v.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(v),
        };
        map.insert(k.to_string(), value);
    }
    serde_json::Value::Object(map)
}

/// Standard reason phrase for the statuses this server uses.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Renders a complete `Connection: close` response. 204 and 304 carry no body and no
/// `Content-Length`, as HTTP requires.
pub fn render_response(status: u16, body: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let no_body = status == 204 || status == 304 || status < 200;
    if !no_body {
        out.push_str("Content-Type: application/json\r\n");
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    if !no_body {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

/// A JSON `{"error": message}` body.
pub fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Writes a response, half-closes, and lingers briefly so the peer reads the response before
/// the socket goes away (closing with unread input would send a TCP reset).
pub async fn respond_and_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, response: &[u8]) {
    if stream.write_all(response).await.is_err() {
        return;
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while total < 256 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_line_headers_and_query() {
        let raw = b"POST http://h:1/__control/frames?since=3&x=y HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
        let head = parse_head(raw).unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/__control/frames");
        assert_eq!(head.query, "since=3&x=y");
        assert_eq!(head.header("content-length"), Some("2"));
        assert_eq!(
            query_to_json(&head.query),
            serde_json::json!({"since": 3, "x": "y"})
        );
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            &b"\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\n bad: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n\xff: x\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(raw), Err(ReadError::Bad(..))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn detects_websocket_upgrade() {
        let raw =
            b"GET /relay HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        assert!(parse_head(raw).unwrap().is_websocket_upgrade());
        let raw = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(!parse_head(raw).unwrap().is_websocket_upgrade());
    }

    proptest::proptest! {
        #[test]
        fn parse_head_never_panics(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_head(&raw);
        }

        #[test]
        fn parse_head_never_panics_on_texty_input(raw in "[A-Z]{0,6} [ -~]{0,40} HTTP/1\\.[01]\r\n([ -~]{0,30}\r\n){0,5}\r\n") {
            let _ = parse_head(raw.as_bytes());
            let _ = query_to_json(&raw);
        }
    }

    #[test]
    fn renders_byte_lengths_and_bodyless_204() {
        let r = String::from_utf8(render_response(200, "{\"é\":1}", &[])).unwrap();
        assert!(r.contains("Content-Length: 8\r\n"), "{r}");
        let r = String::from_utf8(render_response(204, "ignored", &[])).unwrap();
        assert!(
            !r.contains("Content-Length") && r.ends_with("\r\n\r\n"),
            "{r}"
        );
    }
}
