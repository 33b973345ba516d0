//! relay-client against an independent Relay server: a small scripted server written from
//! PROTOCOL.md alone (no relay-mock code, no relay-mock frame writers), speaking the protocol
//! the way other servers may.
//!
//! What it does differently from relay-mock, everywhere the protocol allows:
//!
//! * every frame pretty-printed, with spaces, tabs, CR/LF between tokens;
//! * members in other orders (`params` before `method`, `result` before `id`, the inner
//!   event's `params` before `event_type`, `event` after `params`, ...), one layout per
//!   broadcast in turn, so the client's one-pass reader and its general path both read them;
//! * unknown members at every level (envelope, Blade result, relay result, broadcast, inner
//!   event, payload, device);
//! * optional members missing (`jsonrpc` on some frames, `timestamp`, `event_channel`,
//!   `project_id`, `tag` on a leg's later states, `master_nodeid`, `expires_at`, the dial
//!   answer's `call`, the record url of the `finished` event, ...), and `"error": null` on
//!   successful answers;
//! * integer timestamps, numbers as strings (`size`) and integers where floats are usual;
//! * escaped characters in strings and member names (`\/`, `\u0041`, `\u002d`, `\u002e`),
//!   including the echoed request ids, the relay protocol, call ids, urls and event names;
//! * server-originated `blade.ping` requests in the middle of flows and during the handshake,
//!   with and without params, with string and numeric ids (the client must answer, with the
//!   same id), and a WebSocket-level ping;
//! * component and call events arriving before the command's execute response (§6.5): a
//!   whole dial, answer states, a play, a recording; an inbound call before the answer to
//!   `signalwire.receive`;
//! * duplicate state events (and the inbound call's first state again), duplicate dial and
//!   component events, unknown calling event types, unknown broadcast events;
//! * relay `code` as the string `"200"`, as servers send it.
//!
//! Every await is bounded: the client side by [`bounded`], the server side by [`STEP`].

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use relay_client::{ClientOptions, Events, RelayClient, RelayConsumer};
use relay_proto::calling::{
    CallEvent, CallState, ComponentKind, Device, DialParams, DialState, EndReason, Media,
    PlayParams, RecordFormat, RecordParams, RecordState,
};
use relay_proto::{
    CallId, Event, MessageEventKind, MessageId, MessageParams, MessageState, SessionConfig,
    StopReason,
};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

/// The bound of every client-side await.
const LIMIT: Duration = Duration::from_secs(20);
/// The bound of every server-side read.
const STEP: Duration = Duration::from_secs(15);

const PROJECT: &str = "22222222-2222-4222-8222-222222222222";
/// The relay protocol, as the client must decode it; the server spells it escaped.
const PROTO: &str = "signalwire_abcdef0123456789_66666666-6666-4666-8666-666666666666";
const PROTO_ESCAPED: &str =
    r"signalwire_\u0061bcdef0123456789_66666666\u002d6666-4666-8666-666666666666";
const SERVER_NODE: &str = "77777777-7777-4777-8777-777777777777@west-us";

/// Runs `fut`, failing the test if it takes longer than [`LIMIT`].
async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(LIMIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out: {what}"),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON text in this server's own spelling.
// ---------------------------------------------------------------------------------------------

/// A JSON value as this server writes it: objects keep the members in the order given
/// (serde_json's map would sort them), and leaves are JSON text written as is.
#[derive(Clone, Debug)]
enum J {
    Text(String),
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
}

impl J {
    /// Pretty text: members on their own lines, indented with tabs and spaces, with spaces
    /// around the colons and a CR before some newlines.
    fn pretty(&self) -> String {
        let mut out = String::from("\n ");
        self.write(&mut out, 0);
        out.push_str("\r\n");
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| {
            for i in 0..d {
                out.push(if i % 2 == 0 { '\t' } else { ' ' });
                out.push(' ');
            }
        };
        match self {
            J::Text(t) => out.push_str(t),
            J::Obj(members) if members.is_empty() => out.push_str("{ }"),
            J::Obj(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    indent(out, depth + 1);
                    out.push_str(k);
                    out.push_str(" :\t");
                    v.write(out, depth + 1);
                    if i + 1 < members.len() {
                        out.push_str(" ,");
                    }
                    out.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
                }
                indent(out, depth);
                out.push('}');
            }
            J::Arr(items) if items.is_empty() => out.push_str("[\n]"),
            J::Arr(items) => {
                out.push_str("[ ");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" ,\n");
                        indent(out, depth + 1);
                    }
                    v.write(out, depth + 1);
                }
                out.push_str(" ]");
            }
        }
    }

    /// Appends a member (for frames built in steps).
    fn with(mut self, key: &str, value: impl Into<J>) -> J {
        if let J::Obj(m) = &mut self {
            m.push((key_text(key), value.into()));
        }
        self
    }
}

/// A member name as JSON text; a name holding a backslash is written as is (already escaped).
fn key_text(k: &str) -> String {
    if k.contains('\\') {
        format!("\"{k}\"")
    } else {
        json!(k).to_string()
    }
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Text(json!(s).to_string())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Text(json!(s).to_string())
    }
}
impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Text(json!(s).to_string())
    }
}
impl From<i64> for J {
    fn from(n: i64) -> J {
        J::Text(n.to_string())
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Text(b.to_string())
    }
}
/// A tree (its keys sorted, as serde_json writes them), pretty-printed.
impl From<Value> for J {
    fn from(v: Value) -> J {
        J::Text(serde_json::to_string_pretty(&v).unwrap_or_default())
    }
}
impl From<Vec<J>> for J {
    fn from(items: Vec<J>) -> J {
        J::Arr(items)
    }
}

/// An object with its members in this order.
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        J::Obj(vec![$((key_text($k), J::from($v))),*])
    };
}

/// A string in an escaped spelling: `/` as `\/`, capitals, `+` and every other `-` or `.`
/// as `\uXXXX`. It decodes to `s`.
fn esc(s: &str) -> J {
    let mut out = String::from("\"");
    let mut dashes = 0;
    for c in s.chars() {
        match c {
            '/' => out.push_str("\\/"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            'A'..='Z' | '+' => out.push_str(&format!("\\u{:04X}", c as u32)),
            '-' | '.' => {
                dashes += 1;
                if dashes % 2 == 1 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    J::Text(out)
}

fn null() -> J {
    J::Text("null".into())
}

// ---------------------------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------------------------

/// One client connection of the scripted server.
struct Peer {
    ws: WebSocketStream<TcpStream>,
    /// Client requests read while waiting for something else.
    backlog: VecDeque<Value>,
    /// Ids of this server's requests the client answered (as the client wrote them), with
    /// the answers.
    answers: Vec<(Value, Value)>,
    /// Keepalive pings of the client answered so far.
    client_pings: usize,
    /// How the next broadcast is laid out (they take turns).
    layout: usize,
    /// Server-made ids.
    next_id: usize,
    /// Relay requests answered so far.
    answered: usize,
    /// Pings sent during the handshake.
    early_pings: Vec<Value>,
    /// Payloads of the WebSocket pongs the client sent.
    pongs: Vec<Vec<u8>>,
}

impl Peer {
    async fn send(&mut self, frame: J) {
        let text = frame.pretty();
        // The frame is valid JSON, whatever its spelling.
        assert!(
            serde_json::from_str::<Value>(&text).is_ok(),
            "the server wrote invalid JSON: {text}"
        );
        tokio::time::timeout(STEP, self.ws.send(WsMessage::Text(text)))
            .await
            .expect("send in time")
            .expect("send");
    }

    fn server_id(&mut self) -> String {
        self.next_id += 1;
        format!("bbbbbbbb-0000-4000-8000-{:012}", self.next_id)
    }

    /// Reads one client frame: answers a keepalive ping, records an answer to our request
    /// (both `Some(None)`), returns a request. `None` when the client closed the connection.
    async fn read(&mut self) -> Option<Option<Value>> {
        let msg = tokio::time::timeout(STEP, self.ws.next())
            .await
            .expect("a client frame in time");
        let text = match msg {
            None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return None,
            Some(Ok(WsMessage::Text(t))) => t,
            Some(Ok(WsMessage::Pong(payload))) => {
                self.pongs.push(payload);
                return Some(None);
            }
            Some(Ok(_)) => return Some(None),
        };
        let v: Value = serde_json::from_str(&text).expect("the client sends JSON");
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        match v.get("method").and_then(Value::as_str) {
            Some("blade.ping") => self.answer_client_ping(&v).await,
            Some(_) => return Some(Some(v)),
            None => {
                assert!(
                    v.get("error").is_none(),
                    "client answered with an error: {v}"
                );
                assert!(v["result"].is_object(), "{v}");
                self.answers.push((v["id"].clone(), v["result"].clone()));
            }
        }
        Some(None)
    }

    /// A keepalive ping of the client: answered in a different shape each time.
    async fn answer_client_ping(&mut self, ping: &Value) {
        self.client_pings += 1;
        let id = ping["id"].as_str().expect("ping id").to_owned();
        let frame = match self.client_pings % 3 {
            0 => obj! { "result" => obj!{}, "id" => esc(&id) },
            1 => obj! {
                "id" => id.as_str(),
                "result" => obj!{ "timestamp" => 1_700_000_000_i64, "x_load" => json!([1, 2]) },
                "jsonrpc" => "2.0",
            },
            _ => obj! {
                "x_trace" => obj!{ "hop" => 3_i64 },
                "result" => obj!{ "payload" => null() },
                "jsonrpc" => "2.0",
                "id" => id.as_str(),
            },
        };
        self.send(frame).await;
    }

    /// The next client request that is not a keepalive ping.
    async fn next_request(&mut self) -> Value {
        if let Some(v) = self.backlog.pop_front() {
            return v;
        }
        loop {
            if let Some(v) = self.read().await.expect("the client is still connected") {
                return v;
            }
        }
    }

    /// The next request, which must be the Blade method `method`.
    async fn expect_blade(&mut self, method: &str) -> Value {
        let v = self.next_request().await;
        assert_eq!(v["method"], method, "{v}");
        v
    }

    /// The next request, which must be a `blade.execute` of the relay method `method` with
    /// our protocol.
    async fn expect_execute(&mut self, method: &str) -> Value {
        let v = self.expect_blade("blade.execute").await;
        assert_eq!(v["params"]["method"], method, "{v}");
        assert_eq!(v["params"]["protocol"], PROTO, "{v}");
        v
    }

    /// A server `blade.ping` in the middle of a flow, in one of three shapes; returns the id
    /// the client must answer with ([`Peer::ping_answered`] checks that it did).
    async fn server_ping(&mut self, shape: Ping) -> Value {
        let id = self.server_id();
        let (frame, id) = match shape {
            // Params (echoed by the client), the id escaped.
            Ping::Params => (
                obj! {
                    "params" => obj!{
                        "timestamp" => 1_556_036_283_i64,
                        "payload" => J::Text(r#""x\/y""#.into()),
                    },
                    "method" => "blade.ping",
                    "id" => esc(&id),
                    "jsonrpc" => "2.0",
                },
                json!(id),
            ),
            // No params, no jsonrpc, the method escaped.
            Ping::Bare => (
                obj! { "id" => id.as_str(), "method" => esc("blade.ping") },
                json!(id),
            ),
            // A number as the id (JSON-RPC 2.0 allows it): the answer must carry the number.
            Ping::NumericId => {
                let n = 9_000 + self.next_id as i64;
                (
                    obj! {
                        "jsonrpc" => "2.0",
                        "id" => n,
                        "params" => obj!{},
                        "method" => "blade.ping",
                    },
                    json!(n),
                )
            }
        };
        self.send(frame).await;
        id
    }

    /// A WebSocket-level ping (not Relay's): the client's WebSocket answers it.
    async fn ws_ping(&mut self, payload: &[u8]) {
        tokio::time::timeout(STEP, self.ws.send(WsMessage::Ping(payload.to_vec())))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// Reads until the client's WebSocket answered a ping of `payload`.
    async fn ws_pong(&mut self, payload: &[u8]) {
        while !self.pongs.iter().any(|p| p == payload) {
            let v = self.read().await.expect("the client pongs before leaving");
            self.backlog.extend(v);
        }
    }

    /// Reads until the client answered our request `id`, keeping requests for later.
    async fn ping_answered(&mut self, id: &Value) -> Value {
        loop {
            if let Some((_, a)) = self.answers.iter().find(|(i, _)| i == id) {
                return a.clone();
            }
            let v = self.read().await.unwrap_or_else(|| {
                panic!("the client left without answering {id}: {:?}", self.answers)
            });
            self.backlog.extend(v);
        }
    }

    /// Reads until the client leaves; no request may be left unanswered, and every ping of
    /// the handshake was answered.
    async fn until_closed(&mut self) {
        for id in std::mem::take(&mut self.early_pings) {
            self.ping_answered(&id).await;
        }
        assert!(self.backlog.is_empty(), "unanswered: {:?}", self.backlog);
        while let Some(v) = self.read().await {
            assert!(v.is_none(), "unexpected request at the end: {v:?}");
        }
    }

    /// A `blade.broadcast` of `event` with `inner` as its params, in this peer's next layout.
    async fn broadcast(&mut self, event: J, inner: J) {
        let id = self.server_id();
        let layout = self.layout;
        self.layout += 1;
        let frame = match layout % 4 {
            // The order servers usually write, pretty-printed, with unknown members.
            0 => obj! {
                "jsonrpc" => "2.0",
                "id" => id.as_str(),
                "method" => "blade.broadcast",
                "params" => obj!{
                    "broadcaster_nodeid" => SERVER_NODE,
                    "protocol" => PROTO,
                    "channel" => "notifications",
                    "event" => event,
                    "params" => inner,
                    "x_shard" => 4_i64,
                },
            },
            // params before method; the protocol escaped; no jsonrpc.
            1 => obj! {
                "params" => obj!{
                    "event" => event,
                    "protocol" => J::Text(format!("\"{PROTO_ESCAPED}\"")),
                    "params" => inner,
                },
                "x_route" => json!({"hops": ["a", "b"]}),
                "method" => "blade.broadcast",
                "id" => esc(&id),
            },
            // event after params, channel missing, escaped member names.
            2 => obj! {
                "id" => id.as_str(),
                "method" => "blade.broadcast",
                "p\\u0061rams" => obj!{
                    "params" => inner,
                    "protocol" => PROTO,
                    "\\u0065vent" => event,
                    "broadcaster_nodeid" => SERVER_NODE,
                },
                "jsonrpc" => "2.0",
            },
            // Everything escaped that can be: the method too.
            _ => obj! {
                "jsonrpc" => "2.0",
                "method" => esc("blade.broadcast"),
                "id" => id.as_str(),
                "params" => obj!{
                    "channel" => esc("notifications"),
                    "protocol" => PROTO,
                    "event" => event,
                    "params" => inner,
                },
            },
        };
        self.send(frame).await;
    }

    /// A calling event (`queuing.relay.events`). Its members take turns: `params` before
    /// `event_type` or after it; `timestamp`, `project_id` and an unknown member on every
    /// other one, `event_channel` never.
    async fn calling(&mut self, event_type: &str, params: J) {
        let turn = self.layout;
        let mut inner = if turn % 3 == 0 {
            obj! { "event_type" => event_type, "params" => params }
        } else {
            obj! { "params" => params, "event_type" => esc(event_type) }
        };
        if turn % 2 == 0 {
            inner = inner
                .with("timestamp", 1_556_036_283_i64)
                .with("project_id", PROJECT)
                .with("x_region", "us-west");
        }
        self.broadcast(esc("queuing.relay.events"), inner).await;
    }

    /// Noise a server may send at any time: an unknown broadcast event, the `relay` event
    /// the Go SDK only logs, and a calling event of an unknown type.
    async fn noise(&mut self, call_id: &str) {
        self.broadcast(
            "queuing.relay.hologram".into(),
            obj! { "event_type" => "hologram.projected", "params" => obj!{ "call_id" => call_id } },
        )
        .await;
        self.broadcast(
            "relay".into(),
            obj! { "params" => json!({"anything": [1, {"x": null}]}), "event_type" => "webrtc.message" },
        )
        .await;
        self.calling(
            "calling.call.teleport",
            obj! { "call_id" => call_id, "destination" => "mars", "node_id" => "n" },
        )
        .await;
    }

    /// An answer to a relay request: the relay result `result` (`code` "200" as a string
    /// added), written `result` first, the Blade bookkeeping after, the id echoed escaped.
    async fn relay_ok(&mut self, request: &Value, result: J) {
        let id = request["id"].as_str().expect("request id");
        let result = match result {
            J::Obj(mut m) => {
                m.insert(0, (key_text("code"), "200".into()));
                J::Obj(m)
            }
            other => other,
        };
        let mut frame = obj! {
            "result" => obj!{
                "result" => result,
                "requester_nodeid" => "44444444-4444-4444-8444-444444444444",
                "x_timing" => obj!{ "ms" => 3_i64 },
                "protocol" => PROTO,
                "responder_nodeid" => SERVER_NODE,
            },
            "id" => esc(id),
            "x_server" => "independent",
        };
        // `"error": null` on every other answer: no error (PROTOCOL.md §1.4 rejects only a
        // truthy `error`).
        self.answered += 1;
        if self.answered % 2 == 0 {
            frame = frame.with("error", null());
        }
        self.send(frame).await;
    }

    /// The Blade handshake (§2) as §11 describes it; then `signalwire.receive` if the client
    /// has contexts.
    async fn handshake(&mut self, contexts: &[&str]) {
        let connect = self.expect_blade("blade.connect").await;
        let p = &connect["params"];
        assert_eq!(p["version"], json!({"major": 2, "minor": 1, "revision": 0}));
        assert_eq!(p["authentication"]["project"], PROJECT);
        assert!(p["authentication"]["token"].is_string(), "{connect}");
        let id = connect["id"].as_str().expect("id");
        // A ping of ours before the session exists: answered all the same.
        let early = self.server_ping(Ping::NumericId).await;
        self.early_pings.push(early);
        // result before id; master_nodeid, expires_at, the bookkeeping arrays missing;
        // unknown members inside.
        self.send(obj! {
            "result" => obj!{
                "nodeid" => "44444444-4444-4444-8444-444444444444@west-us",
                "authorization" => obj!{
                    "scopes" => json!(["calling", "messaging", "tasking"]),
                    "signature" => "abcdef0123456789",
                    "x_policy" => obj!{ "rate" => 10_i64 },
                    "project" => PROJECT,
                },
                "sessionid" => esc("33333333-3333-4333-8333-333333333333"),
                "x_cluster" => "c1",
                "session_restored" => false,
            },
            "id" => esc(id),
            "jsonrpc" => "2.0",
        })
        .await;

        let setup = self.expect_blade("blade.execute").await;
        assert_eq!(setup["params"]["protocol"], "signalwire", "{setup}");
        assert_eq!(setup["params"]["method"], "setup", "{setup}");
        let id = setup["id"].as_str().expect("id");
        self.send(obj! {
            "x_note" => "setup",
            "result" => obj!{
                "protocol" => "signalwire",
                "result" => obj!{ "x_flags" => json!([]), "protocol" => J::Text(format!("\"{PROTO_ESCAPED}\"")) },
                "responder_nodeid" => SERVER_NODE,
            },
            "id" => id,
        })
        .await;

        let sub = self.expect_blade("blade.subscription").await;
        assert_eq!(sub["params"]["protocol"], PROTO, "{sub}");
        assert_eq!(sub["params"]["command"], "add", "{sub}");
        assert_eq!(sub["params"]["channels"], json!(["notifications"]), "{sub}");
        let id = sub["id"].as_str().expect("id");
        self.send(obj! {
            "id" => id,
            "result" => obj!{
                "subscribe_channels" => json!(["notifications"]),
                "protocol" => J::Text(format!("\"{PROTO_ESCAPED}\"")),
                "x_quota" => 100_i64,
                "command" => "add",
                "failed_channels" => J::Arr(vec![]),
            },
            "jsonrpc" => "2.0",
        })
        .await;

        if !contexts.is_empty() {
            let receive = self.expect_receive(contexts).await;
            self.answer_receive(&receive).await;
        }
    }

    /// The client's `signalwire.receive` of `contexts`.
    async fn expect_receive(&mut self, contexts: &[&str]) -> Value {
        let receive = self.expect_execute("signalwire.receive").await;
        assert_eq!(receive["params"]["params"]["contexts"], json!(contexts));
        receive
    }

    async fn answer_receive(&mut self, receive: &Value) {
        self.relay_ok(
            receive,
            obj! { "message" => "Receiving all inbound related to the requested relay contexts" },
        )
        .await;
    }
}

/// The shapes of a server `blade.ping`.
#[derive(Clone, Copy)]
enum Ping {
    Params,
    Bare,
    NumericId,
}

/// The server: accepts one WebSocket on any path and runs `script` on it.
async fn serve<F, Fut>(script: F) -> (String, tokio::task::JoinHandle<()>)
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = tokio::time::timeout(STEP, listener.accept())
            .await
            .expect("the client connects in time")
            .expect("accept");
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("WebSocket upgrade");
        script(Peer {
            ws,
            backlog: VecDeque::new(),
            answers: Vec::new(),
            client_pings: 0,
            layout: 0,
            next_id: 0,
            answered: 0,
            early_pings: Vec::new(),
            pongs: Vec::new(),
        })
        .await;
    });
    (format!("ws://{addr}/api/relay/wss"), task)
}

/// Runs the client side `client` while the server script runs; a server failure is reported
/// as soon as it happens (not as a client timeout). Then waits for the server to finish.
async fn with_server<T>(server: tokio::task::JoinHandle<()>, client: impl Future<Output = T>) -> T {
    futures::pin_mut!(client);
    let mut server = server;
    let out = tokio::select! {
        out = &mut client => out,
        done = &mut server => {
            if let Err(e) = done {
                std::panic::resume_unwind(e.into_panic());
            }
            let out = bounded("client after the server finished", client).await;
            return out;
        }
    };
    match bounded("server script", server).await {
        Ok(()) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn config(contexts: &[&str]) -> SessionConfig {
    relay_client::seed_from_os(SessionConfig::new(PROJECT, "PT_TOKEN"))
        .with_contexts(contexts.iter().copied())
}

/// A call's payload members in this server's spelling.
fn device(from: &str, to: &str) -> J {
    obj! {
        "params" => obj!{ "to_number" => esc(to), "x_carrier" => "acme", "from_number" => esc(from) },
        "type" => "phone",
    }
}

// ---------------------------------------------------------------------------------------------
// Flows.
// ---------------------------------------------------------------------------------------------

const INBOUND_CALL: &str = "c0000000-0000-4000-8000-00000000000a";
const INBOUND_NODE: &str = "d0000000-0000-4000-8000-00000000000a@west-us";

/// A consumer on `office` receives an inbound call, answers it, plays TTS and hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_inbound_answer_play_hangup() {
    let (url, server) = serve(|mut p| async move {
        // The contexts are registered at once: the call is offered before the receive's
        // answer.
        p.handshake(&[]).await;
        let receive = p.expect_receive(&["office"]).await;
        let ping1 = p.server_ping(Ping::Params).await;
        p.noise(INBOUND_CALL).await;
        p.calling(
            "calling.call.receive",
            obj! {
                "device" => device("+15551110000", "+15552220000"),
                "x_sip" => obj!{ "ua" => "x" },
                "context" => "office",
                "node_id" => esc(INBOUND_NODE),
                "call_state" => "created",
                "call_id" => esc(INBOUND_CALL),
                "direction" => "inbound",
            },
        )
        .await;
        p.answer_receive(&receive).await;
        // The call's first state again, as a state event.
        p.calling(
            "calling.call.state",
            obj! {
                "direction" => "inbound",
                "call_state" => "created",
                "call_id" => INBOUND_CALL,
                "node_id" => INBOUND_NODE,
            },
        )
        .await;

        // answer: the state events first (one duplicate), then the response.
        let answer = p.expect_execute("calling.answer").await;
        assert_eq!(
            answer["params"]["params"]["call_id"], INBOUND_CALL,
            "{answer}"
        );
        assert_eq!(
            answer["params"]["params"]["node_id"], INBOUND_NODE,
            "{answer}"
        );
        for _ in 0..2 {
            p.calling(
                "calling.call.state",
                obj! {
                    "call_state" => "answered",
                    "x_codec" => "PCMU",
                    "call_id" => INBOUND_CALL,
                    "direction" => "inbound",
                    "node_id" => INBOUND_NODE,
                    "device" => device("+15551110000", "+15552220000"),
                },
            )
            .await;
        }
        p.noise(INBOUND_CALL).await;
        p.relay_ok(
            &answer,
            obj! { "message" => "Answering call", "call_id" => INBOUND_CALL },
        )
        .await;

        // play: every event before the response, a ping in the middle.
        let play = p.expect_execute("calling.play").await;
        let params = &play["params"]["params"];
        assert_eq!(params["call_id"], INBOUND_CALL, "{play}");
        assert_eq!(params["play"][0]["type"], "tts", "{play}");
        assert_eq!(
            params["play"][0]["params"]["text"], "Welcome to the independent server",
            "{play}"
        );
        let control_id = params["control_id"]
            .as_str()
            .expect("control_id")
            .to_owned();
        p.calling(
            "calling.call.play",
            obj! {
                "state" => "playing",
                "control_id" => esc(&control_id),
                "node_id" => INBOUND_NODE,
                "call_id" => INBOUND_CALL,
            },
        )
        .await;
        let ping2 = p.server_ping(Ping::Bare).await;
        p.calling(
            "calling.call.play",
            obj! {
                "x_media_ms" => 1200_i64,
                "call_id" => esc(INBOUND_CALL),
                "control_id" => control_id.as_str(),
                "state" => "finished",
                "node_id" => INBOUND_NODE,
            },
        )
        .await;
        p.relay_ok(
            &play,
            obj! { "control_id" => control_id.as_str(), "message" => "Playing" },
        )
        .await;

        // hangup: ending, the response, then ended (once more afterwards: a duplicate of a
        // call that is gone).
        let end = p.expect_execute("calling.end").await;
        assert_eq!(end["params"]["params"]["reason"], "hangup", "{end}");
        assert_eq!(end["params"]["params"]["call_id"], INBOUND_CALL, "{end}");
        p.calling(
            "calling.call.state",
            obj! { "call_id" => INBOUND_CALL, "call_state" => "ending", "end_reason" => "hangup" },
        )
        .await;
        p.relay_ok(&end, obj! { "message" => "Ending call" }).await;
        for _ in 0..2 {
            p.calling(
                "calling.call.state",
                obj! {
                    "end_reason" => "hangup",
                    "call_state" => "ended",
                    "node_id" => INBOUND_NODE,
                    "call_id" => INBOUND_CALL,
                },
            )
            .await;
        }

        let a1 = p.ping_answered(&ping1).await;
        assert_eq!(
            a1["timestamp"], 1_556_036_283_i64,
            "the ping's params echoed: {a1}"
        );
        let a2 = p.ping_answered(&ping2).await;
        assert!(a2.is_object(), "{a2}");
        p.until_closed().await;
    })
    .await;

    let (report, mut reports) = mpsc::channel::<Vec<String>>(4);
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_incoming_call(move |call| {
            let mut report = report.clone();
            async move {
                let mut lines = Vec::new();
                let info = call.snapshot().expect("an inbound call has its info");
                lines.push(format!(
                    "id={} context={} from={} to={}",
                    call.id().map(CallId::as_str).unwrap_or_default(),
                    info.context.as_deref().unwrap_or_default(),
                    call.from().unwrap_or_default(),
                    call.to().unwrap_or_default(),
                ));
                let mut call_events = call.events().await.expect("call events");
                let answer = call.answer().await.expect("answer");
                lines.push(format!(
                    "answer ok={} state={:?} call={:?}",
                    answer.successful,
                    answer.outcome.state,
                    call.state()
                ));
                let play = call
                    .play(PlayParams::new([Media::tts(
                        "Welcome to the independent server",
                    )]))
                    .await
                    .expect("play");
                lines.push(format!(
                    "play ok={} kind={:?} state={:?} err={:?}",
                    play.successful, play.kind, play.outcome.state, play.error
                ));
                let hangup = call.hangup().await.expect("hangup");
                lines.push(format!(
                    "hangup ok={} reason={:?} ended={}",
                    hangup.successful,
                    hangup.outcome.end_reason,
                    call.ended()
                ));
                let mut states = Vec::new();
                while let Some(e) = call_events.next().await {
                    if let Ok(CallEvent::StateChanged { state, .. }) = e {
                        states.push(state);
                    }
                }
                lines.push(format!("states={states:?}"));
                let _ = report.send(lines).await;
                call.client().disconnect().await;
            }
        });
    let stop = with_server(
        server,
        bounded(
            "consumer run",
            consumer.run(
                config(&[]),
                url,
                relay_tokio::TokioRuntime,
                relay_tokio::TokioConnector,
            ),
        ),
    )
    .await
    .expect("the consumer stops cleanly");
    assert_eq!(stop, StopReason::Closed);
    let lines = bounded("report", reports.next())
        .await
        .expect("the handler reported");
    assert_eq!(
        lines,
        [
            format!("id={INBOUND_CALL} context=office from=+15551110000 to=+15552220000"),
            "answer ok=true state=Some(Answered) call=Answered".to_owned(),
            "play ok=true kind=Play state=Some(Finished) err=None".to_owned(),
            "hangup ok=true reason=Some(Hangup) ended=true".to_owned(),
            "states=[Answered, Ending, Ended]".to_owned(),
        ]
    );
}

const DIALED_CALL: &str = "c0000000-0000-4000-8000-00000000000b";
const DIALED_NODE: &str = "d0000000-0000-4000-8000-00000000000b@east-us";
const RECORD_URL: &str = "https://files.example.com/recordings/r-1.mp3";

/// A client dials, records (blocking, then async) and hangs up; the typed results and the
/// call's state transitions are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_record_hangup() {
    let (url, server) = serve(|mut p| async move {
        p.handshake(&[]).await;
        let dial = p.expect_execute("calling.dial").await;
        let params = &dial["params"]["params"];
        let tag = params["tag"].as_str().expect("tag").to_owned();
        let dev = &params["devices"][0][0];
        assert_eq!(dev["type"], "phone", "{dial}");
        assert_eq!(dev["params"]["from_number"], "+15550000001", "{dial}");
        assert_eq!(dev["params"]["to_number"], "+15550000002", "{dial}");
        // The whole dial before its response (§6.5): the created leg with the tag, dialing,
        // ringing without the tag, a ping, answered twice, noise, the dial's answer.
        p.calling(
            "calling.call.state",
            obj! {
                "tag" => esc(&tag),
                "call_state" => "created",
                "direction" => "outbound",
                "created_by" => "dial",
                "device" => device("+15550000001", "+15550000002"),
                "node_id" => DIALED_NODE,
                "call_id" => esc(DIALED_CALL),
            },
        )
        .await;
        p.calling(
            "calling.call.dial",
            obj! { "node_id" => DIALED_NODE, "dial_state" => "dialing", "tag" => tag.as_str() },
        )
        .await;
        p.calling(
            "calling.call.state",
            obj! { "call_id" => DIALED_CALL, "node_id" => DIALED_NODE, "call_state" => "ringing" },
        )
        .await;
        let ping = p.server_ping(Ping::Params).await;
        for _ in 0..2 {
            p.calling(
                "calling.call.state",
                obj! {
                    "device" => device("+15550000001", "+15550000002"),
                    "call_state" => "answered",
                    "call_id" => DIALED_CALL,
                    "tag" => tag.as_str(),
                    "node_id" => esc(DIALED_NODE),
                },
            )
            .await;
        }
        p.noise(DIALED_CALL).await;
        // The dial's answer without its optional `call` (the leg is known by its tag).
        p.calling(
            "calling.call.dial",
            obj! { "dial_state" => "answered", "tag" => esc(&tag) },
        )
        .await;
        p.relay_ok(&dial, obj! { "message" => "Dialing", "call_id" => DIALED_CALL })
            .await;
        // A duplicate of the dial's answer, with `call` this time, after the dial is done.
        p.calling(
            "calling.call.dial",
            obj! {
                "call" => obj!{
                    "dial_winner" => true,
                    "device" => device("+15550000001", "+15550000002"),
                    "tag" => tag.as_str(),
                    "node_id" => DIALED_NODE,
                    "call_id" => esc(DIALED_CALL),
                },
                "tag" => esc(&tag),
                "dial_state" => "answered",
                "node_id" => DIALED_NODE,
            },
        )
        .await;

        // record: `recording` before the response, the url in the response only (escaped),
        // `recording` again, `finished` with an integer duration and a string size.
        let record = p.expect_execute("calling.record").await;
        let params = &record["params"]["params"];
        assert_eq!(params["call_id"], DIALED_CALL, "{record}");
        assert_eq!(params["node_id"], DIALED_NODE, "{record}");
        assert_eq!(params["record"]["audio"]["format"], "mp3", "{record}");
        assert_eq!(params["record"]["audio"]["beep"], true, "{record}");
        let control_id = params["control_id"].as_str().expect("control_id").to_owned();
        p.calling(
            "calling.call.record",
            obj! {
                "record" => json!({"audio": {"format": "mp3"}}),
                "state" => "recording",
                "control_id" => control_id.as_str(),
                "call_id" => DIALED_CALL,
            },
        )
        .await;
        p.relay_ok(&record, obj! { "url" => esc(RECORD_URL), "message" => "Recording" })
            .await;
        p.calling(
            "calling.call.record",
            obj! {
                "call_id" => DIALED_CALL,
                "control_id" => esc(&control_id),
                "state" => "recording",
                "node_id" => DIALED_NODE,
            },
        )
        .await;
        p.calling(
            "calling.call.record",
            obj! {
                "size" => "4096",
                "duration" => 4_i64,
                // No `url`: the response had it.
                "state" => "finished",
                "record" => json!({"audio": {"format": "mp3", "direction": "speak", "stereo": false}}),
                "control_id" => control_id.as_str(),
                "node_id" => DIALED_NODE,
                "call_id" => DIALED_CALL,
            },
        )
        .await;
        // A late duplicate of the finished event.
        p.calling(
            "calling.call.record",
            obj! {
                "state" => "finished",
                "control_id" => control_id.as_str(),
                "call_id" => DIALED_CALL,
            },
        )
        .await;

        // record (async): both events before the response; the response has the url.
        let record = p.expect_execute("calling.record").await;
        let control_id = record["params"]["params"]["control_id"]
            .as_str()
            .expect("control_id")
            .to_owned();
        for state in ["recording", "finished"] {
            p.calling(
                "calling.call.record",
                obj! {
                    "control_id" => control_id.as_str(),
                    "call_id" => DIALED_CALL,
                    "state" => state,
                    "duration" => J::Text("2.5e0".into()),
                    "url" => SECOND_URL,
                },
            )
            .await;
        }
        p.relay_ok(&record, obj! { "message" => "Recording", "url" => SECOND_URL })
            .await;

        // hangup: ending and ended before the response.
        let end = p.expect_execute("calling.end").await;
        assert_eq!(end["params"]["params"]["call_id"], DIALED_CALL, "{end}");
        p.calling(
            "calling.call.state",
            obj! { "end_reason" => "hangup", "call_state" => "ending", "call_id" => DIALED_CALL },
        )
        .await;
        p.calling(
            "calling.call.state",
            obj! {
                "peer" => null(),
                "call_state" => "ended",
                "end_reason" => "hangup",
                "call_id" => DIALED_CALL,
                "node_id" => DIALED_NODE,
            },
        )
        .await;
        p.relay_ok(&end, obj! { "message" => "Ending call" }).await;
        let answer = p.ping_answered(&ping).await;
        assert_eq!(answer["payload"], "x/y", "{answer}");
        p.until_closed().await;
    })
    .await;

    let (client, mut events) = RelayClient::connect_with(
        config(&[]),
        url,
        relay_tokio::TokioRuntime,
        relay_tokio::TokioConnector,
        ClientOptions::default(),
    );
    let client_side = async {
        bounded("ready", client.wait_ready()).await.expect("ready");
        assert_eq!(client.protocol().as_deref(), Some(PROTO));
        // A call made first, its own event stream opened before it is dialed.
        let call = client.calling().new_call(DialParams::single(Device::phone(
            "+15550000001",
            "+15550000002",
        )));
        let mut call_events = bounded("call events", call.events())
            .await
            .expect("call events");
        let dialed = bounded("dial", call.dial()).await.expect("dial");
        assert!(dialed.successful, "{:?}", dialed.outcome);
        assert_eq!(dialed.outcome.state, DialState::Answered);
        assert_eq!(
            dialed.outcome.call_id.as_ref().map(CallId::as_str),
            Some(DIALED_CALL)
        );
        let event = dialed.event.as_ref().expect("the dial's event");
        assert_eq!(event.name, "answered");
        assert_eq!(dialed.call.id().map(CallId::as_str), Some(DIALED_CALL));
        assert_eq!(call.id().map(CallId::as_str), Some(DIALED_CALL));
        assert_eq!(call.state(), CallState::Answered);
        assert_eq!(call.prev_state(), CallState::Ringing);
        assert_eq!(call.from().as_deref(), Some("+15550000001"));
        assert_eq!(call.to().as_deref(), Some("+15550000002"));

        let recorded = bounded(
            "record",
            call.record(RecordParams {
                beep: Some(true),
                format: Some(RecordFormat::Mp3),
                ..Default::default()
            }),
        )
        .await
        .expect("record");
        assert!(recorded.successful, "{recorded:?}");
        assert_eq!(recorded.kind, ComponentKind::Record);
        assert_eq!(recorded.outcome.state, Some(RecordState::Finished));
        assert_eq!(recorded.outcome.url.as_deref(), Some(RECORD_URL));
        assert_eq!(recorded.outcome.duration, Some(4.0));
        assert_eq!(recorded.outcome.size, Some(4096));

        let recording = bounded("record_async", call.record_async(RecordParams::default()))
            .await
            .expect("record_async");
        let done = bounded("record_async wait", recording.wait())
            .await
            .expect("outcome");
        assert!(done.successful, "{done:?}");
        assert_eq!(done.outcome.state, Some(RecordState::Finished));
        assert_eq!(done.outcome.url.as_deref(), Some(SECOND_URL));
        assert_eq!(done.outcome.duration, Some(2.5));
        assert_eq!(recording.url().as_deref(), Some(SECOND_URL));

        let hangup = bounded("hangup", call.hangup()).await.expect("hangup");
        assert!(hangup.successful, "{hangup:?}");
        assert_eq!(hangup.outcome.end_reason, Some(EndReason::Hangup));
        assert!(call.ended());
        assert_eq!(call.state(), CallState::Ended);
        assert_eq!(call.end_reason(), Some(EndReason::Hangup));
        client.disconnect().await;

        // The state transitions the client reported, in order, each once: on the call's own
        // stream (which ends with the call) and on the client's.
        let want = [
            (CallState::None, CallState::Created),
            (CallState::Created, CallState::Ringing),
            (CallState::Ringing, CallState::Answered),
            (CallState::Answered, CallState::Ending),
            (CallState::Ending, CallState::Ended),
        ];
        let mut on_call = Vec::new();
        let mut recorded = 0;
        while let Some(e) = bounded("call events", call_events.next()).await {
            match e.expect("a call stream with room never lags") {
                CallEvent::StateChanged {
                    state, prev_state, ..
                } => on_call.push((prev_state, state)),
                CallEvent::RecordUpdate {
                    state: RecordState::Finished,
                    ..
                } => recorded += 1,
                _ => {}
            }
        }
        assert_eq!(on_call, want);
        // Each recording's `finished` (the late duplicate surfaces as an update too; the
        // outcomes above came once each).
        assert!(recorded >= 2, "{recorded}");
        assert_eq!(call_states(&mut events, DIALED_CALL).await, want);
    };
    with_server(server, client_side).await;
}

const SECOND_URL: &str = "https://files.example.com/recordings/r-2.wav";

/// The state changes of `call_id` an event stream reported, until it ends.
async fn call_states(events: &mut Events, call_id: &str) -> Vec<(CallState, CallState)> {
    let mut seen = Vec::new();
    while let Some(e) = bounded("events", events.next()).await {
        if let Ok(Event::Call(CallEvent::StateChanged {
            call_id: id,
            state,
            prev_state,
            ..
        })) = e
        {
            if id.as_str() == call_id {
                seen.push((prev_state, state));
            }
        }
    }
    seen
}

const MESSAGE_ID: &str = "aaaaaaaa-0000-4000-8000-000000000001";

/// `messaging.send`, then the message's state events (one before the response).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messaging_send_states() {
    let (url, server) = serve(|mut p| async move {
        p.handshake(&["office"]).await;
        let send = p.expect_execute("messaging.send").await;
        let params = &send["params"]["params"];
        assert_eq!(params["context"], "office", "{send}");
        assert_eq!(params["from_number"], "+15550000001", "{send}");
        assert_eq!(params["to_number"], "+15550000002", "{send}");
        assert_eq!(params["body"], "Hello / \"world\"", "{send}");
        let state = |state: &str, extra: bool| {
            let mut message = obj! {
                "message_state" => state,
                "segments" => if extra { J::from("1") } else { J::from(1_i64) },
                "message_id" => esc(MESSAGE_ID),
                "direction" => "outbound",
                "from_number" => esc("+15550000001"),
                "to_number" => "+15550000002",
                "body" => J::Text(r#""Hello \/ \"world\"""#.into()),
            };
            if extra {
                message = message
                    .with("x_carrier", obj! { "name" => "acme" })
                    .with("tags", J::Arr(vec![]))
                    .with("media", null());
            }
            let mut inner = obj! { "params" => message, "event_type" => "messaging.state" };
            inner = inner.with("context", "office");
            if extra {
                inner = inner.with("space_id", "99999999-9999-4999-8999-999999999999");
                inner = inner.with("timestamp", 1_569_859_833_i64);
            }
            inner
        };
        p.broadcast(esc("queuing.relay.messaging"), state("queued", false))
            .await;
        p.relay_ok(
            &send,
            obj! { "message_id" => esc(MESSAGE_ID), "message" => "Message accepted" },
        )
        .await;
        let ping = p.server_ping(Ping::NumericId).await;
        p.ws_ping(b"relay?").await;
        p.broadcast(
            "queuing.relay.messaging".into(),
            obj! {
                "event_type" => "messaging.hologram",
                "context" => "office",
                "params" => obj!{ "message_id" => MESSAGE_ID },
            },
        )
        .await;
        p.noise("none").await;
        for (i, s) in ["initiated", "sent", "sent", "delivered"]
            .iter()
            .enumerate()
        {
            p.broadcast("queuing.relay.messaging".into(), state(s, i % 2 == 0))
                .await;
        }
        p.ping_answered(&ping).await;
        p.ws_pong(b"relay?").await;
        p.until_closed().await;
    })
    .await;

    let (client, mut events) = RelayClient::connect_with(
        config(&["office"]),
        url,
        relay_tokio::TokioRuntime,
        relay_tokio::TokioConnector,
        ClientOptions::default(),
    );
    let client_side = async {
        bounded("ready", client.wait_ready()).await.expect("ready");
        let sent = bounded(
            "send",
            client.messaging().send(MessageParams::text(
                "office",
                "+15550000001",
                "+15550000002",
                "Hello / \"world\"",
            )),
        )
        .await
        .expect("send");
        assert!(sent.successful, "{sent:?}");
        assert_eq!(sent.code.as_deref(), Some("200"));
        assert_eq!(sent.message_id, Some(MessageId::from(MESSAGE_ID)));
        // Read until the terminal state.
        let mut states = Vec::new();
        while let Some(e) = bounded("message events", events.next()).await {
            match e {
                Ok(Event::Message(m)) => {
                    assert_eq!(m.kind, MessageEventKind::StateChanged);
                    assert_eq!(m.context, "office");
                    assert_eq!(m.message.id.as_str(), MESSAGE_ID);
                    assert_eq!(m.message.from.as_deref(), Some("+15550000001"));
                    assert_eq!(m.message.body.as_deref(), Some("Hello / \"world\""));
                    assert_eq!(m.message.segments, Some(1));
                    let done = m.message.state.is_terminal();
                    states.push(m.message.state);
                    if done {
                        break;
                    }
                }
                Ok(_) => {}
                Err(lagged) => panic!("the observer lagged: {lagged:?}"),
            }
        }
        assert_eq!(
            states,
            [
                MessageState::Queued,
                MessageState::Initiated,
                MessageState::Sent,
                MessageState::Sent,
                MessageState::Delivered,
            ]
        );
        client.disconnect().await;
    };
    with_server(server, client_side).await;
}
