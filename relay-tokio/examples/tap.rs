//! Tapping (Node: `call.tapAsync({ audio_direction, target_type: 'rtp', ... })` then
//! `tapAction.stop()`): call out, stream the call's audio to an RTP endpoint for a moment, stop,
//! and print where it went.
//!
//! `cargo run -p relay-tokio --example tap` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "flows/tap.rs"]
mod flow;

pub use flow::run;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
