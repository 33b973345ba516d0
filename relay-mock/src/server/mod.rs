//! The sans-IO Relay v2 server core.
//!
//! [`MockServer`] is a state machine in the style of `relay-proto`'s `Session`: the embedder feeds
//! it connection events and text frames with the current time ([`MockServer::connection_opened`],
//! [`MockServer::handle_frame`], [`MockServer::connection_closed`], [`MockServer::handle_timeout`],
//! [`MockServer::control`], [`MockServer::deliver_task`]) and then drains
//! [`MockServer::poll_output`] until it returns `None`, and arms a timer for
//! [`MockServer::poll_timeout`]. It never reads a clock, never touches the OS random source
//! (ids come from a [`SplitMix64`] seeded by [`MockConfig::seed`]) and never panics on input.
//!
//! ```no_run
//! use relay_mock::{MockConfig, MockServer, ServerOutput};
//! use std::time::Instant;
//! let mut server = MockServer::new(MockConfig::default());
//! let now = Instant::now();
//! let conn = server.connection_opened(now);
//! server.handle_frame(now, conn, r#"{"jsonrpc":"2.0","id":"1","method":"blade.ping","params":{}}"#);
//! while let Some(out) = server.poll_output() {
//!     match out {
//!         ServerOutput::Send { conn, text } => { /* write `text` to socket `conn` */ }
//!         ServerOutput::Close { conn, code } => { /* close socket `conn` */ }
//!     }
//! }
//! ```

mod blade;
mod calls;
mod components;
mod control;
mod messaging;
mod output;
pub mod script;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use relay_proto::rng::SplitMix64;
use relay_proto::wire::EventType;
use relay_proto::{IdGenerator, IdKind, SeededIds};
use serde_json::Value;

pub use script::{Fault, Named, Outcome, Script, ScriptedEvent};

pub use crate::conn::ConnId;
use crate::transcript::Recorder;
use calls::Call;

/// Configuration of a [`MockServer`].
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// The only project id `blade.connect` accepts.
    pub project: String,
    /// The project token `blade.connect` (and the task REST endpoint) accepts.
    pub token: String,
    /// Seed of every id and every random choice the server makes.
    pub seed: u64,
    /// Most transcript lines (frames, socket and control markers) kept in memory for
    /// `/__control/frames` and [`MockServer::transcript`]; older ones are dropped and counted
    /// (`dropped` in the frames response). 0 records nothing. Default
    /// [`DEFAULT_RECORD_LIMIT`](crate::transcript::DEFAULT_RECORD_LIMIT).
    pub record_limit: usize,
    /// Scale of every component timing (media lengths, record/detect/fax/send_digits
    /// durations, detector event spacing): 1.0 = the documented timings (default), 0.5 = twice
    /// as fast, 0.0 = components complete at once. A negative or non-finite value counts as 1.0.
    pub media_speed: f64,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            project: "test-project".to_owned(),
            token: "test-token".to_owned(),
            seed: 0,
            record_limit: crate::transcript::DEFAULT_RECORD_LIMIT,
            media_speed: 1.0,
        }
    }
}

impl MockConfig {
    /// Sets the accepted project id.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }
    /// Sets the accepted token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets [`MockConfig::media_speed`].
    pub fn media_speed(mut self, scale: f64) -> Self {
        self.media_speed = scale;
        self
    }
    /// Sets [`MockConfig::record_limit`].
    pub fn record_limit(mut self, limit: usize) -> Self {
        self.record_limit = limit;
        self
    }
}

/// Something the embedder must do on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send `text` as one WebSocket text frame on `conn`.
    Send {
        /// Target connection.
        conn: ConnId,
        /// The frame.
        text: String,
    },
    /// Close the socket. `code: None` = abrupt (drop TCP, no close frame); `Some(1001)` etc = close frame.
    Close {
        /// Connection to close.
        conn: ConnId,
        /// WebSocket close code, or `None` for an abrupt drop.
        code: Option<u16>,
    },
}

/// A control request failure: rendered as HTTP `status` with body `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError {
    /// 400 (bad body) or 404 (nothing to act on).
    pub status: u16,
    /// Human-readable reason.
    pub message: String,
}

impl ControlError {
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for ControlError {}

/// An HTTP response for the REST task endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code (204, 400, 401).
    pub status: u16,
    /// Body (empty for 204).
    pub body: String,
}

/// Internal session key: creation order.
pub(crate) type SessKey = u64;

/// A Blade session (survives socket drops).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub sessionid: String,
    pub nodeid: String,
    pub project: String,
    pub protocol: Option<String>,
    pub contexts: BTreeSet<String>,
    pub conn: Option<ConnId>,
    /// Events wait until the client subscribed on its current socket.
    pub subscribed: bool,
    pub backlog: VecDeque<Pending>,
}

/// A WebSocket connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub session: Option<SessKey>,
    pub open: bool,
}

/// The params of a calling event: a JSON tree, or JSON text serialized once, straight from
/// borrowed parts (the frequent state and receive events: no tree built, copied and dropped).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Params {
    Tree(Value),
    /// JSON text written by serde_json (so valid JSON), copied into the frame as is.
    Text(String),
}

/// Room for the text of typical event params (state params with a phone device are ~400
/// bytes), so that writing them does not grow the buffer.
const PARAMS_TEXT_CAPACITY: usize = 512;

impl Params {
    /// Serializes `value` to JSON text (a tree when that fails, which plain structs never do).
    pub(crate) fn text(value: &impl serde::Serialize) -> Self {
        let mut out = relay_proto::wire::JsonText::with_capacity(PARAMS_TEXT_CAPACITY);
        match out.value(value) {
            Ok(_) => Params::Text(out.finish()),
            Err(e) => {
                tracing::error!(%e, "event params not serializable");
                Params::Tree(Value::Null)
            }
        }
    }

    /// Whether there is nothing to send (an effect-only event).
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Params::Tree(Value::Null))
    }
}

impl From<Value> for Params {
    fn from(v: Value) -> Self {
        Params::Tree(v)
    }
}

impl serde::Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Params::Tree(v) => v.serialize(s),
            // Not on the hot path (calling broadcasts copy the text themselves).
            Params::Text(text) => serde_json::value::RawValue::from_string(text.clone())
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
        }
    }
}

/// A broadcast not yet rendered (the envelope is built when it is sent, with the protocol the
/// session has at that moment).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    Calling {
        event_type: EventType,
        params: Params,
    },
    Messaging {
        event_type: EventType,
        context: String,
        params: Value,
    },
    Task {
        context: String,
        message: Value,
    },
}

/// What a calling event does to the server's own state when it is sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    None,
    State(relay_proto::CallState),
    Complete(String),
    /// Bridge the call with this peer (both ways).
    Bridge(String),
    /// Clear the bridge (both ways).
    Unbridge,
}

/// Scheduled work.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A calling event of `call_id`, sent to whichever session owns the call when it fires.
    CallEvent {
        call_id: String,
        control_id: Option<String>,
        event_type: EventType,
        params: Params,
        effect: Effect,
    },
    /// A non-call event to a given session.
    SessionEvent { session: SessKey, pending: Pending },
    /// A component reached its natural end.
    Finish { call_id: String, control_id: String },
    /// Re-handle a request later (delayed responses).
    Redeliver {
        conn: ConnId,
        text: String,
        outcome: Outcome,
    },
    /// Close a connection.
    Close { conn: ConnId, code: Option<u16> },
    /// Release an event held back by [`Fault::ReorderEvents`].
    ReleaseHeld,
}

/// The sans-IO Relay v2 server. See the [module docs](self).
#[derive(Debug)]
pub struct MockServer {
    config: MockConfig,
    ids: SeededIds,
    rng: SplitMix64,
    signature: String,
    server_node: String,
    space_id: String,
    media_node: String,
    epoch: Option<Instant>,
    now: Option<Instant>,
    next_conn: u64,
    conns: BTreeMap<ConnId, Conn>,
    sessions: BTreeMap<SessKey, Session>,
    next_session: SessKey,
    /// Hashed, not ordered: a lookup by a 36-character id costs one hash instead of a
    /// dozen string comparisons (nothing iterates it in an order that shows on the wire).
    /// [`IdHasher`]: deterministic, no OS randomness in the core.
    calls: HashMap<String, Call, BuildHasherDefault<IdHasher>>,
    /// Calls in progress and unanswered among `calls`.
    census: calls::Census,
    /// Ended calls, oldest first (the oldest are forgotten past `calls::ENDED_KEPT`).
    ended: VecDeque<String>,
    round_robin: BTreeMap<String, u64>,
    timers: BTreeMap<(Instant, u64), Action>,
    timer_seq: u64,
    out: VecDeque<ServerOutput>,
    script: Script,
    faults: Vec<Fault>,
    held: Option<(ConnId, String)>,
    refuse_until: Option<Instant>,
    recorder: Recorder,
}

/// The hasher of the calls table: 8 bytes per multiply, then a SplitMix64 finish (all bits
/// mixed, as the table's bucket and tag bits need). Keys are ids the server made itself, so
/// SipHash's resistance to chosen keys buys nothing here; it cost ~3% of the mock's CPU.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Every session's pending backlog is bounded; older events are dropped beyond this.
const BACKLOG_LIMIT: usize = 1024;

impl MockServer {
    /// A server with no sessions.
    pub fn new(config: MockConfig) -> Self {
        let record_limit = config.record_limit;
        let mut ids = SeededIds::new(config.seed);
        let mut rng = SplitMix64::new(config.seed ^ 0x5eed_51c0_de00_0001);
        let signature = (0..4)
            .map(|_| format!("{:016x}", rng.next_u64()))
            .collect::<String>();
        let server_node = ids.next_id(IdKind::Other);
        let space_id = ids.next_id(IdKind::Other);
        let media_node = ids.next_id(IdKind::Other);
        Self {
            config,
            ids,
            rng,
            signature,
            server_node,
            space_id,
            media_node,
            epoch: None,
            now: None,
            next_conn: 0,
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_session: 0,
            calls: HashMap::default(),
            census: calls::Census::default(),
            ended: VecDeque::new(),
            round_robin: BTreeMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            out: VecDeque::new(),
            script: Script::default(),
            faults: Vec::new(),
            held: None,
            refuse_until: None,
            recorder: Recorder::with_limit(record_limit),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    /// A new WebSocket connection was accepted. Returns its id; drain [`Self::poll_output`] after
    /// (a [`Fault::RefuseConnections`] closes it at once).
    pub fn connection_opened(&mut self, now: Instant) -> ConnId {
        self.tick(now);
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        self.conns.insert(
            conn,
            Conn {
                session: None,
                open: true,
            },
        );
        self.recorder.ctl(
            Some(now),
            Some(conn),
            serde_json::json!({"event":"ws_open"}),
        );
        if self.refuse_until.is_some_and(|t| now < t) {
            tracing::debug!(conn = conn.0, "refusing connection");
            self.close_conn(conn, None);
        }
        self.run_due(now);
        conn
    }

    /// One text frame arrived on `conn`. Any bytes are accepted: garbage is answered with a
    /// JSON-RPC error (when it has an id) and never closes the session.
    pub fn handle_frame(&mut self, now: Instant, conn: ConnId, text: &str) {
        self.tick(now);
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            tracing::debug!(
                conn = conn.0,
                "frame on a closed or unknown connection ignored"
            );
            return;
        }
        self.recorder.c2s(Some(now), conn, text);
        self.dispatch(conn, text, None);
        self.run_due(now);
    }

    /// The peer closed `conn` (or it failed). The session stays for a later restore.
    pub fn connection_closed(&mut self, now: Instant, conn: ConnId) {
        self.connection_closed_with_code(now, conn, 1006);
    }

    /// Like [`Self::connection_closed`], recording the WebSocket close `code` the peer sent
    /// (1006 for a drop without a close frame, which is how the official SDK always closes).
    pub fn connection_closed_with_code(&mut self, now: Instant, conn: ConnId, code: u16) {
        self.tick(now);
        if self.conns.get(&conn).is_some_and(|c| c.open) {
            self.recorder.ctl(
                Some(now),
                Some(conn),
                serde_json::json!({"event":"ws_close","code":code}),
            );
            self.detach(conn);
        }
        self.run_due(now);
    }

    /// Runs every scheduled action due at `now`. Harmless to call early or often.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.run_due(now);
    }

    /// The next thing the embedder must do, if any. Drain after every input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next; `None` = nothing scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(t, _)| *t)
    }

    /// Every `/__control/<endpoint>` (POST and GET ones: `health`, `reset`, `sessions`, `frames`
    /// with body `{"since":n}`). `endpoint` may carry the `/__control/` prefix.
    pub fn control(
        &mut self,
        now: Instant,
        endpoint: &str,
        body: Value,
    ) -> Result<Value, ControlError> {
        self.tick(now);
        let name = endpoint
            .trim_start_matches('/')
            .trim_start_matches("__control/")
            .trim_end_matches('/');
        let name = name.split('?').next().unwrap_or(name).to_owned();
        let body = if body.is_null() {
            Value::Object(Default::default())
        } else {
            body
        };
        if !matches!(name.as_str(), "health" | "frames" | "sessions") {
            self.recorder.ctl(
                Some(now),
                None,
                serde_json::json!({"control": name, "body": body.clone()}),
            );
        }
        let r = self.control_inner(&name, &body);
        self.run_due(now);
        r
    }

    /// `POST /api/relay/rest/tasks`: `authorization` is the raw Authorization header value.
    pub fn deliver_task(
        &mut self,
        now: Instant,
        authorization: Option<&str>,
        body: &[u8],
    ) -> HttpResponse {
        self.tick(now);
        // Recorded before the broadcast it triggers, as TRANSCRIPTS.md's `transport: "http"`
        // lines. The credentials are not written to the transcript.
        let request_body = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        let auth = authorization.map(|a| match a.trim().split_once(' ') {
            Some((scheme, _)) => format!("{scheme} <redacted>"),
            None => "<redacted>".to_owned(),
        });
        self.recorder.http(
            Some(now),
            crate::transcript::Dir::C2s,
            serde_json::json!({
                "method": "POST",
                "path": "/api/relay/rest/tasks",
                "headers": {"Authorization": auth, "Content-Type": "application/json"},
                "body": request_body,
            }),
        );
        let r = self.deliver_task_inner(authorization, body);
        let response_body = if r.body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&r.body).unwrap_or(serde_json::Value::String(r.body.clone()))
        };
        self.recorder.http(
            Some(now),
            crate::transcript::Dir::S2c,
            serde_json::json!({"status": r.status, "body": response_body}),
        );
        self.run_due(now);
        r
    }

    /// The per-method one-shot outcomes (the Rust face of `POST /__control/next`).
    pub fn script(&mut self) -> &mut Script {
        &mut self.script
    }

    /// Arms a transport fault.
    pub fn inject(&mut self, fault: Fault) {
        if let Fault::RefuseConnections { duration } = &fault {
            if let Some(now) = self.now {
                self.refuse_until = Some(now + *duration);
            }
            return;
        }
        self.faults.push(fault);
    }

    /// Everything recorded so far, as transcript lines.
    pub fn transcript(&mut self) -> &[crate::transcript::Line] {
        self.recorder.lines()
    }

    /// How many transcript lines were dropped from memory (see [`MockConfig::record_limit`]);
    /// [`Self::transcript`] starts with line number `transcript_dropped()`.
    pub fn transcript_dropped(&self) -> u64 {
        self.recorder.dropped()
    }

    /// The transcript as JSONL text.
    pub fn transcript_jsonl(&mut self) -> String {
        crate::transcript::to_jsonl(self.recorder.lines())
    }

    /// Whether `conn` is open and bound to a session (its `blade.connect` succeeded).
    pub fn connection_authenticated(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.open && c.session.is_some())
    }

    /// Ids of the sessions that currently have an open socket, in creation order.
    pub fn live_sessions(&self) -> Vec<String> {
        self.sessions
            .values()
            .filter(|s| s.conn.is_some())
            .map(|s| s.sessionid.clone())
            .collect()
    }

    // ---- internals shared by the submodules ----

    fn tick(&mut self, now: Instant) {
        if self.epoch.is_none() {
            self.epoch = Some(now);
        }
        // Time never runs backwards inside the core, even if the embedder's does.
        if self.now.map_or(true, |n| now > n) {
            self.now = Some(now);
        }
    }

    /// The latest time an entry point was given (`None` before the first one).
    pub(crate) fn now(&self) -> Option<Instant> {
        self.now
    }

    /// Seconds since the Unix epoch as the server reports them: a fixed base plus virtual time.
    pub(crate) fn timestamp(&self) -> f64 {
        let elapsed = match (self.epoch, self.now) {
            (Some(e), Some(n)) => n.saturating_duration_since(e).as_secs_f64(),
            _ => 0.0,
        };
        ((1_700_000_000.0 + elapsed) * 1000.0).round() / 1000.0
    }

    pub(crate) fn new_id(&mut self) -> String {
        self.ids.next_id(IdKind::Other)
    }

    pub(crate) fn schedule(&mut self, at: Instant, action: Action) {
        self.timer_seq += 1;
        self.timers.insert((at, self.timer_seq), action);
    }

    /// `media` of component time in wall time, per [`MockConfig::media_speed`].
    pub(crate) fn media_time(&self, media: Duration) -> Duration {
        let scale = self.config.media_speed;
        if scale == 1.0 || !scale.is_finite() || scale < 0.0 {
            return media;
        }
        Duration::try_from_secs_f64((media.as_secs_f64() * scale).min(86_400.0)).unwrap_or(media)
    }

    /// The media time that `wall` of wall time stands for (the inverse of
    /// [`Self::media_time`]); at media speed 0 every length has passed at once.
    pub(crate) fn media_elapsed(&self, wall: Duration) -> Duration {
        let scale = self.config.media_speed;
        if scale == 1.0 || !scale.is_finite() || scale < 0.0 {
            return wall;
        }
        if scale == 0.0 {
            return Duration::MAX;
        }
        Duration::try_from_secs_f64((wall.as_secs_f64() / scale).min(86_400.0)).unwrap_or(wall)
    }

    pub(crate) fn schedule_in(&mut self, after: Duration, action: Action) {
        if let Some(now) = self.now {
            self.schedule(now + after, action);
        }
    }

    /// Cancels scheduled actions for which `pred` holds.
    pub(crate) fn cancel_where(&mut self, pred: impl Fn(&Action) -> bool) {
        self.timers.retain(|_, a| !pred(a));
    }

    fn run_due(&mut self, now: Instant) {
        // Bounded loop: actions may schedule more actions at `now`, but each run consumes one.
        let mut budget = 100_000u32;
        while let Some((&key, _)) = self.timers.iter().next() {
            if key.0 > now || budget == 0 {
                break;
            }
            budget -= 1;
            let Some(action) = self.timers.remove(&key) else {
                break;
            };
            if self.cancelled(key.1, &action) {
                continue;
            }
            self.run_action(action);
        }
    }

    /// The sequence number of the last action scheduled.
    pub(crate) fn timer_seq(&self) -> u64 {
        self.timer_seq
    }

    /// Whether the call event or finish scheduled as number `seq` was cancelled since (its
    /// call ended, or its component was stopped or paused).
    fn cancelled(&self, seq: u64, action: &Action) -> bool {
        let (call_id, control_id) = match action {
            Action::CallEvent {
                call_id,
                control_id,
                ..
            } => (call_id, control_id.as_deref()),
            Action::Finish {
                call_id,
                control_id,
            } => (call_id, Some(control_id.as_str())),
            _ => return false,
        };
        let Some(call) = self.calls.get(call_id) else {
            return false;
        };
        if seq <= call.cancelled_through {
            return true;
        }
        control_id
            .and_then(|k| call.components.iter().find(|c| c.control_id == k))
            .is_some_and(|c| seq <= c.cancelled_through)
    }

    fn run_action(&mut self, action: Action) {
        match action {
            Action::CallEvent {
                call_id,
                control_id,
                event_type,
                params,
                effect,
            } => self.fire_call_event(&call_id, control_id.as_deref(), event_type, params, effect),
            Action::SessionEvent { session, pending } => self.emit(session, pending),
            Action::Finish {
                call_id,
                control_id,
            } => self.finish_component(&call_id, &control_id),
            Action::Redeliver {
                conn,
                text,
                outcome,
            } => {
                if self.conns.get(&conn).is_some_and(|c| c.open) {
                    self.dispatch(conn, &text, Some(outcome));
                }
            }
            Action::Close { conn, code } => {
                if self.conns.get(&conn).is_some_and(|c| c.open) {
                    self.close_conn(conn, code);
                }
            }
            Action::ReleaseHeld => self.release_held(),
        }
    }

    /// Detaches `conn` from its session and marks it closed (no output).
    fn detach(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.open = false;
            if let Some(key) = c.session.take() {
                if let Some(s) = self.sessions.get_mut(&key) {
                    if s.conn == Some(conn) {
                        s.conn = None;
                        s.subscribed = false;
                    }
                }
            }
        }
        if self.held.as_ref().is_some_and(|(c, _)| *c == conn) {
            self.held = None;
        }
    }

    /// Closes `conn` (abruptly with `None`) keeping its session.
    pub(crate) fn close_conn(&mut self, conn: ConnId, code: Option<u16>) {
        if !self.conns.get(&conn).is_some_and(|c| c.open) {
            return;
        }
        self.recorder.ctl(
            self.now,
            Some(conn),
            serde_json::json!({"event":"ws_close","code": code.unwrap_or(1006)}),
        );
        self.detach(conn);
        self.out.push_back(ServerOutput::Close { conn, code });
    }

    /// Live sessions receiving `context` (optionally of `project`), in creation order.
    pub(crate) fn receivers(&self, context: &str, project: Option<&str>) -> Vec<SessKey> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.conn.is_some()
                    && s.contexts.contains(context)
                    && project.map_or(true, |p| p == s.project)
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// Picks one receiver of `context` round robin, skipping `exclude`.
    pub(crate) fn route(
        &mut self,
        context: &str,
        project: Option<&str>,
        exclude: &BTreeSet<SessKey>,
    ) -> Option<SessKey> {
        let candidates: Vec<SessKey> = self
            .receivers(context, project)
            .into_iter()
            .filter(|k| !exclude.contains(k))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let start = match self.round_robin.get_mut(context) {
            Some(next) => {
                *next += 1;
                *next - 1
            }
            None => {
                let start = self.rng.next_u64() % 1024;
                self.round_robin.insert(context.to_owned(), start + 1);
                start
            }
        };
        Some(candidates[(start % candidates.len() as u64) as usize])
    }

    pub(crate) fn session_by_id(&self, sessionid: &str) -> Option<SessKey> {
        self.sessions
            .iter()
            .find(|(_, s)| s.sessionid == sessionid)
            .map(|(k, _)| *k)
    }
}
