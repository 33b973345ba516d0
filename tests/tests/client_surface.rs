//! The client surface on both runtimes against relay-mock, driven through relay-mock's typed
//! control client: the connection builder and what a client knows about its session, the
//! opt-in raw socket messages, the failure paths of calls (busy, no answer, a failed connect,
//! a component error, stopping a finished component), and a consumer whose typed task handler
//! fails once, places a call the second time, and is stopped with its stop handle.

mod client_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client_support::{bounded, config, Mock};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use relay_client::{
    relay_url, ClientBuilder, ClientError, ClientEvent, ClientEvents, ClientOptions, Connector,
    RelayClient, RelayConsumer, Runtime, Task, DEFAULT_HOST,
};
use relay_mock::Named;
use relay_proto::calling::{ConnectParams, Device, DialParams, EndReason, Media, PlayParams};
use relay_proto::wire::Method;
use relay_proto::{Backoff, StopReason};

/// A client of `mock` built the way applications build one.
fn client<R: Runtime + Clone, C: Connector>(
    mock: &Mock,
    rt: &R,
    conn: C,
    options: ClientOptions,
) -> RelayClient {
    RelayClient::builder(config(&["office"]), rt.clone(), conn)
        .with_host(mock.ws_url.clone())
        .with_options(options)
        .connect()
}

/// The next client event matching `want`, skipping others.
async fn next_client_event(
    events: &mut ClientEvents,
    what: &str,
    mut want: impl FnMut(&ClientEvent) -> bool,
) -> ClientEvent {
    while let Some(item) = events.next().await {
        if let Ok(e) = item {
            if want(&e) {
                return e;
            }
        }
    }
    panic!("client event stream ended before {what}");
}

fn phone() -> DialParams {
    DialParams::single(Device::phone("+15551230001", "+15553210002"))
}

#[test]
fn connections_default_to_the_service() {
    let builder = ClientBuilder::new(
        config(&[]),
        relay_tokio::TokioRuntime,
        relay_tokio::TokioConnector,
    );
    assert_eq!(DEFAULT_HOST, "relay.signalwire.com");
    assert_eq!(builder.url(), "wss://relay.signalwire.com");
    let builder = builder.with_host("example.signalwire.com");
    assert_eq!(builder.url(), "wss://example.signalwire.com");
    assert_eq!(relay_url(" ws://127.0.0.1:8080 "), "ws://127.0.0.1:8080");
    assert_eq!(RelayConsumer::new().url(), "wss://relay.signalwire.com");
    assert_eq!(
        RelayConsumer::new().with_host("ws://127.0.0.1:1").url(),
        "ws://127.0.0.1:1"
    );
}

async fn session_identity_and_raw_messages<R: Runtime + Clone, C: Connector + Clone>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let raw = client(
        &mock,
        &rt,
        conn.clone(),
        ClientOptions::default().with_raw_messages(true),
    );
    let quiet = client(&mock, &rt, conn, ClientOptions::default());
    for c in [&raw, &quiet] {
        bounded(&rt, "ready", c.wait_ready()).await.expect("ready");
        assert!(c.is_connected());
        assert!(c.session_id().is_some_and(|s| !s.is_empty()));
        assert!(c.protocol().is_some_and(|p| !p.is_empty()));
        assert!(c.node_id().is_some_and(|n| !n.is_empty()), "node id");
    }
    let mut raw_events = bounded(&rt, "subscribe", raw.client_events())
        .await
        .expect("events");
    let mut quiet_events = bounded(&rt, "subscribe", quiet.client_events())
        .await
        .expect("events");
    // The server pings every session: the opted-in client sees the frame as it came.
    let sent = mock
        .control(|c| async move { c.ping(None).await })
        .await
        .expect("ping");
    assert_eq!(sent, 2);
    // (Frames of the handshake may still be arriving; the ping is the one we made happen.)
    bounded(
        &rt,
        "raw ping",
        next_client_event(
            &mut raw_events,
            "raw ping",
            |e| matches!(e, ClientEvent::SocketMessage { text } if text.contains("\"blade.ping\"")),
        ),
    )
    .await;
    // The other one saw no frame before its socket closed.
    let dropped = mock
        .control(|c| async move { c.drop_connection(None).await })
        .await
        .expect("drop");
    assert_eq!(dropped, 2);
    let first = bounded(
        &rt,
        "quiet close",
        next_client_event(&mut quiet_events, "close", |e| {
            matches!(
                e,
                ClientEvent::SocketMessage { .. } | ClientEvent::SocketClose { .. }
            )
        }),
    )
    .await;
    assert!(
        matches!(first, ClientEvent::SocketClose { .. }),
        "{first:?}"
    );
    bounded(&rt, "disconnect", raw.disconnect()).await;
    bounded(&rt, "disconnect", quiet.disconnect()).await;
}

async fn dials_that_fail<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let client = client(&mock, &rt, conn, ClientOptions::default());
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    for (outcome, reason) in [
        ("busy", EndReason::Busy),
        ("no_answer", EndReason::NoAnswer),
    ] {
        mock.control(move |c| async move {
            c.next(
                Method::CallingDial,
                &Named::parse(Method::CallingDial, outcome).expect(outcome),
            )
            .await
        })
        .await
        .expect("arm");
        let dial = bounded(&rt, outcome, client.calling().dial_result(phone()))
            .await
            .expect("the dial request itself succeeds");
        assert!(!dial.successful, "{outcome}: {dial:?}");
        assert_eq!(dial.outcome.end_reason, Some(reason.clone()), "{outcome}");
        assert_eq!(dial.outcome.call_id, None, "{outcome}");
        // Node's result: the dialed call (ended, with its reason) and the deciding event.
        assert!(dial.call.ended(), "{outcome}: {:?}", dial.call.state());
        assert_eq!(dial.call.end_reason(), Some(reason.clone()), "{outcome}");
        let event = dial.event.as_ref().expect("a deciding event");
        assert_eq!(event.name, "ended", "{outcome}");
        assert_eq!(event.payload()["end_reason"], reason.as_str(), "{outcome}");
    }
    // The convenience form reports the same as an error, and the next dial works again.
    mock.control(|c| async move {
        c.next(
            Method::CallingDial,
            &Named::parse(Method::CallingDial, "busy").unwrap(),
        )
        .await
    })
    .await
    .expect("arm");
    let busy = bounded(&rt, "busy dial", client.calling().dial(phone())).await;
    assert!(busy.is_err(), "a busy dial gives no call");
    let call = bounded(&rt, "dial", client.calling().dial(phone()))
        .await
        .expect("answered");
    let hangup = bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    assert!(hangup.successful);
    bounded(&rt, "disconnect", client.disconnect()).await;
}

async fn component_failures<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let client = client(&mock, &rt, conn, ClientOptions::default());
    let call = bounded(&rt, "dial", client.calling().dial(phone()))
        .await
        .expect("answered");

    // A connect whose peers are all busy.
    mock.control(|c| async move {
        c.next(
            Method::CallingConnect,
            &Named::parse(Method::CallingConnect, "failed").unwrap(),
        )
        .await
    })
    .await
    .expect("arm");
    let peers = ConnectParams::tree(vec![vec![Device::phone("+15551230001", "+15550000001")]]);
    let connected = bounded(&rt, "failed connect", call.connect(peers))
        .await
        .expect("the connect request itself succeeds");
    assert!(!connected.successful, "{connected:?}");
    assert!(connected.outcome.peer.is_none());

    // A playback that ends in error.
    mock.control(|c| async move {
        c.next(
            Method::CallingPlay,
            &Named::parse(Method::CallingPlay, "error").unwrap(),
        )
        .await
    })
    .await
    .expect("arm");
    let played = bounded(
        &rt,
        "failed play",
        call.play(PlayParams::new([Media::tts("hello")])),
    )
    .await
    .expect("the play request itself succeeds");
    assert!(!played.successful, "{played:?}");

    // A request the server answers with an error code is a typed error, not a hang.
    mock.control(|c| async move {
        c.next_error_code(Method::CallingPlay, "500", "media server down")
            .await
    })
    .await
    .expect("arm");
    let refused = bounded(
        &rt,
        "refused play",
        call.play(PlayParams::new([Media::tts("hello")])),
    )
    .await;
    match refused {
        Err(ClientError::Request(_)) => {}
        Ok(r) => assert!(!r.successful, "{r:?}"),
        Err(other) => panic!("{other:?}"),
    }

    // Stopping a component that already finished: it resolves, changes nothing, and the
    // call carries on.
    let play = bounded(
        &rt,
        "play",
        call.play_async(PlayParams::new([Media::silence(Duration::from_millis(
            100,
        ))])),
    )
    .await
    .expect("started");
    let finished = bounded(&rt, "play finishes", play.wait())
        .await
        .expect("outcome");
    assert!(finished.successful);
    let _ = bounded(&rt, "stop after finish", play.stop()).await;
    assert!(play.is_done());
    assert_eq!(play.result().map(|r| r.successful), Some(true));
    let hangup = bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    assert!(hangup.successful);
    bounded(&rt, "disconnect", client.disconnect()).await;
}

async fn unreachable_host_is_reported<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    // Nothing listens on port 1: the connect fails, is reported, and the client gives up.
    let config = config(&[]).with_backoff(Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(20),
        multiplier: 2.0,
        jitter: 0.0,
        max_attempts: Some(1),
    });
    let (client, _events) = RelayClient::builder(config, rt.clone(), conn)
        .with_host("ws://127.0.0.1:1")
        .connect_with_events();
    let mut events = bounded(&rt, "subscribe", client.client_events()).await;
    let ready = bounded(&rt, "ready fails", client.wait_ready()).await;
    assert!(ready.is_err(), "{ready:?}");
    assert!(!client.is_connected());
    assert_eq!(client.node_id(), None);
    if let Ok(events) = events.as_mut() {
        // Either the subscription saw the failure or the session had already stopped.
        let seen = bounded(&rt, "socket error", async {
            while let Some(item) = events.next().await {
                if let Ok(ClientEvent::SocketError { reason }) = item {
                    return Some(reason);
                }
            }
            None
        })
        .await;
        if let Some(reason) = seen {
            assert!(!reason.is_empty());
        }
    }
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Job {
    action: String,
    to: String,
}

async fn consumer_typed_tasks_errors_and_stop<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let http = mock.http_base.clone();
    let (report, mut reports) = mpsc::channel::<String>(16);
    let tasks = Arc::new(AtomicUsize::new(0));
    let handled = tasks.clone();
    let (r_task, r_down) = (report.clone(), report);
    let runtime = rt.clone();
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .grace_period(Duration::from_secs(5))
        .on_ready(move |_client| {
            let (http, runtime) = (http.clone(), runtime.clone());
            async move {
                let task = Task::new("test-project", "test-token")?
                    .with_host(http)
                    .with_runtime(runtime);
                // The first job is one the handler refuses; the consumer must go on.
                for action in ["fly", "call"] {
                    let job = Job {
                        action: action.into(),
                        to: "+15553210002".into(),
                    };
                    task.deliver("office", &job).await?;
                }
                Ok::<(), relay_client::DeliverError>(())
            }
        })
        .on_task_as(move |client: RelayClient, job: Job| {
            let (mut report, tasks) = (r_task.clone(), tasks.clone());
            async move {
                tasks.fetch_add(1, Ordering::SeqCst);
                if job.action != "call" {
                    return Err(format!("unknown action {:?}", job.action));
                }
                let call = client
                    .calling()
                    .dial(DialParams::single(Device::phone("+15551230001", &job.to)))
                    .await
                    .map_err(|e| e.to_string())?;
                call.hangup().await.map_err(|e| e.to_string())?;
                let _ = report.send(format!("called {}", job.to)).await;
                Ok(())
            }
        })
        .on_teardown(move |_client| {
            let mut report = r_down.clone();
            async move {
                let _ = report.send("teardown".to_owned()).await;
            }
        });
    let stop = consumer.stop_handle();
    let run = consumer.run(config(&[]), mock.ws_url.clone(), rt.clone(), conn);
    let drive = async {
        let first = reports.next().await.expect("report");
        stop.stop();
        let second = reports.next().await.expect("report");
        (first, second)
    };
    let (stopped, (first, second)) =
        bounded(&rt, "consumer", futures::future::join(run, drive)).await;
    assert_eq!(first, "called +15553210002");
    assert_eq!(second, "teardown");
    assert!(matches!(stopped, Ok(StopReason::Closed)), "{stopped:?}");
    assert!(stop.is_stopped());
    // Both tasks reached the typed handler: the refused one did not stop the consumer.
    assert_eq!(handled.load(Ordering::SeqCst), 2);
}

on_both_runtimes!(
    session_identity_and_raw_messages,
    dials_that_fail,
    component_failures,
    unreachable_host_is_reported,
    consumer_typed_tasks_errors_and_stop,
);
