//! relay-client call flows on both runtimes against relay-mock: a consumer's inbound call,
//! dials, every component in blocking and async form, controls, typed failures.

mod client_support;

use std::time::Duration;

use client_support::{bounded, config, connect, until, Mock};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use relay_client::{
    ClientError, ClientOptions, Connector, Inbound, RelayClient, RelayConsumer, Runtime, Task,
};
use relay_mock::control::{InboundCall, InboundMessage};
use relay_proto::calling::{
    CallEvent, CallState, CollectDigits, CollectParams, CollectResultType, ComponentKind,
    ConnectParams, DetectKind, DetectMode, DetectParams, Device, DialParams, Media, PlayParams,
    PlayState, PromptParams, RecordParams, TapDevice, TapParams, Volume,
};
use relay_proto::{Event, RequestError, StopReason};

async fn consumer_answers_plays_hangs_up<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let control = mock.controller();
    let (report, mut reports) = mpsc::channel::<String>(16);
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |_client| {
            let control = control.clone();
            async move {
                let call = InboundCall::phone("office").between("+15551230001", "+15553210002");
                control
                    .run(move |c| async move { c.inbound_call(&call).await })
                    .await
                    .expect("inbound call injected");
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
        call.play_async(PlayParams::new([Media::ringtone(
            "us",
            Some(Duration::from_secs(30)),
        )])),
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
        matches!(e, Event::Call(CallEvent::PlayUpdate { control_id, state, .. }) if *control_id == id && *state == PlayState::Paused)
    }))
    .await;
    let resumed = bounded(&rt, "resume", play.resume()).await.expect("resume");
    assert!(resumed.successful, "{resumed:?}");
    let volume = bounded(&rt, "volume", play.volume(Volume::db(-6.0).expect("valid")))
        .await
        .expect("volume");
    assert!(volume.successful, "{volume:?}");
    let stopped = bounded(&rt, "stop", play.stop()).await.expect("stop");
    assert!(stopped.successful, "{stopped:?}");
    let result = bounded(&rt, "wait", play.wait()).await.expect("outcome");
    assert_eq!(result.kind, ComponentKind::Play);
    assert_eq!(result.outcome.state, Some(PlayState::Finished));
    // Every waiter sees the same one outcome.
    assert_eq!(play.wait().await.expect("again"), result);
    assert_eq!(play.result(), Some(result));
    // A control on a finished component is refused locally.
    assert!(matches!(
        play.pause().await,
        Err(ClientError::Misuse(
            relay_proto::error::ApiMisuse::UnknownComponent { .. }
        ))
    ));

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
    mock.control(|c| async move {
        c.next(
            relay_proto::wire::Method::CallingDial,
            &relay_mock::Named::Busy,
        )
        .await
    })
    .await
    .expect("armed");
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
    assert_eq!(
        collected.outcome.result_type,
        Some(CollectResultType::Digit)
    );
    assert_eq!(collected.outcome.result(), Some("123"));

    let record = RecordParams {
        end_silence_timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let recorded = bounded(&rt, "record", call.record(record))
        .await
        .expect("record");
    assert!(recorded.successful, "{recorded:?}");
    assert!(recorded.outcome.url.is_some());

    let detect = DetectParams::new(DetectKind::Digit {
        digits: Some("5".into()),
    });
    let detected = bounded(&rt, "detect", call.detect(detect, DetectMode::Blocking))
        .await
        .expect("detect");
    assert!(detected.successful, "{detected:?}");
    assert_eq!(detected.outcome.result.as_deref(), Some("5"));

    let answered = bounded(&rt, "wait_for_answered", call.wait_for_answered())
        .await
        .expect("wait_for");
    assert!(answered.successful, "already answered: {answered:?}");
    let machine = bounded(&rt, "amd", call.amd(DetectMode::Blocking))
        .await
        .expect("amd");
    assert!(machine.successful, "{machine:?}");
    assert_eq!(machine.outcome.result.as_deref(), Some("MACHINE"));

    let digits = bounded(&rt, "send_digits", call.send_digits("12#"))
        .await
        .expect("digits");
    assert!(digits.successful, "{digits:?}");
    // Refused locally, nothing sent.
    assert!(matches!(
        call.send_digits("xyz").await,
        Err(ClientError::Misuse(relay_proto::error::ApiMisuse::InvalidParameter { which, .. }))
            if which == "send_digits"
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
    let mut saw_record = false;
    while let Some(e) = bounded(&rt, "call events", call_events.next()).await {
        let e = e.expect("a call stream with room never lags");
        assert_eq!(e.call_id(), call.id(), "only this call's events");
        saw_record |= matches!(e, CallEvent::RecordUpdate { .. });
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
    assert!(saw_end && saw_record);
    // ... and ends once the call has ended.
    assert!(bounded(&rt, "call events end", call_events.next())
        .await
        .is_none());
    client.disconnect().await;
}

async fn unanswered_request_is_a_typed_timeout<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let config = config(&[]).with_request_timeout(Duration::from_secs(1));
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
    mock.control(|c| async move {
        c.next_no_response(relay_proto::wire::Method::CallingPlay)
            .await
    })
    .await
    .expect("armed");
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

async fn connect_bridges_a_peer<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
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
    let bridged = bounded(
        &rt,
        "connect",
        call.connect(ConnectParams::single(Device::phone_to("+15553210003"))),
    )
    .await
    .expect("connect");
    assert!(bridged.successful, "{bridged:?}");
    let peer = bridged.outcome.peer.clone().expect("peer");
    assert!(call
        .info()
        .await
        .expect("info")
        .and_then(|c| c.peer)
        .is_some());
    // The peer leg is in the registry and can be driven through its own handle.
    let peer_call = client.calling().call(peer.call_id.clone());
    assert!(peer_call.info().await.expect("info").is_some());
    let unbridged = bounded(&rt, "disconnect", call.disconnect())
        .await
        .expect("disconnect");
    assert!(unbridged.successful, "{unbridged:?}");
    assert!(
        bounded(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// Issue 10's defect: `is_done()`/`result()` must flip after `stop()` without anyone awaiting
/// `wait()`, and `wait()` then returns that same result.
async fn action_completes_without_wait<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
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
    let play = bounded(
        &rt,
        "play_async",
        call.play_async(PlayParams::new([Media::ringtone(
            "us",
            Some(Duration::from_secs(30)),
        )])),
    )
    .await
    .expect("play started");
    assert!(!play.is_done());
    assert_eq!(play.result(), None);
    let stopped = bounded(&rt, "stop", play.stop()).await.expect("stop");
    assert!(stopped.successful, "{stopped:?}");
    // Poll, never awaiting wait(), for at most 5 s.
    let give_up = rt.now() + Duration::from_secs(5);
    while !play.is_done() {
        assert!(rt.now() < give_up, "is_done() never flipped after stop()");
        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
    }
    let polled = play.result().expect("a result once done");
    assert_eq!(polled.kind, ComponentKind::Play);
    assert_eq!(polled.outcome.state, Some(PlayState::Finished));
    let waited = bounded(&rt, "wait", play.wait()).await.expect("outcome");
    assert_eq!(waited, polled);
    bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    client.disconnect().await;
}

/// A blocking command waits for one reply: when the session ends while it is in flight (its
/// request never answered), it still resolves: unsuccessful, with the lost connection.
async fn blocking_command_resolves_when_the_session_ends<R: Runtime + Clone, C: Connector>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let (client, _events) = RelayClient::connect_with(
        config(&[]),
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
    mock.control(|c| async move {
        c.next_no_response(relay_proto::wire::Method::CallingPlay)
            .await
    })
    .await
    .expect("armed");
    let stop = async {
        rt.sleep_until(rt.now() + Duration::from_millis(200)).await;
        client.disconnect().await;
    };
    let (played, ()) = bounded(
        &rt,
        "play ends with the session",
        futures::future::join(call.play_tts("never answered"), stop),
    )
    .await;
    let played = played.expect("an outcome");
    assert!(!played.successful, "{played:?}");
    assert_eq!(
        played.error,
        Some(RequestError::ConnectionLost),
        "{played:?}"
    );
}

/// Node's `client.calling.onReceive` / `messaging.onReceive` / `tasking.onReceive` on a plain
/// client: one stream, lossless even when it is not read for a while (a backlog of 4, 40
/// calls waiting), whose calls are usable handles, and which ends with the session.
async fn client_inbound_stream_is_lossless<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, mut inbound) = RelayClient::builder(config(&[]), rt.clone(), conn)
        .with_host(mock.ws_url.clone())
        .with_options(ClientOptions::default().with_consumer_backlog(4))
        .connect_with_inbound();
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    bounded(&rt, "receive", client.receive(["office"]))
        .await
        .expect("context registered");
    let call = InboundCall::phone("office").between("+15551230001", "+15553210002");
    let injected = mock
        .control(move |c| async move { c.inbound_calls(&call, 40).await })
        .await
        .expect("calls injected");
    assert_eq!(injected.len(), 40);
    let text = InboundMessage::text("office", "+15551230009", "+15553210002", "hi");
    mock.control(move |c| async move { c.inbound_message(&text).await })
        .await
        .expect("message injected");
    let task = Task::new("test-project", "test-token")
        .expect("task")
        .with_host(mock.http_base.clone())
        .with_runtime(rt.clone());
    bounded(
        &rt,
        "deliver",
        task.deliver("office", &serde_json::json!({"job": 7})),
    )
    .await
    .expect("task delivered");

    let (mut calls, mut message, mut delivered) = (Vec::new(), None, None);
    while calls.len() < 40 || message.is_none() || delivered.is_none() {
        match bounded(&rt, "inbound", inbound.next()).await {
            Some(Inbound::Call(call)) => {
                assert_eq!(call.state(), CallState::Created);
                assert_eq!(call.context().as_deref(), Some("office"));
                assert_eq!(call.from().as_deref(), Some("+15551230001"));
                calls.push(call);
            }
            Some(Inbound::Message(m)) => message = Some(m),
            Some(Inbound::Task { context, message }) => delivered = Some((context, message)),
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("the stream ended early"),
        }
    }
    let mut ids: Vec<_> = calls.iter().filter_map(|c| c.id().cloned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every call once");
    assert_eq!(message.and_then(|m| m.body).as_deref(), Some("hi"));
    assert_eq!(
        delivered,
        Some(("office".to_owned(), serde_json::json!({"job": 7})))
    );
    let first = &calls[0];
    let answered = bounded(&rt, "answer", first.answer())
        .await
        .expect("answer");
    assert!(answered.successful);
    bounded(&rt, "hangup", first.hangup())
        .await
        .expect("hangup");
    client.disconnect().await;
    assert!(bounded(&rt, "end", inbound.next()).await.is_none());
    assert_eq!(inbound.stop_reason(), Some(&StopReason::Closed));
}

on_both_runtimes!(
    client_inbound_stream_is_lossless,
    blocking_command_resolves_when_the_session_ends,
    action_completes_without_wait,
    consumer_answers_plays_hangs_up,
    dial_play_async_controls,
    dial_busy_is_a_typed_failure,
    components_blocking_and_async,
    unanswered_request_is_a_typed_timeout,
    connect_bridges_a_peer,
);
