//! Messaging (Node: `client.messaging.send(...)`, `onMessageStateChange`,
//! `onIncomingMessage`): send a text and follow its state changes; answer an inbound text with
//! a reply.
//!
//! `cargo run -p relay-async-std --example async_std_messaging` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/messaging.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
