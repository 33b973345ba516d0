//! [`RelayConsumer`]: contexts plus async handlers, run until the session stops or it is told
//! to stop (the Node SDK's `RelayConsumer`, PROTOCOL.md §10).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{self, Either};
use futures_util::task::AtomicWaker;
use futures_util::StreamExt;
use relay_proto::calling::CallEvent;
use relay_proto::{Event, Message, MessageEventKind, SessionConfig, StopReason};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::call::Call;
use crate::client::RelayClient;
use crate::delivery::InboxStream;
use crate::driver::ClientOptions;
use crate::error::ClientError;
use crate::runtime::{BoxFuture, Connector, Runtime};

/// What a handler may return: `()`, or a `Result` whose error is logged (with the call,
/// message or task it was handling) and never stops the consumer.
pub trait HandlerOutcome: Send + 'static {
    /// The error text, if the handler failed.
    fn into_error(self) -> Option<String>;
}

impl HandlerOutcome for () {
    fn into_error(self) -> Option<String> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> HandlerOutcome for Result<(), E> {
    fn into_error(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

type Handler<T> = Arc<dyn Fn(T) -> BoxFuture<'static, Option<String>> + Send + Sync>;

fn boxed<T, F, Fut>(f: F) -> Handler<T>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutcome,
{
    Arc::new(move |t| {
        let fut = f(t);
        Box::pin(async move { fut.await.into_error() })
    })
}

type Setup = Box<dyn FnOnce(&mut SessionConfig) + Send>;

/// Stops a running [`RelayConsumer`] (see [`RelayConsumer::stop_handle`]). Cheap to clone;
/// stopping twice is harmless.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<StopFlag>);

#[derive(Debug, Default)]
struct StopFlag {
    stopped: AtomicBool,
    waker: AtomicWaker,
}

impl StopHandle {
    /// Asks the consumer to stop: it takes no new work, lets running handlers finish within
    /// its grace period, runs `teardown`, closes the socket and returns from `run`.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::Acquire)
    }

    async fn wait(&self) {
        future::poll_fn(|cx| {
            self.0.waker.register(cx.waker());
            if self.is_stopped() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Counts running handlers, so shutdown can wait for them.
#[derive(Debug, Default)]
struct Running {
    count: AtomicUsize,
    idle: AtomicWaker,
}

/// Decrements [`Running`] when a handler ends, even by panic.
struct RunningGuard(Arc<Running>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.wake();
        }
    }
}

/// A consumer: the contexts to receive on and what to do with what arrives there.
///
/// Each handler runs as its own spawned future, so a long call flow never delays the next
/// event, and no inbound call, message or task is ever dropped on the way to its handler (a
/// backlog pauses reading the socket instead). `run` returns when the session stops, or after
/// a [`StopHandle::stop`] (or the shutdown future given to [`run_until`](Self::run_until),
/// e.g. SIGINT/SIGTERM from the adapters) once running handlers finished within the
/// [grace period](Self::grace_period), `teardown` ran and the socket closed.
///
/// ```no_run
/// # use relay_client::{Connector, Runtime, RelayConsumer, ClientError};
/// # use relay_proto::SessionConfig;
/// # async fn doc(runtime: impl Runtime, connector: impl Connector) {
/// #[derive(serde::Deserialize)]
/// struct Job {
///     number: String,
/// }
///
/// let consumer = RelayConsumer::new()
///     .contexts(["office"])
///     .on_incoming_call(|call| async move {
///         call.answer().await?;
///         call.play_tts("Welcome").await?;
///         call.hangup().await?;
///         Ok::<(), ClientError>(())
///     })
///     .on_task_as(|_client, job: Job| async move {
///         tracing::info!(number = %job.number, "job received");
///     });
/// let stop = consumer.stop_handle();
/// // ... later, from anywhere: stop.stop();
/// let reason = consumer
///     .run(SessionConfig::new("project", "token"), "wss://relay.signalwire.com", runtime, connector)
///     .await;
/// # }
/// ```
pub struct RelayConsumer {
    contexts: Vec<String>,
    host: String,
    options: ClientOptions,
    grace: Duration,
    stop: StopHandle,
    setup: Option<Setup>,
    ready: Option<Handler<RelayClient>>,
    teardown: Option<Handler<RelayClient>>,
    incoming_call: Option<Handler<Call>>,
    incoming_message: Option<Handler<(RelayClient, Message)>>,
    message_state: Option<Handler<(RelayClient, Message)>>,
    task: Option<Handler<(RelayClient, Value)>>,
}

impl Default for RelayConsumer {
    fn default() -> Self {
        RelayConsumer {
            contexts: Vec::new(),
            host: crate::client::DEFAULT_HOST.to_owned(),
            options: ClientOptions::default(),
            grace: Duration::from_secs(10),
            stop: StopHandle::default(),
            setup: None,
            ready: None,
            teardown: None,
            incoming_call: None,
            incoming_message: None,
            message_state: None,
            task: None,
        }
    }
}

impl fmt::Debug for RelayConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConsumer")
            .field("contexts", &self.contexts)
            .field("host", &self.host)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl RelayConsumer {
    /// A consumer with no contexts and no handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds contexts to receive on (merged with the configuration's).
    pub fn contexts<I, S>(mut self, contexts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.contexts.extend(contexts.into_iter().map(Into::into));
        self
    }

    /// The host the adapters' `run_consumer` connects to: the real service
    /// ([`DEFAULT_HOST`](crate::DEFAULT_HOST)) unless set; a bare `host[:port]` or a full
    /// `ws://` / `wss://` URL (see [`relay_url`](crate::relay_url)). [`run`](Self::run) takes
    /// its URL as an argument instead.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The URL for the host set with [`with_host`](Self::with_host).
    pub fn url(&self) -> String {
        crate::client::relay_url(&self.host)
    }

    /// Sets the client options.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// How long running handlers may take to finish once the consumer is stopping (default
    /// 10 s); handlers still running then are left behind (their commands fail with
    /// [`ClientError::Closed`] once the socket is closed).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// A handle that stops [`run`](Self::run) from anywhere.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Called once before connecting, with the configuration (the Node SDK's `setup`, where
    /// project, token and contexts are set).
    pub fn on_setup<F>(mut self, f: F) -> Self
    where
        F: FnOnce(&mut SessionConfig) + Send + 'static,
    {
        self.setup = Some(Box::new(f));
        self
    }

    /// Called once: after the first handshake, or, when there are contexts, once the server
    /// accepted them (so inbound calls and messages can arrive). The Node SDK calls `ready`
    /// again after every reconnect; here a reconnect needs nothing from the application (the
    /// session resumes and re-registers its contexts itself), so it is not repeated.
    pub fn on_ready<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.ready = Some(boxed(f));
        self
    }

    /// Called once when the consumer stops, after running handlers finished (or the grace
    /// period ran out) and before the socket is closed.
    pub fn on_teardown<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.teardown = Some(boxed(f));
        self
    }

    /// Called for every inbound call offered to one of the contexts ([`Call::client`] is the
    /// client).
    pub fn on_incoming_call<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.incoming_call = Some(boxed(f));
        self
    }

    /// Called for every inbound message.
    pub fn on_incoming_message<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient, Message) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.incoming_message = Some(boxed(move |(c, m)| f(c, m)));
        self
    }

    /// Called for every state change of an outbound message.
    pub fn on_message_state_change<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient, Message) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.message_state = Some(boxed(move |(c, m)| f(c, m)));
        self
    }

    /// Called for every task delivered to one of the contexts, with its message as JSON.
    pub fn on_task<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(RelayClient, Value) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        self.task = Some(boxed(move |(c, v)| f(c, v)));
        self
    }

    /// Called for every task delivered to one of the contexts, deserialized into `T`; a task
    /// that does not fit `T` is logged (with the error) and skipped.
    pub fn on_task_as<T, F, Fut>(self, f: F) -> Self
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(RelayClient, T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutcome,
    {
        let f = Arc::new(f);
        self.on_task(move |client, value| {
            let f = f.clone();
            async move {
                match serde_json::from_value::<T>(value) {
                    Ok(task) => f(client, task).await.into_error().map_or(Ok(()), Err),
                    Err(e) => Err(format!("task does not match the expected type: {e}")),
                }
            }
        })
    }

    /// Connects with `config` (plus this consumer's contexts) and dispatches events to the
    /// handlers until the session stops or the [stop handle](Self::stop_handle) is used;
    /// returns why it stopped.
    pub async fn run(
        self,
        config: SessionConfig,
        url: impl Into<String>,
        runtime: impl Runtime,
        connector: impl Connector,
    ) -> Result<StopReason, ClientError> {
        self.run_until(config, url, runtime, connector, future::pending::<()>())
            .await
    }

    /// [`run`](Self::run) that also stops when `shutdown` completes (the adapters pass
    /// SIGINT/SIGTERM).
    pub async fn run_until(
        mut self,
        mut config: SessionConfig,
        url: impl Into<String>,
        runtime: impl Runtime,
        connector: impl Connector,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<StopReason, ClientError> {
        if let Some(setup) = self.setup.take() {
            setup(&mut config);
        }
        for c in self.contexts.drain(..) {
            if !config.contexts.contains(&c) {
                config.contexts.push(c);
            }
        }
        let wait_contexts = !config.contexts.is_empty();
        let (client, inbox) = RelayClient::connect_lossless(
            config,
            url.into(),
            Arc::new(runtime),
            Arc::new(connector),
            self.options.clone(),
        );
        let running = Arc::new(Running::default());
        let stop = self.stop.clone();
        let outcome = {
            let dispatch = self.dispatch(&client, inbox, wait_contexts, &running);
            let external = future::select(Box::pin(stop.wait()), Box::pin(shutdown));
            match future::select(Box::pin(dispatch), external).await {
                // The session stopped by itself (or was closed by a handler).
                Either::Left((Some(reason), _)) => Ok(reason),
                // The driver is gone without a word.
                Either::Left((None, _)) => Err(ClientError::Closed),
                Either::Right(_) => {
                    tracing::info!("consumer stopping");
                    Ok(StopReason::Closed)
                }
            }
        };
        self.shut_down(&client, &running).await;
        outcome
    }

    /// Hands every event to its handler until the session stops (`Some(reason)`) or the
    /// driver is gone (`None`).
    async fn dispatch(
        &self,
        client: &RelayClient,
        mut inbox: InboxStream,
        wait_contexts: bool,
        running: &Arc<Running>,
    ) -> Option<StopReason> {
        let mut ready_called = false;
        while let Some(event) = inbox.next().await {
            // With contexts, "ready" means inbound traffic can already reach us.
            let now_ready = match &event {
                Event::Ready { .. } => !wait_contexts,
                Event::ContextsRegistered { outcome, .. } => wait_contexts && outcome.is_ok(),
                _ => false,
            };
            if now_ready && !ready_called {
                ready_called = true;
                if let Some(h) = &self.ready {
                    spawn(client, running, h(client.clone()), "ready", String::new());
                }
            }
            match event {
                Event::Call(CallEvent::IncomingCall { call }) => {
                    let id = call.id.clone();
                    match &self.incoming_call {
                        Some(h) => {
                            tracing::debug!(call_id = %id, "dispatching incoming call");
                            let handle = Call::new(client.clone(), id.clone(), Some(&call));
                            spawn(client, running, h(handle), "incoming call", id);
                        }
                        None => tracing::debug!(call_id = %id, "incoming call without a handler"),
                    }
                }
                Event::Message(m) => {
                    let (h, what) = match m.kind {
                        MessageEventKind::Received => (&self.incoming_message, "incoming message"),
                        _ => (&self.message_state, "message state"),
                    };
                    if let Some(h) = h {
                        let id = m.message.id.as_str().to_owned();
                        spawn(client, running, h((client.clone(), m.message)), what, id);
                    }
                }
                Event::Task { context, message } => {
                    if let Some(h) = &self.task {
                        spawn(
                            client,
                            running,
                            h((client.clone(), message)),
                            "task",
                            context,
                        );
                    }
                }
                Event::Stopped { reason } => return Some(reason),
                _ => {}
            }
        }
        None
    }

    /// Lets running handlers finish within the grace period, runs `teardown`, then closes the
    /// session (close frame 1000) and waits for the driver.
    async fn shut_down(&self, client: &RelayClient, running: &Arc<Running>) {
        let rt = client.runtime().clone();
        let deadline = rt.now() + self.grace;
        let idle = future::poll_fn(|cx| {
            running.idle.register(cx.waker());
            if running.count.load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        if let Either::Right(_) = future::select(Box::pin(idle), rt.sleep_until(deadline)).await {
            tracing::warn!(
                still_running = running.count.load(Ordering::Acquire),
                grace = ?self.grace,
                "handlers did not finish within the grace period"
            );
        }
        if let Some(teardown) = &self.teardown {
            let td = teardown(client.clone());
            let limit = rt.sleep_until(rt.now() + self.grace);
            match future::select(td, limit).await {
                Either::Left((Some(error), _)) => tracing::error!(%error, "teardown failed"),
                Either::Left((None, _)) => {}
                Either::Right(_) => {
                    tracing::warn!("teardown did not finish within the grace period")
                }
            }
        }
        client.disconnect().await;
    }
}

/// Spawns one handler run, counted in `running`; its error is logged with what it handled.
fn spawn(
    client: &RelayClient,
    running: &Arc<Running>,
    fut: BoxFuture<'static, Option<String>>,
    what: &'static str,
    id: impl fmt::Display + Send + 'static,
) {
    running.count.fetch_add(1, Ordering::AcqRel);
    let guard = RunningGuard(running.clone());
    client.runtime().spawn(Box::pin(async move {
        let _guard = guard;
        if let Some(error) = fut.await {
            tracing::error!(handler = what, id = %id, %error, "handler failed");
        }
    }));
}
