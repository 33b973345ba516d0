//! Connecting calls (Node: `call.connect(...)` with devices in series, in parallel, and with a
//! ringback): call someone, bridge them to an agent tried one after another, then to a group
//! rung at once while the caller hears a ringtone.
//!
//! `cargo run -p relay-async-std --example async_std_connect` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/connect.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
