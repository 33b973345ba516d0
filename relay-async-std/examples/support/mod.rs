//! How the examples start on async-std: the runtime-independent part is relay-tokio's
//! `examples/support/shared.rs` (the flows are shared too); this adds relay-mock, a tokio
//! server, on a tokio runtime of its own thread.
#![allow(dead_code, clippy::print_stdout, clippy::print_stderr)]

#[path = "../../../relay-tokio/examples/support/shared.rs"]
mod shared;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;

use relay_async_std::{AsyncStdConnector, AsyncStdRuntime};
use relay_mock::control::ControlClient;
use relay_mock::{net, MockConfig};
pub use shared::*;

fn platform() -> Platform {
    Platform {
        runtime: Arc::new(AsyncStdRuntime),
        connector: Arc::new(AsyncStdConnector),
    }
}

/// relay-mock on a tokio runtime of its own thread; stops when dropped.
struct Mock {
    ws_url: String,
    http_base: String,
    control: ControlClient,
    runtime: tokio::runtime::Handle,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start() -> Result<Mock, Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(server) = net::start(MockConfig::default()).await else {
                    return;
                };
                let handle = tokio::runtime::Handle::current();
                let ready = (server.ws_url(), server.http_base(), server.control_client());
                let _ = ready_tx.send((ready, handle));
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let ((ws_url, http_base, control), runtime) =
            ready_rx.recv().map_err(|_| "relay-mock did not start")?;
        Ok(Mock {
            ws_url,
            http_base,
            control,
            runtime,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
    let mock = Mock::start()?;
    println!(
        "Started a local relay-mock at {} (no account needed).",
        mock.ws_url
    );
    let env = Env::from_mock(
        platform(),
        mock.ws_url.clone(),
        mock.http_base.clone(),
        mock.control.clone(),
        mock.runtime.clone(),
    );
    env.clone().within(flow(env)).await
}

/// An example's `main`: runs the flow, says how it went, exits 0 on success and 1 on failure.
pub async fn main<F, Fut>(flow: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    report(run(Backend::FromEnv, flow).await)
}
