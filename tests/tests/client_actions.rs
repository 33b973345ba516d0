//! Typed actions and live call state on both runtimes against relay-mock: `new_call` + `dial`
//! (answered, busy, no answer), the call's synchronous state after it ended, stop after
//! finish, a record's url before it finished, async connect (and a failed one), send digits,
//! refer, a component error, and each action's payload as sent.

mod client_support;

use std::time::Duration;

use client_support::{bounded, connect, Mock};
use futures::StreamExt;
use relay_client::{Connector, Runtime};
use relay_proto::calling::{
    CallEvent, CallState, ConnectParams, ConnectState, Device, DialParams, EndReason,
    InvalidVolume, Media, PlayParams, PlayState, PromptParams, RecordParams, ReferParams, Tts,
    TtsGender, Volume,
};

fn dial_params() -> DialParams {
    DialParams::single(Device::phone("+15551230001", "+15553210002"))
}

async fn arm(mock: &Mock, method: &str, outcome: &str) {
    let m = relay_proto::wire::Method::parse(method).expect("a Relay method");
    let o = relay_mock::Named::parse(m, outcome).expect("an outcome of that method");
    let pending = mock
        .control(move |c| async move { c.next(m, &o).await })
        .await
        .unwrap_or_else(|e| panic!("arming {method} {outcome}: {e}"));
    assert!(pending >= 1, "armed {method} {outcome}");
}

async fn new_call_answered_state_outlives_registry<R: Runtime + Clone, C: Connector>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    let call = client.calling().new_call(dial_params());
    assert_eq!(call.id(), None, "no id before dial");
    assert_eq!(call.state(), CallState::None);
    let mut events = call.events().await.expect("subscribe before dial");
    let dialed = bounded(&rt, "dial", call.dial()).await.expect("dial");
    assert!(dialed.successful, "{dialed:?}");
    assert_eq!(dialed.call.id(), call.id(), "the same handle");
    // Node's `event`: the dial event that decided it, with its params.
    let event = dialed.event.as_ref().expect("the deciding event");
    assert_eq!(event.name, "answered");
    assert_eq!(event.payload()["dial_state"], "answered");
    assert_eq!(
        event.payload()["call"]["call_id"].as_str(),
        call.id().map(|id| id.as_str())
    );
    assert!(call.id().is_some());
    assert_eq!(call.state(), CallState::Answered);
    assert!(call.answered() && call.active() && !call.ended());
    assert_eq!(call.to().as_deref(), Some("+15553210002"));
    assert_eq!(call.from().as_deref(), Some("+15551230001"));
    assert!(call.node_id().is_some());
    // The pre-answer states of the leg reached the stream subscribed before dial().
    let first = bounded(&rt, "created", events.next())
        .await
        .expect("an event")
        .expect("not lagged");
    assert!(
        matches!(
            first,
            CallEvent::StateChanged {
                state: CallState::Created,
                ..
            }
        ),
        "{first:?}"
    );
    bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    // Ended: gone from the registry, but the handle still knows.
    assert_eq!(call.info().await.expect("info"), None);
    assert!(call.ended() && !call.active());
    assert_eq!(call.state(), CallState::Ended);
    assert_eq!(call.prev_state(), CallState::Ending);
    assert_eq!(call.end_reason(), Some(EndReason::Hangup));
    assert!(!call.busy() && !call.failed());
    // The stream saw the end and then ended.
    let rest: Vec<_> = bounded(&rt, "stream end", events.collect::<Vec<_>>()).await;
    assert!(rest.iter().any(|e| matches!(
        e,
        Ok(CallEvent::StateChanged {
            state: CallState::Ended,
            ..
        })
    )));
    client.disconnect().await;
}

async fn new_call_busy_and_no_answer<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    bounded(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    arm(&mock, "calling.dial", "busy").await;
    let call = client.calling().new_call(dial_params());
    let dialed = bounded(&rt, "dial busy", call.dial()).await.expect("Ok");
    assert!(!dialed.successful);
    assert!(call.busy() && call.ended(), "{:?}", call.state());
    assert_eq!(call.end_reason(), Some(EndReason::Busy));
    // A second dial of the same handle is refused locally.
    assert!(call.dial().await.is_err());

    arm(&mock, "calling.dial", "no_answer").await;
    let call = client.calling().new_call(dial_params());
    let dialed = bounded(&rt, "dial no answer", call.dial())
        .await
        .expect("Ok");
    assert!(!dialed.successful);
    assert!(call.ended() && !call.busy());
    assert_eq!(call.end_reason(), Some(EndReason::NoAnswer));
    client.disconnect().await;
}

async fn stop_after_finish_and_component_error<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    let call = bounded(&rt, "dial", client.calling().dial(dial_params()))
        .await
        .expect("dial");
    let play = bounded(&rt, "play", call.play_tts_async("short"))
        .await
        .expect("started");
    // Node's `action.payload`: the execute params exactly as sent.
    assert_eq!(
        play.payload()["play"],
        serde_json::json!([{"type": "tts", "params": {"text": "short"}}])
    );
    assert_eq!(play.payload()["control_id"], play.control_id().as_str());
    assert_eq!(
        play.payload()["call_id"].as_str(),
        call.id().map(|id| id.as_str())
    );
    let done = bounded(&rt, "wait", play.wait()).await.expect("outcome");
    assert!(done.successful);
    assert_eq!(play.state(), Some(PlayState::Finished));
    let stopped = bounded(&rt, "stop after finish", play.stop())
        .await
        .expect("not an error");
    assert!(stopped.successful, "{stopped:?}");

    // The convenience forms take the seed's options; a volume is validated when made.
    let tts = Tts::new("Hello")
        .language("en-US")
        .gender(TtsGender::Female)
        .volume(Volume::db(3.0).expect("valid"));
    let spoken = bounded(&rt, "play_tts options", call.play_tts(tts))
        .await
        .expect("played");
    assert!(spoken.successful, "{spoken:?}");
    assert_eq!(Volume::db(41.0), Err(InvalidVolume(41.0)));
    let silence = bounded(
        &rt,
        "play_silence",
        call.play_silence(Duration::from_millis(100)),
    )
    .await
    .expect("played");
    assert!(silence.successful, "{silence:?}");

    arm(&mock, "calling.play", "error").await;
    let failed = bounded(
        &rt,
        "play error",
        call.play(PlayParams::new([Media::tts("x")])),
    )
    .await
    .expect("an outcome, not an error");
    assert!(!failed.successful);
    assert_eq!(failed.outcome.state, Some(PlayState::Error));
    bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    client.disconnect().await;
}

async fn record_url_before_finish<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    let call = bounded(&rt, "dial", client.calling().dial(dial_params()))
        .await
        .expect("dial");
    let params = RecordParams::new()
        .beep(true)
        .end_silence_timeout(Duration::from_secs(30));
    let record = bounded(&rt, "record", call.record_async(params))
        .await
        .expect("started");
    // The builder's Duration goes out in whole seconds, as Node sends it.
    assert_eq!(
        record.payload()["record"],
        serde_json::json!({"audio": {"beep": true, "end_silence_timeout": 30}})
    );
    let give_up = rt.now() + Duration::from_secs(5);
    while record.url().is_none() {
        assert!(rt.now() < give_up, "url never came");
        rt.sleep_until(rt.now() + Duration::from_millis(10)).await;
    }
    assert!(!record.is_done(), "url known while recording");
    let url = record.url();
    bounded(&rt, "stop", record.stop()).await.expect("stop");
    let done = bounded(&rt, "wait", record.wait()).await.expect("done");
    assert!(done.outcome.url.is_some());
    assert_eq!(record.url().is_some(), url.is_some());
    bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    client.disconnect().await;
}

async fn async_connect_digits_refer_prompt<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    let call = bounded(&rt, "dial", client.calling().dial(dial_params()))
        .await
        .expect("dial");
    let connect = bounded(
        &rt,
        "connect_async",
        call.connect_async(ConnectParams::single(Device::phone_to("+15553210003"))),
    )
    .await
    .expect("started");
    let bridged = bounded(&rt, "connected", connect.wait())
        .await
        .expect("outcome");
    assert!(bridged.successful, "{bridged:?}");
    assert_eq!(connect.state(), Some(ConnectState::Connected));
    let peer = call.peer().expect("peer as a Call");
    assert_eq!(peer.id(), bridged.outcome.peer.as_ref().map(|p| &p.call_id));
    // As Node's `call.peer`: the registry's call, not an empty handle.
    assert_eq!(peer.state(), CallState::Answered, "{:?}", peer.snapshot());
    assert_eq!(peer.to().as_deref(), Some("+15553210003"));
    assert_eq!(peer.call_type().as_deref(), Some("phone"));
    assert!(peer.active() && !peer.ended());
    let peer_id = peer.id().cloned().expect("an id");
    let by_id = bounded(&rt, "get_call", client.calling().get_call(peer_id.clone()))
        .await
        .expect("asked")
        .expect("the registry has the peer");
    assert_eq!(by_id.state(), CallState::Answered);
    assert_eq!(by_id.to().as_deref(), Some("+15553210003"));
    let calling = client.calling();
    let unknown = calling.get_call(relay_proto::CallId::new("no-such-call"));
    assert!(bounded(&rt, "get_call unknown", unknown)
        .await
        .expect("asked")
        .is_none());
    bounded(&rt, "disconnect", call.disconnect())
        .await
        .expect("disconnect");

    arm(&mock, "calling.connect", "failed").await;
    let failed = bounded(
        &rt,
        "failed connect",
        call.connect(ConnectParams::single(Device::phone_to("+15553210004"))),
    )
    .await
    .expect("an outcome");
    assert!(!failed.successful);
    assert_eq!(failed.outcome.state, Some(ConnectState::Failed));

    let digits = bounded(&rt, "send_digits_async", call.send_digits_async("12#"))
        .await
        .expect("started");
    assert!(
        bounded(&rt, "digits", digits.wait())
            .await
            .expect("sent")
            .successful
    );
    let refer = bounded(
        &rt,
        "refer_async",
        call.refer_async(ReferParams {
            to: "sip:alice@example.com".into(),
            headers: Vec::new(),
        }),
    )
    .await
    .expect("started");
    let referred = bounded(&rt, "refer", refer.wait()).await.expect("outcome");
    assert_eq!(
        referred.successful,
        refer.result().expect("done").successful
    );

    arm(&mock, "calling.play_and_collect", "digit").await;
    let pin = bounded(
        &rt,
        "prompt_tts",
        call.prompt_tts(PromptParams::digits(4).terminators("#"), "Your PIN?"),
    )
    .await
    .expect("prompt");
    assert!(pin.successful && pin.outcome.result().is_some(), "{pin:?}");
    bounded(&rt, "hangup", call.hangup()).await.expect("hangup");
    client.disconnect().await;
}

on_both_runtimes!(
    new_call_answered_state_outlives_registry,
    new_call_busy_and_no_answer,
    stop_after_finish_and_component_error,
    record_url_before_finish,
    async_connect_digits_refer_prompt,
);
