//! Nothing waits forever, against relay-mock on a virtual clock: waits whose final event is
//! lost with the socket, commands issued while the server refuses connections, and a sweep
//! that cuts the socket after every server frame of a scripted call flow.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use relay_mock::{Fault, MockConfig, Outcome, Pair};
use relay_proto::calling::{
    CollectDigits, CollectParams, ConnectParams, Device, EndReason, Media, PlayParams,
    PromptParams, RecordParams,
};
use relay_proto::wire::Method;
use relay_proto::{CallEvent, CallId, ControlId, DialTag, Event, RequestError, RequestId};
use relay_tests::config;
use serde_json::json;

const LOST: Duration = Duration::from_secs(20);
const OFFLINE: Duration = Duration::from_secs(15);
const REQUEST: Duration = Duration::from_secs(10);

fn pair() -> Pair {
    let cfg = config()
        .with_contexts(["office"])
        .with_lost_event_timeout(LOST)
        .with_offline_timeout(OFFLINE)
        .with_request_timeout(REQUEST);
    let mut p = Pair::new(cfg, MockConfig::default(), Instant::now());
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(1)));
    p.drive();
    p.take_events();
    p
}

/// Every outcome seen, by command.
#[derive(Default, Debug)]
struct Outcomes {
    components: BTreeMap<ControlId, Vec<Option<RequestError>>>,
    dials: BTreeMap<DialTag, Vec<Option<RequestError>>>,
    responses: BTreeMap<RequestId, Vec<Option<RequestError>>>,
    incoming: Vec<CallId>,
    lost_calls: Vec<CallId>,
    session_ids: Vec<String>,
}

impl Outcomes {
    fn collect(&mut self, p: &mut Pair) {
        for e in p.take_events() {
            match e {
                Event::Call(CallEvent::ComponentFinished {
                    control_id, result, ..
                }) => self
                    .components
                    .entry(control_id)
                    .or_default()
                    .push(result.error),
                Event::Call(CallEvent::DialCompleted { tag, result }) => {
                    self.dials.entry(tag).or_default().push(result.error)
                }
                Event::Call(CallEvent::IncomingCall { call }) => {
                    self.incoming.push(call.id.clone())
                }
                Event::Call(CallEvent::Lost { call_id }) => self.lost_calls.push(call_id),
                Event::Response { request, outcome } => self
                    .responses
                    .entry(request)
                    .or_default()
                    .push(outcome.err()),
                Event::Ready { session_id, .. } => self.session_ids.push(session_id.to_string()),
                _ => {}
            }
        }
    }

    /// Drives until `id` has an outcome or `within` passes; returns it.
    fn wait(&mut self, p: &mut Pair, id: &ControlId, within: Duration) -> Option<RequestError> {
        let ok = p.drive_until(
            |p| {
                self.collect(p);
                self.components.contains_key(id)
            },
            within,
        );
        assert!(ok, "{id} had no outcome within {within:?}");
        self.components[id][0].clone()
    }
}

fn incoming_call(p: &mut Pair, o: &mut Outcomes) -> Option<CallId> {
    p.control(
        "inbound_call",
        json!({"context":"office","from":"+15551230001","to":"+15553210002"}),
    )
    .ok()?;
    let before = o.incoming.len();
    p.drive_until(
        |p| {
            o.collect(p);
            o.incoming.len() > before
        },
        Duration::from_secs(5),
    );
    o.incoming.get(before).cloned()
}

fn ringtone() -> PlayParams {
    PlayParams::new([Media::ringtone("us", Some(Duration::from_secs(30)))])
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

/// The component's request is answered but its events never come (the final one is
/// swallowed); then the socket is cut and the session restored.
#[test]
fn swallowed_final_events_resolve_as_lost_within_the_bound_after_a_restore() {
    for (method, name) in [
        (Method::CallingPlay, "play"),
        (Method::CallingPlayAndCollect, "prompt"),
        (Method::CallingRecord, "record"),
    ] {
        let mut p = pair();
        let mut o = Outcomes::default();
        let sid = p.session().session_id().map(str::to_owned);
        let call = incoming_call(&mut p, &mut o).expect("call");
        let now = p.now();
        let answer = p
            .session_mut()
            .call_mut(&call)
            .unwrap()
            .answer(now)
            .unwrap();
        assert_eq!(o.wait(&mut p, &answer, Duration::from_secs(5)), None);
        p.server_mut().script().arm(method, Outcome::Events(vec![]));
        let now = p.now();
        let mut c = p.session_mut().call_mut(&call).unwrap();
        let id = match name {
            "play" => c.play(now, &ringtone()),
            "prompt" => c.prompt(now, &prompt()),
            _ => c.record(now, &RecordParams::default()),
        }
        .unwrap();
        p.advance(Duration::from_secs(1));
        p.control("drop", json!({})).unwrap();
        let cut = p.now();
        assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(10)));
        let restored = p.now();
        assert_eq!(
            o.wait(&mut p, &id, LOST + Duration::from_secs(1)),
            Some(RequestError::Lost),
            "{name}"
        );
        assert!(p.now() <= restored + LOST, "{name}: {:?}", p.now() - cut);
        assert!(
            p.now() >= restored + LOST,
            "{name}: resolved before the bound"
        );
        o.collect(&mut p);
        assert_eq!(o.components[&id].len(), 1, "{name}");
        assert_eq!(p.session().session_id().map(str::to_owned), sid, "{name}");
        // The call still works after the restore.
        let now = p.now();
        let play = p
            .session_mut()
            .call_mut(&call)
            .unwrap()
            .play_tts(now, "again")
            .unwrap();
        assert_eq!(
            o.wait(&mut p, &play, Duration::from_secs(5)),
            None,
            "{name}"
        );
    }
}

#[test]
fn connect_and_wait_for_are_bounded_after_a_restore() {
    // (relay-mock always completes a dial at once, so a dial without its final event is
    // covered by relay-proto's calling_deadlines tests.)
    let mut p = pair();
    let mut o = Outcomes::default();
    let call = incoming_call(&mut p, &mut o).expect("call");
    let now = p.now();
    let answer = p
        .session_mut()
        .call_mut(&call)
        .unwrap()
        .answer(now)
        .unwrap();
    assert_eq!(o.wait(&mut p, &answer, Duration::from_secs(5)), None);
    p.server_mut()
        .script()
        .arm(Method::CallingConnect, Outcome::Events(vec![]));
    let now = p.now();
    let connect = p
        .session_mut()
        .call_mut(&call)
        .unwrap()
        .connect(
            now,
            &ConnectParams::tree(vec![vec![Device::phone("+15550000001", "+15550000003")]]),
        )
        .unwrap();
    let wait = p
        .session_mut()
        .call_mut(&call)
        .unwrap()
        .wait_for_ended(now)
        .unwrap();
    p.advance(Duration::from_secs(1));
    o.collect(&mut p);
    assert!(!o.components.contains_key(&connect) && !o.components.contains_key(&wait));
    p.control("drop", json!({})).unwrap();
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(10)));
    let restored = p.now();
    assert!(p.drive_until(
        |p| {
            o.collect(p);
            o.components.contains_key(&connect) && o.components.contains_key(&wait)
        },
        LOST + Duration::from_secs(1)
    ));
    assert!(p.now() <= restored + LOST);
    assert_eq!(o.components[&connect], vec![Some(RequestError::Lost)]);
    assert_eq!(o.components[&wait], vec![Some(RequestError::Lost)]);
}

#[test]
fn commands_issued_while_the_server_refuses_connections_time_out() {
    let mut p = pair();
    let mut o = Outcomes::default();
    let call = incoming_call(&mut p, &mut o).expect("call");
    p.server_mut().inject(Fault::RefuseConnections {
        duration: Duration::from_secs(3600),
    });
    p.control("drop", json!({})).unwrap();
    p.drive();
    assert!(!p.session().is_ready());
    let issued = p.now();
    let exec = p
        .session_mut()
        .execute(issued, "calling.whatever", json!({}))
        .unwrap();
    let play = p
        .session_mut()
        .call_mut(&call)
        .unwrap()
        .play_tts(issued, "hi")
        .unwrap();
    assert!(p.drive_until(
        |p| {
            o.collect(p);
            o.responses.contains_key(&exec) && o.components.contains_key(&play)
        },
        OFFLINE + Duration::from_secs(1)
    ));
    assert!(p.now() <= issued + OFFLINE);
    assert_eq!(o.responses[&exec], vec![Some(RequestError::OfflineTimeout)]);
    assert_eq!(
        o.components[&play],
        vec![Some(RequestError::OfflineTimeout)]
    );
    assert_eq!(p.session().queued(), 0);
    // Nothing was ever sent for them.
    assert!(!p
        .transcript()
        .iter()
        .any(|l| l.frame["params"]["method"] == "calling.whatever"));
}

/// Where the socket is cut in [`flow_with_cut`].
#[derive(Debug, Clone, Copy)]
enum Cut {
    None,
    /// After server frame `k`, counted from the inbound call.
    AfterServerFrame(u64),
    /// The final event of step `step` (1 play, 2 prompt, 3 record) is swallowed, then the
    /// socket is cut after the `after`-th server frame that follows the command.
    SwallowFinalThen {
        step: usize,
        after: u64,
    },
    /// The socket is cut when the request of step `step` reaches the server (unanswered).
    OnRequest(usize),
}

const STEP_METHODS: [Method; 5] = [
    Method::CallingAnswer,
    Method::CallingPlay,
    Method::CallingPlayAndCollect,
    Method::CallingRecord,
    Method::CallingEnd,
];

/// One scripted call flow (answer, play, prompt, record, hangup), the socket cut after server
/// frame `k` (counted from the inbound call). Returns how many server frames the flow had
/// (up to its last command's outcome),
/// how many times the socket opened, and the outcomes of the flow's commands.
fn flow_with_cut(k: Cut) -> (usize, usize, Vec<Option<RequestError>>) {
    let mut p = pair();
    let mut o = Outcomes::default();
    let sid = p.session().session_id().map(str::to_owned);
    let start_frames = p.transcript().len();
    match k {
        Cut::AfterServerFrame(k) => p.server_mut().inject(Fault::DropAfterFrames { frames: k }),
        Cut::OnRequest(step) => p.server_mut().inject(Fault::DropOnMethod {
            method: STEP_METHODS[step],
        }),
        _ => {}
    }
    // Every await of the flow resolves within this (request in flight, queued, or lost).
    let bound = OFFLINE + REQUEST + 2 * LOST + Duration::from_secs(40);
    let mut ids = Vec::new();
    if let Some(call) = incoming_call(&mut p, &mut o) {
        for (step, method) in STEP_METHODS.iter().enumerate() {
            let now = p.now();
            let swallow = matches!(k, Cut::SwallowFinalThen { step: s, .. } if s == step);
            if swallow {
                p.server_mut()
                    .script()
                    .arm(*method, Outcome::Events(vec![]));
            }
            let Ok(mut c) = p.session_mut().call_mut(&call) else {
                break;
            };
            let id = match step {
                0 => c.answer(now),
                1 => c.play(now, &PlayParams::new([Media::tts("hello")])),
                2 => c.prompt(now, &prompt()),
                3 => c.record(now, &RecordParams::default()),
                _ => c.hangup(now, EndReason::Hangup),
            }
            .expect("command accepted");
            if let (true, Cut::SwallowFinalThen { after, .. }) = (swallow, k) {
                p.server_mut()
                    .inject(Fault::DropAfterFrames { frames: after });
            }
            o.wait(&mut p, &id, bound);
            ids.push(id);
        }
    }
    let frames = p.transcript()[start_frames..]
        .iter()
        .filter(|l| l.dir == relay_mock::transcript::Dir::S2c)
        .count();
    // Let every timer run out, then check: one outcome per command, the session id kept.
    p.advance(3 * LOST);
    o.collect(&mut p);
    for id in &ids {
        assert_eq!(o.components[id].len(), 1, "{k:?}: {id}: {o:?}");
    }
    assert_eq!(o.components.values().map(Vec::len).max().unwrap_or(1), 1);
    assert!(p.session().is_ready(), "{k:?}");
    assert_eq!(p.session().session_id().map(str::to_owned), sid, "{k:?}");
    assert!(
        o.lost_calls.is_empty(),
        "{k:?}: a restored session keeps its calls"
    );
    // A later call works.
    let call = incoming_call(&mut p, &mut o).expect("a second call arrives");
    let now = p.now();
    let answer = p
        .session_mut()
        .call_mut(&call)
        .unwrap()
        .answer(now)
        .unwrap();
    assert_eq!(
        o.wait(&mut p, &answer, Duration::from_secs(5)),
        None,
        "{k:?}"
    );
    let opens = p.transcript()[start_frames..]
        .iter()
        .filter(|l| l.dir == relay_mock::transcript::Dir::Ctl && l.frame["event"] == "ws_open")
        .count();
    let results = ids.iter().map(|id| o.components[id][0].clone()).collect();
    (frames, opens, results)
}

#[test]
fn every_command_of_a_call_flow_gets_one_outcome_whatever_frame_the_cut_follows() {
    let (frames, opens, results) = flow_with_cut(Cut::None);
    assert!(frames > 10, "the flow has {frames} server frames");
    assert_eq!(opens, 0);
    assert_eq!(results, vec![None; 5], "the uncut flow succeeds");
    for k in 0..frames as u64 {
        let (_, opens, results) = flow_with_cut(Cut::AfterServerFrame(k));
        assert_eq!(
            opens, 1,
            "k={k}: the cut happened and the session came back once"
        );
        // relay-mock holds the events of a cut session and sends them after the restore, and
        // answers every request at once (none is in flight at a cut), so the whole flow
        // succeeds: the restore loses nothing and invents no failure.
        assert_eq!(results, vec![None; 5], "k={k}");
    }
}

#[test]
fn a_cut_with_a_command_in_flight_fails_it_once_and_the_flow_goes_on() {
    for step in 0..5 {
        let (_, opens, results) = flow_with_cut(Cut::OnRequest(step));
        assert_eq!(opens, 1, "step {step}");
        assert_eq!(results.len(), 5, "step {step}: {results:?}");
        assert_eq!(
            results[step],
            Some(RequestError::ConnectionLost),
            "step {step}"
        );
    }
}

#[test]
fn a_swallowed_final_event_then_a_cut_resolves_as_lost_at_every_step() {
    for step in 1..=3 {
        for after in 0..3 {
            let cut = Cut::SwallowFinalThen { step, after };
            let (_, opens, results) = flow_with_cut(cut);
            assert_eq!(opens, 1, "{cut:?}");
            for (i, r) in results.iter().enumerate() {
                let want = if i == step {
                    Some(RequestError::Lost)
                } else {
                    None
                };
                assert_eq!(*r, want, "{cut:?}: step {i}");
            }
        }
    }
}
