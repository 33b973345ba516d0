//! Tasks (Node: `new Task(project, token).deliver(context, message)` and the consumer's
//! `onTask`): a producer delivers `{"action": "call", ...}` to the `office` context; the
//! consumer receives it in `on_task`, reads it into a typed job and places the call it asks for.
//!
//! `cargo run -p relay-async-std --example async_std_task` (embedded relay-mock, no account; see
//! relay-tokio's `examples/support/shared.rs` for running it against the real service).
#![allow(clippy::print_stdout)]

pub(crate) mod support;

#[path = "../../relay-tokio/examples/flows/task.rs"]
mod flow;

pub use flow::run;

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}
