//! Sans-IO core of a SignalWire Relay v2 ("Blade") client.
#![forbid(unsafe_code)]

pub mod error;
pub mod ids;
pub mod rng;
pub mod wire;

pub use error::Error;
pub use ids::*;
