//! What the examples share: where they connect, how they make the network do what a phone
//! network would, and how they report.
//!
//! * With `SIGNALWIRE_PROJECT`, `SIGNALWIRE_TOKEN` and `SIGNALWIRE_HOST` set (e.g.
//!   `example.signalwire.com`), an example talks to the real service: `wss://HOST` for Relay
//!   and `https://HOST` for tasks. `SIGNALWIRE_FROM` (your number) and `SIGNALWIRE_TO` (a phone
//!   to call) set the numbers; inbound flows wait for a real call or message to the context.
//! * Otherwise it starts relay-mock in-process (no account) and injects inbound calls and
//!   messages through the mock's control API (`POST /__control/...`).
//!
//! Everything mock-specific is in [`Control`], so it can be swapped for relay-mock's typed
//! control client.
#![allow(dead_code, clippy::print_stdout, clippy::print_stderr)]

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_mock::{net, MockConfig};
use relay_tokio::{DeliverError, RelayClient, RelayConsumer, SessionConfig, Task};
use tokio::sync::oneshot;

/// Any error an example reports.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// What an example's flow ends with.
pub type Outcome = Result<(), Error>;

/// How long a flow may take against the mock (they take well under a second).
const MOCK_LIMIT: Duration = Duration::from_secs(20);
/// How long a flow may take against the service (a person may have to place a call).
const SERVICE_LIMIT: Duration = Duration::from_secs(180);

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
    task_host: String,
    control: Option<Control>,
    /// Our number (the caller / sender).
    pub from: String,
    /// The number we call or text.
    pub to: String,
    /// How long the flow may take.
    pub limit: Duration,
}

impl Env {
    /// The session configuration, receiving on `contexts`.
    pub fn config(&self, contexts: &[&str]) -> SessionConfig {
        SessionConfig::new(self.project.clone(), self.token.clone())
            .with_contexts(contexts.iter().copied())
    }

    /// A task producer for this project and host.
    pub fn task(&self) -> Result<Task, DeliverError> {
        Ok(Task::new(self.project.clone(), self.token.clone())?.with_host(self.task_host.clone()))
    }

    /// Whether this is the embedded mock (which can be told how the network behaves).
    pub fn is_mock(&self) -> bool {
        self.control.is_some()
    }

    /// A phone calls us on `context` (the mock injects one; on the service, call your number).
    pub async fn inbound_call(&self, context: &str) -> Outcome {
        match &self.control {
            Some(control) => {
                let body =
                    serde_json::json!({"context": context, "from": self.to, "to": self.from});
                control.post("inbound_call", body).await
            }
            None => {
                println!("Waiting for you to call a number routed to the context {context:?}.");
                Ok(())
            }
        }
    }

    /// A phone texts us on `context`.
    pub async fn inbound_message(&self, context: &str, body: &str) -> Outcome {
        match &self.control {
            Some(control) => {
                let body = serde_json::json!({"context": context, "from": self.to,
                    "to": self.from, "body": body});
                control.post("inbound_message", body).await
            }
            None => {
                println!("Waiting for you to text a number routed to the context {context:?}.");
                Ok(())
            }
        }
    }

    /// Makes the mock answer the next `method` request with `outcome` (e.g. a detector
    /// result); the service decides for itself, so there it does nothing.
    pub async fn next_outcome(&self, method: &str, outcome: &str) -> Outcome {
        match &self.control {
            Some(control) => {
                let body = serde_json::json!({"method": method, "outcome": outcome});
                control.post("next", body).await
            }
            None => Ok(()),
        }
    }
}

/// relay-mock's HTTP control API (CONTROL_API.md), over ureq on the blocking pool.
#[derive(Debug, Clone)]
struct Control {
    base: String,
}

impl Control {
    async fn post(&self, endpoint: &str, body: serde_json::Value) -> Outcome {
        let url = format!("{}/__control/{endpoint}", self.base);
        tokio::task::spawn_blocking(move || -> Outcome {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into();
            agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(&serde_json::to_vec(&body)?[..])?;
            Ok(())
        })
        .await?
    }
}

/// The service's details from the environment, if all three variables are set.
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
        task_host: host,
        control: None,
        from: var("SIGNALWIRE_FROM").unwrap_or_else(|| "+15551230001".into()),
        to: var("SIGNALWIRE_TO").unwrap_or_else(|| "+15553210002".into()),
        limit: SERVICE_LIMIT,
    })
}

/// Runs `flow` against `backend` within its time limit.
pub async fn run<F, Fut>(backend: Backend, flow: F) -> Outcome
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if backend == Backend::FromEnv {
        if let Some(env) = service_from_env() {
            println!("Connecting to the SignalWire service at {}.", env.ws_url);
            let limit = env.limit;
            return tokio::time::timeout(limit, flow(env))
                .await
                .map_err(|_| format!("the flow did not finish within {limit:?}"))?;
        }
    }
    let mock = net::start(MockConfig::default()).await?;
    println!(
        "Started a local relay-mock at {} (no account needed).",
        mock.ws_url()
    );
    let env = Env {
        ws_url: mock.ws_url(),
        project: "test-project".into(),
        token: "test-token".into(),
        task_host: mock.http_base(),
        control: Some(Control {
            base: mock.http_base(),
        }),
        from: "+15551230001".into(),
        to: "+15553210002".into(),
        limit: MOCK_LIMIT,
    };
    let outcome = tokio::time::timeout(MOCK_LIMIT, flow(env)).await;
    mock.shutdown().await;
    outcome.map_err(|_| format!("the flow did not finish within {MOCK_LIMIT:?}"))?
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

/// The end of a consumer's flow: a handler reports its outcome once; the consumer then
/// disconnects and [`run_consumer`] returns that outcome.
#[derive(Debug, Clone)]
pub struct Finish(Arc<Mutex<Option<oneshot::Sender<Outcome>>>>);

impl Finish {
    /// Reports `outcome` (only the first report counts) and disconnects `client`.
    pub async fn report(&self, client: &RelayClient, outcome: Outcome) {
        let sender = self.0.lock().ok().and_then(|mut s| s.take());
        if let Some(sender) = sender {
            let _ = sender.send(outcome);
            client.disconnect().await;
        }
    }
}

/// Runs `consumer` (built with the [`Finish`] it is handed) on `contexts` until a handler
/// reports; returns the handler's outcome.
pub async fn run_consumer(
    env: &Env,
    contexts: &[&str],
    consumer: impl FnOnce(Finish) -> RelayConsumer,
) -> Outcome {
    let (tx, rx) = oneshot::channel();
    let consumer = consumer(Finish(Arc::new(Mutex::new(Some(tx)))));
    let stop =
        relay_tokio::run_consumer(consumer, env.config(contexts), env.ws_url.clone()).await?;
    match rx.await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("the consumer stopped before the flow ended ({stop:?})").into()),
    }
}
