//! Typed serde models of every frame on the wire, and the JSON-RPC envelope.
//!
//! Decoding is lenient where servers vary: numbers may arrive as strings, optional fields may be
//! missing, unknown fields are ignored. Decoding never panics.

pub mod blade;
pub mod json_text;
pub mod lenient;
pub mod names;
pub mod relay;
pub mod rpc;

pub use blade::*;
pub use json_text::JsonText;
pub use names::{EventType, Method, UnknownName};
pub use relay::RelayResult;
pub use rpc::{decode, Incoming, RpcError};
