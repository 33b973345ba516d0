//! Sans-IO core of a SignalWire Relay v2 ("Blade") client.
//!
//! `relay-proto` is a pure state machine: text frames, transport changes and the current time
//! go in; frames to send, transport actions, timers and typed events come out. It does no I/O,
//! reads no clock and draws no randomness (time is a parameter, ids come from an injected
//! [`IdGenerator`], jitter from a seeded RNG), so it runs the same under tokio, async-std, a
//! game loop or a deterministic test.
//!
//! # The run loop
//!
//! ```no_run
//! use std::time::Instant;
//! use relay_proto::error::{InputError, UnexpectedInput};
//! use relay_proto::{
//!     CallEvent, CallState, Event, Input, Output, Session, SessionConfig, StopReason,
//!     TransportAction,
//! };
//!
//! # fn open_websocket() {}
//! # fn send_text(_: &str) {}
//! # fn close_websocket(_: u16) {}
//! # fn next_io(_deadline: Option<Instant>) -> Option<String> { None }
//! let config = SessionConfig::new("my-project", "my-token").with_contexts(["office"]);
//! let mut session = Session::new(config, Instant::now());
//! loop {
//!     // 1. Drain everything the session wants done.
//!     let deadline = loop {
//!         match session.poll_output() {
//!             Output::Transmit(frame) => send_text(&frame),
//!             Output::Transport(TransportAction::Connect) => {
//!                 open_websocket();
//!                 session.handle_input(Instant::now(), Input::Opened).ok();
//!             }
//!             Output::Transport(TransportAction::Close { code, .. }) => close_websocket(code),
//!             // Events are typed: match on variants and enums, never on strings.
//!             Output::Event(Event::Ready { restored, .. }) => {
//!                 println!("ready (calls survived: {restored})");
//!             }
//!             Output::Event(Event::Call(CallEvent::IncomingCall { call })) => {
//!                 session.call_mut(&call.id).and_then(|mut c| c.answer(Instant::now())).ok();
//!             }
//!             Output::Event(Event::Call(CallEvent::StateChanged {
//!                 call_id,
//!                 state: CallState::Ended,
//!                 ..
//!             })) => println!("{call_id} ended"),
//!             Output::Event(Event::Stopped { reason: StopReason::AuthFailed(e) }) => {
//!                 panic!("bad credentials: {}", e.message);
//!             }
//!             Output::Event(_) => {}
//!             Output::Timeout(at) => break at,
//!             _ => {}
//!         }
//!     };
//!     // 2. Wait for the first of: a frame, a command of yours, the deadline.
//!     let input = match next_io(deadline) {
//!         Some(frame) => session.handle_input(Instant::now(), Input::Frame(&frame)),
//!         None => session.handle_input(Instant::now(), Input::Timeout),
//!     };
//!     // A bad frame is reported with its typed cause and ignored; the session goes on.
//!     match input {
//!         Ok(()) => {}
//!         Err(InputError::PeerMisbehaved(rule)) => eprintln!("server broke a rule: {rule}"),
//!         Err(InputError::Unexpected(UnexpectedInput::NoTransport)) => unreachable!(),
//!         Err(other) => eprintln!("frame ignored: {other}"),
//!     }
//! }
//! ```
//!
//! The rule: after every input or command, drain [`Session::poll_output`] until it returns
//! [`Output::Timeout`]. `Timeout(None)` means nothing is scheduled.
//!
//! # What the session does for you
//!
//! * The Blade handshake (`blade.connect` → `signalwire.setup` → `blade.subscription`), then
//!   `signalwire.receive` for the configured contexts after every handshake.
//! * Commands issued before the session is ready (or while disconnected, or paused by a server
//!   `blade.disconnect`) are queued and sent once, in order, after the next handshake.
//! * One keepalive `blade.ping` per interval; an unanswered ping closes the transport.
//! * Per-request deadlines with a typed [`RequestError::Timeout`]; a request in flight when the
//!   transport drops fails with [`RequestError::ConnectionLost`] (it is not re-sent: the server
//!   may have executed it).
//! * Reconnect with exponential backoff and seeded jitter, resuming the Blade session
//!   (`sessionid`) and the relay protocol so calls survive.
//!
//! # Nothing waits forever
//!
//! Every command gets exactly one outcome within a bound, whatever the transport does:
//!
//! * **Sent requests**: [`SessionConfig::request_timeout`] after sending, else
//!   [`RequestError::Timeout`]; [`RequestError::ConnectionLost`] at once if the transport
//!   drops first.
//! * **Queued commands** (issued while disconnected, handshaking, paused, or at the in-flight
//!   bound): [`SessionConfig::offline_timeout`] after they were *issued*, else
//!   [`RequestError::OfflineTimeout`] (never sent, safe to retry), even while the session
//!   keeps reconnecting with unlimited backoff.
//! * **Waits on events** (components, answer, connect, wait_for, a dial's final event) are not
//!   bounded while the connection holds: a long recording or call is legitimate. But Relay v2
//!   does not replay events after a session restore, so a wait that was open when the
//!   transport dropped is *unconfirmed*: it resolves with [`RequestError::Lost`] unless its
//!   real outcome arrives within [`SessionConfig::lost_event_timeout`] after the first
//!   restored handshake that follows the drop (or after the drop itself while no session
//!   comes back). Later drops do not extend it: at most twice the bound after the first drop.
//! * **A session that is not restored** (`Event::Ready { restored: false, reconnected: true,
//!   .. }`): the server dropped the old Blade session and our calls with it. Every call of
//!   the registry leaves it at once: its unfinished waits resolve with
//!   [`RequestError::Lost`], then [`CallEvent::Lost`] reports the call (treat it as ended);
//!   unconfirmed dials resolve with [`RequestError::Lost`] too.
//! * **The session stops**: everything resolves at once ([`RequestError::SessionStopped`],
//!   [`RequestError::ConnectionLost`]).
//!
//! # Time and timers
//!
//! Time is a parameter and must be monotonic: an instant earlier than one already seen is
//! clamped to the latest one seen. [`Session::poll_timeout`] may change after any input or
//! command; feeding [`Input::Timeout`] early, late or repeatedly is harmless (only due timers
//! act, each once). [`Session::timers`] lists every armed [`Timer`] and
//! [`Session::fired_timers`] / [`Session::timeout_reason`] say which fired on the last timeout.
//!
//! # Errors
//!
//! Errors are per operation, each with a typed cause ([`error`] has the details):
//!
//! * [`Session::handle_input`] returns [`InputError`]: the frame is not JSON-RPC
//!   ([`error::DecodeError`]), the peer broke a rule ([`error::PeerMisbehaved`] says which),
//!   the input makes no sense in the session's state ([`error::UnexpectedInput`]), or a bound
//!   refused what the peer announced ([`error::Capacity`]). The input is ignored and the
//!   session goes on.
//! * Commands ([`Session::dial`], every [`CallMut`] command, [`Session::messaging_send`],
//!   [`Session::receive`], [`Session::execute`]) return [`CommandError`]: a mistake of the
//!   caller ([`error::ApiMisuse`]: unknown call, control not supported by the component's
//!   kind, invalid parameter and why, session stopped) or a configured bound
//!   ([`error::Capacity`]: which one, and its limit). Nothing was sent.
//! * [`Error`] is the umbrella of both, with `From` conversions, so a driver can `?` inputs and
//!   commands into one type.
//!
//! A server *failure* (a relay error code, a timeout, a lost connection) is not an error of
//! either kind: it is the outcome an [`Event`] carries ([`RequestError`]).
//!
//! # Calls
//!
//! Inbound calls arrive as [`CallEvent::IncomingCall`]; outbound ones start with
//! [`Session::dial`]. Every command on a call goes through [`Session::call_mut`] and returns
//! an id at once; its outcome arrives later as exactly one
//! [`CallEvent::ComponentFinished`] with that id (or [`CallEvent::DialCompleted`] for a dial),
//! whatever happens: a terminal event, a failed request, the call ending, the session stopping,
//! or the event being lost with the transport ([`RequestError::Lost`]).
//! Progress (`playing`, partial speech results, fax pages, ...) arrives as `*Update` events.
//!
//! ```no_run
//! # use std::time::Instant;
//! # use relay_proto::{CallEvent, CallState, Event, Session};
//! # use relay_proto::calling::{ComponentKind, DetectEvent, EndReason, Media, PlayParams, PlayState};
//! # fn handle(session: &mut Session, event: Event) -> Result<(), relay_proto::CommandError> {
//! let now = Instant::now();
//! match event {
//!     Event::Call(CallEvent::IncomingCall { call }) => {
//!         session.call_mut(&call.id)?.answer(now)?;
//!     }
//!     Event::Call(CallEvent::StateChanged { call_id, state: CallState::Answered, .. }) => {
//!         let greeting = PlayParams::new([Media::tts("Welcome")]);
//!         session.call_mut(&call_id)?.play(now, &greeting)?;
//!     }
//!     Event::Call(CallEvent::PlayUpdate { state: PlayState::Paused, .. }) => {
//!         // Progress: states are enums (an unknown one arrives as `PlayState::Other`).
//!     }
//!     Event::Call(CallEvent::DetectUpdate { event: DetectEvent::Machine, .. }) => {}
//!     Event::Call(CallEvent::ComponentFinished { call_id, result, .. })
//!         if result.kind == ComponentKind::Play =>
//!     {
//!         session.call_mut(&call_id)?.hangup(now, EndReason::Hangup)?;
//!     }
//!     _ => {}
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Section 13 of the protocol reference lists the official Node SDK's faults; the tests of
//! this crate show each one fixed.
#![forbid(unsafe_code)]

pub mod calling;
pub mod config;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod ids;
pub mod messaging;
mod outcome;
pub mod rng;
pub(crate) mod rpc;
mod session;
pub mod task;
mod timer;
pub mod wire;

pub use calling::{
    CallEvent, CallInfo, CallMut, CallState, ComponentResult, DialOutcome, EndReason,
};
pub use config::{Backoff, Bounds, SessionConfig};
pub use error::{CommandError, Error, InputError};
pub use ids::*;
pub use messaging::{
    Message, MessageEvent, MessageEventKind, MessageParams, MessageState, SendResult,
};
pub use session::{
    CloseInfo, Event, Input, Output, RequestError, Session, StopReason, Timer, TransportAction,
};
pub use task::{Task, TaskError, TaskRequest};
