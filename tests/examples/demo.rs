//! The main job, end to end with no account: starts relay-mock in-process, connects a
//! `relay_proto::Session` to it over a real WebSocket (a ~100-line tokio driver), and runs a
//! consumer's day: receive a context, take an inbound message, send a message and follow its
//! states, deliver and receive a task, answer an inbound call, play TTS and hang up, survive a
//! dropped socket with the session resumed.
//!
//! `cargo run -p relay-tests --example demo`
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use relay_mock::control::{InboundCall, InboundMessage};
use relay_mock::{net, MockConfig};
use relay_proto::calling::{EndReason, Media, PlayParams};
use relay_proto::CallEvent;
use relay_proto::{
    CloseInfo, Event, Input, MessageParams, Output, Session, SessionConfig, TransportAction,
};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Owns the session and its socket; `until` pumps I/O until an event matches.
struct Driver {
    session: Session,
    url: String,
    ws: Option<Ws>,
    start: Instant,
}

impl Driver {
    async fn until(&mut self, what: &str, mut want: impl FnMut(&Event) -> bool) -> Event {
        let give_up = Instant::now() + Duration::from_secs(20);
        loop {
            // Drain everything the session wants done.
            let deadline = loop {
                match self.session.poll_output() {
                    Output::Transmit(frame) => {
                        if let Some(ws) = self.ws.as_mut() {
                            if ws.send(WsMessage::text(frame)).await.is_err() {
                                self.ws = None;
                                let _ = self.session.handle_input(
                                    Instant::now(),
                                    Input::Closed(CloseInfo::default()),
                                );
                            }
                        }
                    }
                    Output::Transport(TransportAction::Connect) => {
                        match tokio_tungstenite::connect_async(&self.url).await {
                            Ok((ws, _)) => {
                                self.ws = Some(ws);
                                let _ = self.session.handle_input(Instant::now(), Input::Opened);
                            }
                            Err(e) => {
                                let reason = e.to_string();
                                let _ = self.session.handle_input(
                                    Instant::now(),
                                    Input::Closed(CloseInfo {
                                        code: None,
                                        reason: &reason,
                                    }),
                                );
                            }
                        }
                    }
                    Output::Transport(TransportAction::Close { .. }) => {
                        if let Some(mut ws) = self.ws.take() {
                            let _ = ws.close(None).await;
                        }
                        let _ = self
                            .session
                            .handle_input(Instant::now(), Input::Closed(CloseInfo::default()));
                    }
                    Output::Event(e) => {
                        println!(
                            "{:>6} ms  {}",
                            self.start.elapsed().as_millis(),
                            summary(&e)
                        );
                        if want(&e) {
                            return e;
                        }
                    }
                    Output::Timeout(at) => break at,
                    _ => {}
                }
            };
            assert!(Instant::now() < give_up, "gave up waiting for {what}");
            let sleep_until = deadline.unwrap_or(give_up).min(give_up);
            let read = async {
                match self.ws.as_mut() {
                    Some(ws) => ws.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = read => match msg {
                    Some(Ok(WsMessage::Text(t))) => {
                        if let Err(e) = self.session.handle_input(Instant::now(), Input::Frame(t.as_str())) {
                            println!("ignored frame: {e}");
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => {
                        self.ws = None;
                        let _ = self.session.handle_input(Instant::now(), Input::Closed(CloseInfo { code: Some(1006), reason: "socket closed" }));
                    }
                },
                _ = tokio::time::sleep_until(sleep_until.into()) => {
                    let _ = self.session.handle_input(Instant::now(), Input::Timeout);
                }
            }
        }
    }
}

fn summary(e: &Event) -> String {
    let s = format!("{e:?}");
    if s.len() > 160 {
        format!("{}…", &s[..160])
    } else {
        s
    }
}

#[tokio::main]
async fn main() {
    let mock = net::start(MockConfig::default())
        .await
        .expect("mock starts");
    println!("relay-mock listening on {}", mock.ws_url());
    // The network's side (inbound traffic, tasks, faults) through relay-mock's typed control client.
    let control = mock.control_client();
    let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
    let mut d = Driver {
        session: Session::new(config, Instant::now()),
        url: mock.ws_url(),
        ws: None,
        start: Instant::now(),
    };

    d.until("ready", |e| matches!(e, Event::Ready { .. })).await;
    d.until("context registered", |e| {
        matches!(
            e,
            Event::ContextsRegistered {
                outcome: Ok(()),
                ..
            }
        )
    })
    .await;

    control
        .inbound_message(&InboundMessage::text(
            "office",
            "+15551230001",
            "+15553210002",
            "hello from the mock",
        ))
        .await
        .expect("inbound message injected");
    d.until("inbound message", |e| matches!(e, Event::Message(_)))
        .await;

    let msg = MessageParams::text("office", "+15553210002", "+15551230001", "hello back");
    d.session
        .messaging_send(Instant::now(), &msg)
        .expect("valid message");
    d.until(
        "send result",
        |e| matches!(e, Event::MessageSent { result, .. } if result.successful),
    )
    .await;
    d.until("delivered", |e| matches!(e, Event::Message(m) if m.message.state == relay_proto::MessageState::Delivered)).await;

    control
        .deliver_task("test-project", "test-token", "office", json!({"job": 42}))
        .await
        .expect("task delivered");
    d.until("task", |e| matches!(e, Event::Task { .. })).await;

    control
        .inbound_call(&InboundCall::phone("office").between("+15551230001", "+15553210002"))
        .await
        .expect("inbound call injected");
    let call_id = match d
        .until("incoming call", |e| {
            matches!(e, Event::Call(CallEvent::IncomingCall { .. }))
        })
        .await
    {
        Event::Call(CallEvent::IncomingCall { call }) => call.id.clone(),
        _ => unreachable!("matched above"),
    };
    let answer = d
        .session
        .call_mut(&call_id)
        .and_then(|mut c| c.answer(Instant::now()))
        .expect("answer sent");
    d.until("answered", |e| matches!(e, Event::Call(CallEvent::ComponentFinished { control_id, result, .. }) if *control_id == answer && result.successful)).await;
    let play = PlayParams::new([Media::tts("Welcome to the Rust SDK")]);
    let play = d
        .session
        .call_mut(&call_id)
        .and_then(|mut c| c.play(Instant::now(), &play))
        .expect("play sent");
    d.until("played", |e| matches!(e, Event::Call(CallEvent::ComponentFinished { control_id, result, .. }) if *control_id == play && result.successful)).await;
    let hangup = d
        .session
        .call_mut(&call_id)
        .and_then(|mut c| c.hangup(Instant::now(), EndReason::Hangup))
        .expect("hangup sent");
    d.until("hung up", |e| matches!(e, Event::Call(CallEvent::ComponentFinished { control_id, .. }) if *control_id == hangup)).await;

    let dropped = control
        .drop_connection(None)
        .await
        .expect("connection dropped");
    assert_eq!(dropped, 1);
    d.until("disconnected", |e| matches!(e, Event::Disconnected { .. }))
        .await;
    d.until("resumed", |e| {
        matches!(e, Event::Ready { restored: true, .. })
    })
    .await;

    println!("demo finished: every step succeeded");
    d.session.close(Instant::now());
    let _ = d
        .until("stopped", |e| matches!(e, Event::Stopped { .. }))
        .await;
    mock.shutdown().await;
}
