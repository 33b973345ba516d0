//! Tapping (Node: `call.tapAsync({ audio_direction, target_type: 'rtp', ... })` then
//! `tapAction.stop()`): call out, stream the call's audio to an RTP endpoint for a moment, stop,
//! and print where it went.
//!
//! `cargo run -p relay-async-std --example async_std_tap` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/tap.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
