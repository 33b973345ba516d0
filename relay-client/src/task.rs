//! Task delivery, the Node SDK's `new Task(project, token).deliver(context, message)`, for any
//! runtime.
//!
//! relay-proto builds the request (Basic auth, JSON body, validation); the POST itself is one
//! blocking [`ureq`] call, run on the runtime's blocking pool ([`Runtime::spawn_blocking`], see
//! [`Task::with_runtime`]) or on a thread of its own, over rustls with the Mozilla root store
//! for `https://` (the `tls` feature). ureq bounds the whole exchange by the task's timeout.
//!
//! Why ureq: a maintained blocking HTTP client with few dependencies and no runtime of its own,
//! so the same code serves tokio and async-std; its TLS is rustls 0.23 with `ring` and
//! webpki-roots, the stack the WebSocket side uses, so the tree holds one rustls. reqwest would
//! tie delivery to tokio and add hyper, h2 and tower for a single request.

use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;

use relay_proto::task::{parse_deliver_response, TaskError, TASK_PATH};
use serde::Serialize;

use crate::runtime::Runtime;

/// The REST host of the SignalWire service, used unless [`Task::with_host`] says otherwise.
pub const DEFAULT_TASK_HOST: &str = "relay.signalwire.com";

/// How long a delivery may take unless [`Task::with_timeout`] says otherwise.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body read (the service answers 204 with no body; errors are short).
const MAX_RESPONSE: u64 = 64 * 1024;

/// Why a task could not be created or delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The arguments were invalid (empty project, token or context, a bad host, a message
    /// that is not JSON); nothing was sent.
    #[error("invalid task delivery: {0}")]
    Invalid(String),
    /// The host could not be resolved or reached.
    #[error("task delivery could not connect: {0}")]
    Connect(String),
    /// The TLS handshake failed, e.g. the server's certificate is not trusted.
    #[error("task delivery TLS failure: {0}")]
    Tls(String),
    /// The connection broke during the exchange.
    #[error("task delivery I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// No answer within the task's timeout.
    #[error("task delivery timed out")]
    Timeout,
    /// The server answered something that is not a usable HTTP response.
    #[error("task delivery got a malformed answer: {0}")]
    BadResponse(String),
    /// The server answered with a status other than 204 (e.g. 401 for bad credentials).
    #[error(transparent)]
    Rejected(#[from] TaskError),
}

/// A task producer for one project (the Node SDK's `Relay.Task`): delivers JSON messages to
/// the consumers listening on a context, which receive them in `on_task`.
///
/// The same type is re-exported as `relay_tokio::Task` and `relay_async_std::Task`; it works
/// on any runtime.
///
/// ```no_run
/// use relay_client::{DeliverError, Task};
///
/// #[derive(serde::Serialize)]
/// struct Job<'a> {
///     action: &'a str,
///     number: &'a str,
/// }
///
/// # async fn demo() -> Result<(), DeliverError> {
/// let task = Task::new("my-project", "my-token")?;
/// task.deliver("office", &Job { action: "call", number: "+15551230001" })
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Task {
    inner: relay_proto::Task,
    host: String,
    timeout: Duration,
    runtime: Option<Arc<dyn Runtime>>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("inner", &self.inner)
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

impl Task {
    /// A producer for `project` authenticated with `token`, delivering to the service
    /// ([`DEFAULT_TASK_HOST`], https) within [`DEFAULT_TASK_TIMEOUT`]. Both must be non-empty.
    pub fn new(project: impl Into<String>, token: impl Into<String>) -> Result<Self, DeliverError> {
        let inner = relay_proto::Task::new(project, token)
            .map_err(|e| DeliverError::Invalid(e.to_string()))?;
        Ok(Task {
            inner,
            host: DEFAULT_TASK_HOST.to_owned(),
            timeout: DEFAULT_TASK_TIMEOUT,
            runtime: None,
        })
    }

    /// Runs the blocking HTTP exchange on `runtime`'s blocking pool
    /// ([`Runtime::spawn_blocking`]) instead of a thread of its own per delivery.
    pub fn with_runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Arc::new(runtime));
        self
    }

    /// Delivers to another host: a bare `host[:port]` means https; `https://host[:port]` or
    /// `http://host:port` (plain http, e.g. for relay-mock's
    /// `RunningServer::http_base()`) say it explicitly.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Bounds each delivery, connection and TLS handshake included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The host deliveries go to, as given to [`with_host`](Self::with_host).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The bound of one delivery.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Delivers `message` (any `Serialize` value, sent as JSON) to the consumers of `context`:
    /// `POST <host>/api/relay/rest/tasks` with Basic auth. Succeeds on HTTP 204; any other
    /// status is [`DeliverError::Rejected`] with the status and body (the Node SDK rejects
    /// with `undefined`). Resolves within the task's timeout.
    pub async fn deliver<M: Serialize + ?Sized>(
        &self,
        context: &str,
        message: &M,
    ) -> Result<(), DeliverError> {
        let post = Post::new(&self.inner, &self.host, context, message, self.timeout)?;
        let (tx, rx) = oneshot::channel();
        let job = Box::new(move || {
            // The receiver is gone only if the caller stopped waiting.
            let _ = tx.send(post.send());
        });
        match &self.runtime {
            Some(runtime) => runtime.spawn_blocking(job),
            None => {
                std::thread::Builder::new()
                    .name("relay-task".into())
                    .spawn(job)
                    .map_err(DeliverError::Io)?;
            }
        }
        // ureq's global timeout bounds the whole exchange, name lookup included (ureq resolves
        // on a helper thread when a timeout is set), so the answer always comes.
        rx.await.map_err(|_| {
            DeliverError::Io(std::io::Error::other(
                "the delivery thread ended without an answer",
            ))
        })?
    }
}

/// One prepared delivery: everything the blocking thread needs, owned.
struct Post {
    url: String,
    authorization: String,
    body: Vec<u8>,
    timeout: Duration,
}

impl Post {
    fn new<M: Serialize + ?Sized>(
        task: &relay_proto::Task,
        host: &str,
        context: &str,
        message: &M,
        timeout: Duration,
    ) -> Result<Self, DeliverError> {
        let base = base_url(host)?;
        let message = serde_json::to_value(message)
            .map_err(|e| DeliverError::Invalid(format!("the message is not JSON: {e}")))?;
        let authority = base.split_once("://").map_or("", |(_, a)| a);
        let request = task
            .deliver_request(authority, context, &message)
            .map_err(|e| DeliverError::Invalid(e.to_string()))?;
        let authorization = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| DeliverError::Invalid("no Authorization header built".into()))?;
        Ok(Post {
            url: format!("{base}{TASK_PATH}"),
            authorization,
            body: request.body,
            timeout,
        })
    }

    /// The blocking exchange (run on a blocking thread).
    fn send(self) -> Result<(), DeliverError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let mut response = agent
            .post(&self.url)
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(&self.body[..])
            .map_err(map_error)?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(map_error)?;
        tracing::debug!(status, url = %self.url, "task delivery answered");
        parse_deliver_response(status, &body)?;
        Ok(())
    }
}

/// `scheme://authority` (no trailing slash) for a host option.
fn base_url(host: &str) -> Result<String, DeliverError> {
    let host = host.trim();
    let (scheme, authority) = match host.split_once("://") {
        Some((scheme @ ("http" | "https"), authority)) => (scheme, authority),
        Some((other, _)) => {
            return Err(DeliverError::Invalid(format!(
                "{host:?}: the scheme {other:?} is not http or https"
            )))
        }
        None => ("https", host),
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ', '@']) {
        return Err(DeliverError::Invalid(format!(
            "{host:?} is not a host[:port]"
        )));
    }
    Ok(format!("{scheme}://{authority}"))
}

fn map_error(e: ureq::Error) -> DeliverError {
    match e {
        ureq::Error::Timeout(_) => DeliverError::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DeliverError::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            DeliverError::Connect(io.to_string())
        }
        ureq::Error::Io(io) => match tls_failure(&io) {
            Some(tls) => DeliverError::Tls(tls),
            None => DeliverError::Io(io),
        },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            DeliverError::Connect(e.to_string())
        }
        ureq::Error::BadUri(uri) => DeliverError::Invalid(format!("bad URL {uri:?}")),
        ureq::Error::TlsRequired => DeliverError::Invalid(
            "https:// needs the `tls` feature (relay-client, relay-tokio or relay-async-std)"
                .into(),
        ),
        #[cfg(feature = "tls")]
        ureq::Error::Rustls(tls) => DeliverError::Tls(tls.to_string()),
        ureq::Error::Tls(msg) => DeliverError::Tls(msg.to_owned()),
        other => DeliverError::BadResponse(other.to_string()),
    }
}

/// The rustls error an I/O error carries (ureq reports handshake failures that way).
#[cfg(feature = "tls")]
fn tls_failure(io: &std::io::Error) -> Option<String> {
    io.get_ref()?
        .downcast_ref::<rustls::Error>()
        .map(ToString::to_string)
}

#[cfg(not(feature = "tls"))]
fn tls_failure(_io: &std::io::Error) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_options_become_base_urls() {
        let ok = |h: &str| base_url(h).expect(h);
        assert_eq!(ok(DEFAULT_TASK_HOST), "https://relay.signalwire.com");
        assert_eq!(ok("https://example.com:8443/"), "https://example.com:8443");
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("[::1]:8080"), "https://[::1]:8080");
        for bad in ["", "ftp://x", "http://", "http://a/b", "a b", "user@host"] {
            assert!(
                matches!(base_url(bad), Err(DeliverError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let task = Task::new("my-project", "secret-token")
            .expect("credentials")
            .with_host("http://127.0.0.1:8080");
        let shown = format!("{task:?}");
        assert!(
            shown.contains("my-project") && shown.contains("127.0.0.1:8080"),
            "{shown}"
        );
        assert!(!shown.contains("secret-token"), "{shown}");
        assert_eq!(task.host(), "http://127.0.0.1:8080");
        assert_eq!(task.timeout(), DEFAULT_TASK_TIMEOUT);
    }

    #[test]
    fn a_prepared_post_carries_basic_auth_and_the_json_body() {
        let task = relay_proto::Task::new("p", "t").expect("credentials");
        let post = Post::new(
            &task,
            "http://h:1",
            "office",
            &serde_json::json!({"n": 1}),
            DEFAULT_TASK_TIMEOUT,
        )
        .expect("valid");
        assert_eq!(post.url, "http://h:1/api/relay/rest/tasks");
        assert_eq!(post.authorization, "Basic cDp0");
        let body: serde_json::Value = serde_json::from_slice(&post.body).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"context": "office", "message": {"n": 1}})
        );
        assert!(matches!(
            Post::new(&task, "h", " ", &1, DEFAULT_TASK_TIMEOUT),
            Err(DeliverError::Invalid(_))
        ));
    }
}
