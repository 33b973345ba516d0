//! The one error type of the async API.

use relay_proto::calling::DialOutcome;
use relay_proto::error::{ApiMisuse, Capacity};
use relay_proto::RequestError;

/// Why an async call did not produce its outcome.
///
/// An unsuccessful *outcome* (a play that ended in `error`, a message the carrier refused) is
/// not an error: it is the `Ok` result with `successful: false`, as in the official SDK.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client's driver is gone (the session stopped, or every handle was dropped).
    #[error("the relay client is closed")]
    Closed,
    /// A request failed (timeout, connection lost, server or relay error).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The core refused the command as a misuse (invalid parameter: which and why, unknown
    /// call or component, control not supported by the component's kind, session stopped);
    /// nothing was sent.
    #[error("invalid use: {0}")]
    Misuse(ApiMisuse),
    /// The core refused the command at a configured bound (which one, and its limit);
    /// nothing was sent.
    #[error("capacity reached: {0}")]
    Capacity(Capacity),
    /// Any other refusal of the core. Commands fail with a `relay_proto::CommandError`, which
    /// maps to [`ClientError::Misuse`] or [`ClientError::Capacity`]; this keeps any other class
    /// of `relay_proto::Error` from being lost.
    #[error(transparent)]
    Proto(relay_proto::Error),
    /// The outcome reported for a command was of another kind than the command (a bug in the
    /// core; never expected).
    #[error("the outcome of a {0:?} was reported for another kind of command")]
    OutcomeMismatch(relay_proto::calling::ComponentKind),
    /// A command on a call made with `new_call` that has not been dialed (or whose dial had
    /// no answered leg): it has no call id yet.
    #[error("the call has not been dialed")]
    NotDialed,
    /// A dial completed without an answered leg.
    #[error("dial failed: {}", .0.state)]
    DialFailed(Box<DialOutcome>),
}

impl From<futures_channel::oneshot::Canceled> for ClientError {
    fn from(_: futures_channel::oneshot::Canceled) -> Self {
        ClientError::Closed
    }
}

impl<T> From<futures_channel::mpsc::TrySendError<T>> for ClientError {
    fn from(_: futures_channel::mpsc::TrySendError<T>) -> Self {
        ClientError::Closed
    }
}

impl From<futures_channel::mpsc::SendError> for ClientError {
    fn from(_: futures_channel::mpsc::SendError) -> Self {
        ClientError::Closed
    }
}

impl From<relay_proto::Error> for ClientError {
    fn from(e: relay_proto::Error) -> Self {
        match e {
            relay_proto::Error::ApiMisuse(m) => ClientError::Misuse(m),
            relay_proto::Error::Capacity(c) => ClientError::Capacity(c),
            other => ClientError::Proto(other),
        }
    }
}

impl From<relay_proto::CommandError> for ClientError {
    fn from(e: relay_proto::CommandError) -> Self {
        match e {
            relay_proto::CommandError::ApiMisuse(m) => ClientError::Misuse(m),
            relay_proto::CommandError::Capacity(c) => ClientError::Capacity(c),
            other => ClientError::Proto(other.into()),
        }
    }
}

impl From<relay_proto::calling::InvalidVolume> for ClientError {
    fn from(e: relay_proto::calling::InvalidVolume) -> Self {
        ClientError::Misuse(relay_proto::error::ApiMisuse::InvalidParameter {
            which: "volume".into(),
            why: e.to_string(),
        })
    }
}
