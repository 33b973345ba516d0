//! Errors, classified by who is at fault.
//!
//! A server *failure* (a relay result with `code: "404"`, a JSON-RPC error answer, a timeout) is
//! not an [`Error`]: it is an outcome carried by an [`Event`](crate::Event). [`Error`] is for the
//! frame that could not be understood ([`Error::Decode`]), the peer that broke the rules
//! ([`Error::PeerMisbehaved`]), the caller's mistake ([`Error::ApiMisuse`]) and a bound being hit
//! ([`Error::Capacity`]). None of them poisons the session.

use thiserror::Error as ThisError;

/// Everything the core can refuse or fail to understand.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent bytes that are not a JSON-RPC object. The frame was ignored.
    #[error("cannot decode frame: {0}")]
    Decode(String),
    /// The peer sent valid JSON-RPC that breaks Relay's rules. The frame was ignored.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(String),
    /// The caller asked for something invalid; nothing was sent.
    #[error("invalid use: {0}")]
    ApiMisuse(String),
    /// A configured bound was reached; nothing was queued or sent.
    #[error("capacity reached: {what} (limit {limit})")]
    Capacity {
        /// Which bound.
        what: &'static str,
        /// Its configured value.
        limit: usize,
    },
}

impl Error {
    pub(crate) fn misuse(msg: impl Into<String>) -> Self {
        Error::ApiMisuse(msg.into())
    }
}
