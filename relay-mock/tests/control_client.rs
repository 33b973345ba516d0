//! `relay_mock::control::ControlClient` against a running mock, and the in-process control of
//! `RunningServer`.

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use relay_mock::control::{
    ControlClient, ControlClientError, FrameDir, InboundCall, InboundMessage,
};
use relay_mock::net::start;
use relay_mock::{Fault, MockConfig, Named};
use relay_proto::wire::Method;
use serde_json::json;
use support::{event_type, login, wait_for, LIMIT};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn next_arms_typed_outcomes() {
    let server = start(MockConfig::default()).await.unwrap();
    let control = server.control_client();
    assert_eq!(
        control
            .next(Method::CallingPlay, &Named::Error)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        control
            .next(Method::CallingPlay, &Named::Error)
            .await
            .unwrap(),
        2
    );
    // Per-method wire spelling: refer's `noAnswer`.
    assert_eq!(
        control
            .next(Method::CallingRefer, &Named::NoAnswer)
            .await
            .unwrap(),
        1
    );
    assert_eq!(control.next_no_response(Method::Ping).await.unwrap(), 1);
    assert_eq!(
        control
            .next_error_code(Method::CallingRecord, "500", "boom")
            .await
            .unwrap(),
        1
    );
    // `error` is not an outcome of calling.dial: the server answers 400.
    let err = control
        .next(Method::CallingDial, &Named::Error)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ControlClientError::Status { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn task_delivery_through_the_client() {
    let server = start(MockConfig::default()).await.unwrap();
    let control = server.control_client();
    let (mut ws, _) = login(&server.ws_url(), &["office"]).await;
    control
        .deliver_task("test-project", "test-token", "office", json!({"k": "v"}))
        .await
        .unwrap();
    let t = wait_for(&mut ws, |v| v["params"]["event"] == "queuing.relay.tasks").await;
    assert_eq!(t["params"]["params"]["message"], json!({"k": "v"}));
    let err = control
        .deliver_task("test-project", "wrong", "office", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ControlClientError::Status { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_typed_operation_against_a_live_session() {
    let server = start(MockConfig::default()).await.unwrap();
    let control = server.control_client();
    assert_eq!(control.health().await.unwrap()["ok"], json!(true));
    control.reset().await.unwrap();
    assert!(control.sessions().await.unwrap().is_empty());
    let err = control
        .inbound_call(&InboundCall::phone("office"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ControlClientError::Status { status: 404, message } if message.contains("office")),
        "{err:?}"
    );

    let (mut ws, sid) = login(&server.ws_url(), &["office"]).await;
    let sessions = control.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].sessionid, sid);
    assert!(sessions[0].connected);
    assert_eq!(sessions[0].contexts, vec!["office".to_owned()]);

    let call = control
        .inbound_call(&InboundCall::phone("office").between("+15551230001", "+15553210002"))
        .await
        .unwrap();
    assert_eq!(call.sessionid, sid);
    let receive = wait_for(&mut ws, |v| event_type(v) == "calling.call.receive").await;
    assert_eq!(
        receive["params"]["params"]["params"]["call_id"],
        call.call_id.as_str()
    );

    let message = control
        .inbound_message(&InboundMessage::text("office", "+1", "+2", "hi"))
        .await
        .unwrap();
    let m = wait_for(&mut ws, |v| event_type(v) == "messaging.receive").await;
    assert_eq!(
        m["params"]["params"]["params"]["message_id"],
        message.message_id.as_str()
    );

    control.end_call(&call.call_id, "hangup").await.unwrap();
    let ended = wait_for(&mut ws, |v| {
        v["params"]["params"]["params"]["call_state"] == "ended"
    })
    .await;
    assert_eq!(
        ended["params"]["params"]["params"]["call_id"],
        call.call_id.as_str()
    );
    let err = control.end_call(&call.call_id, "hangup").await.unwrap_err();
    assert!(
        matches!(err, ControlClientError::Status { status: 404, .. }),
        "{err:?}"
    );

    assert_eq!(control.ping(Some(&sid)).await.unwrap(), 1);
    wait_for(&mut ws, |v| v["method"] == "blade.ping").await;

    let frames = control.frames(0).await.unwrap();
    assert!(frames
        .frames
        .iter()
        .any(|f| f.dir == FrameDir::C2s && f.frame["method"] == "blade.connect"));
    assert_eq!(frames.next, frames.dropped + frames.frames.len() as u64);
    let later = control.frames(frames.next).await.unwrap();
    assert!(later.frames.iter().all(|f| f.seq >= frames.next));

    assert_eq!(control.drop_connection(Some(&sid)).await.unwrap(), 1);
    let end = tokio::time::timeout(LIMIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => return "close frame",
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return "abrupt",
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, "abrupt");

    let (mut ws, sid) = login(&server.ws_url(), &[]).await;
    assert_eq!(
        control
            .blade_disconnect(Some(&sid), Some(-1))
            .await
            .unwrap(),
        1
    );
    wait_for(&mut ws, |v| v["method"] == "blade.disconnect").await;
    server.shutdown().await;
}

#[tokio::test]
async fn in_process_control_and_faults() {
    let server = start(MockConfig::default()).await.unwrap();
    let health = server.control("health", json!({})).await.unwrap();
    assert_eq!(health["ok"], json!(true));
    let err = server
        .control("inbound_call", json!({"context": "office"}))
        .await
        .unwrap_err();
    assert_eq!(err.status, 404);

    let (mut ws, _sid) = login(&server.ws_url(), &["office"]).await;
    let call = server
        .control("inbound_call", json!({"context": "office"}))
        .await
        .unwrap();
    let receive = wait_for(&mut ws, |v| event_type(v) == "calling.call.receive").await;
    assert_eq!(
        receive["params"]["params"]["params"]["call_id"],
        call["call_id"]
    );

    server
        .inject(Fault::DropOnMethod {
            method: Method::Ping,
        })
        .await
        .unwrap();
    let ping = json!({"jsonrpc": "2.0", "id": "p", "method": "blade.ping", "params": {}});
    ws.send(Message::Text(ping.to_string())).await.unwrap();
    let end = tokio::time::timeout(LIMIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.contains("\"p\"") => return "answered",
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return "dropped",
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, "dropped");
    server.shutdown().await;
}

#[tokio::test]
async fn requests_are_bounded_by_the_timeout() {
    // A listener that never answers: the connection sits in the backlog.
    let silent = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let control = ControlClient::for_addr(silent.local_addr().unwrap())
        .with_timeout(Duration::from_millis(200));
    let err = control.health().await.unwrap_err();
    assert_eq!(err, ControlClientError::Timeout(Duration::from_millis(200)));
    drop(silent);
}

#[tokio::test]
async fn a_stopped_server_is_a_transport_error() {
    let server = start(MockConfig::default()).await.unwrap();
    let control = server.control_client();
    let addr = server.addr();
    assert!(server.control("health", json!({})).await.is_ok());
    server.shutdown().await;
    let err = control.health().await.unwrap_err();
    assert!(
        matches!(err, ControlClientError::Transport(_)),
        "{err:?} on {addr}"
    );
}

#[tokio::test]
async fn a_batch_of_inbound_calls_in_one_request() {
    let server = start(MockConfig::default()).await.unwrap();
    let control = server.control_client();
    let (mut ws, sid) = login(&server.ws_url(), &["office"]).await;
    let calls = control
        .inbound_calls(&InboundCall::phone("office"), 200)
        .await
        .unwrap();
    assert_eq!(calls.len(), 200);
    assert!(calls.iter().all(|c| c.sessionid == sid));
    for _ in 0..200 {
        wait_for(&mut ws, |v| event_type(v) == "calling.call.receive").await;
    }
    let err = control
        .inbound_calls(&InboundCall::phone("office"), 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ControlClientError::Status { status: 400, .. }),
        "{err:?}"
    );
    server.shutdown().await;
}
