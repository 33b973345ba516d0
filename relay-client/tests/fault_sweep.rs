//! The fault sweep over the public async API (`RelayConsumer`, `RelayClient`, `Call`), on
//! virtual time against relay-mock's sans-IO server in memory.
//!
//! A scripted flow (inbound call; answer, play, prompt, record, hangup; then a second call) is
//! run once uncut to count its frames, then again with the socket cut after every
//! server-to-client frame `k`, after every client-to-server frame `k`, and with the final
//! event of each step swallowed before a cut. For every run: every awaited call resolves
//! within its bound (success, a typed error, or `Lost`), no task hangs (the whole run has a
//! virtual-time bound), the session id is kept (restored), and the second call works.
// The sweeps print how many frames they cut after (see `--nocapture`).
#![allow(clippy::print_stderr)]

mod sim;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::{Future, StreamExt};
use relay_client::{Call, ClientError, RelayClient, RelayConsumer, Runtime};
use relay_proto::calling::{CollectDigits, CollectParams, Media, PromptParams, RecordParams};
use relay_proto::{RequestError, SessionConfig, StopReason};
use serde_json::{json, Value};
use sim::{run, setup, FramePredicate, Server, VirtualRuntime};

const REQUEST: Duration = Duration::from_secs(10);
const OFFLINE: Duration = Duration::from_secs(15);
const LOST: Duration = Duration::from_secs(20);
/// The longest any one await of the flow may take: queued while offline, then sent, then (a
/// wait whose final event may be lost) at most twice the lost-event bound, plus the media.
const STEP_BOUND: Duration = Duration::from_secs(15 + 10 + 2 * 20 + 20);
/// The whole scenario (two calls, eight awaits, the injections) in virtual time.
const RUN_BOUND: Duration = Duration::from_secs(900);

fn config() -> SessionConfig {
    sim::config()
        .with_request_timeout(REQUEST)
        .with_offline_timeout(OFFLINE)
        .with_lost_event_timeout(LOST)
}

/// How one awaited call of the flow ended.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    /// `Ok` with `successful: true`.
    Success,
    /// `Ok` with `successful: false`, and the typed reason if there was one (e.g. `Lost`).
    Unsuccessful(Option<RequestError>),
    /// `Err`.
    Error(ClientError),
    /// Did not resolve within [`STEP_BOUND`].
    Hung,
}

#[derive(Debug, Clone)]
struct Step {
    name: &'static str,
    got: Got,
    took: Duration,
}

/// Awaits `fut` for at most [`STEP_BOUND`] of virtual time.
async fn step<T>(
    rt: &VirtualRuntime,
    name: &'static str,
    fut: impl Future<Output = Result<T, ClientError>>,
    judge: impl FnOnce(&T) -> Got,
) -> Step {
    let t0 = rt.now();
    let timer = rt.sleep_until(t0 + STEP_BOUND);
    let got = match select(std::pin::pin!(fut), timer).await {
        Either::Left((Ok(v), _)) => judge(&v),
        Either::Left((Err(e), _)) => Got::Error(e),
        Either::Right(_) => Got::Hung,
    };
    Step {
        name,
        got,
        took: rt.now() - t0,
    }
}

fn component<O>(r: &relay_proto::calling::ComponentResult<O>) -> Got {
    if r.successful {
        Got::Success
    } else {
        Got::Unsuccessful(r.error.clone())
    }
}

fn prompt() -> PromptParams {
    PromptParams {
        media: vec![Media::tts("PIN?")],
        collect: CollectParams {
            digits: Some(CollectDigits {
                max: Some(4),
                ..Default::default()
            }),
            ..Default::default()
        },
        volume: None,
    }
}

/// The first call's flow: answer, play, prompt, record, hangup, every await bounded.
async fn first_flow(rt: &VirtualRuntime, call: &Call) -> Vec<Step> {
    vec![
        step(rt, "answer", call.answer(), component).await,
        step(rt, "play", call.play_tts("hello"), component).await,
        step(rt, "prompt", call.prompt(prompt()), component).await,
        step(
            rt,
            "record",
            call.record(RecordParams::default()),
            component,
        )
        .await,
        step(rt, "hangup", call.hangup(), component).await,
    ]
}

/// The second call's flow (after the faults): it must simply work.
async fn second_flow(rt: &VirtualRuntime, call: &Call) -> Vec<Step> {
    vec![
        step(rt, "answer", call.answer(), component).await,
        step(rt, "play", call.play_tts("again"), component).await,
        step(rt, "hangup", call.hangup(), component).await,
    ]
}

/// What one run of the scenario saw.
#[derive(Debug)]
struct Outcome {
    first: Vec<Step>,
    second: Vec<Step>,
    /// Distinct calls that reached the handler, in order.
    calls: Vec<String>,
    session_before: Option<String>,
    session_after: Option<String>,
    stopped: Result<StopReason, ClientError>,
    /// Server and client text frames up to the end of the first call's flow (the frames the
    /// sweeps cut after).
    frames: (u64, u64),
    cuts: u64,
    swallowed: u64,
    connects: u32,
}

/// Offers an inbound call, retrying while the server has no session receiving the context.
async fn offer_call(rt: &VirtualRuntime, server: &Server, from: &str) {
    for _ in 0..60 {
        let body = json!({"context": "office", "from": from, "to": "+15553210002"});
        if server.try_control("inbound_call", body).is_ok() {
            return;
        }
        rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
    }
    panic!("the server never accepted an inbound call for {from}");
}

/// Runs the scenario once; `arm` sets the faults on the fresh server before it starts.
fn scenario(arm: impl FnOnce(&Server)) -> Outcome {
    let (rt, server) = setup();
    arm(&server);
    let (ready_tx, ready_rx) = oneshot::channel::<RelayClient>();
    let ready_tx = Mutex::new(Some(ready_tx));
    let (flows_tx, mut flows_rx) = mpsc::unbounded::<(String, Vec<Step>)>();
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let consumer = RelayConsumer::new()
        .options(relay_client::ClientOptions::default())
        .grace_period(Duration::from_secs(1));
    let stop = consumer.stop_handle();
    let (rt2, calls2) = (rt.clone(), calls.clone());
    let consumer = consumer
        .on_ready(move |client| {
            if let Some(tx) = ready_tx.lock().expect("ready").take() {
                let _ = tx.send(client);
            }
            async {}
        })
        .on_incoming_call(move |call| {
            let (rt, calls, flows) = (rt2.clone(), calls2.clone(), flows_tx.clone());
            async move {
                let nth = {
                    let mut c = calls.lock().expect("calls");
                    c.push(call.id().map(ToString::to_string).unwrap_or_default());
                    c.len()
                };
                let steps = if nth == 1 {
                    first_flow(&rt, &call).await
                } else {
                    second_flow(&rt, &call).await
                };
                let _ = flows.unbounded_send((
                    call.id().map(ToString::to_string).unwrap_or_default(),
                    steps,
                ));
            }
        });
    let script = async {
        let client = ready_rx.await.expect("on_ready ran");
        let before = client.session_id();
        offer_call(&rt, &server, "+15551230001").await;
        let (_, first) = flows_rx.next().await.expect("first flow");
        let first_frames = server.frames();
        offer_call(&rt, &server, "+15551230002").await;
        let (_, second) = flows_rx.next().await.expect("second flow");
        let after = client.session_id();
        stop.stop();
        (first, second, before, after, first_frames)
    };
    let both = async {
        let consumer = consumer.run(config(), "ws://in-memory", rt.clone(), server.clone());
        futures::join!(consumer, script)
    };
    let t0 = rt.now();
    let guarded = async {
        let timer = rt.sleep_until(t0 + RUN_BOUND);
        match select(std::pin::pin!(both), timer).await {
            Either::Left((out, _)) => Some(out),
            Either::Right(_) => None,
        }
    };
    let (stopped, (first, second, session_before, session_after, first_frames)) =
        run(&rt, guarded).expect("the scenario finished within its virtual-time bound");
    let (cuts, swallowed) = server.cuts_and_swallows();
    let calls = calls.lock().expect("calls").clone();
    Outcome {
        first,
        second,
        calls,
        session_before,
        session_after,
        stopped,
        frames: first_frames,
        cuts,
        swallowed,
        connects: server.attempts(),
    }
}

/// The errors a fault may legitimately cause: typed, and about the transport or a lost event.
fn fault_error(e: &RequestError) -> bool {
    matches!(
        e,
        RequestError::ConnectionLost
            | RequestError::Lost
            | RequestError::Timeout
            | RequestError::OfflineTimeout
    )
}

/// The checks every faulted run must pass; `what` names the run in messages.
fn check(what: &str, o: &Outcome) {
    assert_eq!(o.stopped, Ok(StopReason::Closed), "{what}: {o:#?}");
    assert_eq!(o.first.len(), 5, "{what}: the first flow ran to its end");
    for s in &o.first {
        assert!(s.took <= STEP_BOUND, "{what}: {} took {:?}", s.name, s.took);
        match &s.got {
            Got::Success => {}
            Got::Unsuccessful(None) => {}
            Got::Unsuccessful(Some(e)) | Got::Error(ClientError::Request(e)) => {
                assert!(fault_error(e), "{what}: {}: {e:?}", s.name)
            }
            other => panic!("{what}: {}: {other:?}", s.name),
        }
    }
    assert_eq!(
        o.calls.len(),
        2,
        "{what}: each call reached the handler once: {:?}",
        o.calls
    );
    assert_ne!(o.calls[0], o.calls[1], "{what}");
    for s in &o.second {
        assert_eq!(s.got, Got::Success, "{what}: second call, {}", s.name);
    }
    assert!(o.session_before.is_some(), "{what}");
    assert_eq!(
        o.session_before, o.session_after,
        "{what}: the session was restored, not replaced"
    );
    assert_eq!(o.cuts, 1, "{what}: the socket was cut once");
    assert_eq!(o.connects, 2, "{what}: one reconnect after the cut");
}

/// The uncut run: everything succeeds; returns its frame counts (server, client) up to the end
/// of the first call's flow.
fn baseline() -> (u64, u64) {
    let o = scenario(|_| {});
    assert_eq!(o.stopped, Ok(StopReason::Closed));
    for s in o.first.iter().chain(&o.second) {
        assert_eq!(s.got, Got::Success, "uncut: {}", s.name);
    }
    assert_eq!((o.cuts, o.connects), (0, 1));
    assert_eq!(o.session_before, o.session_after);
    o.frames
}

/// Counts the outcomes of a sweep for the summary line.
#[derive(Default, Debug)]
struct Tally {
    runs: u64,
    lost: u64,
    connection_lost: u64,
    timeouts: u64,
}

impl Tally {
    fn add(&mut self, o: &Outcome) {
        self.runs += 1;
        for s in &o.first {
            let error = match &s.got {
                Got::Unsuccessful(Some(e)) | Got::Error(ClientError::Request(e)) => e,
                _ => continue,
            };
            match error {
                RequestError::Lost => self.lost += 1,
                RequestError::ConnectionLost => self.connection_lost += 1,
                _ => self.timeouts += 1,
            }
        }
    }
}

#[test]
fn a_cut_after_every_server_frame_leaves_no_await_pending() {
    let (server_frames, _) = baseline();
    assert!(
        server_frames >= 15,
        "the flow has {server_frames} server frames"
    );
    let mut tally = Tally::default();
    for k in 1..=server_frames {
        let o = scenario(|s| s.cut_after_server_frame(k));
        check(&format!("server frame {k}"), &o);
        // relay-mock holds a cut session's events and sends them after the restore, and no
        // request is in flight when a server frame has just been read: the restore loses
        // nothing and invents no failure.
        for s in &o.first {
            assert_eq!(s.got, Got::Success, "server frame {k}: {}", s.name);
        }
        tally.add(&o);
    }
    eprintln!("swept {server_frames} server-to-client frames: {tally:?}");
    assert_eq!(tally.runs, server_frames);
}

#[test]
fn a_cut_after_every_client_frame_leaves_no_await_pending() {
    let (_, client_frames) = baseline();
    assert!(
        client_frames >= 9,
        "the flow has {client_frames} client frames"
    );
    let mut tally = Tally::default();
    for k in 1..=client_frames {
        let o = scenario(|s| s.cut_after_client_frame(k));
        check(&format!("client frame {k}"), &o);
        tally.add(&o);
    }
    eprintln!("swept {client_frames} client-to-server frames: {tally:?}");
    // A request that reached the server and whose answer died with the socket fails once,
    // typed; the sweep must have hit that case.
    assert!(tally.connection_lost > 0, "{tally:?}");
}

/// The event in a `blade.broadcast` frame: `(event_type, params)`.
fn calling_event(frame: &Value) -> Option<(&str, &Value)> {
    let inner = frame.pointer("/params/params")?;
    Some((inner.get("event_type")?.as_str()?, inner.get("params")?))
}

/// The final event of each step of the first flow.
fn final_event(step: &str) -> FramePredicate {
    let step = step.to_owned();
    Box::new(move |frame| {
        let Some((event, p)) = calling_event(frame) else {
            return false;
        };
        let state = |key: &str| p.get(key).and_then(Value::as_str);
        match step.as_str() {
            "answer" => event == "calling.call.state" && state("call_state") == Some("answered"),
            "play" => event == "calling.call.play" && state("state") == Some("finished"),
            "prompt" => event == "calling.call.collect" && p.get("result").is_some(),
            "record" => event == "calling.call.record" && state("state") == Some("finished"),
            _ => event == "calling.call.state" && state("call_state") == Some("ended"),
        }
    })
}

#[test]
fn a_swallowed_final_event_then_a_cut_resolves_within_the_bound() {
    let steps = ["answer", "play", "prompt", "record", "hangup"];
    for (i, name) in steps.iter().enumerate() {
        for then in 0..3 {
            let what = format!("{name}'s final event swallowed, cut {then} frames later");
            let o = scenario(|s| s.swallow_then_cut(final_event(name), then));
            check(&what, &o);
            assert_eq!(o.swallowed, 1, "{what}");
            // The step whose final event was swallowed cannot succeed by that event: it is
            // `Lost` (unless a later event of the call settles it).
            let got = &o.first[i].got;
            if i < 4 {
                assert_eq!(
                    *got,
                    Got::Unsuccessful(Some(RequestError::Lost)),
                    "{what}: {:?}",
                    o.first
                );
                assert!(o.first[i].took >= LOST, "{what}: resolved before the bound");
            }
            // Every other step of the flow still succeeds.
            for (j, s) in o.first.iter().enumerate() {
                if j != i {
                    assert_eq!(s.got, Got::Success, "{what}: {}", s.name);
                }
            }
        }
    }
}
