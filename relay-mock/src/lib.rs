//! A faithful SignalWire Relay v2 ("Blade" JSON-RPC over WebSocket) server for deterministic
//! tests, fault injection and fuzzing.
//!
//! * [`MockServer`]: the sans-IO server core (see [`server`]).
//! * [`transcript`]: JSONL transcripts: record, read, normalise, compare.
//!
//! The tokio WebSocket/HTTP binary wraps [`MockServer`].

pub mod net;
pub mod server;
pub mod transcript;

pub use server::{
    ConnId, ControlError, Fault, HttpResponse, MockConfig, MockServer, Outcome, Script,
    ScriptedEvent, ServerOutput,
};
