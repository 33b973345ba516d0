//! Errors per operation, each with a typed cause (rustls' sub-enums).
//!
//! A server *failure* (a relay result with `code: "404"`, a JSON-RPC error answer, a timeout) is
//! not an error: it is an outcome carried by an [`Event`](crate::Event). Errors are refusals,
//! split by the operation that can meet them, and none of them poisons the session:
//!
//! * [`InputError`], from [`Session::handle_input`](crate::Session::handle_input): the frame
//!   could not be understood ([`DecodeError`]), the peer broke a rule of Blade or Relay
//!   ([`PeerMisbehaved`]: which one), or the input makes no sense in the session's state
//!   ([`UnexpectedInput`]), or a bound refused what the peer announced ([`Capacity`]: an
//!   inbound call when the registry is full). The frame or input was ignored.
//! * [`CommandError`], from every command (dial, call commands, messaging, receive, execute):
//!   the caller's mistake ([`ApiMisuse`]: unknown call, control not supported by the kind,
//!   invalid parameter and why, session stopped) or a configured bound ([`Capacity`]: which
//!   one). Nothing was sent or queued.
//!
//! [`Error`] is the umbrella of both, with `From` conversions, so a driver can `?` inputs and
//! commands into one type. Each cause says *which* rule or bound, so a caller matches on it
//! instead of reading a message.

use thiserror::Error as ThisError;

use crate::calling::kinds::{ComponentKind, ControlAction};
use crate::ids::{CallId, ControlId, RequestId};

/// Why [`Session::handle_input`](crate::Session::handle_input) ignored an input. The session
/// goes on either way.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum InputError {
    /// The peer sent bytes that are not a JSON-RPC object. The frame was ignored.
    #[error("cannot decode frame: {0}")]
    Decode(#[from] DecodeError),
    /// The peer sent valid JSON-RPC that breaks Relay's rules. The frame was ignored.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// The input makes no sense in the session's state (a driver bug). It was ignored.
    #[error("unexpected input: {0}")]
    Unexpected(#[from] UnexpectedInput),
    /// A configured bound refused what the peer announced (an inbound call when the call
    /// registry is full). The event was dropped.
    #[error("capacity reached: {0}")]
    Capacity(#[from] Capacity),
}

/// Why a command was refused. Nothing was sent or queued.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum CommandError {
    /// The caller asked for something invalid.
    #[error("invalid use: {0}")]
    ApiMisuse(#[from] ApiMisuse),
    /// A configured bound was reached.
    #[error("capacity reached: {0}")]
    Capacity(#[from] Capacity),
}

/// Which input made no sense in the session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum UnexpectedInput {
    /// A frame was fed while no transport is open.
    #[error("frame fed while no transport is open")]
    NoTransport,
    /// `Input::Opened` was fed while no transport was asked for.
    #[error("Input::Opened fed while no transport was asked for")]
    Opened,
}

/// Everything the core can refuse or fail to understand: the umbrella of [`InputError`] and
/// [`CommandError`], for drivers that handle both alike.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent bytes that are not a JSON-RPC object. The frame was ignored.
    #[error("cannot decode frame: {0}")]
    Decode(DecodeError),
    /// The peer sent valid JSON-RPC that breaks Relay's rules. The frame was ignored.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(PeerMisbehaved),
    /// The caller asked for something invalid; nothing was sent.
    #[error("invalid use: {0}")]
    ApiMisuse(ApiMisuse),
    /// A configured bound was reached; nothing was queued or sent.
    #[error("capacity reached: {0}")]
    Capacity(Capacity),
    /// An input that makes no sense in the session's state; it was ignored.
    #[error("unexpected input: {0}")]
    UnexpectedInput(UnexpectedInput),
}

/// Why a frame is not a JSON-RPC object.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not JSON.
    #[error("not JSON: {detail}")]
    NotJson {
        /// The parser's message.
        detail: String,
    },
    /// The text is JSON, but not an object.
    #[error("frame is JSON {found} rather than an object")]
    NotAnObject {
        /// What it is instead (`"array"`, `"string"`, ...).
        found: &'static str,
    },
    /// The object does not have the JSON-RPC envelope's shape.
    #[error("not JSON-RPC: {detail}")]
    NotJsonRpc {
        /// The parser's message.
        detail: String,
    },
}

/// Which rule of Blade or Relay the peer broke.
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A frame larger than [`Bounds::max_frame_size`](crate::Bounds::max_frame_size).
    #[error("frame of {size} bytes exceeds the {limit} byte limit")]
    FrameTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// A request whose `method` is not a string.
    #[error("`method` is not a string")]
    MethodNotString,
    /// A frame with neither `method` nor a usable `id`.
    #[error("frame has neither `method` nor a usable `id`")]
    NeitherMethodNorId,
    /// A response with neither `result` nor `error`.
    #[error("response {id} has neither `result` nor `error`")]
    ResponseWithoutOutcome {
        /// The response's id.
        id: RequestId,
    },
    /// A server request with a method a client does not serve.
    #[error("unknown server method {method:?}")]
    UnknownServerMethod {
        /// The method.
        method: String,
    },
    /// A `blade.broadcast` without `params`.
    #[error("blade.broadcast without params")]
    BroadcastWithoutParams,
    /// A `blade.broadcast` whose `params` do not have the broadcast's shape.
    #[error("bad blade.broadcast params: {detail}")]
    MalformedBroadcast {
        /// The parser's message.
        detail: String,
    },
    /// A relay event (calling, messaging or task) whose payload does not have its shape.
    #[error("malformed {event_type} payload: {detail}")]
    MalformedEvent {
        /// The event type (or broadcast event) naming it.
        event_type: String,
        /// The parser's message.
        detail: String,
    },
    /// A task broadcast without a context.
    #[error("task broadcast without context")]
    TaskWithoutContext,
    /// A call state that is not one of Relay's.
    #[error("unknown call_state {state:?}")]
    UnknownCallState {
        /// The state as sent.
        state: String,
    },
    /// A `calling.call.dial` event with `dial_state: answered`, no `call`, and no leg of the
    /// dial that says which one answered.
    #[error("calling.call.dial answered without `call`")]
    DialAnsweredWithoutCall,
}

/// Which mistake the caller made.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// The call was never known, or left the registry long ago.
    #[error("unknown call {call_id} (never known, or ended long ago)")]
    UnknownCall {
        /// The call.
        call_id: CallId,
    },
    /// No running component with this id on the call.
    #[error("no running component {control_id} on call {call_id}")]
    UnknownComponent {
        /// The call.
        call_id: CallId,
        /// The component.
        control_id: ControlId,
    },
    /// The component's kind does not accept this control
    /// ([`ComponentKind::accepts`]).
    #[error("{kind:?} does not support {}", .action.suffix())]
    ControlNotSupported {
        /// The component's kind.
        kind: ComponentKind,
        /// The control.
        action: ControlAction,
    },
    /// A parameter is invalid: which, and why.
    #[error("{which}: {why}")]
    InvalidParameter {
        /// The parameter (`"play media"`, `"send_digits"`, `"phone device \`from\`"`, ...).
        which: String,
        /// What is wrong with it.
        why: String,
    },
    /// The session is stopped; create a new one.
    #[error("the session is stopped; create a new one")]
    SessionStopped,
}

/// Which configured bound was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Capacity {
    /// [`Bounds::max_calls`](crate::Bounds::max_calls): calls plus pending dials.
    #[error("calls (limit {limit})")]
    Calls {
        /// The bound.
        limit: usize,
    },
    /// [`Bounds::max_components_per_call`](crate::Bounds::max_components_per_call).
    #[error("components per call (limit {limit})")]
    ComponentsPerCall {
        /// The bound.
        limit: usize,
    },
    /// [`Bounds::max_offline_queue`](crate::Bounds::max_offline_queue).
    #[error("offline queue (limit {limit})")]
    OfflineQueue {
        /// The bound.
        limit: usize,
    },
    /// Commands waiting on an open connection for a free in-flight slot
    /// ([`Bounds::max_in_flight`](crate::Bounds::max_in_flight) was reached): at most
    /// `max(max_offline_queue, max_calls)` of them (see
    /// [`Bounds::max_offline_queue`](crate::Bounds::max_offline_queue)).
    #[error("commands waiting for an in-flight slot (limit {limit})")]
    WaitingForSlot {
        /// The bound.
        limit: usize,
    },
}

impl Capacity {
    /// The configured value of the bound.
    pub fn limit(&self) -> usize {
        match *self {
            Capacity::Calls { limit }
            | Capacity::ComponentsPerCall { limit }
            | Capacity::OfflineQueue { limit }
            | Capacity::WaitingForSlot { limit } => limit,
        }
    }
}

impl CommandError {
    /// An invalid parameter: which, and why.
    pub(crate) fn invalid(which: impl Into<String>, why: impl Into<String>) -> Self {
        CommandError::ApiMisuse(ApiMisuse::InvalidParameter {
            which: which.into(),
            why: why.into(),
        })
    }
}

impl PeerMisbehaved {
    /// A malformed relay event payload.
    pub(crate) fn malformed_event(event_type: impl Into<String>, detail: impl ToString) -> Self {
        PeerMisbehaved::MalformedEvent {
            event_type: event_type.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Decode(d) => Error::Decode(d),
            InputError::PeerMisbehaved(p) => Error::PeerMisbehaved(p),
            InputError::Unexpected(u) => Error::UnexpectedInput(u),
            InputError::Capacity(c) => Error::Capacity(c),
        }
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::ApiMisuse(m) => Error::ApiMisuse(m),
            CommandError::Capacity(c) => Error::Capacity(c),
        }
    }
}

impl From<UnexpectedInput> for Error {
    fn from(e: UnexpectedInput) -> Self {
        Error::UnexpectedInput(e)
    }
}
impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<PeerMisbehaved> for Error {
    fn from(e: PeerMisbehaved) -> Self {
        Error::PeerMisbehaved(e)
    }
}

impl From<ApiMisuse> for Error {
    fn from(e: ApiMisuse) -> Self {
        Error::ApiMisuse(e)
    }
}

impl From<Capacity> for Error {
    fn from(e: Capacity) -> Self {
        Error::Capacity(e)
    }
}
