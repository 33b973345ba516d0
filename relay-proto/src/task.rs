//! Relay tasks: the sans-IO builder of the `POST /api/relay/rest/tasks` request that delivers a
//! task, and the parser of its answer. Receiving tasks is
//! [`Event::Task`](crate::Event::Task).

use serde_json::{json, Value};

use crate::error::CommandError;

/// The path tasks are delivered to.
pub const TASK_PATH: &str = "/api/relay/rest/tasks";

/// A task producer for one project.
#[derive(Clone)]
pub struct Task {
    project: String,
    token: String,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("project", &self.project)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// An HTTP request to send as is: method, path, headers, body.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// `POST`.
    pub method: &'static str,
    /// [`TASK_PATH`].
    pub path: &'static str,
    /// Headers in order: Host, Authorization (Basic), Content-Type, Content-Length (bytes).
    pub headers: Vec<(String, String)>,
    /// The JSON body `{"context":…,"message":…}`.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for TaskRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if k.eq_ignore_ascii_case("authorization") {
                        "<redacted>"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("TaskRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl TaskRequest {
    /// The request as HTTP/1.1 bytes (with `Connection: close`).
    pub fn to_http1(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (k, v) in &self.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task delivery failed with HTTP {status}: {body}")]
pub struct TaskError {
    /// HTTP status.
    pub status: u16,
    /// Response body (lossy UTF-8).
    pub body: String,
}

impl Task {
    /// A producer; project and token must be non-empty.
    pub fn new(project: impl Into<String>, token: impl Into<String>) -> Result<Self, CommandError> {
        let (project, token) = (project.into(), token.into());
        if project.trim().is_empty() || token.trim().is_empty() {
            return Err(CommandError::invalid(
                "task credentials",
                "a Task needs a project and a token",
            ));
        }
        Ok(Task { project, token })
    }

    /// Builds the delivery request for `host` (e.g. `relay.signalwire.com` or `127.0.0.1:8080`).
    pub fn deliver_request(
        &self,
        host: &str,
        context: &str,
        message: &Value,
    ) -> Result<TaskRequest, CommandError> {
        if context.trim().is_empty() {
            return Err(CommandError::invalid("task context", "must not be empty"));
        }
        if host.trim().is_empty() {
            return Err(CommandError::invalid("task host", "must not be empty"));
        }
        let body = json!({"context": context, "message": message})
            .to_string()
            .into_bytes();
        let auth = base64(format!("{}:{}", self.project, self.token).as_bytes());
        Ok(TaskRequest {
            method: "POST",
            path: TASK_PATH,
            headers: vec![
                ("Host".into(), host.to_owned()),
                ("Authorization".into(), format!("Basic {auth}")),
                ("Content-Type".into(), "application/json".into()),
                // Bytes, not characters (the official SDK counts UTF-16 units: bug 30).
                ("Content-Length".into(), body.len().to_string()),
            ],
            body,
        })
    }
}

/// Judges the answer to a delivery: 204 is success, anything else an error carrying the status
/// and the body.
pub fn parse_deliver_response(status: u16, body: &[u8]) -> Result<(), TaskError> {
    if status == 204 {
        Ok(())
    } else {
        Err(TaskError {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        })
    }
}

/// Standard base64 with padding.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, ix) in idx.iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[*ix as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"project:token"), "cHJvamVjdDp0b2tlbg==");
    }

    #[test]
    fn content_length_counts_bytes() {
        let t = Task::new("p", "t").unwrap();
        let req = t
            .deliver_request("h", "office", &json!({"greeting": "héllo ✓"}))
            .unwrap();
        let cl = req
            .headers
            .iter()
            .find(|(k, _)| k == "Content-Length")
            .map(|(_, v)| v.clone());
        assert_eq!(cl, Some(req.body.len().to_string()));
        assert!(req.body.len() > String::from_utf8(req.body.clone()).unwrap().chars().count());
        assert!(
            !format!("{req:?}").contains("cDp0"),
            "auth is redacted in Debug"
        );
    }

    #[test]
    fn status_rule() {
        assert!(parse_deliver_response(204, b"").is_ok());
        let e = parse_deliver_response(401, b"nope").unwrap_err();
        assert_eq!((e.status, e.body.as_str()), (401, "nope"));
        assert!(Task::new("", "t").is_err());
    }
}
