//! What handles ask of the driver ([`Command`]), and the router that completes whoever waits
//! for the session's outcomes and hands events to observers.

use std::collections::HashMap;
use std::time::Instant;

use futures_channel::oneshot;
use relay_proto::calling::{
    CallEvent, CallInfo, CallState, ComponentResult, ConnectParams, ControlAction, ControlResult,
    DetectMode, DetectParams, DialOutcome, DialParams, EndReason, FaxSendParams, PlayParams,
    PromptParams, RecordParams, ReferParams, TapParams,
};
use relay_proto::{
    CallId, ControlId, DialTag, Event, MessageParams, RequestError, RequestId, SendResult,
};
use serde_json::Value;

use std::sync::Arc;

use crate::delivery::{ClientEvent, Inbox, Subscriber};
use crate::error::ClientError;
use crate::live::{ActionCell, CallCell};

use super::Driver;

/// FxHash for the id-keyed maps: ids are hashed for every event and command routed, where
/// SipHash over a 36-byte id was a visible share of a busy consumer's CPU. The keys are ids
/// the server gives or the core makes, in maps bounded by the calls and commands in progress.
type Ids<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A record or tap waiting for its execute response: its ids, its action cell, and the reply
/// that hands the action out (taken when the answer or the end came).
type AwaitingResponse = (CallId, ControlId, Arc<ActionCell>, Option<Reply<ControlId>>);

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

/// Who waits for a [`Command::Call`].
pub(crate) enum CallReply {
    /// An `*_async` form: the control id once the core accepted the command (record and tap:
    /// once the server answered it), then the outcome; the action cell is kept current.
    Action {
        started: Reply<ControlId>,
        done: oneshot::Sender<ComponentResult>,
        cell: Arc<ActionCell>,
    },
    /// A blocking form: the outcome only (or why the command was refused), one reply and
    /// nothing kept for an action nobody can see.
    Outcome(Reply<ComponentResult>),
}

/// Who waits for a running component's outcome.
enum Waiter {
    Action(oneshot::Sender<ComponentResult>, Arc<ActionCell>),
    Outcome(Reply<ComponentResult>),
}

impl Waiter {
    fn finish(self, result: ComponentResult) {
        match self {
            Waiter::Action(done, _) => {
                let _ = done.send(result);
            }
            Waiter::Outcome(reply) => {
                let _ = reply.send(Ok(result));
            }
        }
    }
}

/// Whose events a [`Command::SubscribeCall`] wants.
pub(crate) enum CallTarget {
    /// A call with an id.
    Id(CallId),
    /// A call from `new_call`, known by its dial tag once dialed.
    Cell(Arc<CallCell>),
}

/// What handles ask of the driver.
pub(crate) enum Command {
    WaitReady(Reply<()>),
    Subscribe(Subscriber<Event>),
    SubscribeClient(Subscriber<ClientEvent>),
    SubscribeCall {
        target: CallTarget,
        sub: Subscriber<CallEvent>,
    },
    Dial {
        params: Box<DialParams>,
        /// The cell of the call `new_call` made, kept current from the dial's events.
        cell: Option<Arc<CallCell>>,
        reply: Reply<DialOutcome>,
    },
    Call {
        call_id: CallId,
        op: CallOp,
        reply: CallReply,
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
pub(super) struct Router {
    requests: Ids<RequestId, Pending>,
    components: Ids<ControlId, Waiter>,
    /// Records and taps whose execute response (url, source device) is still to come, with
    /// the reply that hands the action out: like Node's `recordAsync()`/`tapAsync()`, the
    /// async forms resolve once the server answered (or the component finished).
    awaiting_response: Vec<AwaitingResponse>,
    dials: Ids<DialTag, Reply<DialOutcome>>,
    ready_waiters: Vec<Reply<()>>,
    pub(super) close_waiters: Vec<oneshot::Sender<()>>,
    subscribers: Vec<Subscriber<Event>>,
    client_subscribers: Vec<Subscriber<ClientEvent>>,
    call_subscribers: Ids<CallId, Vec<Subscriber<CallEvent>>>,
    /// Subscribers of calls from `new_call` that have no id yet, matched by dial tag.
    dial_subscribers: Vec<(Arc<CallCell>, Subscriber<CallEvent>)>,
    inbox: Option<Inbox>,
}

impl Router {
    pub(super) fn new(first_subscriber: Option<Subscriber<Event>>, inbox: Option<Inbox>) -> Self {
        Router {
            subscribers: first_subscriber.into_iter().collect(),
            inbox,
            ..Router::default()
        }
    }

    /// Whether the consumer's lossless queue is over its mark (see [`Inbox::is_full`]).
    pub(super) fn consumer_is_full(&self, cx: &mut std::task::Context<'_>) -> bool {
        self.inbox.as_ref().is_some_and(|i| i.is_full(cx))
    }

    /// Tells every [`ClientEvent`] subscriber.
    pub(super) fn client_event(&mut self, event: ClientEvent) {
        tracing::debug!(?event, "client event");
        self.client_subscribers
            .retain_mut(|sub| sub.offer(event.clone()));
    }

    /// Ends every stream (the session stopped).
    pub(super) fn close(&mut self) {
        self.subscribers.clear();
        self.client_subscribers.clear();
        self.call_subscribers.clear();
        self.dial_subscribers.clear();
        self.inbox = None;
    }
}

impl Driver {
    pub(super) fn command(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::WaitReady(reply) => {
                if self.session.is_ready() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.router.ready_waiters.push(reply);
                }
            }
            Command::Subscribe(sub) => self.router.subscribers.push(sub),
            Command::SubscribeClient(sub) => self.router.client_subscribers.push(sub),
            Command::SubscribeCall { target, sub } => match target {
                // A call the registry no longer knows has ended: its stream ends at once.
                CallTarget::Id(call_id) => {
                    if self.session.call(&call_id).is_some() {
                        self.router
                            .call_subscribers
                            .entry(call_id)
                            .or_default()
                            .push(sub);
                    }
                }
                CallTarget::Cell(cell) => self.router.dial_subscribers.push((cell, sub)),
            },
            Command::Dial {
                params,
                cell,
                reply,
            } => match self.session.dial(now, &params) {
                Ok(tag) => {
                    if let Some(cell) = cell {
                        self.state.calls.dialing(tag.clone(), &cell);
                    }
                    self.router.dials.insert(tag, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Call { call_id, op, reply } => self.call_command(now, &call_id, op, reply),
            Command::Control {
                call_id,
                control_id,
                action,
                reply,
            } => self.control_command(now, &call_id, &control_id, action, reply),
            Command::CallInfo { call_id, reply } => {
                // The handle asking may know nothing yet (made from an id): bring it up to date.
                if let Some(info) = self.session.call_shared(&call_id) {
                    self.state.calls.refresh(&call_id, info);
                }
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

    fn call_command(&mut self, now: Instant, call_id: &CallId, op: CallOp, reply: CallReply) {
        let span = tracing::debug_span!("call", call_id = %call_id);
        let _g = span.enter();
        let responds = matches!(op, CallOp::Record(_) | CallOp::Tap(_));
        let control_id = match self.start(now, call_id, op) {
            Ok(control_id) => control_id,
            Err(e) => {
                match reply {
                    CallReply::Action { started, .. } => {
                        let _ = started.send(Err(e.into()));
                    }
                    CallReply::Outcome(reply) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
                return;
            }
        };
        tracing::debug!(control_id = %control_id, "command started");
        let (started, done, cell) = match reply {
            CallReply::Outcome(reply) => {
                self.router
                    .components
                    .insert(control_id, Waiter::Outcome(reply));
                return;
            }
            CallReply::Action {
                started,
                done,
                cell,
            } => (started, done, cell),
        };
        if let Some(p) = self.session.component_payload(call_id, &control_id) {
            cell.set_payload(serde_json::from_str(p.get()).unwrap_or_default());
        }
        self.router
            .components
            .insert(control_id.clone(), Waiter::Action(done, cell.clone()));
        if responds {
            self.router
                .awaiting_response
                .push((call_id.clone(), control_id, cell, Some(started)));
        } else {
            let _ = started.send(Ok(control_id));
        }
    }

    fn control_command(
        &mut self,
        now: Instant,
        call_id: &CallId,
        control_id: &ControlId,
        action: ControlAction,
        reply: Reply<ControlResult>,
    ) {
        let r = self
            .session
            .call_mut(call_id)
            .and_then(|mut c| match action {
                ControlAction::Stop => c.stop(now, control_id),
                ControlAction::Pause => c.pause(now, control_id),
                ControlAction::Resume => c.resume(now, control_id),
                ControlAction::Volume(v) => c.volume(now, control_id, v),
                _ => Err(relay_proto::CommandError::ApiMisuse(
                    relay_proto::error::ApiMisuse::InvalidParameter {
                        which: "control".into(),
                        why: format!("unsupported control {action:?}"),
                    },
                )),
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

    fn start(
        &mut self,
        now: Instant,
        call_id: &CallId,
        op: CallOp,
    ) -> Result<ControlId, relay_proto::CommandError> {
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

    /// Copies what execute responses carried (a record's url, a tap's source device) to the
    /// actions waiting for it; run after each batch of output.
    pub(super) fn refresh_actions(&mut self) {
        if self.router.awaiting_response.is_empty() {
            return;
        }
        let session = &self.session;
        self.router
            .awaiting_response
            .retain_mut(|(call_id, control_id, cell, started)| {
                let running = session.running_component(call_id, control_id);
                let copied = running.is_some_and(|r| cell.copy_running(r));
                // Finished (None) counts as answered: the action's wait() has the outcome.
                if session.component_answered(call_id, control_id) != Some(false) {
                    if let Some(reply) = started.take() {
                        let _ = reply.send(Ok(control_id.clone()));
                    }
                }
                running.is_some() && (!copied || started.is_some())
            });
    }

    /// Keeps the live call and action cells current with a call event.
    fn update_cells(&mut self, event: &CallEvent) {
        let info = event.call_id().and_then(|id| self.session.call_shared(id));
        let cell = self.state.calls.apply(event, info);
        // A call a handle holds that has a peer: the peer's cell is kept current too, so that
        // `call.peer()` shows the peer's state and device (the registry's entry).
        if let Some(cell) = cell {
            if let Some(peer) = cell.unlinked_peer() {
                let info = self.session.call_shared(&peer);
                cell.link_peer(self.state.calls.get_or_make(&peer, info));
            }
        }
        if matches!(event, CallEvent::ComponentFinished { .. }) {
            return;
        }
        if let Some(Waiter::Action(_, cell)) = event
            .control_id()
            .and_then(|id| self.router.components.get(id))
        {
            cell.update(event);
        }
    }

    /// Completes whoever waits for this event, then hands it to every subscriber.
    pub(super) fn route(&mut self, event: Event) {
        self.connection_event(&event);
        if let Event::Call(ce) = &event {
            self.update_cells(ce);
        }
        let event = match self.finish_unobserved(event) {
            Some(event) => event,
            None => return,
        };
        match &event {
            Event::Ready { .. } => {
                // The snapshot first: whoever `wait_ready()` released may read `is_connected()`
                // or the session id at once, on another thread.
                self.state.update(&self.session);
                for w in self.router.ready_waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            Event::Stopped { reason } => {
                self.stopped = Some(reason.clone());
                for w in self.router.ready_waiters.drain(..) {
                    let _ = w.send(Err(ClientError::Request(RequestError::SessionStopped)));
                }
            }
            Event::ContextsRegistered {
                request,
                outcome,
                contexts,
            } => {
                if outcome.is_ok() {
                    self.state.add_contexts(contexts);
                }
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
                    w.finish((**result).clone());
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

    /// A finished component nobody else observes: its result moves to the waiting future
    /// instead of being cloned for a broadcast that has no receiver (`None`: handled).
    fn finish_unobserved(&mut self, event: Event) -> Option<Event> {
        let Event::Call(CallEvent::ComponentFinished {
            call_id,
            control_id,
            result,
        }) = event
        else {
            return Some(event);
        };
        let observed = !self.router.subscribers.is_empty()
            || !self.router.dial_subscribers.is_empty()
            || self.router.call_subscribers.contains_key(&call_id);
        if observed {
            return Some(Event::Call(CallEvent::ComponentFinished {
                call_id,
                control_id,
                result,
            }));
        }
        if let Some(w) = self.router.components.remove(&control_id) {
            w.finish(*result);
        }
        None
    }

    /// The [`ClientEvent`]s a session event stands for.
    fn connection_event(&mut self, event: &Event) {
        match event {
            Event::Ready {
                session_id,
                restored,
                ..
            } => {
                let session_id = session_id.as_str().to_owned();
                self.router.client_event(if *restored {
                    ClientEvent::Restored { session_id }
                } else {
                    ClientEvent::Ready { session_id }
                });
            }
            Event::AuthFailed { error } => {
                self.router.client_event(ClientEvent::Error {
                    error: crate::delivery::SessionFailure::AuthFailed {
                        code: error.code,
                        message: error.message.clone(),
                    },
                });
            }
            Event::Disconnected { reconnect_at } => {
                let (code, reason) = self.last_close.clone();
                self.router
                    .client_event(ClientEvent::Disconnected { code, reason });
                if let Some(at) = reconnect_at {
                    self.router
                        .client_event(ClientEvent::Reconnecting { at: *at });
                }
            }
            _ => {}
        }
    }

    /// Hands `event` to the consumer (if it needs it; never dropped), to the call's
    /// subscribers and to every observer (both lossy, told what they missed).
    fn broadcast(&mut self, event: Event) {
        if let Event::Call(ce) = &event {
            self.broadcast_dial(ce);
            if let Some(id) = ce.call_id() {
                let over = matches!(
                    ce,
                    CallEvent::StateChanged {
                        state: CallState::Ended,
                        ..
                    } | CallEvent::Released { .. }
                );
                if let Some(subs) = self.router.call_subscribers.get_mut(id) {
                    subs.retain_mut(|s| s.offer(ce.clone()));
                }
                if over {
                    // The call is gone: its streams end.
                    self.router.call_subscribers.remove(id);
                }
            }
        }
        if consumer_needs(&event) {
            if let Some(inbox) = &self.router.inbox {
                if !inbox.push(event.clone()) {
                    self.router.inbox = None;
                } else if inbox.len() % 1024 == 0 {
                    tracing::info!(waiting = inbox.len(), "consumer backlog");
                }
            }
        }
        self.router
            .subscribers
            .retain_mut(|sub| sub.offer(event.clone()));
    }
}

impl Driver {
    /// Hands a dial's events to the subscribers of the `new_call` it dials; on completion
    /// they follow the answered leg by id, or end.
    fn broadcast_dial(&mut self, ce: &CallEvent) {
        let Some(tag) = ce.dial_tag() else {
            return;
        };
        if self.router.dial_subscribers.is_empty() {
            return;
        }
        let completed = match ce {
            CallEvent::DialCompleted { result, .. } => Some(result.call_id.clone()),
            _ => None,
        };
        let mut keep = Vec::new();
        for (cell, mut sub) in self.router.dial_subscribers.drain(..) {
            if cell.read(|l| l.tag() != Some(tag)) {
                keep.push((cell, sub));
                continue;
            }
            // A completion with a winner reaches it by id, like the leg's later events.
            let by_id = matches!(completed, Some(Some(_)));
            if !by_id && !sub.offer(ce.clone()) {
                continue;
            }
            match &completed {
                Some(Some(id)) => self
                    .router
                    .call_subscribers
                    .entry(id.clone())
                    .or_default()
                    .push(sub),
                Some(None) => {}
                None => keep.push((cell, sub)),
            }
        }
        self.router.dial_subscribers = keep;
    }
}

/// Events a [`RelayConsumer`](crate::RelayConsumer) acts on; they reach it losslessly.
fn consumer_needs(event: &Event) -> bool {
    matches!(
        event,
        Event::Ready { .. }
            | Event::ContextsRegistered { .. }
            | Event::Stopped { .. }
            | Event::Message(_)
            | Event::Task { .. }
            | Event::Call(CallEvent::IncomingCall { .. })
    )
}
