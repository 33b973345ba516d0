//! A virtual runtime and relay-mock's sans-IO server in memory, shared by the driver tests:
//! no sockets, no threads, fully deterministic. A tiny executor polls the test body and every
//! spawned future; when nothing can progress it advances the clock to the earliest timer (the
//! driver's or the server's), so a 30 s playback takes 30 virtual seconds and no real time.
// Each test file uses a different subset.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::task::ArcWake;
use futures::StreamExt;
use relay_client::{
    BoxFuture, ClientOptions, Connector, Events, RelayClient, Runtime, TransportError, WsLimits,
    WsRecv, WsTransport,
};
use relay_mock::{ConnId, MockConfig, MockServer, ServerOutput};
use relay_proto::{Event, SessionConfig};

// ---------------------------------------------------------------------------------------------
// Virtual clock and runtime

struct ClockState {
    now: Instant,
    timers: Vec<(Instant, Waker)>,
}

#[derive(Clone)]
pub struct Clock(Arc<Mutex<ClockState>>);

impl Clock {
    pub fn now(&self) -> Instant {
        self.0.lock().expect("clock").now
    }

    fn wake_at(&self, at: Instant, waker: &Waker) {
        self.0
            .lock()
            .expect("clock")
            .timers
            .push((at, waker.clone()));
    }
}

#[derive(Clone)]
pub struct VirtualRuntime {
    clock: Clock,
    spawned: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl Runtime for VirtualRuntime {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        let clock = self.clock.clone();
        Box::pin(futures::future::poll_fn(move |cx| {
            if clock.now() >= deadline {
                Poll::Ready(())
            } else {
                clock.wake_at(deadline, cx.waker());
                Poll::Pending
            }
        }))
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.spawned.lock().expect("spawned").push(future);
    }
}

struct Flag(AtomicBool);

impl ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `body` and every spawned future until `body` completes, advancing virtual time
/// whenever nothing can progress.
pub fn run<T>(rt: &VirtualRuntime, body: impl Future<Output = T>) -> T {
    let start = rt.now();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = futures::task::waker(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    let mut body = std::pin::pin!(body);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        tasks.extend(rt.spawned.lock().expect("spawned").drain(..));
        tasks.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
        if let Poll::Ready(out) = body.as_mut().poll(&mut cx) {
            return out;
        }
        if flag.0.load(Ordering::SeqCst) || !rt.spawned.lock().expect("spawned").is_empty() {
            continue;
        }
        let due = {
            let mut c = rt.clock.0.lock().expect("clock");
            let next = c
                .timers
                .iter()
                .map(|(t, _)| *t)
                .min()
                .expect("deadlock: nothing can progress and no timer is set");
            if next > c.now {
                c.now = next;
            }
            let now = c.now;
            assert!(now - start < Duration::from_secs(600), "virtual time limit");
            let (due, later): (Vec<_>, Vec<_>) = c.timers.drain(..).partition(|(t, _)| *t <= now);
            c.timers = later;
            due
        };
        for (_, w) in due {
            w.wake();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory transport to a sans-IO MockServer

#[derive(Default)]
struct Conn {
    inbox: VecDeque<WsRecv>,
    waker: Option<Waker>,
    closed: bool,
}

struct ServerState {
    server: MockServer,
    conns: BTreeMap<ConnId, Conn>,
    peak_unread: usize,
    faults: Faults,
}

/// Socket cuts and swallowed frames, armed on [`Server`]. Each is one-shot.
#[derive(Default)]
struct Faults {
    /// Text frames the server sent (delivered, swallowed or lost to a cut), all connections.
    s2c: u64,
    /// Text frames the client sent (that reached the server), all connections.
    c2s: u64,
    /// Cut the socket right after server frame number `k` (1-based, see `s2c`) was delivered.
    cut_after_s2c: Option<u64>,
    /// Cut the socket right after client frame number `k` (1-based) reached the server; what
    /// the server answers to it is lost.
    cut_after_c2s: Option<u64>,
    /// Swallow the first server frame this matches, then cut the socket after `then` more
    /// server frames (0: at once).
    swallow: Option<(FramePredicate, u64)>,
    /// Server frames left before the cut that follows a swallowed frame.
    cut_countdown: Option<u64>,
    /// Frames swallowed so far.
    swallowed: u64,
    /// Cuts made so far.
    cuts: u64,
}

/// Picks a server frame (its JSON text) to swallow.
pub type FramePredicate = Box<dyn FnMut(&serde_json::Value) -> bool + Send>;

impl ServerState {
    /// Cuts `conn` abruptly (no close frame either way): what the client has not read yet
    /// stays readable, nothing more is delivered, the server keeps the session for a restore.
    fn cut(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closed {
            return;
        }
        c.closed = true;
        c.inbox.push_back(WsRecv::Closed {
            code: None,
            reason: "cut by the test".into(),
        });
        if let Some(w) = c.waker.take() {
            w.wake();
        }
        self.faults.cuts += 1;
        self.server.connection_closed(now, conn);
    }

    /// Whether a server text frame for an open connection is delivered; counts it and makes
    /// the cuts and swallows armed on it (a cut applies after the frame is delivered).
    fn on_server_frame(&mut self, text: &str) -> (bool, bool) {
        let f = &mut self.faults;
        f.s2c += 1;
        if let Some((pred, then)) = f.swallow.as_mut() {
            let frame = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
            if pred(&frame) {
                let then = *then;
                f.swallow = None;
                f.swallowed += 1;
                if then == 0 {
                    return (false, true);
                }
                f.cut_countdown = Some(then);
                return (false, false);
            }
        }
        let mut cut = f.cut_after_s2c == Some(f.s2c);
        if let Some(n) = f.cut_countdown.as_mut() {
            *n -= 1;
            if *n == 0 {
                f.cut_countdown = None;
                cut = true;
            }
        }
        if cut {
            f.cut_after_s2c = None;
        }
        (true, cut)
    }
}

#[derive(Clone)]
pub struct Server {
    state: Arc<Mutex<ServerState>>,
    clock: Clock,
    accept: Arc<Mutex<Accept>>,
    attempts: Arc<Mutex<u32>>,
    closes: Arc<Mutex<Vec<u16>>>,
    stalled: Arc<AtomicBool>,
}

impl Server {
    pub fn new(clock: Clock) -> Self {
        Server {
            state: Arc::new(Mutex::new(ServerState {
                server: MockServer::new(MockConfig::default()),
                conns: BTreeMap::new(),
                peak_unread: 0,
                faults: Faults::default(),
            })),
            clock,
            accept: Arc::new(Mutex::new(Accept::Open)),
            attempts: Arc::default(),
            closes: Arc::default(),
            stalled: Arc::default(),
        }
    }

    /// Runs due server timers and moves its output into the connections' inboxes.
    fn pump(state: &mut ServerState, now: Instant) {
        if state.server.poll_timeout().is_some_and(|t| t <= now) {
            state.server.handle_timeout(now);
        }
        while let Some(out) = state.server.poll_output() {
            let (conn, msg) = match out {
                ServerOutput::Send { conn, text } => (conn, WsRecv::Text(text)),
                ServerOutput::Close { conn, code } => (
                    conn,
                    WsRecv::Closed {
                        code,
                        reason: "closed by server".into(),
                    },
                ),
            };
            if !state.conns.get(&conn).is_some_and(|c| !c.closed) {
                continue;
            }
            let (deliver, cut) = match &msg {
                WsRecv::Text(text) => state.on_server_frame(text),
                WsRecv::Closed { .. } => (true, false),
            };
            if !deliver {
                if cut {
                    state.cut(now, conn);
                }
                continue;
            }
            if let Some(c) = state.conns.get_mut(&conn) {
                if !c.closed {
                    c.closed = matches!(msg, WsRecv::Closed { .. });
                    c.inbox.push_back(msg);
                    let unread = c.inbox.len();
                    state.peak_unread = state.peak_unread.max(unread);
                    if let Some(w) = c.waker.take() {
                        w.wake();
                    }
                }
            }
            if cut {
                state.cut(now, conn);
            }
        }
    }

    /// Cuts the socket right after the server's text frame number `k` (1-based, counted over
    /// every connection since the server was created) reached the client. One-shot.
    pub fn cut_after_server_frame(&self, k: u64) {
        self.state.lock().expect("server").faults.cut_after_s2c = Some(k);
    }

    /// Cuts the socket right after the client's text frame number `k` (1-based, counted over
    /// every connection since the server was created) reached the server: whatever the server
    /// answers to it is lost. One-shot.
    pub fn cut_after_client_frame(&self, k: u64) {
        self.state.lock().expect("server").faults.cut_after_c2s = Some(k);
    }

    /// Swallows the first server frame `pred` matches (it never reaches the client, the
    /// server believes it sent it), then cuts the socket after `then` more server frames
    /// (0: at once). One-shot.
    pub fn swallow_then_cut(&self, pred: FramePredicate, then: u64) {
        self.state.lock().expect("server").faults.swallow = Some((pred, then));
    }

    /// Server and client text frames so far (every connection).
    pub fn frames(&self) -> (u64, u64) {
        let s = self.state.lock().expect("server");
        (s.faults.s2c, s.faults.c2s)
    }

    /// Cuts made and frames swallowed so far.
    pub fn cuts_and_swallows(&self) -> (u64, u64) {
        let s = self.state.lock().expect("server");
        (s.faults.cuts, s.faults.swallowed)
    }

    /// How connection attempts are answered from now on.
    pub fn set_accept(&self, accept: Accept) {
        *self.accept.lock().expect("accept") = accept;
    }

    /// Connection attempts so far.
    pub fn attempts(&self) -> u32 {
        *self.attempts.lock().expect("attempts")
    }

    /// Whether the server stops reading: the client's writes then never become ready.
    pub fn stall_reads(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Close codes the client sent, in order.
    pub fn closes(&self) -> Vec<u16> {
        self.closes.lock().expect("closes").clone()
    }

    /// Connections the client has not closed and the server has not closed.
    pub fn open_connections(&self) -> usize {
        let s = self.state.lock().expect("server");
        s.conns.values().filter(|c| !c.closed).count()
    }

    /// The most text frames that waited at once for the client to read them.
    pub fn peak_unread(&self) -> usize {
        self.state.lock().expect("server").peak_unread
    }

    /// Delivers a task to `context` through the server's REST endpoint (as `Task::deliver`).
    pub fn deliver_task(&self, context: &str, message: &serde_json::Value) -> u16 {
        let task = relay_proto::Task::new("test-project", "test-token").expect("task");
        let req = task
            .deliver_request("in-memory", context, message)
            .expect("request");
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone());
        let now = self.clock.now();
        let mut s = self.state.lock().expect("server");
        let resp = s.server.deliver_task(now, auth.as_deref(), &req.body);
        Self::pump(&mut s, now);
        resp.status
    }

    /// A control API call that may be refused (e.g. `inbound_call` while no session receives
    /// the context).
    pub fn try_control(
        &self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, relay_mock::ControlError> {
        let now = self.clock.now();
        let mut s = self.state.lock().expect("server");
        let out = s.server.control(now, endpoint, body);
        Self::pump(&mut s, now);
        out
    }

    /// A control API call (`inbound_call`, `drop`, `next`, ...).
    pub fn control(&self, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
        let now = self.clock.now();
        let mut s = self.state.lock().expect("server");
        let out = s.server.control(now, endpoint, body).expect("control ok");
        Self::pump(&mut s, now);
        out
    }
}

/// How the in-memory server answers connection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Connections open.
    Open,
    /// Connections are refused at once.
    Refuse,
    /// Connection attempts never complete (a black-holed address).
    BlackHole,
}

impl Connector for Server {
    fn connect(
        &self,
        _url: &str,
        _limits: WsLimits,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
        *self.attempts.lock().expect("attempts") += 1;
        match *self.accept.lock().expect("accept") {
            Accept::Open => {}
            Accept::Refuse => {
                return Box::pin(async { Err(TransportError("connection refused".into())) })
            }
            Accept::BlackHole => return Box::pin(futures::future::pending()),
        }
        let now = self.clock.now();
        let mut s = self.state.lock().expect("server");
        let conn = s.server.connection_opened(now);
        s.conns.insert(conn, Conn::default());
        Self::pump(&mut s, now);
        let t: Box<dyn WsTransport> = Box::new(MemWs {
            server: self.clone(),
            conn,
        });
        Box::pin(async move { Ok(t) })
    }
}

struct MemWs {
    server: Server,
    conn: ConnId,
}

impl MemWs {
    fn is_open(&self) -> bool {
        let s = self.server.state.lock().expect("server");
        s.conns.get(&self.conn).is_some_and(|c| !c.closed)
    }
}

impl WsTransport for MemWs {
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        if self.server.stalled.load(Ordering::SeqCst) {
            // Never woken: a peer that stopped reading.
            return Poll::Pending;
        }
        Poll::Ready(if self.is_open() {
            Ok(())
        } else {
            Err(TransportError("closed".into()))
        })
    }

    fn start_send(&mut self, frame: String) -> Result<(), TransportError> {
        let now = self.server.clock.now();
        let mut s = self.server.state.lock().expect("server");
        if !s.conns.get(&self.conn).is_some_and(|c| !c.closed) {
            return Err(TransportError("closed".into()));
        }
        s.server.handle_frame(now, self.conn, &frame);
        s.faults.c2s += 1;
        if s.faults.cut_after_c2s == Some(s.faults.c2s) {
            s.faults.cut_after_c2s = None;
            s.cut(now, self.conn);
        }
        Server::pump(&mut s, now);
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<WsRecv> {
        let now = self.server.clock.now();
        let mut s = self.server.state.lock().expect("server");
        Server::pump(&mut s, now);
        let timer = s.server.poll_timeout();
        let Some(c) = s.conns.get_mut(&self.conn) else {
            return Poll::Ready(WsRecv::Closed {
                code: None,
                reason: "unknown connection".into(),
            });
        };
        if let Some(msg) = c.inbox.pop_front() {
            return Poll::Ready(msg);
        }
        c.waker = Some(cx.waker().clone());
        if let Some(t) = timer {
            self.server.clock.wake_at(t, cx.waker());
        }
        Poll::Pending
    }

    fn start_close(&mut self, code: u16, _reason: String) -> Result<(), TransportError> {
        self.server.closes.lock().expect("closes").push(code);
        let now = self.server.clock.now();
        let mut s = self.server.state.lock().expect("server");
        if let Some(c) = s.conns.get_mut(&self.conn) {
            if !c.closed {
                c.closed = true;
                s.server.connection_closed_with_code(now, self.conn, code);
                Server::pump(&mut s, now);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

pub fn setup() -> (VirtualRuntime, Server) {
    let clock = Clock(Arc::new(Mutex::new(ClockState {
        now: Instant::now(),
        timers: Vec::new(),
    })));
    let rt = VirtualRuntime {
        clock: clock.clone(),
        spawned: Arc::default(),
    };
    (rt, Server::new(clock))
}

pub fn config() -> SessionConfig {
    SessionConfig::new("test-project", "test-token")
        .with_seed(7)
        .with_contexts(["office"])
}

pub fn connect(rt: &VirtualRuntime, server: &Server) -> (RelayClient, Events) {
    RelayClient::connect_with(
        config(),
        "ws://in-memory",
        rt.clone(),
        server.clone(),
        ClientOptions::default(),
    )
}

pub async fn until(events: &mut Events, mut want: impl FnMut(&Event) -> bool) -> Event {
    while let Some(item) = events.next().await {
        // A lagged observer is fine here: what it waits for comes later.
        if let Ok(e) = item {
            if want(&e) {
                return e;
            }
        }
    }
    panic!("event stream ended");
}
