//! Getting started (Node: `new RelayConsumer({ contexts, ready, onIncomingCall })`): a consumer
//! answers an inbound call on the `office` context, greets the caller with text-to-speech and
//! hangs up.
//!
//! `examples/support/mod.rs` for running it against the real service).
//!
//! `cargo run -p relay-async-std --example async_std_consumer` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/consumer.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
