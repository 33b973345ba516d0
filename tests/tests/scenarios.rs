//! The scenario suite: every method of [`Call`](relay_client::Call) and of its actions, on
//! both runtimes (tokio and async-std, through [`on_both_runtimes!`]), against relay-mock over
//! real WebSockets, including the failure paths. Outcomes are scripted with relay-mock's typed
//! control client (`ControlClient::next`, `end_call`, `frames`), never with hand-written HTTP.
//!
//! # Inventory
//!
//! Before this file, the call surface was tested in `tests/tests/client_calls.rs` (`calls`),
//! `client_actions.rs` (`actions`), `client_surface.rs` (`surface`) and `client_session.rs`;
//! relay-client/tests runs the driver on virtual time (`fault_sweep`, `virtual_time`,
//! `consumer_lifecycle`), and `relay-{tokio,async-std}/tests/examples.rs` run the examples.
//! What each method had, and the scenario of this file that now runs it (all on both runtimes):
//!
//! | method | tested before | here |
//! |---|---|---|
//! | `Calling::new_call`, `Call::dial` (answered) | actions | [`outbound_call_lifecycle`] |
//! | `dial` busy / no answer, a second `dial` | actions | [`dials_that_fail`] |
//! | `Calling::dial`, `dial_result` (answered, busy, no answer) | calls, surface | [`dials_that_fail`] |
//! | `id`, `node_id`, `from`, `to`, `state`, `prev_state`, `end_reason`, `active`, `answered`, `ended`, `busy`, `failed` | actions (partly) | [`outbound_call_lifecycle`], [`dials_that_fail`] |
//! | `device`, `call_type`, `direction`, `context`, `ending`, `snapshot`, `client`, `info` | snapshot/info only | [`outbound_call_lifecycle`], [`inbound_pass_answer_far_end_hangup`] |
//! | `events` (before dial, ends with the call) | actions, calls | [`outbound_call_lifecycle`] |
//! | a command on a call not dialed yet (`NotDialed`) | none | [`outbound_call_lifecycle`] |
//! | `answer` | calls (consumer) | [`inbound_pass_answer_far_end_hangup`] |
//! | `pass` | **none** | [`inbound_pass_answer_far_end_hangup`] |
//! | `hangup`, `hangup_with` | hangup only | [`outbound_call_lifecycle`] |
//! | far end hangs up (`end_call`) during a play and a blocking tap | none | [`inbound_pass_answer_far_end_hangup`], [`tap_source_device_and_far_end`] |
//! | `wait_for_answered` | calls | [`outbound_call_lifecycle`] |
//! | `wait_for`, `wait_for_ringing`, `wait_for_ending`, `wait_for_ended` | **none** on a client | [`outbound_call_lifecycle`] |
//! | `play`, `play_async`; `pause`, `resume`, `volume`, `stop` | calls | [`play_forms_and_state`] |
//! | `play_tts` (language, gender, volume), `play_silence` | actions | [`play_forms_and_state`] (options checked on the wire) |
//! | `play_audio`, `play_ringtone` and the `*_async` forms | **none** | [`play_forms_and_state`] |
//! | `PlayAction::state` mid-run: playing, paused, playing, finished | **none** | [`play_forms_and_state`] |
//! | `is_done`/`result` after `stop()` without `wait()` | calls (play) | [`play_forms_and_state`], [`record_forms`] |
//! | stop after the component finished is not an error | actions, surface (play) | [`stop_after_finish_for_every_kind`] (play, prompt, record, detect, fax) |
//! | `prompt`, `prompt_tts` (digits) | calls, actions | [`prompt_forms_and_outcomes`] |
//! | `prompt_audio`, `prompt_ringtone`, the `prompt_*_async` forms, `PromptAction` volume/stop | **none** | [`prompt_forms_and_outcomes`] |
//! | prompt speech, no input, no match, error | none on a client | [`prompt_forms_and_outcomes`] |
//! | `record`, `record_async`, `RecordAction::url` before the end | calls, actions | [`record_forms`] |
//! | record `no_input`, `RecordAction::state` | **none** | [`record_forms`] |
//! | `amd` | calls | [`answering_machine_detection`] |
//! | `detect_answering_machine` (machine, human, unknown, `wait_for_beep`, settings on the wire), `_async`, `amd_async` | **none** | [`answering_machine_detection`] |
//! | `detect_human`, `detect_machine` (deprecated) | **none** | [`answering_machine_detection`] |
//! | `detect` | calls (digit) | [`fax_and_digit_detection`] |
//! | `detect_fax`, `detect_digit` and `_async` (tone, digits, timeout on the wire) | **none** | [`fax_and_digit_detection`] |
//! | `send_fax`, `receive_fax` and `_async`, `FaxAction` | **none** | [`fax_send_and_receive`] |
//! | `tap`, `tap_async`, stop | calls | [`tap_source_device_and_far_end`] |
//! | `TapAction::source_device` from the execute response | **none** | [`tap_source_device_and_far_end`] |
//! | `connect` (series, parallel, ringback), `connect_async`, `peer`, `connect_state`, `disconnect` | calls, actions | [`connect_refer_and_digits`] |
//! | failed connect | actions, surface | [`connect_refer_and_digits`] |
//! | `refer`, `refer_async` | actions | [`connect_refer_and_digits`] |
//! | refer busy | **none** | [`connect_refer_and_digits`] |
//! | `send_digits`, `send_digits_async`, bad digits refused | calls, actions | [`connect_refer_and_digits`] |
//! | component error (play `error`), relay error code, request with no answer | actions, surface, calls | [`component_errors`] |
//!
//! Two library bugs found on the way are fixed and pinned in `fixed_bugs`: `wait_for` on a
//! call that already ended reports success for the states it passed
//! ([`wait_for_after_the_end`]), and `record_async`/`tap_async` resolve after the server's
//! answer, so `url()`/`source_device()` are known at once, as in Node
//! ([`url_and_source_device_right_after_the_async_form`]).
//!
//! Not here (covered elsewhere): reconnects and faults around calls (`relay-client/tests/
//! fault_sweep.rs`, `tests/tests/pair_deadlines.rs`), the consumer's lifecycle
//! (`consumer_lifecycle.rs`, `client_surface.rs`), messaging and tasks (`client_session.rs`).

mod client_support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client_support::{bounded, config, connect, Mock};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use relay_client::{
    Call, ClientError, ClientOptions, Connector, RelayClient, RelayConsumer, Runtime,
};
use relay_mock::control::FrameDir;
use relay_proto::calling::{
    Audio, AudioDirection, CallEvent, CallState, CollectResultType, ComponentKind, ConnectParams,
    ConnectState, DetectEvent, DetectKind, DetectMode, DetectParams, Device, DeviceType,
    DialParams, DialState, Direction, EndReason, FaxDirection, FaxSendParams, FaxTone, Media,
    PlayParams, PlayState, PromptParams, RecordParams, RecordState, ReferParams, ReferState,
    Ringtone, SendDigitsState, TapDevice, TapParams, TapState, Tts, TtsGender, Volume,
};
use relay_proto::RequestError;
use serde_json::{json, Value};

const FROM: &str = "+15551230001";
const TO: &str = "+15553210002";
/// How long a state may take to show after the command that causes it.
const SETTLE: Duration = Duration::from_secs(5);

fn phone() -> DialParams {
    DialParams::single(Device::phone(FROM, TO))
}

fn db(v: f64) -> Volume {
    Volume::db(v).expect("a volume in range")
}

/// A ringtone long enough to still be running when a control arrives.
fn long_ringtone() -> Ringtone {
    Ringtone::new("us").duration(Duration::from_secs(30))
}

fn rtp(port: u16) -> TapParams {
    TapParams {
        direction: Some(AudioDirection::Listen),
        device: TapDevice::Rtp {
            addr: "192.0.2.10".into(),
            port,
            codec: None,
            ptime: None,
            rate: None,
        },
    }
}

/// Arms a one-shot `outcome` for the next `method` through the typed control client.
async fn arm(mock: &Mock, method: &str, outcome: &str) {
    let m = relay_proto::wire::Method::parse(method).expect("a Relay method");
    let o = relay_mock::Named::parse(m, outcome).expect("an outcome of that method");
    mock.control(move |c| async move { c.next(m, &o).await })
        .await
        .unwrap_or_else(|e| panic!("arming {method} {outcome}: {e}"));
}

/// The params of every `blade.execute` of `method` the client has sent so far.
async fn sent(mock: &Mock, method: &str) -> Vec<Value> {
    let frames = mock
        .control(|c| async move { c.frames(0).await })
        .await
        .expect("recorded frames");
    frames
        .frames
        .into_iter()
        .filter(|f| {
            f.dir == FrameDir::C2s
                && f.frame["method"] == "blade.execute"
                && f.frame["params"]["method"] == method
        })
        .map(|f| f.frame["params"]["params"].clone())
        .collect()
}

/// The params of the last `method` the client sent, whole numbers written as integers (the
/// wire may carry `2` or `2.0`).
async fn last_sent(mock: &Mock, method: &str) -> Value {
    let params = sent(mock, method).await.pop();
    whole(params.unwrap_or_else(|| panic!("no {method} was sent")))
}

fn whole(v: Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(whole).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, whole(v))).collect()),
        other => other,
    }
}

/// Polls `check` (without awaiting anything else) until it holds, for at most [`SETTLE`].
async fn eventually<R: Runtime>(rt: &R, what: &str, mut check: impl FnMut() -> bool) {
    let give_up = rt.now() + SETTLE;
    while !check() {
        assert!(rt.now() < give_up, "never happened: {what}");
        rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
    }
}

/// Polls the recorded frames until `method` was sent `count` times.
async fn eventually_sent<R: Runtime>(rt: &R, mock: &Mock, method: &str, count: usize) {
    let give_up = rt.now() + SETTLE;
    while sent(mock, method).await.len() < count {
        assert!(rt.now() < give_up, "{method} was not sent {count} times");
        rt.sleep_until(rt.now() + Duration::from_millis(20)).await;
    }
}

/// A client of a fresh mock and one answered outbound call.
async fn answered_call<R: Runtime + Clone, C: Connector>(
    mock: &Mock,
    rt: &R,
    conn: C,
) -> (RelayClient, Call) {
    let (client, _events) = connect(mock, rt, conn, &[]);
    let call = bounded(rt, "dial", client.calling().dial(phone()))
        .await
        .expect("the dial is answered");
    (client, call)
}

async fn step<R: Runtime, F: Future>(rt: &R, what: &str, fut: F) -> F::Output {
    bounded(rt, what, fut).await
}

async fn outbound_call_lifecycle<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    let call = client.calling().new_call(phone());
    assert_eq!((call.id(), call.state()), (None, CallState::None));
    // As Node: not ended, so active, before it is dialed; its device is the one it dials.
    assert!(call.active() && !call.ended() && call.info().await.expect("info").is_none());
    assert_eq!(
        (call.from().as_deref(), call.to().as_deref()),
        (Some(FROM), Some(TO))
    );
    assert_eq!(call.call_type().as_deref(), Some("phone"));
    assert_eq!(
        call.timeout(),
        Some(Duration::from_secs(30)),
        "Node's default"
    );
    assert!(call.headers().is_empty() && call.tag().is_none());
    assert_eq!(call.answer().await, Err(ClientError::NotDialed));
    let mut events = call.events().await.expect("subscribe before dial");
    let dialed = step(&rt, "dial", call.dial()).await.expect("dial");
    assert!(dialed.successful, "{dialed:?}");
    assert_eq!(
        dialed.call.id(),
        call.id(),
        "the result holds the same handle"
    );
    assert_eq!(dialed.outcome.state, DialState::Answered);
    assert_eq!(dialed.outcome.call_id.as_ref(), call.id());
    assert!(call.answered() && call.active() && !call.ending() && !call.ended());
    assert!(call.tag().is_some(), "a dialed call has its dial's tag");
    assert_eq!(call.direction(), Some(Direction::Outbound));
    assert_eq!(call.call_type().as_deref(), Some("phone"));
    assert_eq!(
        call.device().map(|d| d.device_type),
        Some(DeviceType::Phone)
    );
    assert_eq!(
        (call.from().as_deref(), call.to().as_deref()),
        (Some(FROM), Some(TO))
    );
    assert_eq!(
        call.context(),
        None,
        "an outbound call was offered to no context"
    );
    let snapshot = call.snapshot().expect("the dialed call's info");
    assert_eq!(
        (snapshot.id.clone(), snapshot.direction.clone()),
        (
            call.id().expect("dialed").clone(),
            Some(Direction::Outbound)
        )
    );
    assert!(call.node_id().is_some() && snapshot.node_id == call.node_id());
    assert!(call.client().is_connected());
    let info = call.info().await.expect("info").expect("tracked while up");
    assert_eq!(
        (Some(&info.id), info.state),
        (call.id(), CallState::Answered)
    );
    let answered = step(&rt, "wait_for_answered", call.wait_for_answered()).await;
    assert!(answered.expect("reached").successful, "already answered");

    end_with_waiters(&rt, &mock, &call).await;
    // The stream subscribed before dial() saw every state, in order, then ended.
    let states: Vec<CallState> = step(&rt, "stream end", events.by_ref().collect::<Vec<_>>())
        .await
        .into_iter()
        .filter_map(|e| match e {
            Ok(CallEvent::StateChanged { state, .. }) => Some(state),
            _ => None,
        })
        .collect();
    let wanted = [
        CallState::Created,
        CallState::Answered,
        CallState::Ending,
        CallState::Ended,
    ];
    let mut seen = states.iter();
    assert!(wanted.iter().all(|w| seen.any(|s| s == w)), "{states:?}");
    client.disconnect().await;
}

/// Hangs `call` up with a reason while two waiters watch, and reads its state after the end.
async fn end_with_waiters<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    // Two waiters watch the end of a hangup with a reason.
    let (ending, ended, hangup) = step(rt, "hangup_with", async {
        futures::join!(
            call.wait_for_ending(),
            call.wait_for_ended(),
            call.hangup_with(EndReason::Busy)
        )
    })
    .await;
    assert!(ending.expect("ending").successful && ended.expect("ended").successful);
    let hangup = hangup.expect("hangup");
    assert!(hangup.successful, "{hangup:?}");
    assert_eq!(hangup.outcome.end_reason, Some(EndReason::Busy));
    assert_eq!(last_sent(mock, "calling.end").await["reason"], "busy");
    assert!(call.ended() && call.busy() && !call.active() && !call.failed());
    assert_eq!(
        (call.state(), call.prev_state()),
        (CallState::Ended, CallState::Ending)
    );
    assert_eq!(
        call.info().await.expect("info"),
        None,
        "gone from the registry"
    );
    // Waiting on a call that ended does not hang, and a state it passed counts as reached
    // (as Node's `waitFor`; see `wait_for_after_the_end`).
    let ringing = step(
        rt,
        "wait_for_ringing after the end",
        call.wait_for_ringing(),
    )
    .await;
    assert!(
        ringing.expect("an outcome").successful,
        "it rang before it was answered"
    );
}

async fn dials_that_fail<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, _events) = connect(&mock, &rt, conn, &[]);
    step(&rt, "ready", client.wait_ready())
        .await
        .expect("ready");
    for (outcome, reason) in [
        ("busy", EndReason::Busy),
        ("no_answer", EndReason::NoAnswer),
    ] {
        arm(&mock, "calling.dial", outcome).await;
        let call = client.calling().new_call(phone());
        let dialed = step(&rt, outcome, call.dial())
            .await
            .expect("a result, not an error");
        assert!(!dialed.successful, "{outcome}: {dialed:?}");
        // One leg: the dial ends with the leg (`ended`); several legs end `failed`.
        assert!(
            matches!(dialed.outcome.state, DialState::Ended | DialState::Failed),
            "{outcome}"
        );
        assert_eq!(dialed.outcome.end_reason, Some(reason.clone()), "{outcome}");
        assert!(
            call.ended() && !call.active(),
            "{outcome}: {:?}",
            call.state()
        );
        assert_eq!(call.end_reason(), Some(reason.clone()), "{outcome}");
        assert_eq!(call.busy(), reason == EndReason::Busy, "{outcome}");
        assert!(!call.failed(), "{outcome}");
        // It never answered: waiting for that after the end is answered, and unsuccessful.
        let answered = step(&rt, "wait_for_answered", call.wait_for_answered()).await;
        assert!(!answered.expect("an outcome").successful, "{outcome}");
        // A handle is dialed once; the second attempt is refused with nothing sent.
        let before = sent(&mock, "calling.dial").await.len();
        assert!(matches!(call.dial().await, Err(ClientError::Misuse(_))));
        assert_eq!(sent(&mock, "calling.dial").await.len(), before);

        arm(&mock, "calling.dial", outcome).await;
        let result = step(&rt, "dial_result", client.calling().dial_result(phone())).await;
        let result = result.expect("the request itself succeeds");
        assert!(
            !result.successful && result.outcome.call_id.is_none(),
            "{result:?}"
        );
        assert_eq!(result.outcome.end_reason, Some(reason.clone()));

        arm(&mock, "calling.dial", outcome).await;
        match step(&rt, "dial", client.calling().dial(phone())).await {
            Err(ClientError::DialFailed(r)) => assert_eq!(r.end_reason, Some(reason)),
            other => panic!("{outcome}: {other:?}"),
        }
    }
    // The next dial goes through again.
    let result = step(&rt, "dial_result", client.calling().dial_result(phone())).await;
    let result = result.expect("answered");
    assert!(
        result.successful && result.outcome.call_id.is_some(),
        "{result:?}"
    );
    let call = client
        .calling()
        .call(result.outcome.call_id.expect("an id"));
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// Two consumers receive `office`: whichever is offered the call first passes it, the other
/// answers, plays a long ringtone, and the caller hangs up in the middle of it.
async fn inbound_pass_answer_far_end_hangup<R: Runtime + Clone, C: Connector + Clone>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let offers = Arc::new(AtomicUsize::new(0));
    let (report, mut reports) = mpsc::channel::<Result<String, String>>(4);
    let control = mock.controller();
    let consumer = |offers: Arc<AtomicUsize>, report: mpsc::Sender<Result<String, String>>| {
        let control = control.clone();
        RelayConsumer::new()
            .contexts(["office"])
            .on_incoming_call(move |call| {
                let (offers, control, mut report) =
                    (offers.clone(), control.clone(), report.clone());
                async move {
                    let line = if offers.fetch_add(1, Ordering::SeqCst) == 0 {
                        passed(&call).await
                    } else {
                        taken(&call, &control).await
                    };
                    let _ = report.send(line).await;
                }
            })
    };
    let (first, second) = (
        consumer(offers.clone(), report.clone()),
        consumer(offers, report),
    );
    let stops = [first.stop_handle(), second.stop_handle()];
    let script = async {
        let control = mock.controller();
        // Both sessions receive `office` once both are listed with the context.
        let give_up = rt.now() + SETTLE;
        loop {
            let sessions = control.run(|c| async move { c.sessions().await }).await;
            let n = sessions
                .expect("sessions")
                .iter()
                .filter(|s| s.contexts.iter().any(|c| c == "office"))
                .count();
            if n == 2 {
                break;
            }
            assert!(rt.now() < give_up, "both consumers registered office");
            rt.sleep_until(rt.now() + Duration::from_millis(20)).await;
        }
        let call = relay_mock::control::InboundCall::phone("office").between(FROM, TO);
        control
            .run(move |c| async move { c.inbound_call(&call).await })
            .await
            .expect("injected");
        let lines = [reports.next().await, reports.next().await];
        for stop in &stops {
            stop.stop();
        }
        lines
    };
    let url = mock.ws_url.clone();
    let (a, b, lines) = step(&rt, "two consumers", async {
        futures::join!(
            first.run(config(&[]), url.clone(), rt.clone(), conn.clone()),
            second.run(config(&[]), url.clone(), rt.clone(), conn.clone()),
            script
        )
    })
    .await;
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let mut lines: Vec<String> = lines
        .into_iter()
        .map(|l| l.expect("reported").expect("handler ok"))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "passed office inbound",
            "taken: answered, play finished, ended by hangup"
        ]
    );
}

/// The first consumer's handler: passes the call on.
async fn passed(call: &Call) -> Result<String, String> {
    let context = call.context().ok_or("no context")?;
    let direction = call.direction().ok_or("no direction")?;
    let from = call
        .snapshot()
        .and_then(|s| s.device.as_ref()?.from().map(str::to_owned));
    if from.as_deref() != Some(FROM) || call.state() != CallState::Created {
        return Err(format!("offered {from:?} in {:?}", call.state()));
    }
    let pass = call.pass().await.map_err(|e| e.to_string())?;
    if !pass.successful {
        return Err(format!("pass: {pass:?}"));
    }
    Ok(format!("passed {context} {}", direction.as_str()))
}

/// The second consumer's handler: answers, and the far end hangs up during a long play.
async fn taken(call: &Call, control: &client_support::Control) -> Result<String, String> {
    let answer = call.answer().await.map_err(|e| e.to_string())?;
    if !answer.successful || !call.answered() {
        return Err(format!("answer: {answer:?}"));
    }
    let mut events = call.events().await.map_err(|e| e.to_string())?;
    let play = call
        .play_ringtone_async(long_ringtone())
        .await
        .map_err(|e| e.to_string())?;
    // The caller hangs up once the play runs on the server (the control API is another
    // connection than the call's commands, so wait for the play's first update).
    let mut saw_ended = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(CallEvent::PlayUpdate {
                control_id, state, ..
            }) if &control_id == play.control_id() && state == PlayState::Playing => break,
            Ok(CallEvent::StateChanged {
                state: CallState::Ended,
                ..
            }) => return Err("the call ended before the play ran".into()),
            _ => {}
        }
    }
    let id = call.id().ok_or("no id")?.as_str().to_owned();
    control
        .run(move |c| async move { c.end_call(&id, "hangup").await })
        .await
        .map_err(|e| e.to_string())?;
    let played = play.wait().await.map_err(|e| e.to_string())?;
    // The call's stream sees the end, then ends.
    while let Some(event) = events.next().await {
        saw_ended |= matches!(
            event,
            Ok(CallEvent::StateChanged {
                state: CallState::Ended,
                ..
            })
        );
    }
    let reason = call
        .end_reason()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    let ended = saw_ended && call.ended() && !call.active();
    let play = match played.outcome.state {
        Some(PlayState::Finished) => "play finished",
        _ => "play did not finish",
    };
    Ok(format!(
        "taken: answered, {play}, {} by {reason}",
        if ended { "ended" } else { "not ended" }
    ))
}

async fn play_forms_and_state<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let tts = Tts::new("Hello")
        .language("en-GB")
        .gender(TtsGender::Male)
        .volume(db(4.0));
    assert!(
        step(&rt, "play_tts", call.play_tts(tts))
            .await
            .expect("played")
            .successful
    );
    let wire = last_sent(&mock, "calling.play").await;
    assert_eq!(wire["volume"], json!(4));
    assert_eq!(
        wire["play"][0],
        json!({"type": "tts", "params": {"text": "Hello", "language": "en-GB", "gender": "male"}})
    );
    let audio = Audio::new("https://example.com/a.mp3").volume(db(-2.0));
    assert!(
        step(&rt, "play_audio", call.play_audio(audio))
            .await
            .expect("played")
            .successful
    );
    let wire = last_sent(&mock, "calling.play").await;
    assert_eq!(
        (wire["volume"].clone(), wire["play"][0]["type"].clone()),
        (json!(-2), json!("audio"))
    );
    let ring = Ringtone::new("it")
        .duration(Duration::from_millis(200))
        .volume(db(1.0));
    assert!(
        step(&rt, "play_ringtone", call.play_ringtone(ring))
            .await
            .expect("played")
            .successful
    );
    let wire = last_sent(&mock, "calling.play").await;
    assert_eq!(
        wire["play"][0]["params"],
        json!({"name": "it", "duration": 0.2})
    );
    let silence = step(
        &rt,
        "play_silence",
        call.play_silence(Duration::from_millis(100)),
    )
    .await;
    assert!(silence.expect("played").successful);
    let plain = PlayParams::new([
        Media::tts("one"),
        Media::silence(Duration::from_millis(100)),
    ]);
    assert!(
        step(&rt, "play", call.play(plain))
            .await
            .expect("played")
            .successful
    );
    for action in [
        step(&rt, "play_tts_async", call.play_tts_async("hi")).await,
        step(
            &rt,
            "play_audio_async",
            call.play_audio_async("https://example.com/b.wav"),
        )
        .await,
        step(
            &rt,
            "play_silence_async",
            call.play_silence_async(Duration::from_millis(50)),
        )
        .await,
    ] {
        let action = action.expect("started");
        let done = step(&rt, "wait", action.wait()).await.expect("outcome");
        assert_eq!(
            (done.kind, done.outcome.state),
            (ComponentKind::Play, Some(PlayState::Finished))
        );
    }

    play_state_mid_run(&rt, &mock, &call).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// One playback observed mid-run through its state, controlled, stopped, never awaited.
async fn play_state_mid_run<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    // One playback observed mid-run through its state, controlled, stopped, never awaited.
    let play = step(
        rt,
        "play_ringtone_async",
        call.play_ringtone_async(long_ringtone()),
    )
    .await;
    let play = play.expect("started");
    eventually(rt, "playing", || play.state() == Some(PlayState::Playing)).await;
    assert!(!play.is_done() && play.result().is_none());
    assert!(
        step(rt, "pause", play.pause())
            .await
            .expect("pause")
            .successful
    );
    eventually(rt, "paused", || play.state() == Some(PlayState::Paused)).await;
    assert!(
        step(rt, "resume", play.resume())
            .await
            .expect("resume")
            .successful
    );
    eventually(rt, "playing again", || {
        play.state() == Some(PlayState::Playing)
    })
    .await;
    assert!(
        step(rt, "volume", play.volume(db(-6.0)))
            .await
            .expect("volume")
            .successful
    );
    assert_eq!(
        last_sent(mock, "calling.play.volume").await["volume"],
        json!(-6)
    );
    assert!(
        step(rt, "stop", play.stop())
            .await
            .expect("stop")
            .successful
    );
    eventually(rt, "done without wait()", || play.is_done()).await;
    assert_eq!(play.state(), Some(PlayState::Finished));
    let polled = play.result().expect("a result once done");
    assert!(polled.successful);
    assert_eq!(
        step(rt, "wait", play.wait()).await.expect("outcome"),
        polled
    );
}

async fn prompt_forms_and_outcomes<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let pin = PromptParams::digits(3)
        .terminators("#")
        .digit_timeout(Duration::from_secs(2))
        .initial_timeout(Duration::from_secs(5));
    let got = step(
        &rt,
        "prompt_tts",
        call.prompt_tts(pin.clone(), Tts::new("PIN?").volume(db(2.0))),
    )
    .await;
    let got = got.expect("collected");
    assert!(got.successful, "{got:?}");
    assert_eq!(
        (got.outcome.result(), got.outcome.terminator()),
        (Some("123"), Some("#"))
    );
    let wire = last_sent(&mock, "calling.play_and_collect").await;
    assert_eq!(
        wire["collect"]["digits"],
        json!({"max": 3, "terminators": "#", "digit_timeout": 2})
    );
    assert_eq!(wire["collect"]["initial_timeout"], json!(5));
    assert_eq!(
        (wire["volume"].clone(), wire["play"][0]["type"].clone()),
        (json!(2), json!("tts"))
    );
    let audio = step(
        &rt,
        "prompt_audio",
        call.prompt_audio(PromptParams::digits(1), "https://example.com/menu.mp3"),
    )
    .await;
    assert_eq!(audio.expect("collected").outcome.result(), Some("1"));
    assert_eq!(
        last_sent(&mock, "calling.play_and_collect").await["play"][0]["type"],
        "audio"
    );
    let ring = Ringtone::new("us").duration(Duration::from_millis(100));
    let rung = step(
        &rt,
        "prompt_ringtone",
        call.prompt_ringtone(PromptParams::digits(2), ring),
    )
    .await;
    assert_eq!(rung.expect("collected").outcome.result(), Some("12"));
    let plain = pin.clone().media([Media::tts("Enter it again")]);
    assert!(
        step(&rt, "prompt", call.prompt(plain))
            .await
            .expect("collected")
            .successful
    );

    prompt_outcomes(&rt, &mock, &call).await;
    prompt_async_forms(&rt, &mock, &call).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// The async forms of prompt, and the controls of a running prompt.
async fn prompt_async_forms<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    // The async forms: a prompt that plays a long ringtone, turned down, then stopped.
    let prompt = step(
        rt,
        "prompt_ringtone_async",
        call.prompt_ringtone_async(PromptParams::digits(1), long_ringtone()),
    )
    .await;
    let prompt = prompt.expect("started");
    assert!(
        step(rt, "volume", prompt.volume(db(-3.0)))
            .await
            .expect("volume")
            .successful
    );
    assert_eq!(
        last_sent(mock, "calling.play_and_collect.volume").await["volume"],
        json!(-3)
    );
    assert!(
        step(rt, "stop", prompt.stop())
            .await
            .expect("stop")
            .successful
    );
    let stopped = step(rt, "wait", prompt.wait()).await.expect("outcome");
    assert!(!stopped.successful && stopped.outcome.result_type == Some(CollectResultType::Error));
    for started in [
        step(
            rt,
            "prompt_tts_async",
            call.prompt_tts_async(PromptParams::digits(2), "Two digits"),
        )
        .await,
        step(
            rt,
            "prompt_audio_async",
            call.prompt_audio_async(PromptParams::digits(2), "https://example.com/x.wav"),
        )
        .await,
        step(
            rt,
            "prompt_async",
            call.prompt_async(
                PromptParams::digits(2).media([Media::silence(Duration::from_millis(100))]),
            ),
        )
        .await,
    ] {
        let got = step(rt, "wait", started.expect("started").wait())
            .await
            .expect("outcome");
        assert_eq!(got.outcome.result(), Some("12"));
    }
}

/// Speech, and the failed outcomes of a prompt.
async fn prompt_outcomes<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    let speech = PromptParams::speech()
        .speech_language("en-US")
        .speech_hints(["yes", "no"]);
    let said = step(rt, "speech", call.prompt_tts(speech, "Say something"))
        .await
        .expect("collected");
    assert_eq!(said.outcome.result_type, Some(CollectResultType::Speech));
    assert_eq!(said.outcome.result(), Some("hello world"));
    assert!(said.outcome.confidence().is_some());
    assert_eq!(
        last_sent(mock, "calling.play_and_collect").await["collect"]["speech"]["hints"],
        json!(["yes", "no"])
    );
    for (outcome, kind) in [
        ("no_input", CollectResultType::NoInput),
        ("no_match", CollectResultType::NoMatch),
        ("error", CollectResultType::Error),
    ] {
        arm(mock, "calling.play_and_collect", outcome).await;
        let got = step(
            rt,
            outcome,
            call.prompt_tts(PromptParams::digits(3), "PIN?"),
        )
        .await
        .expect("an outcome");
        assert!(
            !got.successful && got.outcome.result().is_none(),
            "{outcome}: {got:?}"
        );
        assert_eq!(got.outcome.result_type, Some(kind), "{outcome}");
    }
}

async fn record_forms<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let short = RecordParams {
        end_silence_timeout: Some(Duration::from_millis(200)),
        beep: Some(true),
        ..Default::default()
    };
    let recorded = step(&rt, "record", call.record(short))
        .await
        .expect("recorded");
    assert!(recorded.successful, "{recorded:?}");
    assert_eq!(recorded.outcome.state, Some(RecordState::Finished));
    assert!(
        recorded.outcome.url.is_some()
            && recorded.outcome.duration.is_some()
            && recorded.outcome.size.is_some()
    );
    assert_eq!(
        last_sent(&mock, "calling.record").await["record"]["audio"],
        json!({"beep": true, "end_silence_timeout": 0.2})
    );

    // The url is known from the execute response, while recording; stop, never awaiting wait().
    let long = RecordParams {
        end_silence_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let record = step(&rt, "record_async", call.record_async(long))
        .await
        .expect("started");
    eventually(&rt, "url while recording", || record.url().is_some()).await;
    eventually(&rt, "recording", || {
        record.state() == Some(RecordState::Recording)
    })
    .await;
    assert!(!record.is_done());
    let url = record.url();
    assert!(
        step(&rt, "stop", record.stop())
            .await
            .expect("stop")
            .successful
    );
    eventually(&rt, "done without wait()", || record.is_done()).await;
    let polled = record.result().expect("a result once done");
    assert_eq!(
        (polled.outcome.url.clone(), record.state()),
        (url, Some(RecordState::Finished))
    );

    arm(&mock, "calling.record", "no_input").await;
    let silent = step(&rt, "record no_input", call.record(RecordParams::default()))
        .await
        .expect("an outcome");
    assert!(!silent.successful);
    assert_eq!(silent.outcome.state, Some(RecordState::NoInput));
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

fn amd_settings(wait_for_beep: bool) -> DetectParams {
    DetectParams::new(DetectKind::Machine {
        initial_timeout: Some(Duration::from_millis(4500)),
        end_silence_timeout: Some(Duration::from_secs(1)),
        machine_voice_threshold: Some(Duration::from_millis(1250)),
        machine_words_threshold: Some(6),
        wait_for_beep,
    })
    .timeout(Duration::from_secs(7))
}

#[allow(deprecated)]
async fn answering_machine_detection<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let machine = step(
        &rt,
        "machine",
        call.detect_answering_machine(amd_settings(false)),
    )
    .await
    .expect("detected");
    assert!(machine.successful, "{machine:?}");
    assert_eq!(
        (
            machine.outcome.result.as_deref(),
            machine.outcome.last_event.clone()
        ),
        (Some("MACHINE"), Some(DetectEvent::Machine))
    );
    let wire = last_sent(&mock, "calling.detect").await;
    assert_eq!(wire["timeout"], json!(7));
    assert_eq!(
        wire["detect"],
        json!({"type": "machine", "params": {"initial_timeout": 4.5, "end_silence_timeout": 1,
            "machine_voice_threshold": 1.25, "machine_words_threshold": 6}})
    );
    // The blocking form stops the detector once it has its answer.
    eventually_sent(&rt, &mock, "calling.detect.stop", 1).await;

    amd_outcomes(&rt, &mock, &call).await;
    amd_async_forms(&rt, &mock, &call).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// The async forms of answering-machine detection.
async fn amd_async_forms<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    // The async form forwards wait_for_beep and reports every event until stopped.
    let before = sent(mock, "calling.detect").await.len();
    let detector = step(
        rt,
        "async",
        call.detect_answering_machine_async(amd_settings(true)),
    )
    .await
    .expect("started");
    // The action exists once the core accepted the command, maybe before the frame left.
    eventually_sent(rt, mock, "calling.detect", before + 1).await;
    assert_eq!(
        last_sent(mock, "calling.detect").await["detect"]["params"]["wait_for_beep"],
        json!(true)
    );
    eventually(rt, "READY", || detector.state() == Some(DetectEvent::Ready)).await;
    assert!(!detector.is_done());
    assert!(
        step(rt, "stop", detector.stop())
            .await
            .expect("stop")
            .successful
    );
    let all = step(rt, "wait", detector.wait()).await.expect("outcome");
    assert!(all.successful, "{all:?}");
    assert_eq!(
        all.outcome.result.as_deref(),
        Some("MACHINE,NOT_READY,READY")
    );
    let amd = step(rt, "amd_async", call.amd_async(DetectMode::Async))
        .await
        .expect("started");
    eventually(rt, "first event", || amd.state().is_some()).await;
    step(rt, "stop", amd.stop()).await.expect("stop");
    assert!(step(rt, "wait", amd.wait())
        .await
        .expect("outcome")
        .outcome
        .result
        .is_some_and(|r| r.starts_with("MACHINE")));
}

/// The beep, each detector answer, and the deprecated forms.
#[allow(deprecated)]
async fn amd_outcomes<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    // wait_for_beep: the blocking form waits for READY after MACHINE itself.
    let beep = step(
        rt,
        "wait_for_beep",
        call.detect_answering_machine(amd_settings(true)),
    )
    .await
    .expect("detected");
    assert_eq!(
        (
            beep.outcome.result.as_deref(),
            beep.outcome.last_event.clone()
        ),
        (Some("MACHINE"), Some(DetectEvent::Ready))
    );
    assert_eq!(
        last_sent(mock, "calling.detect").await["detect"]["params"].get("wait_for_beep"),
        None
    );
    for (armed, event) in [
        ("HUMAN", DetectEvent::Human),
        ("UNKNOWN", DetectEvent::Unknown),
    ] {
        arm(mock, "calling.detect", armed).await;
        let got = step(
            rt,
            armed,
            call.detect_answering_machine(DetectParams::machine()),
        )
        .await
        .expect("detected");
        assert!(got.successful, "{armed}: {got:?}");
        assert_eq!(
            (
                got.outcome.result.as_deref(),
                got.outcome.last_event.clone()
            ),
            (Some(armed), Some(event))
        );
    }
    arm(mock, "calling.detect", "HUMAN").await;
    let human = step(
        rt,
        "detect_human",
        call.detect_human(DetectParams::machine()),
    )
    .await
    .expect("detected");
    assert!(
        human.successful && human.outcome.result.as_deref() == Some("HUMAN"),
        "{human:?}"
    );
    arm(mock, "calling.detect", "HUMAN").await;
    let not_machine = step(
        rt,
        "detect_machine",
        call.detect_machine(DetectParams::machine()),
    )
    .await
    .expect("detected");
    assert!(
        !not_machine.successful,
        "a human is not a machine: {not_machine:?}"
    );
    let amd = step(rt, "amd", call.amd(DetectMode::Blocking))
        .await
        .expect("detected");
    assert_eq!(amd.outcome.result.as_deref(), Some("MACHINE"));
}

async fn fax_and_digit_detection<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let any = step(
        &rt,
        "detect_fax",
        call.detect_fax(None, None, DetectMode::Blocking),
    )
    .await
    .expect("detected");
    assert_eq!(
        (any.successful, any.outcome.result.as_deref()),
        (true, Some("CED"))
    );
    let wire = last_sent(&mock, "calling.detect").await;
    assert_eq!(
        (wire["detect"].clone(), wire.get("timeout")),
        (json!({"type": "fax", "params": {}}), None)
    );
    let cng = call.detect_fax(
        Some(FaxTone::Cng),
        Some(Duration::from_secs(5)),
        DetectMode::Blocking,
    );
    let cng = step(&rt, "detect_fax CNG", cng).await.expect("detected");
    assert_eq!(
        (
            cng.outcome.result.as_deref(),
            cng.outcome.last_event.clone()
        ),
        (Some("CNG"), Some(DetectEvent::Cng))
    );
    let wire = last_sent(&mock, "calling.detect").await;
    assert_eq!(
        (
            wire["detect"]["params"]["tone"].clone(),
            wire["timeout"].clone()
        ),
        (json!("CNG"), json!(5))
    );

    let five = call.detect_digit(
        Some("5#"),
        Some(Duration::from_secs(3)),
        DetectMode::Blocking,
    );
    let five = step(&rt, "detect_digit", five).await.expect("detected");
    assert_eq!(
        (five.successful, five.outcome.result.as_deref()),
        (true, Some("5"))
    );
    let wire = last_sent(&mock, "calling.detect").await;
    assert_eq!(
        wire["detect"],
        json!({"type": "digit", "params": {"digits": "5#"}})
    );
    assert_eq!(wire["timeout"], json!(3));
    let any_digit = step(
        &rt,
        "detect_digit any",
        call.detect_digit(None, None, DetectMode::Blocking),
    )
    .await;
    assert_eq!(
        any_digit.expect("detected").outcome.result.as_deref(),
        Some("1")
    );
    let before = sent(&mock, "calling.detect").await.len();
    let bad = call
        .detect_digit(Some("x"), None, DetectMode::Blocking)
        .await;
    assert!(matches!(bad, Err(ClientError::Misuse(_))), "{bad:?}");
    assert_eq!(
        sent(&mock, "calling.detect").await.len(),
        before,
        "nothing sent"
    );
    let generic = DetectParams::new(DetectKind::Digit {
        digits: Some("9".into()),
    });
    let nine = step(&rt, "detect", call.detect(generic, DetectMode::Blocking))
        .await
        .expect("detected");
    assert_eq!(nine.outcome.result.as_deref(), Some("9"));

    async_detectors(&rt, &call).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// Async detectors: one runs until its timeout, the other until stopped.
async fn async_detectors<R: Runtime>(rt: &R, call: &Call) {
    // Async detectors: one runs until its timeout, the other until stopped.
    let short = call.detect_digit_async(
        Some("7"),
        Some(Duration::from_millis(300)),
        DetectMode::Async,
    );
    let short = step(rt, "detect_digit_async", short)
        .await
        .expect("started");
    let timed_out = step(rt, "ends at its timeout", short.wait())
        .await
        .expect("outcome");
    assert_eq!(
        (timed_out.successful, timed_out.outcome.result.as_deref()),
        (true, Some("7"))
    );
    assert_eq!(short.state(), Some(DetectEvent::Finished));
    let fax = step(
        rt,
        "detect_fax_async",
        call.detect_fax_async(Some(FaxTone::Ced), None, DetectMode::Async),
    )
    .await;
    let fax = fax.expect("started");
    eventually(rt, "CED", || fax.state() == Some(DetectEvent::Ced)).await;
    assert!(step(rt, "stop", fax.stop()).await.expect("stop").successful);
    let heard = step(rt, "wait", fax.wait()).await.expect("outcome");
    assert_eq!(heard.outcome.result.as_deref(), Some("CED"));
    let generic = call.detect_async(
        DetectParams::new(DetectKind::Fax { tone: None }),
        DetectMode::Blocking,
    );
    let first = step(rt, "detect_async blocking", generic)
        .await
        .expect("started");
    assert_eq!(
        step(rt, "wait", first.wait())
            .await
            .expect("outcome")
            .outcome
            .result
            .as_deref(),
        Some("CED")
    );
}

async fn fax_send_and_receive<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let doc = FaxSendParams {
        document: "https://example.com/fax.pdf".into(),
        identity: Some("+15551230001".into()),
        header_info: Some("Relay".into()),
    };
    let sent_fax = step(&rt, "send_fax", call.send_fax(doc.clone()))
        .await
        .expect("sent");
    assert!(sent_fax.successful, "{sent_fax:?}");
    assert_eq!(
        (sent_fax.outcome.pages, sent_fax.outcome.direction.clone()),
        (Some(1), Some(FaxDirection::Send))
    );
    let wire = last_sent(&mock, "calling.send_fax").await;
    assert_eq!(
        (wire["document"].clone(), wire["header_info"].clone()),
        (json!(doc.document), json!("Relay"))
    );
    let got = step(&rt, "receive_fax", call.receive_fax())
        .await
        .expect("received");
    assert!(got.successful && got.outcome.document.is_some(), "{got:?}");
    let empty = call.send_fax(FaxSendParams::default()).await;
    assert!(matches!(empty, Err(ClientError::Misuse(_))), "{empty:?}");

    let sending = step(&rt, "send_fax_async", call.send_fax_async(doc))
        .await
        .expect("started");
    let done = step(&rt, "wait", sending.wait()).await.expect("outcome");
    assert!(done.successful && sending.is_done());
    let receiving = step(&rt, "receive_fax_async", call.receive_fax_async())
        .await
        .expect("started");
    assert!(
        step(&rt, "stop", receiving.stop())
            .await
            .expect("stop")
            .successful
    );
    let stopped = step(&rt, "wait", receiving.wait()).await.expect("outcome");
    assert!(
        !stopped.successful,
        "a stopped fax is not a success: {stopped:?}"
    );
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

async fn tap_source_device_and_far_end<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let tap = step(&rt, "tap_async", call.tap_async(rtp(4000)))
        .await
        .expect("started");
    // The source device comes with the execute response, while the tap runs.
    eventually(&rt, "source device", || tap.source_device().is_some()).await;
    let source = tap.source_device().expect("known");
    assert!(!tap.is_done(), "the tap still runs");
    assert!(!source.params().is_empty(), "{source:?}");
    eventually(&rt, "tapping", || tap.state() == Some(TapState::Tapping)).await;
    let wire = last_sent(&mock, "calling.tap").await;
    assert_eq!(
        wire["tap"],
        json!({"type": "audio", "params": {"direction": "listen"}})
    );
    assert_eq!(
        wire["device"],
        json!({"type": "rtp", "params": {"addr": "192.0.2.10", "port": 4000}})
    );
    assert!(
        step(&rt, "stop", tap.stop())
            .await
            .expect("stop")
            .successful
    );
    let done = step(&rt, "wait", tap.wait()).await.expect("outcome");
    assert_eq!(
        (done.kind, done.outcome.state.clone()),
        (ComponentKind::Tap, Some(TapState::Finished))
    );
    assert_eq!(done.outcome.source_device.as_ref(), Some(&source));
    let dest = done.outcome.destination_device.expect("destination");
    assert_eq!(
        (dest.device_type.clone(), dest.other_param("port")),
        (DeviceType::Rtp, Some(&json!(4000)))
    );
    assert_eq!(tap.source_device(), Some(source));

    // A blocking tap runs until the far end hangs up.
    let id = call.id().expect("answered").as_str().to_owned();
    let control = mock.controller();
    let taps = sent(&mock, "calling.tap").await.len();
    // The caller hangs up once the mock has the tap request (the control API is another
    // connection than the call's commands).
    let hang_up = async {
        eventually_sent(&rt, &mock, "calling.tap", taps + 1).await;
        control
            .run(move |c| async move { c.end_call(&id, "hangup").await })
            .await
    };
    let (tapped, ended) = step(&rt, "tap until the end", async {
        futures::join!(call.tap(rtp(4002)), hang_up)
    })
    .await;
    ended.expect("the far end hung up");
    assert_eq!(
        tapped.expect("an outcome").outcome.state,
        Some(TapState::Finished)
    );
    eventually(&rt, "ended", || call.ended()).await;
    assert_eq!(call.end_reason(), Some(EndReason::Hangup));
    let late = call.play_tts("anyone?").await;
    assert!(
        late.is_err() || late.is_ok_and(|r| !r.successful),
        "no play on an ended call"
    );
    client.disconnect().await;
}

async fn connect_refer_and_digits<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let series = ConnectParams::tree(vec![
        vec![Device::phone(FROM, "+15550000001")],
        vec![Device::phone(FROM, "+15550000002")],
    ]);
    let bridged = step(&rt, "connect", call.connect(series))
        .await
        .expect("an outcome");
    assert!(bridged.successful, "{bridged:?}");
    assert_eq!(bridged.outcome.state, Some(ConnectState::Connected));
    let peer = call.peer().expect("the peer as a Call");
    assert_eq!(peer.id(), bridged.outcome.peer.as_ref().map(|p| &p.call_id));
    assert_eq!(call.connect_state(), Some(ConnectState::Connected));
    assert!(
        step(&rt, "disconnect", call.disconnect())
            .await
            .expect("disconnect")
            .successful
    );
    eventually(&rt, "disconnected", || {
        call.connect_state() == Some(ConnectState::Disconnected)
    })
    .await;

    let parallel = ConnectParams::tree(vec![vec![
        Device::phone(FROM, "+15550000003"),
        Device::phone(FROM, "+15550000004"),
    ]])
    .with_ringback(Media::ringtone("us", None));
    let before = sent(&mock, "calling.connect").await.len();
    let connecting = step(&rt, "connect_async", call.connect_async(parallel))
        .await
        .expect("started");
    eventually_sent(&rt, &mock, "calling.connect", before + 1).await;
    let wire = last_sent(&mock, "calling.connect").await;
    assert_eq!(
        (
            wire["devices"][0].as_array().map(Vec::len),
            wire["ringback"]["type"].clone()
        ),
        (Some(2), json!("ringtone"))
    );
    let done = step(&rt, "wait", connecting.wait()).await.expect("outcome");
    assert!(
        done.successful && connecting.state() == Some(ConnectState::Connected),
        "{done:?}"
    );
    assert!(
        step(&rt, "disconnect", call.disconnect())
            .await
            .expect("disconnect")
            .successful
    );

    arm(&mock, "calling.connect", "failed").await;
    let failed = step(
        &rt,
        "failed connect",
        call.connect(ConnectParams::single(Device::phone_to("+15550000005"))),
    )
    .await;
    let failed = failed.expect("an outcome");
    assert!(
        !failed.successful && failed.outcome.peer.is_none(),
        "{failed:?}"
    );
    assert_eq!(failed.outcome.state, Some(ConnectState::Failed));

    refer_and_digits(&rt, &mock, &call).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

/// Refer (success, busy, a bad address) and DTMF (blocking, async, bad digits).
async fn refer_and_digits<R: Runtime>(rt: &R, mock: &Mock, call: &Call) {
    let to = ReferParams {
        to: "sip:alice@example.com".into(),
        headers: Vec::new(),
    };
    let referred = step(rt, "refer", call.refer(to.clone()))
        .await
        .expect("an outcome");
    assert!(referred.successful, "{referred:?}");
    assert_eq!(
        (
            referred.outcome.state.clone(),
            referred.outcome.refer_response_code.as_deref()
        ),
        (Some(ReferState::Success), Some("202"))
    );
    arm(mock, "calling.refer", "busy").await;
    let refer = step(rt, "refer_async", call.refer_async(to))
        .await
        .expect("started");
    let busy = step(rt, "wait", refer.wait()).await.expect("outcome");
    assert!(
        !busy.successful && refer.state() == Some(ReferState::Busy),
        "{busy:?}"
    );
    let bad = call
        .refer(ReferParams {
            to: "alice".into(),
            headers: Vec::new(),
        })
        .await;
    assert!(matches!(bad, Err(ClientError::Misuse(_))), "{bad:?}");

    assert!(
        step(rt, "send_digits", call.send_digits("12#"))
            .await
            .expect("sent")
            .successful
    );
    assert_eq!(
        last_sent(mock, "calling.send_digits").await["digits"],
        "12#"
    );
    let digits = step(rt, "send_digits_async", call.send_digits_async("1w2"))
        .await
        .expect("started");
    let sent_digits = step(rt, "wait", digits.wait()).await.expect("outcome");
    assert!(sent_digits.successful && digits.state() == Some(SendDigitsState::Finished));
    assert!(matches!(
        call.send_digits("xyz").await,
        Err(ClientError::Misuse(_))
    ));
}

async fn stop_after_finish_for_every_kind<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let play = step(
        &rt,
        "play",
        call.play_silence_async(Duration::from_millis(50)),
    )
    .await
    .expect("started");
    step(&rt, "wait", play.wait()).await.expect("outcome");
    let prompt = step(
        &rt,
        "prompt",
        call.prompt_tts_async(PromptParams::digits(1), "x"),
    )
    .await
    .expect("started");
    step(&rt, "wait", prompt.wait()).await.expect("outcome");
    let short = RecordParams {
        end_silence_timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let record = step(&rt, "record", call.record_async(short))
        .await
        .expect("started");
    step(&rt, "wait", record.wait()).await.expect("outcome");
    let detect = call.detect_digit_async(None, Some(Duration::from_millis(200)), DetectMode::Async);
    let detect = step(&rt, "detect", detect).await.expect("started");
    step(&rt, "wait", detect.wait()).await.expect("outcome");
    let fax = step(&rt, "fax", call.receive_fax_async())
        .await
        .expect("started");
    step(&rt, "wait", fax.wait()).await.expect("outcome");
    let stops_before = [
        "calling.play.stop",
        "calling.play_and_collect.stop",
        "calling.record.stop",
        "calling.detect.stop",
        "calling.receive_fax.stop",
    ];
    let mut counts = Vec::new();
    for m in stops_before {
        counts.push(sent(&mock, m).await.len());
    }
    let answers = [
        step(&rt, "play stop", play.stop()).await,
        step(&rt, "prompt stop", prompt.stop()).await,
        step(&rt, "record stop", record.stop()).await,
        step(&rt, "detect stop", detect.stop()).await,
        step(&rt, "fax stop", fax.stop()).await,
    ];
    for answer in answers {
        assert!(answer.expect("not an error").successful);
    }
    for (m, before) in stops_before.iter().zip(counts) {
        assert_eq!(
            sent(&mock, m).await.len(),
            before,
            "no {m} for a finished component"
        );
    }
    assert!(play.result().is_some_and(|r| r.successful) && record.is_done() && fax.is_done());
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    client.disconnect().await;
}

async fn component_errors<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let request_timeout = config(&[]).with_request_timeout(Duration::from_secs(1));
    let (client, _events) = RelayClient::connect_with(
        request_timeout,
        mock.ws_url.clone(),
        rt.clone(),
        conn,
        ClientOptions::default(),
    );
    let call = step(&rt, "dial", client.calling().dial(phone()))
        .await
        .expect("answered");
    arm(&mock, "calling.play", "error").await;
    let failed = step(&rt, "play error", call.play_tts("x"))
        .await
        .expect("an outcome, not an error");
    assert!(!failed.successful);
    assert_eq!(failed.outcome.state, Some(PlayState::Error));
    arm(&mock, "calling.play", "error").await;
    let play = step(&rt, "play_async error", call.play_tts_async("x"))
        .await
        .expect("started");
    eventually(&rt, "error state", || {
        play.state() == Some(PlayState::Error)
    })
    .await;
    assert!(play.is_done() && play.result().is_some_and(|r| !r.successful));

    let (m, code) = (relay_proto::wire::Method::CallingRecord, "500");
    mock.control(move |c| async move { c.next_error_code(m, code, "recorder down").await })
        .await
        .expect("armed");
    let refused = step(&rt, "record refused", call.record(RecordParams::default())).await;
    match refused {
        Err(ClientError::Request(RequestError::Relay(r))) => {
            assert_eq!(r.code.as_deref(), Some("500"))
        }
        Ok(r) => assert!(!r.successful && r.code.as_deref() == Some("500"), "{r:?}"),
        Err(other) => panic!("{other:?}"),
    }
    arm(&mock, "calling.detect", "no_response").await;
    let unanswered = step(
        &rt,
        "detect with no answer",
        call.detect_answering_machine(DetectParams::machine()),
    )
    .await;
    match unanswered {
        Ok(r) => assert_eq!(
            (r.successful, r.error),
            (false, Some(RequestError::Timeout))
        ),
        Err(e) => assert_eq!(e, ClientError::Request(RequestError::Timeout)),
    }
    // The call carries on.
    assert!(
        step(&rt, "play", call.play_tts("still here"))
            .await
            .expect("played")
            .successful
    );
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    let after = call.play_tts("gone").await;
    assert!(after.is_err() || after.is_ok_and(|r| !r.successful));
    client.disconnect().await;
}

/// Node's `waitFor` answers `true` for a state the call has already passed (`waitForEnded` on
/// an ended call included). The handle knows the call ended (`ended()` is true), but
/// `wait_for` asks the core, whose registry dropped the call, and reports no success.
async fn wait_for_after_the_end<R: Runtime + Clone, C: Connector>(rt: R, conn: C) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    assert!(
        step(&rt, "hangup", call.hangup())
            .await
            .expect("hangup")
            .successful
    );
    assert!(call.ended());
    let ended = step(&rt, "wait_for_ended", call.wait_for_ended()).await;
    assert!(ended.expect("an outcome").successful, "the call has ended");
    let answered = step(&rt, "wait_for_answered", call.wait_for_answered()).await;
    assert!(
        answered.expect("an outcome").successful,
        "the call was answered before"
    );
    client.disconnect().await;
}

/// Node's `recordAsync()` / `tapAsync()` resolve with the server's answer to `calling.record` /
/// `calling.tap`, so `action.url` / `action.sourceDevice` are set at once; the `*_async` forms
/// here wait for that answer too, so `call.record_async(..).await?.url()` is known.
async fn url_and_source_device_right_after_the_async_form<R: Runtime + Clone, C: Connector>(
    rt: R,
    conn: C,
) {
    let mock = Mock::start();
    let (client, call) = answered_call(&mock, &rt, conn).await;
    let record = step(
        &rt,
        "record_async",
        call.record_async(RecordParams::default()),
    )
    .await;
    assert!(
        record.expect("started").url().is_some(),
        "url with the action"
    );
    let tap = step(&rt, "tap_async", call.tap_async(rtp(4000))).await;
    assert!(
        tap.expect("started").source_device().is_some(),
        "source device with the action"
    );
    client.disconnect().await;
}

mod fixed_bugs {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn url_and_source_device_right_after_the_async_form_tokio() {
        url_and_source_device_right_after_the_async_form(
            relay_tokio::TokioRuntime,
            relay_tokio::TokioConnector,
        )
        .await
    }

    #[async_std::test]
    async fn url_and_source_device_right_after_the_async_form_async_std() {
        url_and_source_device_right_after_the_async_form(
            relay_async_std::AsyncStdRuntime,
            relay_async_std::AsyncStdConnector,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_for_after_the_end_tokio() {
        wait_for_after_the_end(relay_tokio::TokioRuntime, relay_tokio::TokioConnector).await
    }

    #[async_std::test]
    async fn wait_for_after_the_end_async_std() {
        wait_for_after_the_end(
            relay_async_std::AsyncStdRuntime,
            relay_async_std::AsyncStdConnector,
        )
        .await
    }
}

on_both_runtimes!(
    outbound_call_lifecycle,
    dials_that_fail,
    inbound_pass_answer_far_end_hangup,
    play_forms_and_state,
    prompt_forms_and_outcomes,
    record_forms,
    answering_machine_detection,
    fax_and_digit_detection,
    fax_send_and_receive,
    tap_source_device_and_far_end,
    connect_refer_and_digits,
    stop_after_finish_for_every_kind,
    component_errors,
);
