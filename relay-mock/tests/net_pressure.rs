//! Connection pressure on relay-mock's network front end: silent WebSockets, the
//! authentication deadline and the WebSocket limit.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use relay_mock::net::{start_with, ServeOptions};
use relay_mock::MockConfig;
use relay_proto::{Input, Output, Session, SessionConfig, TransportAction};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const LIMIT: Duration = Duration::from_secs(30);

/// Drives a `relay_proto::Session` over a real WebSocket until it is ready.
async fn ready_session(url: &str) -> (Session, Ws) {
    let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
    let mut session = Session::new(config, Instant::now());
    let mut ws: Option<Ws> = None;
    let deadline = Instant::now() + LIMIT;
    loop {
        let wake = loop {
            match session.poll_output() {
                Output::Transmit(text) => {
                    let ws = ws.as_mut().expect("connected before transmitting");
                    ws.send(Message::Text(text)).await.unwrap();
                }
                Output::Transport(TransportAction::Connect) => {
                    let connect = tokio_tungstenite::connect_async(url);
                    let (socket, _) = tokio::time::timeout(LIMIT, connect)
                        .await
                        .expect("the client is accepted in time")
                        .expect("the client gets a WebSocket");
                    ws = Some(socket);
                    session.handle_input(Instant::now(), Input::Opened).unwrap();
                }
                Output::Transport(other) => panic!("unexpected {other:?}"),
                Output::Timeout(at) => break at.unwrap_or(deadline).min(deadline),
                _ => {}
            }
        };
        if session.is_ready() {
            return (session, ws.expect("connected"));
        }
        assert!(Instant::now() < deadline, "session not ready in time");
        let ws_ref = ws.as_mut().expect("connected");
        tokio::select! {
            msg = ws_ref.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    session.handle_input(Instant::now(), Input::Frame(&text)).unwrap();
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            },
            () = tokio::time::sleep_until(wake.into()) => {
                session.handle_input(Instant::now(), Input::Timeout).unwrap();
            }
        }
    }
}

/// Reads until the socket ends; the close frame's code, or `None` for an abrupt end.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("socket ends in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_websockets_do_not_lock_out_clients_or_the_control_api() {
    // A long deadline: every silent socket stays open for the whole test.
    let opts = ServeOptions::default().auth_timeout(Duration::from_secs(300));
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let mut silent = Vec::with_capacity(1100);
    for i in 0..1100 {
        let connect = tokio_tungstenite::connect_async(server.ws_url());
        let Ok(result) = tokio::time::timeout(LIMIT, connect).await else {
            panic!("silent socket {i} not accepted in time");
        };
        let (ws, _) = result.unwrap_or_else(|e| panic!("silent socket {i}: {e}"));
        silent.push(ws);
    }
    let (session, _ws) = ready_session(&server.ws_url()).await;
    let sid = session.session_id().expect("a session id").to_owned();
    let control = server.control_client();
    let health = control
        .health()
        .await
        .expect("control answers under pressure");
    assert_eq!(health["ok"], json!(true), "{health}");
    let sessions = control.sessions().await.unwrap();
    assert!(
        sessions.iter().any(|s| s.sessionid == sid && s.connected),
        "{sessions:?}"
    );
    // The silent sockets are all still open: one of them still completes a ping.
    let probe = silent.last_mut().expect("silent sockets");
    let ping = json!({"jsonrpc": "2.0", "id": "p", "method": "blade.ping", "params": {}});
    probe.send(Message::Text(ping.to_string())).await.unwrap();
    let answer = tokio::time::timeout(LIMIT, probe.next()).await.unwrap();
    assert!(matches!(answer, Some(Ok(Message::Text(_)))), "{answer:?}");
    drop(silent);
    server.shutdown().await;
}

#[tokio::test]
async fn a_socket_that_never_authenticates_is_closed_with_1008() {
    let opts = ServeOptions::default().auth_timeout(Duration::from_millis(200));
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (mut silent, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    assert_eq!(close_code(&mut silent).await, Some(1008));

    // An authenticated socket outlives the deadline.
    let (_session, mut ws) = ready_session(&server.ws_url()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ping = json!({"jsonrpc": "2.0", "id": "late", "method": "blade.ping", "params": {}});
    ws.send(Message::Text(ping.to_string())).await.unwrap();
    let reply = loop {
        match tokio::time::timeout(LIMIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == "late" {
                    break v;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("authenticated socket closed: {other:?}"),
        }
    };
    assert!(reply.get("result").is_some(), "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn websockets_past_the_limit_get_503_and_control_still_answers() {
    let opts = ServeOptions::default().max_websockets(2);
    let server = start_with(MockConfig::default(), opts).await.unwrap();
    let (a, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let (b, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503)
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    let health = server.control_client().health().await.unwrap();
    assert_eq!(health["ok"], json!(true));
    // A freed slot is usable again.
    drop(a);
    let deadline = Instant::now() + LIMIT;
    while tokio_tungstenite::connect_async(server.ws_url())
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(b);
    server.shutdown().await;
}
