//! An outbound call with a `RelayClient` (Node: `client.on('signalwire.ready', ...)` then
//! `client.calling.dial({ type: 'phone', from, to })`): dial, report the outcome, hang up. Against
//! the mock a second dial is told to meet a busy line, to show how a failed dial reads.
//!
//! `cargo run -p relay-async-std --example async_std_dial` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/dial.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
