//! The driver against relay-mock's sans-IO server, in memory, on a virtual clock: no sockets,
//! no threads, fully deterministic. A tiny executor polls the driver and the test body; when
//! nothing can progress it advances the clock to the earliest timer (the driver's or the
//! server's), so a 30 s playback takes 30 virtual seconds and no real time.

mod sim;

use std::sync::Mutex;
use std::time::Duration;

use relay_client::{RelayConsumer, Runtime};
use relay_proto::calling::{Device, DialParams, Media, PlayParams};
use relay_proto::{Event, StopReason};
use serde_json::json;
use sim::{config, connect, run, setup, until};

#[test]
fn a_thirty_second_ringtone_takes_thirty_virtual_seconds() {
    let (rt, server) = setup();
    let (client, _events) = connect(&rt, &server);
    let start = rt.now();
    let elapsed = run(&rt, async {
        client.wait_ready().await.expect("ready");
        let call = client
            .calling()
            .dial(DialParams::single(Device::phone(
                "+15551230001",
                "+15553210002",
            )))
            .await
            .expect("dial");
        let t0 = rt.now();
        let play = call
            .play_async(PlayParams::new([Media::ringtone(
                "us",
                Some(Duration::from_secs(30)),
            )]))
            .await
            .expect("play");
        assert!(play.pause().await.expect("pause").successful);
        assert!(play.resume().await.expect("resume").successful);
        let result = play.wait().await.expect("outcome");
        assert!(result.successful, "{result:?}");
        let elapsed = rt.now() - t0;
        assert!(call.hangup().await.expect("hangup").successful);
        client.disconnect().await;
        elapsed
    });
    assert!(
        elapsed >= Duration::from_secs(30) && elapsed < Duration::from_secs(31),
        "{elapsed:?}"
    );
    assert!(rt.now() - start < Duration::from_secs(60));
}

#[test]
fn consumer_on_virtual_time() {
    let (rt, server) = setup();
    let (done_tx, done_rx) = futures::channel::oneshot::channel::<bool>();
    let done_tx = Mutex::new(Some(done_tx));
    let s = server.clone();
    let consumer = RelayConsumer::new()
        .on_ready(move |_client| {
            let out = s.control(
                "inbound_call",
                json!({"context":"office","from":"+15551230001","to":"+15553210002"}),
            );
            assert!(out.get("call_id").is_some());
            async {}
        })
        .on_incoming_call(move |call| {
            let tx = done_tx.lock().expect("lock").take();
            async move {
                let ok = call.answer().await.is_ok_and(|r| r.successful)
                    && call.play_tts("hello").await.is_ok_and(|r| r.successful)
                    && call.hangup().await.is_ok_and(|r| r.successful);
                if let Some(tx) = tx {
                    let _ = tx.send(ok);
                }
                call.client().disconnect().await;
            }
        });
    let stop = run(&rt, async {
        let stop = consumer
            .run(config(), "ws://in-memory", rt.clone(), server.clone())
            .await;
        assert_eq!(done_rx.await, Ok(true));
        stop
    });
    assert_eq!(stop, Ok(StopReason::Closed));
}

#[test]
fn dropped_socket_resumes_with_virtual_backoff() {
    let (rt, server) = setup();
    let (client, mut events) = connect(&rt, &server);
    run(&rt, async {
        client.wait_ready().await.expect("ready");
        let call = client
            .calling()
            .dial(DialParams::single(Device::phone(
                "+15551230001",
                "+15553210002",
            )))
            .await
            .expect("dial");
        server.control("drop", json!({}));
        until(&mut events, |e| matches!(e, Event::Disconnected { .. })).await;
        let t0 = rt.now();
        let ready = until(&mut events, |e| matches!(e, Event::Ready { .. })).await;
        assert!(
            matches!(ready, Event::Ready { restored: true, .. }),
            "{ready:?}"
        );
        // The default backoff: 500 ms +/- 20%.
        let waited = rt.now() - t0;
        assert!(waited >= Duration::from_millis(400) && waited <= Duration::from_millis(600));
        // The call survived the drop.
        let played = call.play_tts("still here").await.expect("play");
        assert!(played.successful, "{played:?}");
        client.disconnect().await;
    });
}

#[test]
fn call_events_are_routed_per_call_and_end_with_the_call() {
    use futures::StreamExt;
    use relay_proto::calling::{CallEvent, CallState};
    let (rt, server) = setup();
    let (client, _events) = connect(&rt, &server);
    run(&rt, async {
        client.wait_ready().await.expect("ready");
        let calling = client.calling();
        let dial =
            |to: &'static str| calling.dial(DialParams::single(Device::phone("+15551230001", to)));
        let first = dial("+15553210002").await.expect("dial");
        let second = dial("+15553210003").await.expect("dial");
        let mut first_events = first.events().await.expect("subscribe");
        // Activity on the other call does not reach this stream.
        second.play_tts("other").await.expect("play");
        second.hangup().await.expect("hangup");
        first.hangup().await.expect("hangup");
        let mut seen = Vec::new();
        while let Some(item) = first_events.next().await {
            let event = item.expect("no lag");
            assert_eq!(event.call_id(), first.id(), "{event:?}");
            seen.push(event);
        }
        assert!(
            matches!(
                seen.last(),
                Some(CallEvent::StateChanged {
                    state: CallState::Ended,
                    ..
                })
            ),
            "the stream ended after the call ended: {seen:?}"
        );
        // A call the client no longer tracks: its stream ends at once.
        let mut gone = first.events().await.expect("subscribe");
        assert!(gone.next().await.is_none());
        client.disconnect().await;
    });
}
