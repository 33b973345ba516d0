//! The driver against relay-mock's sans-IO server, in memory, on a virtual clock: no sockets,
//! no threads, fully deterministic. A tiny executor polls the driver and the test body; when
//! nothing can progress it advances the clock to the earliest timer (the driver's or the
//! server's), so a 30 s playback takes 30 virtual seconds and no real time.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::task::ArcWake;
use futures::StreamExt;
use relay_client::{
    BoxFuture, ClientOptions, Connector, Events, RelayClient, RelayConsumer, Runtime,
    TransportError, WsRecv, WsTransport,
};
use relay_mock::{ConnId, MockConfig, MockServer, ServerOutput};
use relay_proto::calling::{Device, DialParams, Media, PlayParams};
use relay_proto::{Event, SessionConfig, StopReason};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Virtual clock and runtime

struct ClockState {
    now: Instant,
    timers: Vec<(Instant, Waker)>,
}

#[derive(Clone)]
struct Clock(Arc<Mutex<ClockState>>);

impl Clock {
    fn now(&self) -> Instant {
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
struct VirtualRuntime {
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
fn run<T>(rt: &VirtualRuntime, body: impl Future<Output = T>) -> T {
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
}

#[derive(Clone)]
struct Server {
    state: Arc<Mutex<ServerState>>,
    clock: Clock,
}

impl Server {
    fn new(clock: Clock) -> Self {
        Server {
            state: Arc::new(Mutex::new(ServerState {
                server: MockServer::new(MockConfig::default()),
                conns: BTreeMap::new(),
            })),
            clock,
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
            if let Some(c) = state.conns.get_mut(&conn) {
                if !c.closed {
                    c.closed = matches!(msg, WsRecv::Closed { .. });
                    c.inbox.push_back(msg);
                    if let Some(w) = c.waker.take() {
                        w.wake();
                    }
                }
            }
        }
    }

    /// A control API call (`inbound_call`, `drop`, `next`, ...).
    fn control(&self, endpoint: &str, body: serde_json::Value) -> serde_json::Value {
        let now = self.clock.now();
        let mut s = self.state.lock().expect("server");
        let out = s.server.control(now, endpoint, body).expect("control ok");
        Self::pump(&mut s, now);
        out
    }
}

impl Connector for Server {
    fn connect(
        &self,
        _url: &str,
    ) -> BoxFuture<'static, Result<Box<dyn WsTransport>, TransportError>> {
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

impl WsTransport for MemWs {
    fn send(&mut self, frame: String) -> BoxFuture<'_, Result<(), TransportError>> {
        let now = self.server.clock.now();
        let mut s = self.server.state.lock().expect("server");
        let r = if s.conns.get(&self.conn).is_some_and(|c| !c.closed) {
            s.server.handle_frame(now, self.conn, &frame);
            Server::pump(&mut s, now);
            Ok(())
        } else {
            Err(TransportError("closed".into()))
        };
        Box::pin(async move { r })
    }

    fn next_frame(&mut self) -> BoxFuture<'_, WsRecv> {
        Box::pin(futures::future::poll_fn(move |cx| {
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
        }))
    }

    fn close(&mut self, code: u16, _reason: String) -> BoxFuture<'_, ()> {
        let now = self.server.clock.now();
        let mut s = self.server.state.lock().expect("server");
        if let Some(c) = s.conns.get_mut(&self.conn) {
            if !c.closed {
                c.closed = true;
                s.server.connection_closed_with_code(now, self.conn, code);
                Server::pump(&mut s, now);
            }
        }
        Box::pin(async {})
    }
}

// ---------------------------------------------------------------------------------------------

fn setup() -> (VirtualRuntime, Server) {
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

fn config() -> SessionConfig {
    SessionConfig::new("test-project", "test-token")
        .with_seed(7)
        .with_contexts(["office"])
}

fn connect(rt: &VirtualRuntime, server: &Server) -> (RelayClient, Events) {
    RelayClient::connect_with(
        config(),
        "ws://in-memory",
        rt.clone(),
        server.clone(),
        ClientOptions::default(),
    )
}

async fn until(events: &mut Events, mut want: impl FnMut(&Event) -> bool) -> Event {
    while let Some(e) = events.next().await {
        if want(&e) {
            return e;
        }
    }
    panic!("event stream ended");
}

#[test]
fn a_thirty_second_ringtone_takes_thirty_virtual_seconds() {
    let (rt, server) = setup();
    let (client, _events) = connect(&rt, &server);
    let start = rt.now();
    let elapsed = run(&rt, async {
        client.wait_ready().await.expect("ready");
        let call = client
            .calling()
            .dial(DialParams::single(Device::phone(
                "+15551230001",
                "+15553210002",
            )))
            .await
            .expect("dial");
        let t0 = rt.now();
        let play = call
            .play_async(PlayParams::new([Media::ringtone("us", Some(30.0))]))
            .await
            .expect("play");
        assert!(play.pause().await.expect("pause").successful);
        assert!(play.resume().await.expect("resume").successful);
        let result = play.wait().await.expect("outcome");
        assert!(result.successful, "{result:?}");
        let elapsed = rt.now() - t0;
        assert!(call.hangup().await.expect("hangup").successful);
        client.disconnect().await;
        elapsed
    });
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(31),
        "{elapsed:?}"
    );
    assert!(rt.now() - start < Duration::from_secs(60));
}

#[test]
fn consumer_on_virtual_time() {
    let (rt, server) = setup();
    let (done_tx, done_rx) = futures::channel::oneshot::channel::<bool>();
    let done_tx = Mutex::new(Some(done_tx));
    let s = server.clone();
    let consumer = RelayConsumer::new()
        .on_ready(move |_client| {
            let out = s.control(
                "inbound_call",
                json!({"context":"office","from":"+15551230001","to":"+15553210002"}),
            );
            assert!(out.get("call_id").is_some());
            async {}
        })
        .on_incoming_call(move |call| {
            let tx = done_tx.lock().expect("lock").take();
            async move {
                let ok = call.answer().await.is_ok_and(|r| r.successful)
                    && call.play_tts("hello").await.is_ok_and(|r| r.successful)
                    && call.hangup().await.is_ok_and(|r| r.successful);
                if let Some(tx) = tx {
                    let _ = tx.send(ok);
                }
                call.client().disconnect().await;
            }
        });
    let stop = run(&rt, async {
        let stop = consumer
            .run(config(), "ws://in-memory", rt.clone(), server.clone())
            .await;
        assert_eq!(done_rx.await, Ok(true));
        stop
    });
    assert_eq!(stop, Ok(StopReason::Closed));
}

#[test]
fn dropped_socket_resumes_with_virtual_backoff() {
    let (rt, server) = setup();
    let (client, mut events) = connect(&rt, &server);
    run(&rt, async {
        client.wait_ready().await.expect("ready");
        let call = client
            .calling()
            .dial(DialParams::single(Device::phone(
                "+15551230001",
                "+15553210002",
            )))
            .await
            .expect("dial");
        server.control("drop", json!({}));
        until(&mut events, |e| matches!(e, Event::Disconnected { .. })).await;
        let t0 = rt.now();
        let ready = until(&mut events, |e| matches!(e, Event::Ready { .. })).await;
        assert!(
            matches!(ready, Event::Ready { restored: true, .. }),
            "{ready:?}"
        );
        // The default backoff: 500 ms +/- 20%.
        let waited = rt.now() - t0;
        assert!(waited >= Duration::from_millis(400) && waited <= Duration::from_millis(600));
        // The call survived the drop.
        let played = call.play_tts("still here").await.expect("play");
        assert!(played.successful, "{played:?}");
        client.disconnect().await;
    });
}
