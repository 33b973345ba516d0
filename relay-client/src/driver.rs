//! The driver: one future per connection that owns the [`Session`], and the router that maps
//! the session's ids to the futures waiting for them.
//!
//! Loop: drain `poll_output` (write frames, route events, act on transport actions), wait for
//! the first of {frame, command, timer}, make one mutation with `now = runtime.now()`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_channel::{mpsc, oneshot};
use futures_util::future::{self, Either};
use futures_util::StreamExt as _;
use relay_proto::calling::{
    CallEvent, CallInfo, CallState, ComponentResult, ConnectParams, ControlAction, ControlResult,
    DetectMode, DetectParams, DialParams, DialResult, EndReason, FaxSendParams, PlayParams,
    PromptParams, RecordParams, ReferParams, TapParams,
};
use relay_proto::{
    CallId, CloseInfo, ControlId, DialTag, Event, Input, MessageParams, Output, RequestError,
    RequestId, SendResult, Session, StopReason, TransportAction,
};
use serde_json::Value;

use crate::error::ClientError;
use crate::runtime::{BoxFuture, Connector, Runtime, TransportError, WsRecv, WsTransport};

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A command on a call that yields a [`ControlId`] (and later one [`ComponentResult`]).
#[derive(Debug, Clone)]
pub(crate) enum CallOp {
    Answer,
    Hangup(EndReason),
    Pass,
    Connect(Box<ConnectParams>),
    Disconnect,
    Refer(Box<ReferParams>),
    WaitFor(Vec<CallState>),
    Play(Box<PlayParams>),
    Prompt(Box<PromptParams>),
    Record(Box<RecordParams>),
    Detect(Box<DetectParams>, DetectMode),
    SendFax(Box<FaxSendParams>),
    ReceiveFax,
    Tap(Box<TapParams>),
    SendDigits(String),
}

/// What handles ask of the driver.
pub(crate) enum Command {
    WaitReady(Reply<()>),
    Subscribe(mpsc::Sender<Event>),
    Dial {
        params: Box<DialParams>,
        reply: Reply<DialResult>,
    },
    Call {
        call_id: CallId,
        op: CallOp,
        started: Reply<ControlId>,
        done: oneshot::Sender<ComponentResult>,
    },
    Control {
        call_id: CallId,
        control_id: ControlId,
        action: ControlAction,
        reply: Reply<ControlResult>,
    },
    CallInfo {
        call_id: CallId,
        reply: oneshot::Sender<Option<CallInfo>>,
    },
    MessagingSend {
        params: Box<MessageParams>,
        reply: Reply<SendResult>,
    },
    Receive {
        contexts: Vec<String>,
        reply: Reply<()>,
    },
    Execute {
        method: String,
        params: Value,
        reply: Reply<relay_proto::wire::RelayResult>,
    },
    Disconnect(oneshot::Sender<()>),
}

/// Who waits for a request's answer.
enum Pending {
    Control(Reply<ControlResult>),
    Send(Reply<SendResult>),
    Receive(Reply<()>),
    Execute(Reply<relay_proto::wire::RelayResult>),
}

/// Maps the session's ids to waiting futures. Entries whose receiver was dropped are removed
/// when their outcome arrives; the core guarantees exactly one outcome per id.
#[derive(Default)]
struct Router {
    requests: BTreeMap<RequestId, Pending>,
    components: BTreeMap<ControlId, oneshot::Sender<ComponentResult>>,
    dials: BTreeMap<DialTag, Reply<DialResult>>,
    ready_waiters: Vec<Reply<()>>,
    close_waiters: Vec<oneshot::Sender<()>>,
    subscribers: Vec<Subscriber>,
}

/// An [`events`](crate::RelayClient::events) stream's sending side.
struct Subscriber {
    tx: mpsc::Sender<Event>,
    /// Events dropped since it last had room.
    missed: u64,
}

impl Subscriber {
    fn new(tx: mpsc::Sender<Event>) -> Self {
        Subscriber { tx, missed: 0 }
    }
}

/// Tunables of the async layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Capacity of the command channel from handles to the driver.
    pub command_capacity: usize,
    /// Capacity of each [`events`](crate::RelayClient::events) subscription; a subscriber that
    /// falls this far behind misses events (logged with `tracing::warn!`) rather than stalling
    /// the connection.
    pub event_capacity: usize,
    /// How long a WebSocket connect may take before it counts as failed.
    pub connect_timeout: Duration,
    /// How long writing one frame (or a close) may take; a peer that stops reading then
    /// counts as a dropped connection instead of stalling the driver.
    pub io_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            command_capacity: 64,
            event_capacity: 1024,
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientOptions {
    /// Sets the event subscription capacity.
    pub fn with_event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n.max(1);
        self
    }

    /// Sets the command channel capacity.
    pub fn with_command_capacity(mut self, n: usize) -> Self {
        self.command_capacity = n.max(1);
        self
    }

    /// Sets the write timeout.
    pub fn with_io_timeout(mut self, d: Duration) -> Self {
        self.io_timeout = d;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
}

pub(crate) struct Driver {
    session: Session,
    runtime: Arc<dyn Runtime>,
    connector: Arc<dyn Connector>,
    url: String,
    options: ClientOptions,
    ws: Option<Box<dyn WsTransport>>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    router: Router,
    ready: bool,
    stopped: Option<StopReason>,
    sleep: Option<(Instant, BoxFuture<'static, ()>)>,
    turn: u8,
}

enum Wake {
    Recv(WsRecv),
    Command(Option<Command>),
    Timer,
}

impl Driver {
    pub(crate) fn new(
        session: Session,
        runtime: Arc<dyn Runtime>,
        connector: Arc<dyn Connector>,
        url: String,
        options: ClientOptions,
        commands: mpsc::Receiver<Command>,
        first_subscriber: Option<mpsc::Sender<Event>>,
    ) -> Self {
        let mut router = Router::default();
        router
            .subscribers
            .extend(first_subscriber.map(Subscriber::new));
        Driver {
            session,
            runtime,
            connector,
            url,
            options,
            ws: None,
            commands,
            commands_open: true,
            router,
            ready: false,
            stopped: None,
            sleep: None,
            turn: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        tracing::debug!(url = %self.url, "relay driver started");
        loop {
            let deadline = self.drain().await;
            if self.stopped.is_some() {
                break;
            }
            let wake = self.wait(deadline).await;
            let now = self.runtime.now();
            match wake {
                Wake::Recv(WsRecv::Text(text)) => {
                    if let Err(e) = self.session.handle_input(now, Input::Frame(&text)) {
                        tracing::warn!(error = %e, "ignored frame");
                    }
                }
                Wake::Recv(WsRecv::Closed { code, reason }) => {
                    tracing::debug!(?code, %reason, "socket closed");
                    self.ws = None;
                    let _ = self.session.handle_input(
                        now,
                        Input::Closed(CloseInfo {
                            code,
                            reason: &reason,
                        }),
                    );
                }
                Wake::Command(Some(cmd)) => self.command(now, cmd),
                Wake::Command(None) => {
                    // Every handle is gone: nobody can use the session any more.
                    tracing::debug!("every handle dropped; closing the session");
                    self.commands_open = false;
                    self.session.close(now);
                }
                Wake::Timer => {
                    let _ = self.session.handle_input(now, Input::Timeout);
                }
            }
        }
        // Refuse new commands and fail the buffered ones (their repliers drop) before telling
        // `disconnect` callers that we are done, so `is_closed` is true by then.
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            if let Command::Disconnect(done) = cmd {
                self.router.close_waiters.push(done);
            }
        }
        if let Some(mut ws) = self.ws.take() {
            let close = ws.close(1000, "session closed".into());
            bounded_io(&*self.runtime, self.options.io_timeout, close).await;
        }
        for w in self.router.close_waiters.drain(..) {
            let _ = w.send(());
        }
        tracing::debug!(reason = ?self.stopped, "relay driver finished");
    }

    /// Waits for the first of a frame, a command and the session's deadline. The three sources
    /// are polled in a rotating order, so a flood of frames cannot starve commands or timers.
    async fn wait(&mut self, deadline: Option<Instant>) -> Wake {
        // Keep the timer across iterations while the deadline is unchanged.
        if self.sleep.as_ref().map(|(at, _)| *at) != deadline {
            self.sleep = deadline.map(|at| (at, self.runtime.sleep_until(at)));
        }
        self.turn = self.turn.wrapping_add(1);
        let turn = self.turn;
        let Driver {
            ws,
            commands,
            commands_open,
            sleep,
            ..
        } = self;
        let mut recv = ws.as_mut().map(|ws| ws.next_frame());
        future::poll_fn(|cx| {
            for i in 0..3u8 {
                match (turn.wrapping_add(i)) % 3 {
                    0 => {
                        if let Some(r) = recv.as_mut() {
                            if let Poll::Ready(v) = r.as_mut().poll(cx) {
                                return Poll::Ready(Wake::Recv(v));
                            }
                        }
                    }
                    1 => {
                        if *commands_open {
                            if let Poll::Ready(c) = commands.poll_next_unpin(cx) {
                                return Poll::Ready(Wake::Command(c));
                            }
                        }
                    }
                    _ => {
                        let fired = sleep
                            .as_mut()
                            .is_some_and(|(_, s)| s.as_mut().poll(cx).is_ready());
                        if fired {
                            // A finished timer future must not be polled again.
                            *sleep = None;
                            return Poll::Ready(Wake::Timer);
                        }
                    }
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Drains `poll_output` until it returns `Timeout`; returns the deadline.
    async fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.session.poll_output() {
                Output::Transmit(frame) => {
                    let Some(ws) = self.ws.as_mut() else {
                        tracing::debug!("frame dropped: no socket");
                        continue;
                    };
                    let send = ws.send(frame);
                    let outcome = bounded_io(&*self.runtime, self.options.io_timeout, send)
                        .await
                        .unwrap_or_else(|| Err(TransportError("send timed out".into())));
                    if let Err(e) = outcome {
                        tracing::debug!(error = %e, "send failed");
                        self.ws = None;
                        let reason = e.to_string();
                        let now = self.runtime.now();
                        let _ = self.session.handle_input(
                            now,
                            Input::Closed(CloseInfo {
                                code: Some(1006),
                                reason: &reason,
                            }),
                        );
                    }
                }
                Output::Transport(TransportAction::Connect) => self.open().await,
                Output::Transport(TransportAction::Close { code, reason }) => {
                    if let Some(mut ws) = self.ws.take() {
                        let close = ws.close(code, reason.clone());
                        bounded_io(&*self.runtime, self.options.io_timeout, close).await;
                    }
                    let now = self.runtime.now();
                    let _ = self.session.handle_input(
                        now,
                        Input::Closed(CloseInfo {
                            code: Some(code),
                            reason: &reason,
                        }),
                    );
                }
                Output::Event(event) => self.route(event),
                Output::Timeout(at) => return at,
                other => tracing::debug!(?other, "unhandled output"),
            }
        }
    }

    async fn open(&mut self) {
        if let Some(mut old) = self.ws.take() {
            let close = old.close(1000, "reconnecting".into());
            bounded_io(&*self.runtime, self.options.io_timeout, close).await;
        }
        let timeout_at = self.runtime.now() + self.options.connect_timeout;
        let connect = self.connector.connect(&self.url);
        let timer = self.runtime.sleep_until(timeout_at);
        let outcome = match future::select(connect, timer).await {
            Either::Left((r, _)) => r.map_err(|e| e.0),
            Either::Right(_) => Err("connect timed out".to_owned()),
        };
        let now = self.runtime.now();
        match outcome {
            Ok(ws) => {
                tracing::debug!(url = %self.url, "socket open");
                self.ws = Some(ws);
                let _ = self.session.handle_input(now, Input::Opened);
            }
            Err(reason) => {
                tracing::info!(url = %self.url, %reason, "connect failed");
                let _ = self.session.handle_input(
                    now,
                    Input::Closed(CloseInfo {
                        code: None,
                        reason: &reason,
                    }),
                );
            }
        }
    }

    fn command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::WaitReady(reply) => {
                if self.ready {
                    let _ = reply.send(Ok(()));
                } else {
                    self.router.ready_waiters.push(reply);
                }
            }
            Command::Subscribe(tx) => self.router.subscribers.push(Subscriber::new(tx)),
            Command::Dial { params, reply } => match self.session.dial(now, &params) {
                Ok(tag) => {
                    self.router.dials.insert(tag, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Call {
                call_id,
                op,
                started,
                done,
            } => {
                let span = tracing::debug_span!("call", call_id = %call_id);
                let _g = span.enter();
                match self.start(now, &call_id, op) {
                    Ok(control_id) => {
                        tracing::debug!(control_id = %control_id, "command started");
                        self.router.components.insert(control_id.clone(), done);
                        let _ = started.send(Ok(control_id));
                    }
                    Err(e) => {
                        let _ = started.send(Err(e.into()));
                    }
                }
            }
            Command::Control {
                call_id,
                control_id,
                action,
                reply,
            } => {
                let r = self
                    .session
                    .call_mut(&call_id)
                    .and_then(|mut c| match action {
                        ControlAction::Stop => c.stop(now, &control_id),
                        ControlAction::Pause => c.pause(now, &control_id),
                        ControlAction::Resume => c.resume(now, &control_id),
                        ControlAction::Volume(v) => c.volume(now, &control_id, v),
                        _ => Err(relay_proto::Error::ApiMisuse(format!(
                            "unsupported control {action:?}"
                        ))),
                    });
                match r {
                    Ok(req) => {
                        self.router.requests.insert(req, Pending::Control(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::CallInfo { call_id, reply } => {
                let _ = reply.send(self.session.call(&call_id).cloned());
            }
            Command::MessagingSend { params, reply } => {
                match self.session.messaging_send(now, &params) {
                    Ok(req) => {
                        self.router.requests.insert(req, Pending::Send(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Receive { contexts, reply } => match self.session.receive(now, contexts) {
                Ok(Some(req)) => {
                    self.router.requests.insert(req, Pending::Receive(reply));
                }
                // Already registered, or sent with the next handshake.
                Ok(None) => {
                    let _ = reply.send(Ok(()));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Execute {
                method,
                params,
                reply,
            } => match self.session.execute(now, &method, params) {
                Ok(req) => {
                    self.router.requests.insert(req, Pending::Execute(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Disconnect(done) => {
                self.router.close_waiters.push(done);
                self.session.close(now);
            }
        }
    }

    fn start(
        &mut self,
        now: Instant,
        call_id: &CallId,
        op: CallOp,
    ) -> Result<ControlId, relay_proto::Error> {
        let mut c = self.session.call_mut(call_id)?;
        match op {
            CallOp::Answer => c.answer(now),
            CallOp::Hangup(reason) => c.hangup(now, reason),
            CallOp::Pass => c.pass(now),
            CallOp::Connect(p) => c.connect(now, &p),
            CallOp::Disconnect => c.disconnect(now),
            CallOp::Refer(p) => c.refer(now, &p),
            CallOp::WaitFor(states) => c.wait_for(now, &states),
            CallOp::Play(p) => c.play(now, &p),
            CallOp::Prompt(p) => c.prompt(now, &p),
            CallOp::Record(p) => c.record(now, &p),
            CallOp::Detect(p, mode) => c.detect(now, &p, mode),
            CallOp::SendFax(p) => c.send_fax(now, &p),
            CallOp::ReceiveFax => c.receive_fax(now),
            CallOp::Tap(p) => c.tap(now, &p),
            CallOp::SendDigits(d) => c.send_digits(now, &d),
        }
    }

    /// Completes whoever waits for this event, then hands it to every subscriber.
    fn route(&mut self, event: Event) {
        match &event {
            Event::Ready { .. } => {
                self.ready = true;
                for w in self.router.ready_waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Event::Disconnected { .. } | Event::Paused => self.ready = false,
            Event::Stopped { reason } => {
                self.ready = false;
                self.stopped = Some(reason.clone());
                for w in self.router.ready_waiters.drain(..) {
                    let _ = w.send(Err(ClientError::Request(RequestError::SessionStopped)));
                }
            }
            Event::ContextsRegistered {
                request, outcome, ..
            } => {
                if let Some(Pending::Receive(r)) = self.router.requests.remove(request) {
                    let _ = r.send(outcome.clone().map_err(ClientError::Request));
                }
            }
            Event::Response { request, outcome } => {
                if let Some(Pending::Execute(r)) = self.router.requests.remove(request) {
                    let _ = r.send(outcome.clone().map_err(ClientError::Request));
                }
            }
            Event::MessageSent { request, result } => {
                if let Some(Pending::Send(r)) = self.router.requests.remove(request) {
                    let _ = r.send(Ok(result.clone()));
                }
            }
            Event::Call(CallEvent::ComponentFinished {
                control_id, result, ..
            }) => {
                if let Some(w) = self.router.components.remove(control_id) {
                    let _ = w.send((**result).clone());
                }
            }
            Event::Call(CallEvent::ControlCompleted {
                request, result, ..
            }) => {
                if let Some(Pending::Control(r)) = self.router.requests.remove(request) {
                    let _ = r.send(Ok(result.clone()));
                }
            }
            Event::Call(CallEvent::DialCompleted { tag, result }) => {
                if let Some(r) = self.router.dials.remove(tag) {
                    let _ = r.send(Ok(result.clone()));
                }
            }
            _ => {}
        }
        self.broadcast(event);
    }

    fn broadcast(&mut self, event: Event) {
        self.router
            .subscribers
            .retain_mut(|sub| match sub.tx.try_send(event.clone()) {
                Ok(()) => {
                    if sub.missed > 0 {
                        tracing::info!(missed = sub.missed, "event subscriber caught up");
                        sub.missed = 0;
                    }
                    true
                }
                Err(e) if e.is_full() => {
                    // Warn once per lagging spell, not once per event.
                    if sub.missed == 0 {
                        tracing::warn!("event subscriber is full; dropping events for it");
                    }
                    sub.missed += 1;
                    true
                }
                Err(_) => false,
            });
    }
}

/// Runs a socket operation for at most `limit`; `None` when it timed out.
async fn bounded_io<T>(runtime: &dyn Runtime, limit: Duration, op: BoxFuture<'_, T>) -> Option<T> {
    let timer = runtime.sleep_until(runtime.now() + limit);
    match future::select(op, timer).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => {
            tracing::info!(?limit, "socket operation timed out");
            None
        }
    }
}
