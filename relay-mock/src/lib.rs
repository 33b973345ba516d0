//! A faithful SignalWire Relay v2 ("Blade" JSON-RPC over WebSocket) server for deterministic
//! tests, fault injection and fuzzing.
//!
//! * [`MockServer`]: the sans-IO server core (see [`server`]).
//! * [`transcript`]: JSONL transcripts: record, read, normalise, compare.
//! * [`Pair`]: a `relay_proto::Session` against a [`MockServer`] in memory on a virtual clock.
//! * [`replay`]: replay a recorded transcript against a live `Session` (golden call flows).
//!
//! * [`net`]: the tokio WebSocket + HTTP front end (and the `relay-mock` binary) around
//!   [`MockServer`].
//! * `control` (feature `control-client`, on by default): `ControlClient`, a typed client of
//!   the HTTP control API.

mod conn;
#[cfg(feature = "control-client")]
pub mod control;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod net;
pub mod pair;
pub mod replay;
pub mod server;
pub mod transcript;

pub use pair::Pair;
pub use server::{
    ConnId, ControlError, Fault, HttpResponse, MockConfig, MockServer, Named, Outcome, Script,
    ScriptedEvent, ServerOutput,
};
