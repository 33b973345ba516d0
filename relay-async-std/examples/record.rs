//! Recording (Node: `call.recordAsync({...})` then `recordAction.stop()`): call out, start a
//! recording in the background, stop it, and print where the file is.
//!
//! `cargo run -p relay-async-std --example async_std_record` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/record.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
