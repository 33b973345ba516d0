//! The Blade session: handshake, keepalive, request timeouts, reconnect with resume, the
//! offline queue, and dispatch of server requests and broadcasts to the sub-machines.

mod broadcast;
mod calling_api;
mod fast;
mod inner;
pub(crate) mod lifecycle;
mod messaging_api;
pub(crate) mod plumbing;
mod timers;

pub use crate::outcome::RequestError;
pub use crate::timer::Timer;

use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::calling::{CallEvent, Calling};
use crate::config::SessionConfig;
use crate::error::{CommandError, InputError, PeerMisbehaved, UnexpectedInput};
use crate::ids::{RequestId, SessionId};
use crate::messaging::{MessageEvent, SendResult};
use crate::rpc::Pending;

use crate::wire::rpc::{Incoming, IncomingRef};
use crate::wire::{self, RelayResult, RpcError};

use self::fast::{FastFrame, Reread};
use self::lifecycle::{AnswerStep, Closed, Lifecycle};
use self::plumbing::{Hub, Params, PendingKind, Plumbing};
use crate::outcome::{relay_object_outcome, relay_outcome};

/// How a request ended: the server answered (possibly with an error object), or no answer
/// will come.
#[derive(Debug, Clone)]
pub(crate) enum Answer<'a> {
    /// The answer's `result` text (borrowed from the frame) or its error object.
    Reply(Result<&'a RawValue, RpcError>),
    /// A result answer read in one pass: its relay result's text (`result.result`, an
    /// object), and the frame, for the rare reader that needs the whole Blade result.
    Relay {
        inner: &'a RawValue,
        frame: &'a str,
    },
    Local(RequestError),
}

impl Answer<'_> {
    /// The relay outcome of a `blade.execute`.
    pub(crate) fn relay(self) -> Result<RelayResult, RequestError> {
        match self {
            Answer::Reply(a) => relay_outcome(a),
            Answer::Relay { inner, .. } => relay_object_outcome(inner),
            Answer::Local(e) => Err(e),
        }
    }

    /// The server's answer as a tree (`None`: no answer came).
    fn tree(self) -> Option<Result<Value, RpcError>> {
        match self {
            Answer::Reply(a) => Some(a.map(|raw| wire::rpc::raw_to_value(Some(raw)))),
            Answer::Relay { frame, .. } => match wire::rpc::decode(frame) {
                Ok(Incoming::Response { payload, .. }) => Some(payload),
                // The one pass read this frame as an answer; the general reading agrees.
                _ => Some(Ok(Value::Null)),
            },
            Answer::Local(_) => None,
        }
    }
}

/// Something that happened to the transport, fed to [`Session::handle_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The WebSocket asked for by [`TransportAction::Connect`] is open.
    Opened,
    /// One text frame arrived.
    Frame(&'a str),
    /// The transport closed, failed to connect, or was closed as asked by
    /// [`TransportAction::Close`]. Always report it, whoever closed.
    Closed(CloseInfo<'a>),
    /// The instant last returned by [`Output::Timeout`] has been reached. Harmless to feed
    /// early, late or repeatedly: only timers whose instant has passed act, each once
    /// ([`Session::fired_timers`] says which).
    Timeout,
}

/// How the transport closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseInfo<'a> {
    /// WebSocket close code, if a close frame was seen (1006 or `None` for an abrupt drop).
    pub code: Option<u16>,
    /// Close reason or I/O error text.
    pub reason: &'a str,
}

/// What the driver must do with the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportAction {
    /// Open a WebSocket to the Relay URL, then feed [`Input::Opened`] (or [`Input::Closed`] if
    /// that fails).
    Connect,
    /// Close the WebSocket with a close frame of this code, then feed [`Input::Closed`].
    Close {
        /// WebSocket close code (1000 normal, 1001 going away, 4000+ application).
        code: u16,
        /// Why, for logs and the close frame.
        reason: String,
    },
}

/// What the session asks of its driver. Drain with [`Session::poll_output`] after every input
/// and command, until it returns `Timeout`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Outputs are moved out once; boxing events would cost an allocation each for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Send this text frame on the current WebSocket.
    Transmit(String),
    /// Open or close the transport.
    Transport(TransportAction),
    /// Something happened that the application may care about.
    Event(Event),
    /// Nothing more to do: call back with [`Input::Timeout`] at this instant (`None`: nothing
    /// is scheduled; wait for a frame, a transport change or a command).
    Timeout(Option<Instant>),
}

/// Why the session stopped for good.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StopReason {
    /// [`Session::close`] was called.
    Closed,
    /// `blade.connect` was rejected and `retry_on_auth_failure` is off.
    AuthFailed(RpcError),
    /// `Backoff::max_attempts` consecutive reconnects failed.
    GaveUp {
        /// Attempts made.
        attempts: u32,
    },
}

/// Events of the session. Calling, messaging and task events carry typed payloads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed; relay commands flow (queued ones were just sent).
    Ready {
        /// The Blade session id.
        session_id: SessionId,
        /// The relay protocol of this session.
        protocol: String,
        /// The server restored the previous session (calls survive). `false` on a reconnect
        /// means the old session is gone with its calls: they were just reported
        /// [`CallEvent::Lost`] and their waits resolved with [`RequestError::Lost`].
        restored: bool,
        /// This is not the first handshake of this `Session`.
        reconnected: bool,
    },
    /// The transport is gone; in-flight requests were failed with
    /// [`RequestError::ConnectionLost`]. A reconnect follows unless the session stopped.
    Disconnected {
        /// When the next connection attempt is due (`None`: not reconnecting).
        reconnect_at: Option<Instant>,
    },
    /// The server sent `blade.disconnect`: commands are queued until it closes the socket and
    /// the session reconnects.
    Paused,
    /// `blade.connect` was rejected.
    AuthFailed {
        /// The server's error.
        error: RpcError,
    },
    /// The session stopped for good; queued commands were failed with
    /// [`RequestError::SessionStopped`].
    Stopped {
        /// Why.
        reason: StopReason,
    },
    /// Outcome of a `signalwire.receive` (sent after each handshake and by
    /// [`Session::receive`]).
    ContextsRegistered {
        /// The request.
        request: RequestId,
        /// The contexts it carried.
        contexts: Vec<String>,
        /// `Ok` once the server accepted them.
        outcome: Result<(), RequestError>,
    },
    /// Outcome of [`Session::execute`].
    Response {
        /// The request.
        request: RequestId,
        /// The relay result, or why there is none.
        outcome: Result<RelayResult, RequestError>,
    },
    /// Outcome of [`Session::messaging_send`].
    MessageSent {
        /// The request.
        request: RequestId,
        /// The send result (unsuccessful results carry the error).
        result: SendResult,
    },
    /// An inbound message or a state change of a message (`queuing.relay.messaging`).
    Message(MessageEvent),
    /// A task delivered to one of our contexts (`queuing.relay.tasks`).
    Task {
        /// The context it was delivered to.
        context: String,
        /// The task's message: any JSON value.
        message: Value,
    },
    /// A calling event: call state, dial and connect results, component updates.
    Call(CallEvent),
    /// An event this version does not understand, from a newer server. Never dropped silently.
    Unrecognized {
        /// The `event_type` (or broadcast `event`) naming it.
        event_type: String,
        /// The whole event object.
        raw: Value,
    },
}

/// A sans-IO Relay v2 client session.
///
/// One `Session` lives across reconnects: it asks for a transport with
/// [`TransportAction::Connect`] as soon as it is created, performs the Blade handshake on
/// [`Input::Opened`], keeps the connection alive, and reconnects with backoff when it drops,
/// resuming the Blade session and the relay protocol so calls survive.
///
/// Inside, it is the only module that knows all its sub-machines: the connection lifecycle
/// (handshake, keepalive, backoff), the pending-request table, calling, and the plumbing
/// (output queue, id generator). Each owns its state and reports back by return value or
/// through a narrow sink; the session routes between them.
pub struct Session {
    /// The plumbing, the pending-request table and the lifecycle.
    pub(crate) hub: Hub,
    pub(crate) calling: Calling,
    max_frame_size: usize,
    /// The timers that fired on the last `Input::Timeout`.
    fired: Vec<Timer>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = self.hub.lifecycle.link();
        f.debug_struct("Session")
            .field("phase", &link.phase())
            .field("conn", &link.conn())
            .field("session_id", &self.hub.lifecycle.session_id())
            .field("protocol", &link.protocol())
            .field("in_flight", &self.hub.requests.in_flight())
            .field("queued", &self.hub.requests.queued())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Creates the session. The first [`poll_output`](Self::poll_output) asks for a transport.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let requests = Pending::new(
            config.request_timeout,
            config.offline_timeout,
            config.bounds.max_in_flight,
            config.bounds.max_offline_queue,
            config.bounds.max_calls,
        );
        let lifecycle = Lifecycle::new(&config);
        let calling = Calling::new(&config.bounds, config.lost_event_timeout);
        let max_frame_size = config.bounds.max_frame_size;
        let mut session = Session {
            hub: Hub {
                plumbing: Plumbing::new(config.id_generator),
                requests,
                lifecycle,
            },
            calling,
            max_frame_size,
            fired: Vec::new(),
        };
        session.hub.plumbing.observe(now);
        let (mut wire, lifecycle) = session.hub.wire();
        lifecycle.start_connect(&mut wire);
        session
    }

    /// Feeds one input. An `Err` reports a frame that was ignored (garbage, or a rule broken
    /// by the peer: which one) or an input that made no sense in this state; the session goes
    /// on either way.
    ///
    /// `now` must come from a monotonic clock; an instant earlier than one already seen is
    /// treated as the latest one seen.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), InputError> {
        let now = self.observe(now);
        match input {
            Input::Opened => {
                let (mut wire, lifecycle) = self.hub.wire();
                Ok(lifecycle.on_opened(&mut wire, now)?)
            }
            Input::Frame(text) => self.handle_frame(now, text),
            Input::Closed(info) => {
                self.on_closed(now, info);
                Ok(())
            }
            Input::Timeout => {
                self.handle_timeout(now);
                Ok(())
            }
        }
    }

    /// The next thing to do. Call until it returns [`Output::Timeout`].
    #[must_use]
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.hub.plumbing.pop_output() {
            return o;
        }
        Output::Timeout(self.poll_timeout())
    }

    /// The next output other than [`Output::Timeout`]; `None` once drained. For drivers that
    /// drain after every input and read [`poll_timeout`](Self::poll_timeout) only before they
    /// sleep (the next instant is computed on each [`poll_output`](Self::poll_output) that
    /// finds nothing more).
    pub fn next_output(&mut self) -> Option<Output> {
        self.hub.plumbing.pop_output()
    }

    /// The next instant at which [`Input::Timeout`] must be fed, if any: the first instant of
    /// [`Session::timers`]. It may change after any input or command (a frame, a transport
    /// change, a command, a timeout), so read it again after each; [`Session::poll_output`]
    /// returns it as [`Output::Timeout`] once the outputs are drained.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.hub.requests.next_deadline(),
            self.hub.lifecycle.next_timer(),
            self.calling.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the handshake is complete and relay commands are being sent.
    pub fn is_ready(&self) -> bool {
        self.hub.lifecycle.link().can_send()
    }

    /// The Blade session id, once known.
    pub fn session_id(&self) -> Option<&str> {
        self.hub.lifecycle.session_id()
    }

    /// The relay protocol, once known.
    pub fn protocol(&self) -> Option<&str> {
        self.hub.lifecycle.link().protocol()
    }

    /// The id of the Relay node serving this session (`nodeid` of the connect answer), once
    /// known.
    pub fn node_id(&self) -> Option<&str> {
        self.hub.lifecycle.node_id()
    }

    /// Requests awaiting an answer on the current connection.
    pub fn in_flight(&self) -> usize {
        self.hub.requests.in_flight()
    }

    /// Commands waiting for the next handshake.
    pub fn queued(&self) -> usize {
        self.hub.requests.queued()
    }

    /// Registers more contexts for inbound calls, messages and tasks. They are also
    /// re-registered after every reconnect. Returns the request id when a `signalwire.receive`
    /// was sent now; `None` when every context is already registered or being registered, or
    /// when the session is not ready (they go out with the next handshake's receive).
    pub fn receive<I, S>(
        &mut self,
        now: Instant,
        contexts: I,
    ) -> Result<Option<RequestId>, CommandError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let contexts: Vec<String> = contexts.into_iter().map(Into::into).collect();
        if contexts.is_empty() {
            return Err(CommandError::invalid(
                "contexts",
                "needs at least one context",
            ));
        }
        if let Some(bad) = contexts.iter().find(|c| c.trim().is_empty()) {
            return Err(CommandError::invalid(
                "contexts",
                format!("invalid empty context {bad:?}"),
            ));
        }
        let (mut wire, lifecycle) = self.hub.wire();
        lifecycle.receive(&mut wire, now, contexts)
    }

    /// Sends any relay command as `blade.execute` with the session's protocol; the outcome
    /// arrives as [`Event::Response`]. Queued while the session is not ready.
    pub fn execute(
        &mut self,
        now: Instant,
        method: &str,
        params: Value,
    ) -> Result<RequestId, CommandError> {
        if method.trim().is_empty() {
            return Err(CommandError::invalid("method", "must not be empty"));
        }
        self.send_execute(now, method, Params::Tree(&params), PendingKind::Execute)
    }

    /// Issues a relay command through the wire with the lifecycle's link.
    pub(crate) fn send_execute(
        &mut self,
        now: Instant,
        method: &str,
        params: Params<'_>,
        kind: PendingKind,
    ) -> Result<RequestId, CommandError> {
        let (mut wire, lifecycle) = self.hub.wire();
        wire.execute(now, lifecycle.link(), method, params, kind)
    }

    /// Closes the session for good: the transport is closed with code 1000, in-flight and
    /// queued commands fail, and no reconnect follows.
    pub fn close(&mut self, now: Instant) {
        let now = self.observe(now);
        self.stop(now, StopReason::Closed);
    }

    pub(crate) fn stop(&mut self, now: Instant, reason: StopReason) {
        let (mut wire, lifecycle) = self.hub.wire();
        if !lifecycle.stop(&mut wire) {
            return;
        }
        self.fail_all_pending(now, RequestError::ConnectionLost);
        for q in self.hub.requests.take_queue() {
            self.complete(
                now,
                q.id,
                q.tag,
                Answer::Local(RequestError::SessionStopped),
            );
        }
        self.calling.on_session_stopped(&mut self.hub);
        self.hub.plumbing.emit(Event::Stopped { reason });
    }

    fn handle_frame(&mut self, now: Instant, text: &str) -> Result<(), InputError> {
        if text.len() > self.max_frame_size {
            return Err(PeerMisbehaved::FrameTooLarge {
                size: text.len(),
                limit: self.max_frame_size,
            }
            .into());
        }
        if !self.hub.lifecycle.accepts_frames() {
            return Err(UnexpectedInput::NoTransport.into());
        }
        let mut slot = None;
        let (incoming, raw_id) = match fast::read(text, &mut slot) {
            Some(FastFrame::Broadcast(b)) => {
                match self.apply_broadcast(now, b, &mut slot, Reread::Frame(text)) {
                    Some(done) => return done,
                    None => wire::rpc::decode_ref_with_id(text)?,
                }
            }
            Some(FastFrame::Relay { id, inner }) => {
                // The usual id, a plain string, is looked up as it is in the frame: the
                // table's own copy of the id goes on with the answer.
                if let Some(plain) = id.and_then(wire::rpc::plain_string) {
                    let answered = self.hub.requests.answered_text(plain);
                    self.on_relay_answer(now, answered, plain, inner, text);
                    return Ok(());
                }
                match id.and_then(wire::rpc::request_id) {
                    Some(id) => {
                        let answered = self.hub.requests.answered(&id).map(|p| (id.clone(), p));
                        self.on_relay_answer(now, answered, id.as_str(), inner, text);
                        return Ok(());
                    }
                    // No usable id: the general path says what is wrong.
                    None => wire::rpc::decode_ref_with_id(text)?,
                }
            }
            Some(FastFrame::Other(members)) => {
                let raw_id = members.id;
                (wire::rpc::from_members(members)?, raw_id)
            }
            None => wire::rpc::decode_ref_with_id(text)?,
        };
        self.handle_incoming(now, incoming, raw_id)
    }

    /// A frame read by the general path only (tests hold the one pass to it).
    #[cfg(test)]
    pub(crate) fn handle_frame_general(
        &mut self,
        now: Instant,
        text: &str,
    ) -> Result<(), InputError> {
        let (incoming, raw_id) = wire::rpc::decode_ref_with_id(text)?;
        self.handle_incoming(now, incoming, raw_id)
    }

    /// An answer read in one pass (see [`FastFrame::Relay`]).
    fn on_relay_answer(
        &mut self,
        now: Instant,
        answered: Option<(RequestId, crate::rpc::InFlight<PendingKind>)>,
        id: &str,
        inner: &RawValue,
        frame: &str,
    ) {
        let Some((id, p)) = answered else {
            tracing::debug!(request = %id, "answer to no pending request (late or unknown); ignored");
            return;
        };
        self.complete(now, id, p.tag, Answer::Relay { inner, frame });
        self.pump_queue(now);
    }

    /// A decoded frame; `raw_id` is its `id` as the peer wrote it (echoed in an answer).
    fn handle_incoming(
        &mut self,
        now: Instant,
        incoming: IncomingRef<'_>,
        raw_id: Option<&RawValue>,
    ) -> Result<(), InputError> {
        match incoming {
            IncomingRef::Response { id, payload } => {
                let Some(p) = self.hub.requests.answered(&id) else {
                    tracing::debug!(request = %id, "answer to no pending request (late or unknown); ignored");
                    return Ok(());
                };
                self.complete(now, id, p.tag, Answer::Reply(payload));
                self.pump_queue(now);
                Ok(())
            }
            IncomingRef::Request { id, method, params } => {
                if method == wire::method::BROADCAST {
                    return self.handle_broadcast(now, params);
                }
                let params = wire::rpc::raw_to_value(params);
                self.handle_server_request(now, id.map(|id| (id, raw_id)), &method, params)
            }
        }
    }

    fn pump_queue(&mut self, now: Instant) {
        let (mut wire, lifecycle) = self.hub.wire();
        wire.pump_queue(now, lifecycle.link());
    }

    /// A request of the server; `id` is its id and how the server wrote it (the answer
    /// carries a numeric id back as a number).
    fn handle_server_request(
        &mut self,
        now: Instant,
        id: Option<(RequestId, Option<&RawValue>)>,
        method: &str,
        params: Value,
    ) -> Result<(), InputError> {
        match method {
            wire::method::PING => {
                if let Some((id, raw)) = id {
                    let echo = if params.is_object() {
                        params
                    } else {
                        Value::Object(Default::default())
                    };
                    self.hub
                        .plumbing
                        .transmit(wire::rpc::encode_result_for(&id, raw, &echo));
                }
                Ok(())
            }
            wire::method::DISCONNECT => {
                let (mut wire, lifecycle) = self.hub.wire();
                lifecycle.on_server_disconnect(&mut wire, now);
                Ok(())
            }
            other => {
                if let Some((id, raw)) = id {
                    self.hub.plumbing.transmit(wire::rpc::encode_error_for(
                        &id,
                        raw,
                        -32601,
                        "method not found",
                    ));
                }
                Err(PeerMisbehaved::UnknownServerMethod {
                    method: other.to_owned(),
                }
                .into())
            }
        }
    }

    fn on_closed(&mut self, now: Instant, info: CloseInfo<'_>) {
        let closed = self.hub.lifecycle.on_closed(now, info);
        if closed == Closed::Ignored {
            return;
        }
        self.fail_all_pending(now, RequestError::ConnectionLost);
        self.calling.on_transport_lost(&mut self.hub, now);
        match closed {
            Closed::Reconnect(at) => self.hub.plumbing.emit(Event::Disconnected {
                reconnect_at: Some(at),
            }),
            Closed::GaveUp(attempts) => {
                self.hub
                    .plumbing
                    .emit(Event::Disconnected { reconnect_at: None });
                self.stop(now, StopReason::GaveUp { attempts });
            }
            Closed::Ignored => {}
        }
    }

    fn fail_all_pending(&mut self, now: Instant, why: RequestError) {
        for (id, p) in self.hub.requests.take_all_in_flight() {
            self.complete(now, id, p.tag, Answer::Local(why.clone()));
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.record_fired(now);
        for q in self.hub.requests.take_expired_queued(now) {
            tracing::debug!(request = %q.id, method = q.method, "offline deadline passed; never sent");
            self.complete(
                now,
                q.id,
                q.tag,
                Answer::Local(RequestError::OfflineTimeout),
            );
        }
        for (id, p) in self.hub.requests.take_expired(now) {
            tracing::debug!(request = %id, conn = p.conn, "request timed out");
            self.complete(now, id, p.tag, Answer::Local(RequestError::Timeout));
        }
        let (mut wire, lifecycle) = self.hub.wire();
        lifecycle.handle_timeout(&mut wire, now);
        self.calling.handle_timeout(&mut self.hub, now);
        self.pump_queue(now);
    }

    /// Routes the outcome of a request to the sub-machine that sent it.
    pub(crate) fn complete(
        &mut self,
        now: Instant,
        id: RequestId,
        kind: PendingKind,
        answer: Answer<'_>,
    ) {
        match kind {
            PendingKind::Lifecycle(request) => {
                // Handshake answers are rare: read as trees.
                let reply = answer.tree();
                let (mut wire, lifecycle) = self.hub.wire();
                match lifecycle.on_answer(&mut wire, now, &id, request, reply) {
                    AnswerStep::Nothing => {}
                    AnswerStep::Ready { restored } => {
                        self.calling.on_ready(&mut self.hub, now, restored);
                    }
                    AnswerStep::Stop(stop) => self.stop(now, stop),
                }
            }
            PendingKind::Receive { contexts } => {
                let res = answer.relay().map(|_| ());
                self.hub
                    .lifecycle
                    .on_receive_outcome(&contexts, res.is_ok());
                self.hub.plumbing.emit(Event::ContextsRegistered {
                    request: id,
                    contexts,
                    outcome: res,
                });
            }
            PendingKind::Execute => {
                self.hub.plumbing.emit(Event::Response {
                    request: id,
                    outcome: answer.relay(),
                });
            }
            PendingKind::MessagingSend => {
                let result = SendResult::from_outcome(answer.relay());
                self.hub.plumbing.emit(Event::MessageSent {
                    request: id,
                    result,
                });
            }
            PendingKind::Calling(req) => {
                self.calling
                    .handle_response(&mut self.hub, now, id, req, answer.relay());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Input, Output, Session};
    use crate::fuzzing::ready_session;

    /// Drains with `poll_output` until `Timeout`: the outputs and that timeout.
    fn by_poll_output(s: &mut Session) -> (Vec<String>, Option<Instant>) {
        let mut out = Vec::new();
        loop {
            match s.poll_output() {
                Output::Timeout(at) => return (out, at),
                o => out.push(format!("{o:?}")),
            }
        }
    }

    /// Drains with `next_output` until `None`, then reads `poll_timeout`.
    fn by_next_output(s: &mut Session) -> (Vec<String>, Option<Instant>) {
        let mut out = Vec::new();
        while let Some(o) = s.next_output() {
            assert!(!matches!(o, Output::Timeout(_)), "next_output gave {o:?}");
            out.push(format!("{o:?}"));
        }
        (out, s.poll_timeout())
    }

    /// `next_output` then `poll_timeout` gives what `poll_output` gives: the same outputs in
    /// the same order, and the same next timer, after frames, commands and timeouts.
    #[test]
    fn next_output_drains_as_poll_output_does() {
        #[allow(clippy::disallowed_methods)] // the test is the driver, not the core
        let t0 = Instant::now();
        let receive = r#"{"jsonrpc":"2.0","id":"b","method":"blade.broadcast","params":{"event":"queuing.relay.events","params":{"event_type":"calling.call.receive","params":{"call_id":"c1","node_id":"n1","context":"office","call_state":"created","device":{"type":"phone","params":{"from_number":"+1","to_number":"+2"}}}}}}"#;
        let (mut a, _) = ready_session(t0);
        let (mut b, _) = ready_session(t0);
        let _ = by_poll_output(&mut a);
        let _ = by_next_output(&mut b);
        type Step = Box<dyn Fn(&mut Session, Instant)>;
        let steps: Vec<(Step, Instant)> = vec![
            (
                Box::new(|s, now| drop(s.handle_input(now, Input::Frame(receive)))),
                t0,
            ),
            (
                Box::new(|s, now| {
                    let _ = s
                        .call_mut(&crate::CallId::from("c1"))
                        .map(|mut c| c.answer(now));
                }),
                t0,
            ),
            (
                Box::new(|s, now| drop(s.handle_input(now, Input::Timeout))),
                t0 + Duration::from_secs(40),
            ),
            (
                Box::new(|s, now| drop(s.handle_input(now, Input::Timeout))),
                t0 + Duration::from_secs(400),
            ),
        ];
        let mut outputs = 0;
        for (step, now) in steps {
            step(&mut a, now);
            step(&mut b, now);
            let (pa, pb) = (by_poll_output(&mut a), by_next_output(&mut b));
            assert_eq!(pa, pb);
            outputs += pa.0.len();
        }
        // The call, the answer's frame, its timeout and what follows.
        assert!(outputs >= 3, "{outputs}");
        assert!(b.next_output().is_none());
    }
}
