//! What every example shares on every runtime: where it connects, how it makes the network do
//! what a phone network would, and how it reports. The flows (`examples/flows/*.rs`) are
//! written against relay-client alone, so relay-tokio and relay-async-std run the same code;
//! each crate's `support/mod.rs` adds only how to start on its runtime.
//!
//! * With `SIGNALWIRE_PROJECT`, `SIGNALWIRE_TOKEN` and `SIGNALWIRE_HOST` set (e.g.
//!   `example.signalwire.com`), an example talks to the real service: `wss://HOST` for Relay
//!   and `https://HOST` for tasks. `SIGNALWIRE_FROM` (your number) and `SIGNALWIRE_TO` (a phone
//!   to call) set the numbers; inbound flows wait for a real call or message to the context.
//! * Otherwise it starts relay-mock in-process (no account) and tells it what the network does
//!   (an inbound call or text, a busy line) through relay-mock's typed control client.

use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{self, Either};
use relay_client::prelude::*;
use relay_client::{seed_from_os, Connector, Runtime};
use relay_mock::control::{ControlClient, ControlClientError, InboundCall, InboundMessage};
use tokio::sync::oneshot;

/// Any error an example reports.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// What an example's flow ends with.
pub type Outcome = Result<(), Error>;

/// How long a flow may take against the mock (they take well under a second).
pub const MOCK_LIMIT: Duration = Duration::from_secs(20);
/// How long a flow may take against the service (a person may have to place a call).
pub const SERVICE_LIMIT: Duration = Duration::from_secs(180);

/// Where the example runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The service when the `SIGNALWIRE_*` variables are set, else the embedded mock.
    FromEnv,
    /// Always the embedded mock (what the tests use).
    Mock,
}

/// The runtime a flow runs on: the adapter's runtime and WebSocket connector.
#[derive(Clone)]
pub struct Platform {
    /// The adapter's runtime (`TokioRuntime`, `AsyncStdRuntime`).
    pub runtime: Arc<dyn Runtime>,
    /// The adapter's connector.
    pub connector: Arc<dyn Connector>,
}

/// The connection details a flow uses.
#[derive(Clone)]
pub struct Env {
    /// Where Relay is: a bare host (`wss://` implied) or a `ws://` URL for the mock.
    pub host: String,
    project: String,
    token: String,
    task_host: String,
    control: Option<Control>,
    platform: Platform,
    /// Our number (the caller / sender).
    pub from: String,
    /// The number we call or text.
    pub to: String,
    /// How long the flow may take.
    pub limit: Duration,
}

impl Env {
    /// The service's details from the environment, if all three variables are set.
    pub fn from_service(platform: Platform) -> Option<Env> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (project, token, host) = (
            var("SIGNALWIRE_PROJECT")?,
            var("SIGNALWIRE_TOKEN")?,
            var("SIGNALWIRE_HOST")?,
        );
        Some(Env {
            host: host.clone(),
            project,
            token,
            task_host: host,
            control: None,
            platform,
            from: var("SIGNALWIRE_FROM").unwrap_or_else(|| "+15551230001".into()),
            to: var("SIGNALWIRE_TO").unwrap_or_else(|| "+15553210002".into()),
            limit: SERVICE_LIMIT,
        })
    }

    /// A mock at `ws_url` / `http_base`, whose control client runs on `mock_runtime` (the
    /// tokio runtime the mock serves on).
    pub fn from_mock(
        platform: Platform,
        ws_url: String,
        http_base: String,
        control: ControlClient,
        mock_runtime: tokio::runtime::Handle,
    ) -> Env {
        Env {
            host: ws_url,
            project: "test-project".into(),
            token: "test-token".into(),
            task_host: http_base,
            control: Some(Control {
                client: control,
                runtime: mock_runtime,
            }),
            platform,
            from: "+15551230001".into(),
            to: "+15553210002".into(),
            limit: MOCK_LIMIT,
        }
    }

    /// The session configuration, receiving on `contexts`.
    pub fn config(&self, contexts: &[&str]) -> SessionConfig {
        seed_from_os(
            SessionConfig::new(self.project.clone(), self.token.clone())
                .with_contexts(contexts.iter().copied()),
        )
    }

    /// A client connected (connecting) to this environment's Relay.
    pub fn connect(&self) -> RelayClient {
        RelayClient::builder(
            self.config(&[]),
            self.platform.runtime.clone(),
            self.platform.connector.clone(),
        )
        .with_host(self.host.clone())
        .connect()
    }

    /// A task producer for this project and host, on the flow's runtime.
    pub fn task(&self) -> Result<Task, DeliverError> {
        Ok(Task::new(self.project.clone(), self.token.clone())?
            .with_host(self.task_host.clone())
            .with_runtime(self.platform.runtime.clone()))
    }

    /// Whether this is the embedded mock (which can be told how the network behaves).
    pub fn is_mock(&self) -> bool {
        self.control.is_some()
    }

    /// Waits `d` on the flow's runtime.
    pub async fn sleep(&self, d: Duration) {
        let runtime = &self.platform.runtime;
        runtime.sleep_until(runtime.now() + d).await;
    }

    /// Runs `work` in the background on the flow's runtime.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.platform.runtime.spawn(Box::pin(work));
    }

    /// A phone calls us on `context` (the mock injects one; on the service, call your number).
    pub async fn inbound_call(&self, context: &str) -> Outcome {
        let Some(control) = &self.control else {
            println!("Waiting for you to call a number routed to the context {context:?}.");
            return Ok(());
        };
        let call = InboundCall::phone(context).between(&self.to, &self.from);
        control
            .run(move |c| async move { c.inbound_call(&call).await.map(drop) })
            .await
    }

    /// A phone texts us on `context`.
    pub async fn inbound_message(&self, context: &str, body: &str) -> Outcome {
        let Some(control) = &self.control else {
            println!("Waiting for you to text a number routed to the context {context:?}.");
            return Ok(());
        };
        let message = InboundMessage::text(context, &self.to, &self.from, body);
        control
            .run(move |c| async move { c.inbound_message(&message).await.map(drop) })
            .await
    }

    /// Makes the mock answer the next `method` request with `outcome` (`"busy"`, a detector
    /// result, ...); the service decides for itself, so there it does nothing.
    pub async fn next_outcome(&self, method: &str, outcome: &str) -> Outcome {
        let Some(control) = &self.control else {
            return Ok(());
        };
        let method = relay_proto::wire::Method::parse(method)
            .ok_or_else(|| format!("unknown method `{method}`"))?;
        let named = relay_mock::Named::parse(method, outcome)
            .ok_or_else(|| format!("`{outcome}` is not an outcome of `{method}`"))?;
        control
            .run(move |c| async move { c.next(method, &named).await.map(drop) })
            .await
    }

    /// Runs `consumer` (built with the [`Finish`] it is handed) on `contexts` until a handler
    /// reports; returns the handler's outcome.
    pub async fn run_consumer(
        &self,
        contexts: &[&str],
        consumer: impl FnOnce(Finish) -> RelayConsumer,
    ) -> Outcome {
        let (tx, rx) = oneshot::channel();
        let consumer = consumer(Finish(Arc::new(Mutex::new(Some(tx))))).with_host(&self.host);
        let url = consumer.url();
        let stop = consumer
            .run(
                self.config(contexts),
                url,
                self.platform.runtime.clone(),
                self.platform.connector.clone(),
            )
            .await?;
        match rx.await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("the consumer stopped before the flow ended ({stop:?})").into()),
        }
    }

    /// Runs `flow` within this environment's time limit.
    pub async fn within(self, flow: impl Future<Output = Outcome>) -> Outcome {
        let limit = self.limit;
        let runtime = self.platform.runtime.clone();
        let deadline = runtime.sleep_until(runtime.now() + limit);
        match future::select(Box::pin(flow), deadline).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => Err(format!("the flow did not finish within {limit:?}").into()),
        }
    }
}

/// relay-mock's typed control client, run on the mock's tokio runtime (so async-std flows can
/// use it too).
#[derive(Clone)]
struct Control {
    client: ControlClient,
    runtime: tokio::runtime::Handle,
}

impl Control {
    async fn run<F, Fut>(&self, request: F) -> Outcome
    where
        F: FnOnce(ControlClient) -> Fut,
        Fut: Future<Output = Result<(), ControlClientError>> + Send + 'static,
    {
        self.runtime.spawn(request(self.client.clone())).await??;
        Ok(())
    }
}

/// Says how a flow went: exit 0 on success, 1 on failure.
pub fn report(outcome: Outcome) -> ExitCode {
    match outcome {
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
/// disconnects and [`Env::run_consumer`] returns that outcome.
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
