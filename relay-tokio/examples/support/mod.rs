//! How the examples start on tokio: the runtime-independent part is `shared.rs` (also used by
//! relay-async-std's examples); this adds relay-mock on the current tokio runtime.
#![allow(dead_code, clippy::print_stdout, clippy::print_stderr)]

#[path = "shared.rs"]
mod shared;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use relay_mock::{net, MockConfig};
use relay_tokio::{TokioConnector, TokioRuntime};
pub use shared::*;

fn platform() -> Platform {
    Platform {
        runtime: Arc::new(TokioRuntime),
        connector: Arc::new(TokioConnector),
    }
}

/// Runs `flow` against `backend` within its time limit.
pub async fn run<F, Fut>(backend: Backend, flow: F) -> Outcome
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if backend == Backend::FromEnv {
        if let Some(env) = Env::from_service(platform()) {
            println!("Connecting to the SignalWire service at {}.", env.host);
            return env.clone().within(flow(env)).await;
        }
    }
    let mock = net::start(MockConfig::default()).await?;
    println!(
        "Started a local relay-mock at {} (no account needed).",
        mock.ws_url()
    );
    let env = Env::from_mock(
        platform(),
        mock.ws_url(),
        mock.http_base(),
        mock.control_client(),
        tokio::runtime::Handle::current(),
    );
    let outcome = env.clone().within(flow(env)).await;
    mock.shutdown().await;
    outcome
}

/// An example's `main`: runs the flow, says how it went, exits 0 on success and 1 on failure.
pub async fn main<F, Fut>(flow: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    report(run(Backend::FromEnv, flow).await)
}
