//! Inbound IVR (Node: `onIncomingCall` with `call.promptTTS({ type: 'digits', digits_max: 3,
//! text })`): answer, ask for a 3-digit PIN, read it back, hang up. On the mock the caller
//! "types" 123.
//!
//! `cargo run -p relay-async-std --example async_std_ivr` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/ivr.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
