//! What the async-std examples share: an embedded relay-mock (run on its own thread, as it is
//! a tokio server) or the real service when `SIGNALWIRE_PROJECT`, `SIGNALWIRE_TOKEN` and
//! `SIGNALWIRE_HOST` are set (`SIGNALWIRE_FROM` / `SIGNALWIRE_TO` set the numbers), the mock's
//! control API for inbound calls, and the exit code.
#![allow(dead_code, clippy::print_stdout, clippy::print_stderr)]

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use relay_async_std::SessionConfig;
use relay_mock::{net, MockConfig};

/// Any error an example reports.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// What an example's flow ends with.
pub type Outcome = Result<(), Error>;

/// Where the example runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The service when the `SIGNALWIRE_*` variables are set, else the embedded mock.
    FromEnv,
    /// Always the embedded mock (what the tests use).
    Mock,
}

/// The connection details a flow uses.
#[derive(Debug, Clone)]
pub struct Env {
    /// The Relay WebSocket URL.
    pub ws_url: String,
    project: String,
    token: String,
    control: Option<String>,
    /// Our number.
    pub from: String,
    /// The number we call.
    pub to: String,
}

impl Env {
    /// The session configuration, receiving on `contexts`.
    pub fn config(&self, contexts: &[&str]) -> SessionConfig {
        SessionConfig::new(self.project.clone(), self.token.clone())
            .with_contexts(contexts.iter().copied())
    }

    /// A phone calls us on `context` (the mock injects one; on the service, call your number).
    pub async fn inbound_call(&self, context: &str) -> Outcome {
        let Some(base) = self.control.clone() else {
            println!("Waiting for you to call a number routed to the context {context:?}.");
            return Ok(());
        };
        let body = serde_json::json!({"context": context, "from": self.to, "to": self.from});
        async_std::task::spawn_blocking(move || -> Outcome {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into();
            agent
                .post(&format!("{base}/__control/inbound_call"))
                .header("Content-Type", "application/json")
                .send(&serde_json::to_vec(&body)?[..])?;
            Ok(())
        })
        .await
    }
}

/// relay-mock on a tokio runtime of its own thread; stops when dropped.
struct Mock {
    ws_url: String,
    http_base: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start() -> Result<Mock, Error> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
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
                let _ = addr_tx.send((server.ws_url(), server.http_base()));
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let (ws_url, http_base) = addr_rx.recv().map_err(|_| "relay-mock did not start")?;
        Ok(Mock {
            ws_url,
            http_base,
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

fn service_from_env() -> Option<Env> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (project, token, host) = (
        var("SIGNALWIRE_PROJECT")?,
        var("SIGNALWIRE_TOKEN")?,
        var("SIGNALWIRE_HOST")?,
    );
    Some(Env {
        ws_url: format!("wss://{host}"),
        project,
        token,
        control: None,
        from: var("SIGNALWIRE_FROM").unwrap_or_else(|| "+15551230001".into()),
        to: var("SIGNALWIRE_TO").unwrap_or_else(|| "+15553210002".into()),
    })
}

/// Runs `flow` against `backend` within a time limit (20 s on the mock, 180 s on the service).
pub async fn run<F, Fut>(backend: Backend, flow: F) -> Outcome
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if backend == Backend::FromEnv {
        if let Some(env) = service_from_env() {
            println!("Connecting to the SignalWire service at {}.", env.ws_url);
            return async_std::future::timeout(Duration::from_secs(180), flow(env))
                .await
                .map_err(|_| "the flow did not finish within 180 s")?;
        }
    }
    let mock = Mock::start()?;
    println!(
        "Started a local relay-mock at {} (no account needed).",
        mock.ws_url
    );
    let env = Env {
        ws_url: mock.ws_url.clone(),
        project: "test-project".into(),
        token: "test-token".into(),
        control: Some(mock.http_base.clone()),
        from: "+15551230001".into(),
        to: "+15553210002".into(),
    };
    async_std::future::timeout(Duration::from_secs(20), flow(env))
        .await
        .map_err(|_| "the flow did not finish within 20 s")?
}

/// An example's `main`: runs the flow, says how it went, exits 0 on success and 1 on failure.
pub async fn main<F, Fut>(flow: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    match run(Backend::FromEnv, flow).await {
        Ok(()) => {
            println!("Done.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Failed: {e}");
            ExitCode::FAILURE
        }
    }
}
