//! Shared harness of the relay-client suites (`client_calls.rs`, `client_session.rs`):
//! scenarios are written once against the `Runtime`/`Connector` traits and instantiated for
//! both adapters (tokio and async-std) by [`on_both_runtimes!`], against relay-mock over real
//! WebSockets.
//!
//! relay-mock needs tokio, so every instantiation starts it on its own std thread with its own
//! tokio runtime; the client runs on the runtime under test. Scenarios drive the mock through
//! relay-mock's typed control client ([`Mock::control`], [`Control`]), which runs on the mock's
//! runtime, so it works from any runtime under test: no hand-written HTTP. Every scenario is
//! bounded by a timeout.
// Each suite uses a different subset of the helpers.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use relay_client::{ClientOptions, Connector, Events, RelayClient, Runtime};
use relay_mock::control::{ControlClient, ControlClientError};
use relay_mock::{net, MockConfig};
use relay_proto::{Event, SessionConfig};

pub const LIMIT: Duration = Duration::from_secs(20);

/// relay-mock on its own thread and tokio runtime.
pub struct Mock {
    pub ws_url: String,
    pub http_base: String,
    control: Control,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    pub fn start() -> Mock {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime for the mock");
            rt.block_on(async move {
                let server = net::start(MockConfig::default())
                    .await
                    .expect("mock starts");
                let control = Control {
                    client: server.control_client(),
                    runtime: tokio::runtime::Handle::current(),
                };
                addr_tx
                    .send((server.ws_url(), server.http_base(), control))
                    .expect("test alive");
                // Block a worker of the mock's own runtime until the test is done.
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let (ws_url, http_base, control) = addr_rx.recv().expect("mock address");
        Mock {
            ws_url,
            http_base,
            control,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The typed control client (clone it into handlers).
    pub fn controller(&self) -> Control {
        self.control.clone()
    }

    /// Runs one typed control `request` (see [`Control::run`]).
    pub async fn control<T, F, Fut>(&self, request: F) -> Result<T, ControlClientError>
    where
        F: FnOnce(ControlClient) -> Fut,
        Fut: Future<Output = Result<T, ControlClientError>> + Send + 'static,
        T: Send + 'static,
    {
        self.control.run(request).await
    }
}

/// relay-mock's typed control client, run on the mock's own tokio runtime.
#[derive(Clone)]
pub struct Control {
    client: ControlClient,
    runtime: tokio::runtime::Handle,
}

impl Control {
    /// Runs `request` with the control client on the mock's runtime and returns its answer.
    pub async fn run<T, F, Fut>(&self, request: F) -> Result<T, ControlClientError>
    where
        F: FnOnce(ControlClient) -> Fut,
        Fut: Future<Output = Result<T, ControlClientError>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .spawn(request(self.client.clone()))
            .await
            .expect("the control request task ran")
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

/// Runs `fut`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<R: Runtime, F: Future>(rt: &R, what: &str, fut: F) -> F::Output {
    let deadline = rt.sleep_until(rt.now() + LIMIT);
    futures::pin_mut!(fut);
    match futures::future::select(fut, deadline).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => panic!("timed out: {what}"),
    }
}

/// Waits for the first event matching `want`.
pub async fn until(events: &mut Events, what: &str, mut want: impl FnMut(&Event) -> bool) -> Event {
    while let Some(item) = events.next().await {
        // A lag is fine here: what we wait for comes later.
        if let Ok(e) = item {
            if want(&e) {
                return e;
            }
        }
    }
    panic!("event stream ended before {what}");
}

pub fn config(contexts: &[&str]) -> SessionConfig {
    relay_client::seed_from_os(SessionConfig::new("test-project", "test-token"))
        .with_contexts(contexts.iter().copied())
}

pub fn connect<R: Runtime + Clone, C: Connector>(
    mock: &Mock,
    rt: &R,
    conn: C,
    contexts: &[&str],
) -> (RelayClient, Events) {
    RelayClient::connect_with(
        config(contexts),
        mock.ws_url.clone(),
        rt.clone(),
        conn,
        ClientOptions::default(),
    )
}

/// Instantiates each scenario `fn(rt, connector)` as a tokio test and an async-std test.
#[macro_export]
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tokio() {
                super::$scenario(relay_tokio::TokioRuntime, relay_tokio::TokioConnector).await
            }

            #[async_std::test]
            async fn async_std() {
                super::$scenario(
                    relay_async_std::AsyncStdRuntime,
                    relay_async_std::AsyncStdConnector,
                )
                .await
            }
        }
    )*};
}
