//! The relay-client suite, written once against the `Runtime`/`Connector` traits and run on
//! both adapters (tokio and async-std) against relay-mock over real WebSockets.
//!
//! relay-mock needs tokio, so every instantiation starts it on its own std thread with its own
//! tokio runtime; the client runs on the runtime under test. The control API is called from a
//! helper thread with blocking std I/O, so no runtime is involved there either. Every scenario
//! is bounded by a timeout.

use std::future::Future;
use std::io::{Read, Write};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use relay_client::{
    ClientError, ClientOptions, Connector, Events, RelayClient, RelayConsumer, Runtime,
};
use relay_mock::{net, MockConfig};
use relay_proto::calling::{
    CallEvent, CallState, CollectDigits, CollectParams, ComponentKind, DetectKind, DetectMode,
    DetectParams, Device, DialParams, Media, PlayParams, PromptParams, RecordParams, TapDevice,
    TapParams,
};
use relay_proto::{
    Backoff, Event, MessageEventKind, MessageParams, MessageState, RequestError, SessionConfig,
    StopReason,
};

const LIMIT: Duration = Duration::from_secs(20);

/// relay-mock on its own thread and tokio runtime.
struct Mock {
    ws_url: String,
    http_base: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start() -> Mock {
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
                addr_tx
                    .send((server.ws_url(), server.http_base()))
                    .expect("test alive");
                // Block a worker of the mock's own runtime until the test is done.
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let (ws_url, http_base) = addr_rx.recv().expect("mock address");
        Mock {
            ws_url,
            http_base,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// POSTs to the control API from a helper thread; resolves with (status, body).
    async fn post(&self, path: &str, body: &str) -> (u16, String) {
        post(self.http_base.clone(), path.to_owned(), body.to_owned()).await
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

async fn post(base: String, path: String, body: String) -> (u16, String) {
    let addr = base.trim_start_matches("http://").to_owned();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_http(base, req.into_bytes()).await
}

/// Sends raw HTTP/1.1 bytes from a helper thread (blocking std I/O, no runtime involved).
async fn raw_http(base: String, req: Vec<u8>) -> (u16, String) {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let addr = base.trim_start_matches("http://").to_owned();
        let run = || -> std::io::Result<(u16, String)> {
            let mut s = std::net::TcpStream::connect(&addr)?;
            s.write_all(&req)?;
            let mut resp = String::new();
            s.read_to_string(&mut resp)?;
            let status = resp
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
            Ok((status, body))
        };
        let _ = tx.send(run().unwrap_or((0, String::new())));
    });
    rx.await.expect("control thread answers")
}

/// Runs `fut`, failing the test if it takes longer than [`LIMIT`].
async fn bounded<R: Runtime, F: Future>(rt: &R, what: &str, fut: F) -> F::Output {
    let deadline = rt.sleep_until(rt.now() + LIMIT);
    futures::pin_mut!(fut);
    match futures::future::select(fut, deadline).await {
        futures::future::Either::Left((out, _)) => out,
        futures::future::Either::Right(_) => panic!("timed out: {what}"),
    }
}

/// Waits for the first event matching `want`.
async fn until(events: &mut Events, what: &str, mut want: impl FnMut(&Event) -> bool) -> Event {
    while let Some(e) = events.next().await {
        if want(&e) {
            return e;
        }
    }
    panic!("event stream ended before {what}");
}

fn config(contexts: &[&str]) -> SessionConfig {
    relay_client::seed_from_os(SessionConfig::new("test-project", "test-token"))
        .with_contexts(contexts.iter().copied())
}

fn connect<R: Runtime + Clone, C: Connector>(
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

// ---------------------------------------------------------------------------------------------
// Scenarios

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

async fn consumer_answers_plays_hangs_up<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let http = mock.http_base.clone();
    let (report, mut reports) = mpsc::channel::<String>(16);
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |_client| {
            let http = http.clone();
            async move {
                let (status, _) = post(
                    http,
                    "/__control/inbound_call".into(),
                    r#"{"context":"office","from":"+15551230001","to":"+15553210002"}"#.into(),
                )
                .await;
                assert_eq!(status, 200, "inbound call injected");
            }
        })
        .on_incoming_call(move |call| {
            let mut report = report.clone();
            async move {
                let from = call.snapshot().and_then(|c| c.from().map(str::to_owned));
                let answer = call.answer().await.expect("answer");
                let play = call
                    .play(PlayParams::new([Media::tts("Welcome to the Rust SDK")]))
                    .await
                    .expect("play");
                let hangup = call.hangup().await.expect("hangup");
                let line = format!(
                    "from={} answer={} play={}:{:?} hangup={}",
                    from.unwrap_or_default(),
                    answer.successful,
                    play.successful,
                    play.kind,
                    hangup.successful
                );
                let _ = report.send(line).await;
                call.client().disconnect().await;
            }
        });
    let stop = bounded(
        &rt,
        "consumer run",
        consumer.run(config(&[]), mock.ws_url.clone(), rt.clone(), conn),
    )
    .await
    .expect("consumer stops cleanly");
    assert_eq!(stop, StopReason::Closed);
    let line = bounded(&rt, "report", reports.next())
        .await
        .expect("handler reported");
    assert_eq!(
        line,
        "from=+15551230001 answer=true play=true:Play hangup=true"
    );
}

async fn dial_play_async_controls<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _initial) = connect(&mock, &rt, conn, &[]);
    let mut events = client.events().await.expect("subscribe");
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
    assert!(call.info().await.expect("info").is_some());

    let play = bounded(
        &rt,
        "play_async",
        call.play_async(PlayParams::new([Media::ringtone("us", Some(30.0))])),
    )
    .await
    .expect("play started");
    assert!(!play.is_done());
    // Dropping clones of handles never disturbs the core.
    drop(play.clone());
    drop(call.clone());

    let paused = bounded(&rt, "pause", play.pause()).await.expect("pause");
    assert!(paused.successful, "{paused:?}");
    let id = play.control_id().clone();
    bounded(&rt, "paused event", until(&mut events, "paused", |e| {
        matches!(e, Event::Call(CallEvent::PlayUpdate { control_id, state, .. }) if *control_id == id && state == "paused")
    }))
    .await;
    let resumed = bounded(&rt, "resume", play.resume()).await.expect("resume");
    assert!(resumed.successful, "{resumed:?}");
    let volume = bounded(&rt, "volume", play.volume(-6.0))
        .await
        .expect("volume");
    assert!(volume.successful, "{volume:?}");
    let stopped = bounded(&rt, "stop", play.stop()).await.expect("stop");
    assert!(stopped.successful, "{stopped:?}");
    let result = bounded(&rt, "wait", play.wait()).await.expect("outcome");
    assert_eq!(result.kind, ComponentKind::Play);
    assert_eq!(result.state.as_deref(), Some("finished"));
    // Every waiter sees the same one outcome.
    assert_eq!(play.wait().await.expect("again"), result);
    assert_eq!(play.result(), Some(result));
    // A control on a finished component is refused locally.
    assert!(matches!(play.pause().await, Err(ClientError::Proto(_))));

    let hangup = bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    assert!(hangup.successful);
    assert!(
        call.info().await.expect("info").is_none(),
        "ended call left the registry"
    );
    client.disconnect().await;
}

async fn dial_busy_is_a_typed_failure<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    let (status, _) = mock
        .post(
            "/__control/next",
            r#"{"method":"calling.dial","outcome":"busy"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let err = bounded(
        &rt,
        "dial",
        client.calling().dial(DialParams::single(Device::phone(
            "+15551230001",
            "+15553210002",
        ))),
    )
    .await
    .expect_err("busy");
    match err {
        ClientError::DialFailed(r) => assert!(!r.successful),
        other => panic!("unexpected {other:?}"),
    }
    client.disconnect().await;
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
    assert!(matches!(bad, Err(ClientError::Proto(_))));
    client.disconnect().await;
}

async fn drop_reconnects_and_commands_work<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, mut events) = connect(&mock, &rt, conn, &["office"]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    let (status, _) = mock.post("/__control/drop", "{}").await;
    assert_eq!(status, 200);
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

async fn components_blocking_and_async<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
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
    let mut call_events = call.events().await.expect("call events");

    let prompt = PromptParams {
        media: vec![Media::tts("Enter your PIN")],
        collect: CollectParams {
            digits: Some(CollectDigits {
                max: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        },
        volume: None,
    };
    let collected = bounded(&rt, "prompt", call.prompt(prompt))
        .await
        .expect("prompt");
    assert!(collected.successful, "{collected:?}");
    assert_eq!(collected.result_type.as_deref(), Some("digit"));
    assert_eq!(collected.result.as_deref(), Some("123"));

    let record = RecordParams {
        end_silence_timeout: Some(0.2),
        ..Default::default()
    };
    let recorded = bounded(&rt, "record", call.record(record))
        .await
        .expect("record");
    assert!(recorded.successful, "{recorded:?}");
    assert!(recorded.url.is_some());

    let detect = DetectParams::new(DetectKind::Digit {
        digits: Some("5".into()),
    });
    let detected = bounded(&rt, "detect", call.detect(detect, DetectMode::Blocking))
        .await
        .expect("detect");
    assert!(detected.successful, "{detected:?}");
    assert_eq!(detected.result.as_deref(), Some("5"));

    let answered = bounded(&rt, "wait_for_answered", call.wait_for_answered())
        .await
        .expect("wait_for");
    assert!(answered.successful, "already answered: {answered:?}");
    let machine = bounded(&rt, "amd", call.amd(DetectMode::Blocking))
        .await
        .expect("amd");
    assert!(machine.successful, "{machine:?}");
    assert_eq!(machine.result.as_deref(), Some("MACHINE"));

    let digits = bounded(&rt, "send_digits", call.send_digits("12#"))
        .await
        .expect("digits");
    assert!(digits.successful, "{digits:?}");
    // Refused locally, nothing sent.
    assert!(matches!(
        call.send_digits("xyz").await,
        Err(ClientError::Proto(_))
    ));

    let tap = TapParams {
        direction: None,
        device: TapDevice::Rtp {
            addr: "127.0.0.1".into(),
            port: 9999,
            codec: None,
            ptime: None,
            rate: None,
        },
    };
    let tapping = bounded(&rt, "tap_async", call.tap_async(tap))
        .await
        .expect("tap");
    let stopped = bounded(&rt, "tap stop", tapping.stop())
        .await
        .expect("stop");
    assert!(stopped.successful, "{stopped:?}");
    let tapped = bounded(&rt, "tap wait", tapping.wait())
        .await
        .expect("tap outcome");
    assert_eq!(tapped.kind, ComponentKind::Tap);

    // A record left running is finished by the hangup: every component gets one outcome.
    let running = bounded(
        &rt,
        "record_async",
        call.record_async(RecordParams::default()),
    )
    .await
    .expect("record");
    let ended = bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    assert!(ended.successful);
    assert!(bounded(&rt, "record outcome", running.wait()).await.is_ok());
    // The call's own event stream saw its components and its end.
    let mut saw_end = false;
    while let Some(e) = bounded(&rt, "call events", call_events.next()).await {
        if matches!(
            e,
            CallEvent::StateChanged {
                state: CallState::Ended,
                ..
            }
        ) {
            saw_end = true;
            break;
        }
    }
    assert!(saw_end);
    client.disconnect().await;
}

async fn unanswered_request_is_a_typed_timeout<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let config = config(&[]).with_request_timeout(Duration::from_millis(300));
    let (client, _events) = RelayClient::connect_with(
        config,
        mock.ws_url.clone(),
        rt.clone(),
        conn,
        ClientOptions::default(),
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
    let (status, _) = mock
        .post(
            "/__control/next",
            r#"{"method":"calling.play","outcome":"no_response"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let played = bounded(&rt, "play", call.play_tts("anyone?"))
        .await
        .expect("outcome");
    assert!(!played.successful);
    assert_eq!(played.error, Some(RequestError::Timeout));
    // The connection is left alone: the next command works.
    let played = bounded(&rt, "play again", call.play_tts("hello"))
        .await
        .expect("outcome");
    assert!(played.successful, "{played:?}");
    client.disconnect().await;
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
    let http = mock.http_base.clone();
    let (report, mut reports) = mpsc::channel::<String>(16);
    let (client_tx, client_rx) = oneshot::channel::<RelayClient>();
    let client_tx = std::sync::Mutex::new(Some(client_tx));
    let (r1, r2, r3) = (report.clone(), report.clone(), report);
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |client| {
            let http = http.clone();
            let tx = client_tx.lock().expect("lock").take();
            async move {
                let (status, _) = post(
                    http.clone(),
                    "/__control/inbound_message".into(),
                    r#"{"context":"office","from":"+15551230001","to":"+15553210002","body":"hi there"}"#.into(),
                )
                .await;
                assert_eq!(status, 200);
                let task = relay_proto::Task::new("test-project", "test-token").expect("task");
                let host = http.trim_start_matches("http://");
                let req = task
                    .deliver_request(host, "office", &serde_json::json!({"job": 42}))
                    .expect("request");
                let (status, body) = raw_http(http.clone(), req.to_http1()).await;
                relay_proto::task::parse_deliver_response(status, body.as_bytes())
                    .expect("task delivered");
                let sent = client
                    .messaging()
                    .send(MessageParams::text("office", "+15553210002", "+15551230001", "out"))
                    .await
                    .expect("send");
                assert!(sent.successful);
                if let Some(tx) = tx {
                    let _ = tx.send(client);
                }
            }
        })
        .on_incoming_message(move |m| {
            let mut r = r1.clone();
            async move {
                let _ = r.send(format!("in:{}", m.body.unwrap_or_default())).await;
            }
        })
        .on_message_state_change(move |m| {
            let mut r = r2.clone();
            async move {
                if m.state == MessageState::Delivered {
                    let _ = r.send("delivered".to_owned()).await;
                }
            }
        })
        .on_task(move |v| {
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
    // The lagging subscriber got what fitted, then the stream ended with the driver.
    let mut seen = 0;
    while bounded(&rt, "drain lagging", lagging.next())
        .await
        .is_some()
    {
        seen += 1;
    }
    assert!(seen <= 2, "bounded subscriber held {seen} events");
}

// ---------------------------------------------------------------------------------------------
// Instantiations

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

on_both_runtimes!(
    ready_and_disconnect,
    consumer_answers_plays_hangs_up,
    dial_play_async_controls,
    dial_busy_is_a_typed_failure,
    messaging_send_delivered,
    drop_reconnects_and_commands_work,
    dropping_every_handle_closes_the_session,
    components_blocking_and_async,
    unanswered_request_is_a_typed_timeout,
    unreachable_server_gives_up,
    consumer_messages_and_tasks,
    slow_subscriber_never_stalls_the_connection,
);
