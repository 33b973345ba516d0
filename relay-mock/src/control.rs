//! A typed client of relay-mock's HTTP control API (`shared/protocol/CONTROL_API.md`), for
//! tests and examples that drive a mock running elsewhere (another process, another runtime).
//!
//! Every request is bounded by a timeout (10 s unless [`ControlClient::with_timeout`]); a
//! non-2xx answer is a [`ControlClientError::Status`] carrying the server's `error` message.
//! Plain HTTP only (the mock serves no TLS). Behind the default-on `control-client` feature.
//!
//! ```no_run
//! # async fn demo() -> Result<(), relay_mock::control::ControlClientError> {
//! use relay_mock::control::{ControlClient, InboundCall};
//! let control = ControlClient::new("http://127.0.0.1:8080")?;
//! let call = control.inbound_call(&InboundCall::phone("office")).await?;
//! control.end_call(&call.call_id, "hangup").await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use relay_proto::wire::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::server::Named;

/// Default bound of every request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a control request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlClientError {
    /// The base URL is not `http://HOST:PORT`.
    #[error("invalid control base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting, sending or reading failed.
    #[error("control request failed: {0}")]
    Transport(String),
    /// No complete answer within the timeout.
    #[error("no control answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with a non-2xx status.
    #[error("control request answered {status}: {message}")]
    Status {
        /// HTTP status (400 bad body, 404 nothing to act on, 401 bad task credentials, ...).
        status: u16,
        /// The `error` of the JSON body, or the raw body.
        message: String,
    },
    /// A 2xx answer that is not the expected JSON.
    #[error("unexpected control answer: {0}")]
    Decode(String),
}

/// The device of an inbound call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    /// A PSTN call (`device.type: "phone"`).
    #[default]
    Phone,
    /// A SIP call (`device.type: "sip"`, with headers).
    Sip,
}

/// `POST /__control/inbound_call`: an inbound call arriving on a context.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InboundCall {
    /// Context it arrives on.
    pub context: String,
    /// Caller (server default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Callee (server default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Phone or SIP.
    #[serde(rename = "type")]
    pub kind: CallKind,
    /// Only sessions of this project receive it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// SIP headers (`[{"name": ..., "value": ...}]`), for [`CallKind::Sip`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Value>,
}

impl InboundCall {
    /// A phone call on `context`.
    pub fn phone(context: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            ..Self::default()
        }
    }

    /// A SIP call on `context`.
    pub fn sip(context: impl Into<String>) -> Self {
        Self {
            kind: CallKind::Sip,
            ..Self::phone(context)
        }
    }

    /// Sets the caller and callee.
    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self.to = Some(to.into());
        self
    }
}

/// The answer to an injected inbound call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InjectedCall {
    /// The new call's id.
    pub call_id: String,
    /// Its node id.
    pub node_id: String,
    /// The session it was routed to.
    pub sessionid: String,
}

/// `POST /__control/inbound_message`: an inbound SMS/MMS on a context.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InboundMessage {
    /// Context it arrives on.
    pub context: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Text.
    pub body: String,
    /// Media URLs.
    pub media: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Only sessions of this project receive it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl InboundMessage {
    /// A text message on `context`.
    pub fn text(context: impl Into<String>, from: &str, to: &str, body: &str) -> Self {
        Self {
            context: context.into(),
            from: from.to_owned(),
            to: to.to_owned(),
            body: body.to_owned(),
            ..Self::default()
        }
    }
}

/// The answer to an injected inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct InjectedMessage {
    /// The message's id.
    pub message_id: String,
    /// The session it was routed to.
    pub sessionid: String,
}

/// One session as `GET /__control/sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// `blade.connect`'s `sessionid`.
    pub sessionid: String,
    /// Its project.
    pub project: String,
    /// Its protocol (empty before `signalwire.setup`).
    #[serde(default)]
    pub protocol: String,
    /// Contexts it receives.
    #[serde(default)]
    pub contexts: Vec<String>,
    /// Whether its WebSocket is open.
    pub connected: bool,
    /// Its connection number while connected.
    #[serde(default)]
    pub conn: Option<u64>,
}

/// Direction of a recorded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FrameDir {
    /// Client to server.
    #[serde(rename = "c2s")]
    C2s,
    /// Server to client.
    #[serde(rename = "s2c")]
    S2c,
    /// A marker (socket open/close, control request).
    #[serde(rename = "ctl")]
    Ctl,
}

/// One recorded frame.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Frame {
    /// Sequence number (survives drops).
    pub seq: u64,
    /// Milliseconds since the first recorded line.
    pub ts: u64,
    /// Direction.
    pub dir: FrameDir,
    /// Connection number, when tied to one.
    #[serde(default)]
    pub conn: Option<u64>,
    /// The frame (JSON-RPC object, raw text as a string, or marker object).
    pub frame: Value,
}

/// `GET /__control/frames?since=N`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Frames {
    /// Frames with `seq >= since` still in memory.
    pub frames: Vec<Frame>,
    /// The `since` to pass next time.
    pub next: u64,
    /// Lines dropped from memory so far (older than every frame kept).
    #[serde(default)]
    pub dropped: u64,
}

#[derive(Deserialize)]
struct Armed {
    pending: u64,
}

#[derive(Deserialize)]
struct Batch {
    calls: Vec<InjectedCall>,
}

#[derive(Deserialize)]
struct Sessions {
    sessions: Vec<SessionInfo>,
}

/// A typed client of one relay-mock's control API.
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    timeout: Duration,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ControlClient {
    /// A client of the mock at `base` (`http://HOST:PORT`, as
    /// [`RunningServer::http_base`](crate::net::RunningServer::http_base) gives). Needs a
    /// tokio runtime when requests are made.
    pub fn new(base: &str) -> Result<Self, ControlClientError> {
        let invalid = |reason: &str| ControlClientError::InvalidUrl {
            url: base.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: hyper::Uri = base.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("the scheme must be http"));
        }
        if uri.authority().is_none() {
            return Err(invalid("no host"));
        }
        if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
            return Err(invalid("give only http://HOST:PORT"));
        }
        Ok(Self::with_base(base.trim_end_matches('/').to_owned()))
    }

    /// A client of the mock listening on `addr`.
    pub fn for_addr(addr: std::net::SocketAddr) -> Self {
        Self::with_base(format!("http://{addr}"))
    }

    fn with_base(base: String) -> Self {
        Self {
            base,
            timeout: DEFAULT_TIMEOUT,
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Bounds every request by `timeout` instead of [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET /__control/health`.
    pub async fn health(&self) -> Result<Value, ControlClientError> {
        self.get("/__control/health").await
    }

    /// `POST /__control/reset`: forget armed outcomes, calls and timers (sessions stay).
    pub async fn reset(&self) -> Result<(), ControlClientError> {
        self.post::<Value>("reset", json!({})).await.map(drop)
    }

    /// `GET /__control/sessions`.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, ControlClientError> {
        let s: Sessions = self.get("/__control/sessions").await?;
        Ok(s.sessions)
    }

    /// `GET /__control/frames?since=N`.
    pub async fn frames(&self, since: u64) -> Result<Frames, ControlClientError> {
        self.get(&format!("/__control/frames?since={since}")).await
    }

    /// `POST /__control/inbound_call`.
    pub async fn inbound_call(
        &self,
        call: &InboundCall,
    ) -> Result<InjectedCall, ControlClientError> {
        self.post("inbound_call", to_value(call)?).await
    }

    /// `POST /__control/inbound_call` with `count`: `count` calls (1 to 10,000) in one request,
    /// each routed on its own.
    pub async fn inbound_calls(
        &self,
        call: &InboundCall,
        count: u32,
    ) -> Result<Vec<InjectedCall>, ControlClientError> {
        let mut body = to_value(call)?;
        body["count"] = json!(count);
        let batch: Batch = self.post("inbound_call", body).await?;
        Ok(batch.calls)
    }

    /// `POST /__control/inbound_message`.
    pub async fn inbound_message(
        &self,
        message: &InboundMessage,
    ) -> Result<InjectedMessage, ControlClientError> {
        self.post("inbound_message", to_value(message)?).await
    }

    /// `POST /__control/next`: arm a one-shot named `outcome` (CONTROL_API.md's table; see
    /// [`Named::parse`]) for the next request with `method`. Returns how many are armed for it.
    pub async fn next(&self, method: Method, outcome: &Named) -> Result<u64, ControlClientError> {
        self.arm(method, json!(outcome.wire(method))).await
    }

    /// `POST /__control/next` with outcome `no_response`: the next `method` is never answered.
    pub async fn next_no_response(&self, method: Method) -> Result<u64, ControlClientError> {
        self.arm(method, json!("no_response")).await
    }

    /// `POST /__control/next` with outcome `error_code`: the next `method` is answered with the
    /// relay result `{"code": code, "message": message}`.
    pub async fn next_error_code(
        &self,
        method: Method,
        code: &str,
        message: &str,
    ) -> Result<u64, ControlClientError> {
        let body = json!({"method": method, "outcome": "error_code", "code": code,
            "message": message});
        let a: Armed = self.post("next", body).await?;
        Ok(a.pending)
    }

    async fn arm(&self, method: Method, outcome: Value) -> Result<u64, ControlClientError> {
        let a: Armed = self
            .post("next", json!({"method": method, "outcome": outcome}))
            .await?;
        Ok(a.pending)
    }

    /// `POST /__control/end_call`: the far end hangs up.
    pub async fn end_call(&self, call_id: &str, reason: &str) -> Result<(), ControlClientError> {
        self.post::<Value>("end_call", json!({"call_id": call_id, "reason": reason}))
            .await
            .map(drop)
    }

    /// `POST /__control/ping`: a server-initiated `blade.ping` to one session (or every live
    /// one). Returns how many were sent.
    pub async fn ping(&self, sessionid: Option<&str>) -> Result<u64, ControlClientError> {
        let v: Value = self.post("ping", session_body(sessionid)).await?;
        count(&v, "sent")
    }

    /// `POST /__control/drop` (a transport fault): kill the socket of one session (or every
    /// live one) without a close frame; the sessions survive. Returns how many were dropped.
    pub async fn drop_connection(
        &self,
        sessionid: Option<&str>,
    ) -> Result<u64, ControlClientError> {
        let v: Value = self.post("drop", session_body(sessionid)).await?;
        count(&v, "dropped")
    }

    /// `POST /__control/blade_disconnect`: send `blade.disconnect`, then close with 1001 after
    /// `close_after_ms` (server default 500; negative: never). Returns how many were sent.
    pub async fn blade_disconnect(
        &self,
        sessionid: Option<&str>,
        close_after_ms: Option<i64>,
    ) -> Result<u64, ControlClientError> {
        let mut body = session_body(sessionid);
        if let Some(ms) = close_after_ms {
            body["close_after_ms"] = json!(ms);
        }
        let v: Value = self.post("blade_disconnect", body).await?;
        count(&v, "sent")
    }

    /// `POST /api/relay/rest/tasks` (what the SDK's `Task.deliver()` does): deliver `message`
    /// to the session receiving `context`, authenticated as `project:token`.
    pub async fn deliver_task(
        &self,
        project: &str,
        token: &str,
        context: &str,
        message: Value,
    ) -> Result<(), ControlClientError> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{project}:{token}"));
        let body = json!({"context": context, "message": message}).to_string();
        let auth = format!("Basic {credentials}");
        let (status, bytes) = self
            .send(
                hyper::Method::POST,
                "/api/relay/rest/tasks",
                body,
                Some(auth),
            )
            .await?;
        check(status, &bytes).map(drop)
    }

    /// Any control endpoint: `POST /__control/<endpoint>` with `body`; the JSON answer.
    pub async fn control(&self, endpoint: &str, body: Value) -> Result<Value, ControlClientError> {
        self.post(endpoint, body).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlClientError> {
        let (status, bytes) = self
            .send(hyper::Method::GET, path, String::new(), None)
            .await?;
        decode(check(status, &bytes)?)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: Value,
    ) -> Result<T, ControlClientError> {
        let path = format!("/__control/{endpoint}");
        let (status, bytes) = self
            .send(hyper::Method::POST, &path, body.to_string(), None)
            .await?;
        decode(check(status, &bytes)?)
    }

    async fn send(
        &self,
        method: hyper::Method,
        path: &str,
        body: String,
        authorization: Option<String>,
    ) -> Result<(u16, Bytes), ControlClientError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(auth) = authorization {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ControlClientError::Transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| ControlClientError::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ControlClientError::Transport(e.to_string()))?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ControlClientError::Timeout(self.timeout))?
    }
}

fn to_value(v: &impl Serialize) -> Result<Value, ControlClientError> {
    serde_json::to_value(v).map_err(|e| ControlClientError::Decode(e.to_string()))
}

fn session_body(sessionid: Option<&str>) -> Value {
    match sessionid {
        Some(s) => json!({ "sessionid": s }),
        None => json!({}),
    }
}

fn count(v: &Value, key: &str) -> Result<u64, ControlClientError> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| ControlClientError::Decode(format!("no `{key}` count in {v}")))
}

/// A 2xx body, or the error the server gave.
fn check(status: u16, body: &Bytes) -> Result<&Bytes, ControlClientError> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    Err(ControlClientError::Status { status, message })
}

fn decode<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlClientError> {
    serde_json::from_slice(body).map_err(|e| ControlClientError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(ControlClient::new("http://127.0.0.1:8080").is_ok());
        assert!(ControlClient::new("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "127.0.0.1:8080",
            "https://h:1",
            "http://h:1/x",
            "ws://h:1",
            "nope",
        ] {
            assert!(
                matches!(
                    ControlClient::new(bad),
                    Err(ControlClientError::InvalidUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn inbound_call_bodies() {
        let v = serde_json::to_value(InboundCall::phone("office")).unwrap();
        assert_eq!(v, json!({"context": "office", "type": "phone"}));
        let v = serde_json::to_value(InboundCall::sip("x").between("a", "b")).unwrap();
        assert_eq!(
            v,
            json!({"context": "x", "type": "sip", "from": "a", "to": "b"})
        );
    }

    #[test]
    fn errors_carry_the_server_message() {
        let body = Bytes::from_static(br#"{"error":"no live session"}"#);
        assert_eq!(
            check(404, &body),
            Err(ControlClientError::Status {
                status: 404,
                message: "no live session".into()
            })
        );
        let raw = Bytes::from_static(b"oops");
        assert!(
            matches!(check(500, &raw), Err(ControlClientError::Status { message, .. }) if message == "oops")
        );
        assert!(check(204, &raw).is_ok());
    }
}
