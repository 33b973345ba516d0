//! One WebSocket connection: frames both ways between the socket and the core actor.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::actor::{Event, Link, Meter, Outgoing, Shared};
use crate::ConnId;

/// How long to wait for the peer's close frame after sending ours.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Close code sent to a connection that did not authenticate in time (policy violation).
pub(crate) const AUTH_TIMEOUT_CLOSE: u16 = 1008;

/// The connection task's ends of its [`Link`].
struct Ends {
    out: mpsc::UnboundedReceiver<Outgoing>,
    meter: Arc<Meter>,
    authenticated: oneshot::Receiver<()>,
    kill: oneshot::Receiver<()>,
}

fn link(shared: &Shared) -> (Link, Ends) {
    let (out_tx, out) = mpsc::unbounded_channel();
    let meter = Arc::new(Meter::new(shared.pressure.clone()));
    let (auth_tx, authenticated) = oneshot::channel();
    let (kill_tx, kill) = oneshot::channel();
    let link = Link {
        out: out_tx,
        meter: meter.clone(),
        authenticated: Some(auth_tx),
        kill: Some(kill_tx),
    };
    let ends = Ends {
        out,
        meter,
        authenticated,
        kill,
    };
    (link, ends)
}

/// Registers the socket with the core and serves it until either side ends.
pub(crate) async fn session(socket: WebSocket, shared: Arc<Shared>) {
    let (link, ends) = link(&shared);
    let (reply, rx) = oneshot::channel();
    if shared
        .events
        .send(Event::Opened { link, reply })
        .await
        .is_err()
    {
        return;
    }
    let Ok(conn) = rx.await else { return };
    tracing::debug!(conn = conn.0, "websocket session");
    let code = pump(socket, ends, &shared, conn).await;
    let _ = shared.events.send(Event::Closed { conn, code }).await;
}

/// Completes when the server stops or the actor kills this connection (ahead of its queue).
async fn aborted(mut shutdown: watch::Receiver<bool>, kill: oneshot::Receiver<()>) {
    let killed = async {
        if kill.await.is_err() {
            // The actor let go of the link without killing: only shutdown remains.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = shutdown.wait_for(|stop| *stop) => {}
        () = killed => {}
    }
}

/// Moves frames both ways until either side ends; returns the close code to report.
async fn pump(mut ws: WebSocket, ends: Ends, shared: &Shared, conn: ConnId) -> u16 {
    let Ends {
        mut out,
        meter,
        authenticated: mut auth_rx,
        kill,
    } = ends;
    let auth_deadline = tokio::time::sleep(shared.auth_timeout);
    tokio::pin!(auth_deadline);
    // Checked while waiting for either side, and while a send waits on a slow client.
    let abort = aborted(shared.shutdown.clone(), kill);
    tokio::pin!(abort);
    let mut authenticated = false;
    loop {
        tokio::select! {
            () = &mut abort => return 1006,
            _ = &mut auth_rx, if !authenticated => authenticated = true,
            () = &mut auth_deadline, if !authenticated => {
                tracing::info!(conn = conn.0, "no blade.connect in time; closing");
                close(&mut ws, AUTH_TIMEOUT_CLOSE).await;
                return AUTH_TIMEOUT_CLOSE;
            }
            // Backpressure: while this client has more than the high-water mark unread, its
            // requests (and the responses and events they cause) wait in the socket.
            incoming = ws.next(), if !meter.congested() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if shared.events.send(Event::Frame { conn, text }).await.is_err() {
                        return 1001;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite queues the echo; flush it (bounded) before dropping the stream.
                    let _ = tokio::time::timeout(CLOSE_LINGER, ws.flush()).await;
                    return frame.map_or(1005, |f| f.code);
                }
                Some(Ok(Message::Binary(_))) => {
                    tracing::debug!(conn = conn.0, "ignoring a binary frame");
                }
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                Some(Err(err)) => {
                    tracing::debug!(conn = conn.0, %err, "websocket read ended");
                    return 1006;
                }
                None => return 1006,
            },
            outgoing = out.recv() => {
                let burst = match outgoing {
                    Some(Outgoing::Text(text, charge)) => tokio::select! {
                        burst = send_burst(&mut ws, text, charge, &mut out) => burst,
                        () = &mut abort => return 1006,
                        () = tokio::time::sleep(meter.stall_timeout()) => {
                            tracing::warn!(
                                conn = conn.0,
                                queued = meter.queued(),
                                stall = ?meter.stall_timeout(),
                                "client did not read its frames in time; dropping the connection"
                            );
                            return 1006;
                        }
                    },
                    Some(Outgoing::Close(code)) => Burst::Close(code),
                    None => Burst::Close(None),
                };
                match burst {
                    Burst::Sent => {}
                    Burst::Failed => return 1006,
                    Burst::Close(Some(code)) => {
                        close(&mut ws, code).await;
                        return code;
                    }
                    // Abrupt close, or the actor forgot this connection: drop the TCP stream
                    // without a close frame.
                    Burst::Close(None) => return 1006,
                }
            }
        }
    }
}

/// Most text frames written before one flush.
const BURST: usize = 64;

/// What [`send_burst`] ended on.
enum Burst {
    /// Every frame written and flushed.
    Sent,
    /// Written and flushed up to a close request found in the queue (`None`: abrupt).
    Close(Option<u16>),
    /// The socket failed.
    Failed,
}

/// Writes `first` and the text frames already queued behind it (up to [`BURST`]), then flushes
/// once: a burst of events costs one write to the socket instead of one per frame. A frame's
/// charge is released once it is handed to the socket.
async fn send_burst(
    ws: &mut WebSocket,
    first: String,
    charge: super::actor::Charge,
    out: &mut mpsc::UnboundedReceiver<Outgoing>,
) -> Burst {
    let mut next = Some((first, charge));
    let mut ending = Burst::Sent;
    let mut written = 0;
    while let Some((text, charge)) = next.take() {
        drop(charge);
        if ws.feed(Message::Text(text)).await.is_err() {
            return Burst::Failed;
        }
        written += 1;
        if written < BURST {
            match out.try_recv() {
                Ok(Outgoing::Text(text, charge)) => next = Some((text, charge)),
                Ok(Outgoing::Close(code)) => ending = Burst::Close(code),
                // Empty: flush now; closed: the next receive reports it.
                Err(_) => {}
            }
        }
    }
    if ws.flush().await.is_err() {
        return Burst::Failed;
    }
    ending
}

/// Sends a close frame and gives the client a moment to answer the close handshake.
async fn close(ws: &mut WebSocket, code: u16) {
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    // The whole handshake is bounded: a client that reads nothing cannot hold the task.
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        if ws.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}
