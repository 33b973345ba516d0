//! relay-client session behaviour on both runtimes against relay-mock: readiness, messaging,
//! reconnect after a dropped socket, closing, consumer message and task handlers, bounded
//! subscribers.

mod client_support;

use std::time::Duration;

use client_support::{bounded, config, connect, until, Mock};
use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use relay_client::{ClientError, ClientOptions, Connector, RelayClient, RelayConsumer, Runtime};
use relay_mock::control::InboundMessage;
use relay_proto::calling::{Device, DialParams};
use relay_proto::{
    Backoff, Event, MessageEventKind, MessageParams, MessageState, RequestError, StopReason,
};

async fn ready_and_disconnect<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, mut events) = connect(&mock, &rt, conn, &[]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    // Repeating is harmless.
    bounded(&rt, "ready again", client.wait_ready())
        .await
        .expect("ready");
    bounded(&rt, "disconnect", client.disconnect()).await;
    let stopped = bounded(
        &rt,
        "stopped event",
        until(&mut events, "stopped", |e| {
            matches!(e, Event::Stopped { .. })
        }),
    )
    .await;
    assert!(matches!(
        stopped,
        Event::Stopped {
            reason: StopReason::Closed
        }
    ));
    assert!(client.is_closed());
    let late = bounded(&rt, "late command", client.wait_ready()).await;
    assert_eq!(late, Err(ClientError::Closed));
}

async fn messaging_send_delivered<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, mut events) = connect(&mock, &rt, conn, &["office"]);
    bounded(
        &rt,
        "contexts",
        until(&mut events, "contexts", |e| {
            matches!(
                e,
                Event::ContextsRegistered {
                    outcome: Ok(()),
                    ..
                }
            )
        }),
    )
    .await;
    let sent = bounded(
        &rt,
        "send",
        client.messaging().send(MessageParams::text(
            "office",
            "+15553210002",
            "+15551230001",
            "hello",
        )),
    )
    .await
    .expect("sent");
    assert!(sent.successful, "{sent:?}");
    let id = sent.message_id.clone().expect("message id");
    bounded(
        &rt,
        "delivered",
        until(&mut events, "delivered", |e| {
            matches!(e, Event::Message(m) if m.kind == MessageEventKind::StateChanged
            && m.message.id == id && m.message.state == MessageState::Delivered)
        }),
    )
    .await;
    // Invalid parameters are refused by the core, nothing sent.
    let bad = client
        .messaging()
        .send(MessageParams::text("office", "", "+15551230001", "x"))
        .await;
    assert!(
        matches!(
            &bad,
            Err(ClientError::Misuse(relay_proto::error::ApiMisuse::InvalidParameter { which, .. }))
                if which.contains("`from`")
        ),
        "{bad:?}"
    );
    client.disconnect().await;
}

async fn drop_reconnects_and_commands_work<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, mut events) = connect(&mock, &rt, conn, &["office"]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    let dropped = mock
        .control(|c| async move { c.drop_connection(None).await })
        .await
        .expect("drop");
    assert_eq!(dropped, 1);
    bounded(
        &rt,
        "disconnected",
        until(&mut events, "disconnected", |e| {
            matches!(e, Event::Disconnected { .. })
        }),
    )
    .await;
    let ready = bounded(
        &rt,
        "resumed",
        until(&mut events, "resumed", |e| matches!(e, Event::Ready { .. })),
    )
    .await;
    assert!(
        matches!(
            ready,
            Event::Ready {
                restored: true,
                reconnected: true,
                ..
            }
        ),
        "{ready:?}"
    );
    bounded(&rt, "ready after drop", client.wait_ready())
        .await
        .expect("ready");
    let sent = bounded(
        &rt,
        "send after reconnect",
        client.messaging().send(MessageParams::text(
            "office",
            "+15553210002",
            "+15551230001",
            "still here",
        )),
    )
    .await
    .expect("sent");
    assert!(sent.successful, "{sent:?}");
    let call = bounded(
        &rt,
        "dial after reconnect",
        client.calling().dial(DialParams::single(Device::phone(
            "+15551230001",
            "+15553210002",
        ))),
    )
    .await
    .expect("dial");
    let played = bounded(&rt, "play after reconnect", call.play_tts("hello"))
        .await
        .expect("play");
    assert!(played.successful);
    client.disconnect().await;
}

async fn dropping_every_handle_closes_the_session<R: Runtime + Clone, C: Connector>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let (client, mut events) = connect(&mock, &rt, conn, &[]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    drop(client);
    let stopped = bounded(
        &rt,
        "stopped",
        until(&mut events, "stopped", |e| {
            matches!(e, Event::Stopped { .. })
        }),
    )
    .await;
    assert!(matches!(
        stopped,
        Event::Stopped {
            reason: StopReason::Closed
        }
    ));
    assert!(bounded(&rt, "end of stream", events.next()).await.is_none());
}

async fn unreachable_server_gives_up<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    // Nothing listens on port 1: every connect fails at once.
    let config = config(&[]).with_backoff(Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        multiplier: 2.0,
        jitter: 0.0,
        max_attempts: Some(2),
    });
    let (client, mut events) = RelayClient::connect_with(
        config,
        "ws://127.0.0.1:1",
        rt.clone(),
        conn,
        ClientOptions::default(),
    );
    let ready = bounded(&rt, "ready fails", client.wait_ready()).await;
    assert!(
        matches!(
            ready,
            Err(ClientError::Request(RequestError::SessionStopped)) | Err(ClientError::Closed)
        ),
        "{ready:?}"
    );
    let stopped = bounded(
        &rt,
        "stopped",
        until(&mut events, "stopped", |e| {
            matches!(e, Event::Stopped { .. })
        }),
    )
    .await;
    assert!(
        matches!(
            stopped,
            Event::Stopped {
                reason: StopReason::GaveUp { .. }
            }
        ),
        "{stopped:?}"
    );
    let sent = client
        .messaging()
        .send(MessageParams::text("office", "+1", "+2", "x"))
        .await;
    assert_eq!(sent, Err(ClientError::Closed));
}

async fn consumer_messages_and_tasks<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (control, http) = (mock.controller(), mock.http_base.clone());
    let (report, mut reports) = mpsc::channel::<String>(16);
    let (client_tx, client_rx) = oneshot::channel::<RelayClient>();
    let client_tx = std::sync::Mutex::new(Some(client_tx));
    let (r1, r2, r3) = (report.clone(), report.clone(), report);
    let runtime = rt.clone();
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |client| {
            let (control, http, runtime) = (control.clone(), http.clone(), runtime.clone());
            let tx = client_tx.lock().expect("lock").take();
            async move {
                let text =
                    InboundMessage::text("office", "+15551230001", "+15553210002", "hi there");
                control
                    .run(move |c| async move { c.inbound_message(&text).await })
                    .await
                    .expect("inbound message");
                // relay-client's Task, its blocking POST on this runtime's blocking pool.
                relay_client::Task::new("test-project", "test-token")
                    .expect("task")
                    .with_host(http)
                    .with_runtime(runtime)
                    .deliver("office", &serde_json::json!({"job": 42}))
                    .await
                    .expect("task delivered");
                let sent = client
                    .messaging()
                    .send(MessageParams::text(
                        "office",
                        "+15553210002",
                        "+15551230001",
                        "out",
                    ))
                    .await
                    .expect("send");
                assert!(sent.successful);
                if let Some(tx) = tx {
                    let _ = tx.send(client);
                }
            }
        })
        .on_incoming_message(move |_client, m| {
            let mut r = r1.clone();
            async move {
                let _ = r.send(format!("in:{}", m.body.unwrap_or_default())).await;
            }
        })
        .on_message_state_change(move |_client, m| {
            let mut r = r2.clone();
            async move {
                if m.state == MessageState::Delivered {
                    let _ = r.send("delivered".to_owned()).await;
                }
            }
        })
        .on_task(move |_client, v| {
            let mut r = r3.clone();
            async move {
                let _ = r.send(format!("task:{v}")).await;
            }
        });
    let run = consumer.run(config(&[]), mock.ws_url.clone(), rt.clone(), conn);
    let collect = async {
        let mut got = Vec::new();
        while got.len() < 3 {
            got.push(reports.next().await.expect("report"));
        }
        client_rx.await.expect("client").disconnect().await;
        got.sort();
        got
    };
    let (stop, got) = bounded(&rt, "consumer", futures::future::join(run, collect)).await;
    assert_eq!(stop, Ok(StopReason::Closed));
    assert_eq!(got, ["delivered", "in:hi there", r#"task:{"job":42}"#]);
}

async fn slow_subscriber_never_stalls_the_connection<R: Runtime + Clone, C: Connector>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    // A subscriber that never reads, with room for a single event.
    let (client, mut lagging) = RelayClient::connect_with(
        config(&["office"]),
        mock.ws_url.clone(),
        rt.clone(),
        conn,
        ClientOptions::default().with_event_capacity(1),
    );
    let call = bounded(
        &rt,
        "dial",
        client.calling().dial(DialParams::single(Device::phone(
            "+15551230001",
            "+15553210002",
        ))),
    )
    .await
    .expect("dial answered");
    let played = bounded(&rt, "play", call.play_tts("hello"))
        .await
        .expect("play");
    assert!(played.successful);
    // Many commands at once: more than the command channel holds.
    let messaging = client.messaging();
    let sends = (0..100).map(|i| {
        messaging.send(MessageParams::text(
            "office",
            "+15553210002",
            "+15551230001",
            format!("burst {i}"),
        ))
    });
    let results = bounded(&rt, "burst", futures::future::join_all(sends)).await;
    assert_eq!(results.len(), 100);
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|s| s.successful)));
    client.disconnect().await;
    // The lagging subscriber got what fitted, then was told how much it missed, then the
    // stream ended with the driver.
    let mut seen = 0;
    let mut missed = 0;
    while let Some(item) = bounded(&rt, "drain lagging", lagging.next()).await {
        match item {
            Ok(_) => seen += 1,
            Err(lag) => missed += lag.missed,
        }
    }
    assert!(seen <= 2, "bounded subscriber held {seen} events");
    assert!(
        missed > 100,
        "the subscriber was told it missed {missed} events"
    );
}

on_both_runtimes!(
    ready_and_disconnect,
    messaging_send_delivered,
    drop_reconnects_and_commands_work,
    dropping_every_handle_closes_the_session,
    unreachable_server_gives_up,
    consumer_messages_and_tasks,
    slow_subscriber_never_stalls_the_connection,
);
