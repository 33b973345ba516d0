//! Answering-machine detection (Node: `call.detectAnsweringMachine()` and
//! `detectAnsweringMachineAsync()` with a `detect.update` listener): call out, find out whether
//! a person or a machine answered, then run the detector in the background and watch it.
//!
//! `cargo run -p relay-async-std --example async_std_amd` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/amd.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
