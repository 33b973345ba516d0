//! How a request ends when it does not succeed, shared by every sub-machine: a neutral module
//! that imports only the wire types, so calling and messaging can name it without knowing the
//! session.

use serde_json::value::RawValue;

use crate::wire::{RelayResult, RpcError};

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No answer before the request timeout. The connection is left alone.
    #[error("request timed out")]
    Timeout,
    /// The connection dropped while the request was in flight; it was not re-sent, because the
    /// server may have executed it.
    #[error("connection lost before the answer arrived")]
    ConnectionLost,
    /// The session stopped (closed by the application, bad credentials, or attempts
    /// exhausted) before the command could be sent.
    #[error("session stopped")]
    SessionStopped,
    /// The server answered with a JSON-RPC error (including `-32000`, which is an ordinary
    /// error here and never a reason to reconnect).
    #[error("server error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
    /// The server answered with a relay failure (`code` other than `"200"`).
    #[error("relay failure {}: {}", .0.code.as_deref().unwrap_or("?"), .0.message.as_deref().unwrap_or(""))]
    Relay(RelayResult),
    /// Refused locally, nothing sent (e.g. a command on a call that is ending).
    #[error("refused: {0}")]
    Refused(String),
    /// The command waited in the offline queue for
    /// [`SessionConfig::offline_timeout`](crate::SessionConfig::offline_timeout) after it was issued (the session was disconnected,
    /// handshaking, paused, or at its in-flight bound) and was dropped: it was **never sent**,
    /// so it is safe to issue again.
    #[error("not sent: the session was not ready within the offline timeout")]
    OfflineTimeout,
    /// The outcome is unknown: the wait was open when the transport dropped, and its final
    /// event did not come within [`SessionConfig::lost_event_timeout`](crate::SessionConfig::lost_event_timeout) after the session was
    /// restored (Relay v2 does not replay events), or the session was not restored at all and
    /// the call is gone. The command may have completed, or may still be running on the
    /// server (a long recording, for instance).
    #[error("outcome lost with the connection")]
    Lost,
}

/// Turns a `blade.execute` answer into a relay outcome: success only on code `"200"` (or none).
/// The outcome of a relay result object's text (`result.result` of an answer).
pub(crate) fn relay_object_outcome(inner: &RawValue) -> Result<RelayResult, RequestError> {
    let r = RelayResult::from_relay_object(inner);
    if r.is_success() {
        Ok(r)
    } else {
        Err(RequestError::Relay(r))
    }
}

pub(crate) fn relay_outcome(
    payload: Result<&RawValue, RpcError>,
) -> Result<RelayResult, RequestError> {
    match payload {
        Err(e) => Err(RequestError::Rpc(e)),
        Ok(v) => {
            let r = RelayResult::from_blade_result_raw(v);
            if r.is_success() {
                Ok(r)
            } else {
                Err(RequestError::Relay(r))
            }
        }
    }
}
