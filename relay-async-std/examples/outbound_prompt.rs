//! Outbound call with a prompt (Node: `client.calling.dial(...)` then `call.promptTTS(...)`):
//! call a number, ask for a digit, say what was pressed, hang up.
//!
//! `cargo run -p relay-async-std --example async_std_outbound_prompt` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/outbound_prompt.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
