//! The single task that owns the sans-IO [`MockServer`].
//!
//! Every socket and HTTP task talks to it over one bounded channel of [`Event`]s. The actor maps
//! wall-clock time to the core's `now`, sleeps until [`MockServer::poll_timeout`], and after every
//! input drains [`MockServer::poll_output`], forwarding frames and closes to the per-connection
//! writer channels. It never awaits a connection task, so a slow peer cannot stall the server:
//! a connection whose outgoing queue is full is dropped instead.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::record::TranscriptFile;
use crate::{ConnId, ControlError, HttpResponse, MockConfig, MockServer, ServerOutput};

/// Capacity of the actor's inbox.
pub(crate) const EVENT_QUEUE: usize = 1024;
/// Capacity of each connection's outgoing queue.
pub(crate) const OUTGOING_QUEUE: usize = 1024;

/// What a connection writer is asked to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send one text frame.
    Text(String),
    /// Close: `Some(code)` with a close frame, `None` abruptly (drop the TCP stream).
    Close(Option<u16>),
}

/// An input for the actor.
pub(crate) enum Event {
    /// A WebSocket handshake completed; `out` receives that connection's frames.
    Opened {
        out: mpsc::Sender<Outgoing>,
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
    /// `POST /api/relay/rest/tasks`.
    Task {
        authorization: Option<String>,
        body: Vec<u8>,
        reply: oneshot::Sender<HttpResponse>,
    },
}

/// Runs the actor until every sender of `events` is gone, then writes the transcript.
pub(crate) async fn run(
    config: MockConfig,
    mut events: mpsc::Receiver<Event>,
    transcript: Option<TranscriptFile>,
) {
    let mut core = MockServer::new(config);
    let mut conns: BTreeMap<ConnId, mpsc::Sender<Outgoing>> = BTreeMap::new();
    loop {
        let event = match core.poll_timeout() {
            Some(deadline) => {
                tokio::select! {
                    ev = events.recv() => ev,
                    _ = tokio::time::sleep_until(deadline.into()) => {
                        core.handle_timeout(Instant::now());
                        drain(&mut core, &mut conns);
                        continue;
                    }
                }
            }
            None => events.recv().await,
        };
        let Some(event) = event else { break };
        let now = Instant::now();
        match event {
            Event::Opened { out, reply } => {
                let conn = core.connection_opened(now);
                tracing::debug!(conn = conn.0, "websocket opened");
                conns.insert(conn, out);
                if reply.send(conn).is_err() {
                    // The socket task died before learning its id: treat as closed.
                    conns.remove(&conn);
                    core.connection_closed(now, conn);
                }
            }
            Event::Frame { conn, text } => {
                core.handle_frame(now, conn, &text);
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
            Event::Task {
                authorization,
                body,
                reply,
            } => {
                let response = core.deliver_task(now, authorization.as_deref(), &body);
                let _ = reply.send(response);
            }
        }
        drain(&mut core, &mut conns);
    }
    if let Some(file) = transcript {
        file.write_all(&core.transcript_jsonl());
    }
}

/// Forwards every pending output of the core to its connection.
fn drain(core: &mut MockServer, conns: &mut BTreeMap<ConnId, mpsc::Sender<Outgoing>>) {
    while let Some(output) = core.poll_output() {
        let (conn, msg) = match output {
            ServerOutput::Send { conn, text } => (conn, Outgoing::Text(text)),
            ServerOutput::Close { conn, code } => (conn, Outgoing::Close(code)),
        };
        let Some(tx) = conns.get(&conn) else {
            tracing::debug!(conn = conn.0, "output for a connection that is gone");
            continue;
        };
        let closing = matches!(msg, Outgoing::Close(_));
        if let Err(err) = tx.try_send(msg) {
            tracing::warn!(conn = conn.0, %err, "connection cannot keep up; dropping it");
            // Dropping the only sender makes the writer see the end of its queue and drop
            // the socket; it then reports `Closed` like any other disconnect.
            conns.remove(&conn);
        } else if closing {
            // Nothing more goes to a socket that is closing; its task reports `Closed`.
            conns.remove(&conn);
        }
    }
}
