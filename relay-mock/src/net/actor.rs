//! The single task that owns the sans-IO [`MockServer`].
//!
//! Every socket and HTTP task talks to it over one bounded channel of [`Event`]s. The actor maps
//! wall-clock time to the core's `now`, sleeps until [`MockServer::poll_timeout`], and after every
//! input drains [`MockServer::poll_output`], forwarding frames and closes to the per-connection
//! writer queues. It never awaits a connection task, so a slow peer cannot stall the server.
//!
//! Backpressure (see [`Pressure`]): every frame queued for a connection is charged to that
//! connection and to the server-wide total until its writer takes it. Past
//! [`ServeOptions::high_water_bytes`](super::ServeOptions::high_water_bytes) the connection stops
//! reading its client's requests, and injections (`inbound_call`, `inbound_message`, tasks)
//! wait until the total drains, so a slow client slows the load down instead of losing its
//! connection. Hard limits only against a client that stops reading: a send that makes no
//! progress for [`ServeOptions::stall_timeout`](super::ServeOptions::stall_timeout), or a
//! queue past [`ServeOptions::max_queued_bytes`](super::ServeOptions::max_queued_bytes), drops
//! the connection (logged). A live client that reads never loses a frame.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};

use super::record::TranscriptWriter;
use crate::{ConnId, ControlError, HttpResponse, MockConfig, MockServer, ServerOutput};

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The core actor's inbox.
    pub events: mpsc::Sender<Event>,
    /// One permit per open WebSocket.
    pub ws_permits: Arc<Semaphore>,
    /// How long a WebSocket may stay open without a successful `blade.connect`.
    pub auth_timeout: Duration,
    /// Turns `true` when the server stops.
    pub shutdown: watch::Receiver<bool>,
    /// Bytes queued for clients, and the limits that apply to them.
    pub pressure: Arc<Pressure>,
}

/// Bytes of frames queued for every connection and not yet taken by its writer.
#[derive(Debug)]
pub(crate) struct Pressure {
    /// Sum over every connection.
    total: AtomicUsize,
    /// Told when `total` falls back to `high_water` or below.
    drained: Notify,
    /// Above this (per connection or in total) the server slows down.
    pub high_water: usize,
    /// How long a send may make no progress before the connection is dropped; also the
    /// longest an injection waits for the queues to drain.
    pub stall_timeout: Duration,
}

impl Pressure {
    pub(crate) fn new(high_water: usize, stall_timeout: Duration) -> Self {
        Self {
            total: AtomicUsize::new(0),
            drained: Notify::new(),
            high_water,
            stall_timeout,
        }
    }

    /// Bytes queued for every connection.
    pub(crate) fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    fn add(&self, bytes: usize) {
        self.total.fetch_add(bytes, Ordering::AcqRel);
    }

    fn release(&self, bytes: usize) {
        let before = self.total.fetch_sub(bytes, Ordering::AcqRel);
        if before > self.high_water && before - bytes <= self.high_water {
            self.drained.notify_waiters();
        }
    }

    /// Waits until the total is at or below the high-water mark, at most
    /// [`Pressure::stall_timeout`] (by then a client that does not read has been dropped; one
    /// that reads slowly only slows the caller down). Returns whether it had to wait.
    pub(crate) async fn wait_drained(&self) -> bool {
        if self.total() <= self.high_water {
            return false;
        }
        let wait = async {
            loop {
                let notified = self.drained.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.total() <= self.high_water {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(self.stall_timeout, wait)
            .await
            .is_err()
        {
            tracing::warn!(
                queued = self.total(),
                "clients keep their frames unread; injecting anyway"
            );
        }
        true
    }
}

/// One connection's share of the [`Pressure`].
#[derive(Debug)]
pub(crate) struct Meter {
    queued: AtomicUsize,
    pressure: Arc<Pressure>,
}

impl Meter {
    pub(crate) fn new(pressure: Arc<Pressure>) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            pressure,
        }
    }

    /// Bytes queued for this connection.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether this connection has more queued than the high-water mark (it then stops
    /// reading its client until its queue drains).
    pub(crate) fn congested(&self) -> bool {
        self.queued() > self.pressure.high_water
    }

    /// How long a send may make no progress.
    pub(crate) fn stall_timeout(&self) -> Duration {
        self.pressure.stall_timeout
    }
}

/// `bytes` charged to a connection while its frame waits in the queue; released on drop
/// (when the writer takes the frame, or the queue is dropped with the connection).
#[derive(Debug)]
pub(crate) struct Charge {
    bytes: usize,
    meter: Arc<Meter>,
}

impl Charge {
    fn new(meter: &Arc<Meter>, bytes: usize) -> Self {
        meter.queued.fetch_add(bytes, Ordering::AcqRel);
        meter.pressure.add(bytes);
        Self {
            bytes,
            meter: meter.clone(),
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.meter.queued.fetch_sub(self.bytes, Ordering::AcqRel);
        self.meter.pressure.release(self.bytes);
    }
}

/// Capacity of the actor's inbox.
pub(crate) const EVENT_QUEUE: usize = 1024;

/// What a connection writer is asked to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send one text frame (charged to the connection until taken).
    Text(String, Charge),
    /// Close: `Some(code)` with a close frame, `None` abruptly (drop the TCP stream).
    Close(Option<u16>),
}

/// The actor's end of one WebSocket connection.
#[derive(Debug)]
pub(crate) struct Link {
    /// The writer queue.
    pub out: mpsc::UnboundedSender<Outgoing>,
    /// Bytes of text frames queued in `out` and not yet taken by the writer.
    pub meter: Arc<Meter>,
    /// Told once the connection's `blade.connect` succeeded (ends its authentication deadline).
    pub authenticated: Option<oneshot::Sender<()>>,
    /// Told when the connection must be dropped at once, ahead of its queue.
    pub kill: Option<oneshot::Sender<()>>,
}

/// An input for the actor.
pub(crate) enum Event {
    /// A WebSocket handshake completed; `link` receives that connection's frames.
    Opened {
        link: Link,
        reply: oneshot::Sender<ConnId>,
    },
    /// A text frame arrived.
    Frame { conn: ConnId, text: String },
    /// The socket is gone; `code` is the close code seen (1006 when there was no close frame).
    Closed { conn: ConnId, code: u16 },
    /// A control API request.
    Control {
        endpoint: String,
        body: Value,
        reply: oneshot::Sender<Result<Value, ControlError>>,
    },
    /// A transport fault armed in-process.
    Inject {
        fault: crate::Fault,
        reply: oneshot::Sender<()>,
    },
    /// `POST /api/relay/rest/tasks`.
    Task {
        authorization: Option<String>,
        body: Vec<u8>,
        reply: oneshot::Sender<HttpResponse>,
    },
}

/// Runs the actor until every sender of `events` is gone, then finishes the transcript.
pub(crate) async fn run(
    config: MockConfig,
    mut events: mpsc::Receiver<Event>,
    mut transcript: Option<TranscriptWriter>,
    max_queued_bytes: usize,
) {
    let mut core = MockServer::new(config);
    let mut conns: BTreeMap<ConnId, Link> = BTreeMap::new();
    // One timer, moved only when the core's next deadline changes (not one per event).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = core.poll_timeout();
        if deadline != armed {
            if let Some(at) = deadline {
                timer.as_mut().reset(at.into());
            }
            armed = deadline;
        }
        let event = tokio::select! {
            ev = events.recv() => ev,
            () = &mut timer, if armed.is_some() => {
                // Fired: re-armed on the next turn even if the deadline stays the same.
                armed = None;
                core.handle_timeout(Instant::now());
                drain(&mut core, &mut conns, max_queued_bytes);
                if let Some(t) = transcript.as_mut() {
                    t.append(&mut core);
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        handle(&mut core, &mut conns, event);
        drain(&mut core, &mut conns, max_queued_bytes);
        if let Some(t) = transcript.as_mut() {
            t.append(&mut core);
        }
    }
    if let Some(t) = transcript {
        t.finish(&mut core);
    }
}

/// Feeds one event to the core.
fn handle(core: &mut MockServer, conns: &mut BTreeMap<ConnId, Link>, event: Event) {
    let now = Instant::now();
    match event {
        Event::Opened { link, reply } => {
            let conn = core.connection_opened(now);
            tracing::debug!(conn = conn.0, "websocket opened");
            conns.insert(conn, link);
            if reply.send(conn).is_err() {
                // The socket task died before learning its id: treat as closed.
                conns.remove(&conn);
                core.connection_closed(now, conn);
            }
        }
        Event::Frame { conn, text } => {
            core.handle_frame(now, conn, &text);
            if let Some(link) = conns.get_mut(&conn) {
                if link.authenticated.is_some() && core.connection_authenticated(conn) {
                    if let Some(tx) = link.authenticated.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
        Event::Closed { conn, code } => {
            tracing::debug!(conn = conn.0, code, "websocket closed");
            conns.remove(&conn);
            core.connection_closed_with_code(now, conn, code);
        }
        Event::Control {
            endpoint,
            body,
            reply,
        } => {
            let result = core.control(now, &endpoint, body);
            let _ = reply.send(result);
        }
        Event::Inject { fault, reply } => {
            core.inject(fault);
            let _ = reply.send(());
        }
        Event::Task {
            authorization,
            body,
            reply,
        } => {
            let response = core.deliver_task(now, authorization.as_deref(), &body);
            let _ = reply.send(response);
        }
    }
}

/// Forwards every pending output of the core to its connection.
fn drain(core: &mut MockServer, conns: &mut BTreeMap<ConnId, Link>, max_queued_bytes: usize) {
    while let Some(output) = core.poll_output() {
        let conn = match &output {
            ServerOutput::Send { conn, .. } | ServerOutput::Close { conn, .. } => *conn,
        };
        let Some(link) = conns.get_mut(&conn) else {
            tracing::debug!(conn = conn.0, "output for a connection that is gone");
            continue;
        };
        let msg = match output {
            ServerOutput::Send { text, .. } => {
                let charge = Charge::new(&link.meter, text.len());
                Outgoing::Text(text, charge)
            }
            ServerOutput::Close { code, .. } => Outgoing::Close(code),
        };
        let closing = matches!(msg, Outgoing::Close(_));
        if let Outgoing::Text(..) = &msg {
            let queued = link.meter.queued();
            if queued > max_queued_bytes {
                tracing::warn!(
                    conn = conn.0,
                    queued,
                    "client does not read its frames; dropping the connection"
                );
                if let Some(kill) = link.kill.take() {
                    let _ = kill.send(());
                }
                // Its task reports `Closed` like any other disconnect.
                conns.remove(&conn);
                continue;
            }
        }
        if link.out.send(msg).is_err() || closing {
            // Gone, or closing: nothing more goes to it; its task reports `Closed`.
            conns.remove(&conn);
        }
    }
}
