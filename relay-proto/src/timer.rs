//! The names of the session's deadlines ([`Timer`]). A neutral module: the sub-machines name
//! their own timers with it without knowing the session, which lists them all
//! ([`Session::timers`](crate::Session::timers)).

use crate::ids::{CallId, ControlId, DialTag, RequestId};

/// One deadline of the session.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// A request's answer deadline (`request_timeout` after it was sent): it then fails with
    /// [`RequestError::Timeout`](crate::RequestError::Timeout); a handshake request closes the
    /// transport.
    Request(RequestId),
    /// A queued command's deadline (`offline_timeout` after it was issued): it then fails with
    /// [`RequestError::OfflineTimeout`](crate::RequestError::OfflineTimeout), never sent.
    Offline(RequestId),
    /// The keepalive tick. It is also the pong deadline: when the previous ping is still
    /// unanswered, the transport is closed; otherwise the next ping is sent.
    Ping,
    /// After a server `blade.disconnect`: the server did not close the socket in time, so the
    /// session closes it.
    PauseDeadline,
    /// The next reconnect attempt (backoff).
    Reconnect,
    /// A component or call-level wait whose final event may have been lost with the transport
    /// resolves with [`RequestError::Lost`](crate::RequestError::Lost).
    LostComponent {
        /// The call.
        call_id: CallId,
        /// The command's id.
        control_id: ControlId,
    },
    /// A dial whose final dial event may have been lost with the transport resolves with
    /// [`RequestError::Lost`](crate::RequestError::Lost).
    LostDial(DialTag),
}
