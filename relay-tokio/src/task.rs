//! Task delivery (the Node SDK's `new Task(project, token).deliver(context, message)`) over
//! tokio: relay-proto builds the HTTP request and judges the answer; this module only moves
//! the bytes, over TLS for `https://` URLs (with the default `tls` feature).

use std::time::Duration;

use relay_proto::task::{parse_deliver_response, TaskError};
use relay_proto::Task;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The service's task endpoint base.
pub const RELAY_REST_URL: &str = "https://relay.signalwire.com";

/// Largest response read (the answer is a status line and a small body).
const MAX_RESPONSE: usize = 64 * 1024;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The arguments were invalid (empty context, bad URL); nothing was sent.
    #[error("invalid task delivery: {0}")]
    Invalid(String),
    /// The connection failed or broke.
    #[error("task delivery I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the timeout.
    #[error("task delivery timed out")]
    Timeout,
    /// The server answered something that is not HTTP.
    #[error("task delivery got a malformed answer: {0}")]
    BadResponse(String),
    /// The server answered with a status other than 204.
    #[error(transparent)]
    Rejected(#[from] TaskError),
}

/// Delivers `message` to the consumers of `context`: `POST <base_url>/api/relay/rest/tasks`
/// with Basic auth. `base_url` is [`RELAY_REST_URL`] for the service, or e.g.
/// `http://127.0.0.1:8080` for relay-mock. Succeeds on HTTP 204; any other status is
/// [`DeliverError::Rejected`] with the status and body (the Node SDK rejects with `undefined`).
pub async fn deliver_task(
    task: &Task,
    base_url: &str,
    context: &str,
    message: &Value,
    timeout: Duration,
) -> Result<(), DeliverError> {
    let (tls, authority) = if let Some(rest) = base_url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(DeliverError::Invalid(format!(
            "{base_url:?}: the URL must start with http:// or https://"
        )));
    };
    let authority = authority.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(DeliverError::Invalid(format!("{base_url:?} has no host")));
    }
    let default_port = if tls { 443 } else { 80 };
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, rest)) => (h, rest.strip_prefix(':').map(Some).unwrap_or(Some(""))),
            None => return Err(DeliverError::Invalid(format!("bad host in {base_url:?}"))),
        },
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| DeliverError::Invalid(format!("bad port in {base_url:?}")))?,
    };
    let request = task
        .deliver_request(authority, context, message)
        .map_err(|e| DeliverError::Invalid(e.to_string()))?
        .to_http1();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((host, port)).await?;
        if tls {
            exchange_tls(tcp, host, &request).await
        } else {
            exchange(tcp, &request).await
        }
    };
    let raw = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| DeliverError::Timeout)??;
    let (status, body) = parse_http_response(&raw)?;
    parse_deliver_response(status, body)?;
    Ok(())
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> Result<Vec<u8>, DeliverError> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(DeliverError::BadResponse("answer too large".into()));
        }
        // With the head and a Content-Length body complete, there is no need to wait for
        // the server to close.
        if response_complete(&raw) {
            return Ok(raw);
        }
    }
}

#[cfg(feature = "tls")]
async fn exchange_tls(
    tcp: tokio::net::TcpStream,
    host: &str,
    request: &[u8],
) -> Result<Vec<u8>, DeliverError> {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DeliverError::Invalid(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| DeliverError::Invalid(format!("{host:?}: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    exchange(stream, request).await
}

#[cfg(not(feature = "tls"))]
async fn exchange_tls(
    _tcp: tokio::net::TcpStream,
    _host: &str,
    _request: &[u8],
) -> Result<Vec<u8>, DeliverError> {
    Err(DeliverError::Invalid(
        "https:// needs relay-tokio's `tls` feature".into(),
    ))
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(head_end) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status_204 = head.split_whitespace().nth(1) == Some("204");
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(n) => raw.len() >= head_end + 4 + n,
        None => status_204,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status code and body of a raw HTTP/1.x response.
fn parse_http_response(raw: &[u8]) -> Result<(u16, &[u8]), DeliverError> {
    let head_end = find(raw, b"\r\n\r\n")
        .ok_or_else(|| DeliverError::BadResponse("no complete HTTP head".into()))?;
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| DeliverError::BadResponse("HTTP head is not text".into()))?;
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) if version.starts_with("HTTP/1.") => Ok((s, &raw[head_end + 4..])),
        _ => Err(DeliverError::BadResponse(format!(
            "bad status line {status_line:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses() {
        let (s, b) =
            parse_http_response(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope")
                .expect("valid");
        assert_eq!((s, b), (401, &b"nope"[..]));
        assert!(parse_http_response(b"garbage").is_err());
        assert!(parse_http_response(b"SSH-2.0 x\r\n\r\n").is_err());
        assert!(response_complete(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"
        ));
    }
}
