//! The `session_ops` target: a program of [`Op`]s on a [`Pair`].
//!
//! The bytes are decoded by `arbitrary` into operations: session commands (dial, answer, play,
//! prompt, stop/pause/resume/volume, hangup, messaging send, close), the mock's control API
//! (inbound calls and messages, drop, ping, Blade disconnect, scripted answers), forged server
//! frames fed straight to the session (events built from templates with fuzzed fields, answers
//! to the session's own recent requests, raw text) and virtual time. The mock answers every
//! request it receives the way it always does, so a forged answer races a real one.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use relay_proto::calling::{
    CollectDigits, CollectParams, Device, DialParams, EndReason, Media, PlayParams, PromptParams,
};
use relay_proto::fuzzing::frame;
use relay_proto::wire::EventType;
use relay_proto::{CallId, ControlId, Input, MessageParams, SequentialIds, SessionConfig};
use serde_json::{json, Value};

use crate::transcript::Dir;
use crate::{MockConfig, Pair};

/// Most operations one input may run (keeps every execution fast).
const MAX_OPS: usize = 512;

/// Call ids forged events use besides those the server hands out.
const CALL_POOL: &[&str] = &["call-a", "call-b"];

/// One step of a `session_ops` program.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// A forged calling event for a known call, fed straight to the session.
    CallEvent {
        /// Which event (see [`Forged`]).
        kind: Forged,
        /// Picks the call (server-handed or pool).
        call: u8,
        /// Picks the control id.
        control: u8,
        /// Picks the state/result string of the event.
        state: u8,
    },
    /// A forged answer to one of the session's recent requests, fed straight to the session.
    Respond {
        /// Picks the request (counted from the newest).
        back: u8,
        /// The answer.
        answer: Answer,
    },
    /// `Session::dial` of one, two serial or two parallel devices.
    Dial {
        /// 0 single, 1 serial, else parallel.
        mode: u8,
        /// SIP rather than phone.
        sip: bool,
    },
    /// `answer` on a call.
    Answer(u8),
    /// `play` on a call.
    Play {
        /// Picks the call.
        call: u8,
        /// Up to three media.
        media: Vec<MediaPick>,
        /// Volume in half dB.
        volume: i8,
    },
    /// `prompt` (digits) on a call.
    Prompt {
        /// Picks the call.
        call: u8,
        /// Up to two media.
        media: Vec<MediaPick>,
        /// Digits to collect.
        max: u8,
        /// Picks the terminators.
        terminators: u8,
        /// Seconds.
        digit_timeout: u8,
        /// Seconds (negative is invalid).
        initial_timeout: i8,
        /// Partial results.
        partial: bool,
    },
    /// stop (0), pause (1), resume (2) or volume (3) on a control.
    Control {
        /// Picks the call.
        call: u8,
        /// Picks the control.
        control: u8,
        /// Which action.
        action: u8,
    },
    /// `hangup` on a call.
    Hangup {
        /// Picks the call.
        call: u8,
        /// 0 hangup, 1 busy, else another reason.
        reason: u8,
    },
    /// `messaging_send`.
    Send {
        /// Picks the context.
        context: u8,
        /// Blank destination.
        blank_to: bool,
        /// The body.
        body: String,
    },
    /// `close` of the session.
    Close,
    /// Control API: an inbound call to `office` (or another context).
    InboundCall(bool),
    /// Control API: an inbound message to `office`.
    InboundMessage,
    /// Control API: the next request of a method gets a scripted outcome.
    Next {
        /// Picks the method.
        method: u8,
        /// Picks the outcome.
        outcome: u8,
    },
    /// Control API: drop (0), ping (1) or Blade disconnect (2) the session's connection.
    Server(u8),
    /// A forged server request or messaging event fed straight to the session.
    ServerFrame {
        /// 0 ping, 1 disconnect, else a messaging event.
        kind: u8,
        /// Picks the message state.
        state: u8,
    },
    /// Raw text fed straight to the session.
    Raw(String),
    /// Virtual time passes (quarter seconds), both sides run.
    Advance(u8),
    /// Virtual time jumps to the next timeout of either side.
    NextTimer,
}

/// Forged calling event kinds.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Forged {
    /// `calling.call.state`.
    State,
    /// `calling.call.receive`.
    Receive,
    /// `calling.call.play`.
    Play,
    /// `calling.call.collect`.
    Collect,
    /// `calling.call.connect`.
    Connect,
    /// `calling.call.dial` for a dial tag.
    Dial,
    /// A record/tap/send_digits/detect/fax/refer event with shared fields.
    Component,
}

/// A forged answer.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Answer {
    /// A relay result with this code (picked) and maybe a call id.
    Relay {
        /// Picks the code.
        code: u8,
        /// Adds a `call_id`.
        with_call: bool,
    },
    /// An empty Blade result.
    Empty,
    /// A JSON-RPC error.
    Rpc(i8),
}

/// A media item.
#[derive(Arbitrary, Debug, Clone)]
pub enum MediaPick {
    /// TTS of this text.
    Tts(String),
    /// An audio URL.
    Audio,
    /// Silence of n/16 s.
    Silence(u8),
    /// A ringtone.
    Ringtone,
}

impl MediaPick {
    fn media(&self) -> Media {
        match self {
            MediaPick::Tts(t) => Media::tts(t.chars().take(16).collect::<String>()),
            MediaPick::Audio => Media::audio("https://x.invalid/a.mp3"),
            MediaPick::Silence(n) => {
                Media::silence(Duration::from_nanos(u64::from(*n) * 62_500_000))
            }
            MediaPick::Ringtone => Media::ringtone("us", None),
        }
    }
}

fn pick<'a>(items: &'a [String], i: u8, fallback: &'a str) -> &'a str {
    match items.len() {
        0 => fallback,
        n => &items[usize::from(i) % n],
    }
}

fn pick_str(items: &[&'static str], i: u8) -> &'static str {
    items[usize::from(i) % items.len()]
}

fn medias(m: &[MediaPick], max: usize) -> Vec<Media> {
    m.iter().take(max).map(MediaPick::media).collect()
}

struct Driver {
    pair: Pair,
    calls: Vec<String>,
    controls: Vec<String>,
    tags: Vec<String>,
    /// Ids of the session's requests, newest last (bounded).
    requests: Vec<Value>,
    request_ids: BTreeSet<String>,
    /// Transcript lines already checked (absolute numbering).
    seen: u64,
    next_id: u64,
}

impl Driver {
    fn new(now: Instant) -> Self {
        let cfg = SessionConfig::new("test-project", "test-token")
            .with_contexts(["office"])
            .with_id_generator(SequentialIds::new());
        let mut d = Driver {
            pair: Pair::new(cfg, MockConfig::default().media_speed(0.01), now),
            calls: CALL_POOL.iter().map(|c| (*c).to_owned()).collect(),
            controls: vec!["ctl-x".to_owned()],
            tags: vec!["tag-z".to_owned()],
            requests: vec![],
            request_ids: BTreeSet::new(),
            seen: 0,
            next_id: 0,
        };
        d.drive();
        d
    }

    /// Runs both sides until quiet, then checks what the session sent.
    fn drive(&mut self) {
        self.pair.drive();
        let _ = self.pair.take_events();
        self.check_transcript();
        let s = self.pair.session();
        assert!(s.in_flight() <= 1024, "in flight {}", s.in_flight());
        assert!(s.queued() <= 4096, "queued {}", s.queued());
    }

    /// Every client frame is JSON-RPC 2.0 and no request id is sent twice; learns the ids
    /// the server hands out.
    fn check_transcript(&mut self) {
        let dropped = self.pair.server().transcript_dropped();
        let lines = self.pair.transcript();
        let start = usize::try_from(self.seen.saturating_sub(dropped)).unwrap_or(usize::MAX);
        let new: Vec<_> = lines.iter().skip(start).cloned().collect();
        self.seen = dropped + lines.len() as u64;
        for line in &new {
            match line.dir {
                Dir::C2s => self.client_frame(&line.frame),
                Dir::S2c => self.learn(&line.frame),
                Dir::Ctl => {}
            }
        }
    }

    fn client_frame(&mut self, v: &Value) {
        assert_eq!(v.get("jsonrpc"), Some(&json!("2.0")), "{v}");
        if v.get("method").is_none() {
            return;
        }
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let key = id.as_str().expect("request ids are strings").to_owned();
        assert!(self.request_ids.insert(key), "request id reused: {v}");
        self.requests.push(id);
        if self.requests.len() > 32 {
            self.requests.remove(0);
        }
    }

    fn learn(&mut self, v: &Value) {
        let p = &v["params"]["params"]["params"];
        for p in [p, &p["call"], &v["result"]["result"]] {
            for (key, list) in [
                ("call_id", &mut self.calls),
                ("control_id", &mut self.controls),
                ("tag", &mut self.tags),
            ] {
                if let Some(id) = p[key].as_str() {
                    if !list.iter().any(|x| x == id) {
                        list.push(id.to_owned());
                        if list.len() > 8 {
                            list.remove(1);
                        }
                    }
                }
            }
        }
    }

    fn protocol(&self) -> String {
        self.pair
            .session()
            .protocol()
            .unwrap_or("signalwire_x")
            .to_owned()
    }

    /// Feeds a forged frame straight to the session.
    fn inject(&mut self, text: &str) {
        let now = self.pair.now();
        let _ = self
            .pair
            .session_mut()
            .handle_input(now, Input::Frame(text));
        self.drive();
    }

    fn call_mut<F>(&mut self, call: u8, f: F)
    where
        F: FnOnce(&mut relay_proto::calling::CallMut<'_>, Instant),
    {
        let id = CallId::new(pick(&self.calls, call, "none"));
        let now = self.pair.now();
        if let Ok(mut c) = self.pair.session_mut().call_mut(&id) {
            f(&mut c, now);
        }
        self.drive();
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::CallEvent {
                kind,
                call,
                control,
                state,
            } => self.forge_event(*kind, *call, *control, *state),
            Op::Respond { back, answer } => self.respond(*back, *answer),
            Op::Dial { mode, sip } => self.dial(*mode, *sip),
            Op::Answer(call) => self.call_mut(*call, |c, now| {
                let _ = c.answer(now);
            }),
            Op::Play {
                call,
                media,
                volume,
            } => {
                let params =
                    PlayParams::new(medias(media, 3)).with_volume(f64::from(*volume) / 2.0);
                self.call_mut(*call, |c, now| {
                    let _ = c.play(now, &params);
                });
            }
            Op::Prompt { .. } => self.prompt(op),
            Op::Control {
                call,
                control,
                action,
            } => {
                let ctl = ControlId::new(pick(&self.controls, *control, "none"));
                self.call_mut(*call, |c, now| {
                    let _ = match action % 4 {
                        0 => c.stop(now, &ctl),
                        1 => c.pause(now, &ctl),
                        2 => c.resume(now, &ctl),
                        _ => c.volume(now, &ctl, 3.0),
                    };
                });
            }
            Op::Hangup { call, reason } => {
                let reason = match reason % 3 {
                    0 => EndReason::Hangup,
                    1 => EndReason::Busy,
                    _ => EndReason::Other("x".into()),
                };
                self.call_mut(*call, |c, now| {
                    let _ = c.hangup(now, reason);
                });
            }
            Op::Send {
                context,
                blank_to,
                body,
            } => {
                let to = if *blank_to { " " } else { "+15550000002" };
                let params = MessageParams::text(
                    pick_str(&["office", "", "other"], *context),
                    "+15550000001",
                    to,
                    body.chars().take(16).collect::<String>(),
                );
                let now = self.pair.now();
                let _ = self.pair.session_mut().messaging_send(now, &params);
                self.drive();
            }
            Op::Close => {
                let now = self.pair.now();
                self.pair.session_mut().close(now);
                self.drive();
            }
            _ => self.run_server_op(op),
        }
    }

    fn run_server_op(&mut self, op: &Op) {
        match op {
            Op::InboundCall(other) => {
                let context = if *other { "other" } else { "office" };
                let _ = self
                    .pair
                    .control("inbound_call", json!({"context":context}));
                self.drive();
            }
            Op::InboundMessage => {
                let _ = self.pair.control(
                    "inbound_message",
                    json!({"context":"office","body":"hi","from":"+1","to":"+2"}),
                );
                self.drive();
            }
            Op::Next { method, outcome } => {
                let method = pick_str(
                    &[
                        "calling.answer",
                        "calling.play",
                        "calling.collect",
                        "calling.end",
                        "calling.begin",
                        "messaging.send",
                        "blade.ping",
                    ],
                    *method,
                );
                let body = match outcome % 4 {
                    0 => json!({"method":method,"outcome":"no_response"}),
                    1 => json!({"method":method,"outcome":"error_code","code":"404"}),
                    2 => json!({"method":method,"outcome":"rpc_error","code":-32000}),
                    _ => json!({"method":method,"outcome":"default"}),
                };
                let _ = self.pair.control("next", body);
                self.drive();
            }
            Op::Server(kind) => {
                let endpoint = pick_str(&["drop", "ping", "blade_disconnect"], *kind);
                let _ = self.pair.control(endpoint, json!({}));
                self.drive();
            }
            Op::ServerFrame { kind, state } => self.server_frame(*kind, *state),
            Op::Raw(text) => {
                let text: String = text.chars().take(512).collect();
                self.inject(&text);
            }
            Op::Advance(q) => {
                self.pair
                    .advance(Duration::from_millis(u64::from(*q) * 250));
                self.drive();
            }
            Op::NextTimer => {
                if let Some(t) = self.pair.next_timeout() {
                    let by = t.saturating_duration_since(self.pair.now());
                    self.pair.advance(by);
                }
                self.drive();
            }
            _ => {}
        }
    }

    fn prompt(&mut self, op: &Op) {
        let Op::Prompt {
            call,
            media,
            max,
            terminators,
            digit_timeout,
            initial_timeout,
            partial,
        } = op
        else {
            return;
        };
        let params = PromptParams {
            media: medias(media, 2),
            collect: CollectParams {
                digits: Some(CollectDigits {
                    max: Some(u32::from(max % 5)),
                    terminators: Some(pick_str(&["#", "", "*#", "x"], *terminators).to_owned()),
                    digit_timeout: Some(Duration::from_secs(u64::from(*digit_timeout))),
                }),
                speech: None,
                initial_timeout: Some(Duration::from_secs(u64::from(
                    initial_timeout.unsigned_abs(),
                ))),
                partial_results: *partial,
            },
            volume: None,
        };
        self.call_mut(*call, |c, now| {
            let _ = c.prompt(now, &params);
        });
    }

    fn dial(&mut self, mode: u8, sip: bool) {
        let device = if sip {
            Device::sip("sip:a@x", "sip:b@y")
        } else {
            Device::phone("+15550000001", "+15550000002")
        };
        let params = match mode % 3 {
            0 => DialParams::single(device),
            1 => DialParams::serial([device.clone(), device]),
            _ => DialParams::parallel([device.clone(), device]),
        };
        let now = self.pair.now();
        if let Ok(tag) = self.pair.session_mut().dial(now, &params) {
            self.tags.push(tag.as_str().to_owned());
            if self.tags.len() > 8 {
                self.tags.remove(1);
            }
        }
        self.drive();
    }

    /// Answers a recent request of the session (the mock may answer it too).
    fn respond(&mut self, back: u8, answer: Answer) {
        let n = self.requests.len();
        if n == 0 {
            return;
        }
        let id = self.requests[n - 1 - usize::from(back) % n].clone();
        let protocol = self.protocol();
        let f = match answer {
            Answer::Relay { code, with_call } => {
                let code = pick_str(&["200", "400", "404", "500", "x"], code);
                let mut r = json!({"code":code,"message":"m"});
                if with_call {
                    r["call_id"] = json!(pick(&self.calls, code.len() as u8, "call-a"));
                }
                frame::relay_result(&id, &protocol, r)
            }
            Answer::Empty => frame::result(&id, json!({})),
            Answer::Rpc(c) => frame::error(&id, -32000 - i64::from(c), "nope"),
        };
        self.inject(&f.to_string());
    }

    fn device(sip: bool) -> Value {
        if sip {
            json!({"type":"sip","params":{"from":"a@x","to":"b@y"}})
        } else {
            json!({"type":"phone","params":{"from_number":"+15550000001","to_number":"+15550000002","timeout":30}})
        }
    }

    fn forge_event(&mut self, kind: Forged, call: u8, control: u8, state: u8) {
        let call_id = pick(&self.calls, call, "call-a").to_owned();
        let control_id = pick(&self.controls, control, "ctl-x").to_owned();
        let (event, p) = match kind {
            Forged::State => {
                let st = pick_str(
                    &["created", "ringing", "answered", "ending", "ended", "bogus"],
                    state,
                );
                let mut p = json!({"call_id":call_id,"node_id":"node-1","call_state":st,
                    "direction":"outbound","device":Self::device(state % 2 == 0)});
                if state % 3 == 0 {
                    p["tag"] = json!(pick(&self.tags, state, "tag-z"));
                }
                if st.starts_with("end") {
                    p["end_reason"] = json!(pick_str(&["hangup", "busy", "error", "w"], state));
                }
                (EventType::CallState, p)
            }
            Forged::Receive => {
                let id = if state % 2 == 0 {
                    format!("in-{}", state % 8)
                } else {
                    call_id
                };
                if !self.calls.contains(&id) {
                    self.calls.push(id.clone());
                }
                let p = json!({"call_id":id,"node_id":"node-1",
                    "call_state":pick_str(&["created", "ringing", "answered"], state),
                    "context":pick_str(&["office", "other", ""], control),
                    "direction":"inbound","device":Self::device(control % 2 == 0)});
                (EventType::CallReceive, p)
            }
            Forged::Play => (
                EventType::CallPlay,
                json!({"call_id":call_id,"control_id":control_id,"node_id":"node-1",
                    "state":pick_str(&["playing", "finished", "error", "paused", "x"], state)}),
            ),
            Forged::Collect => (
                EventType::CallCollect,
                Self::collect(&call_id, &control_id, state),
            ),
            Forged::Connect => {
                let mut p = json!({"call_id":call_id,"node_id":"node-1",
                    "connect_state":pick_str(&["connecting","connected","failed","disconnected"], state)});
                if state % 2 == 0 {
                    p["peer"] = json!({"call_id":pick(&self.calls, control, "call-b"),
                        "node_id":"node-2","device":Self::device(false)});
                }
                (EventType::CallConnect, p)
            }
            Forged::Dial => {
                let tag = pick(&self.tags, control, "tag-z").to_owned();
                let mut p = json!({"tag":tag,"node_id":"node-1",
                    "dial_state":pick_str(&["dialing", "answered", "failed", "x"], state)});
                if state % 2 == 0 {
                    p["call"] = json!({"call_id":call_id,"node_id":"node-1","tag":tag,
                        "call_state":"answered","device":Self::device(false),"dial_winner":true});
                }
                (EventType::CallDial, p)
            }
            Forged::Component => Self::component(&call_id, &control_id, state),
        };
        let f = frame::broadcast(&self.protocol(), event.as_str(), p);
        self.inject(&f.to_string());
    }

    fn collect(call_id: &str, control_id: &str, state: u8) -> Value {
        let result = match state % 7 {
            0 => json!({"type":"digit","params":{"digits":"12","terminator":"#"}}),
            1 => json!({"type":"speech","params":{"text":"hi","confidence":0.5}}),
            2 => json!({"type":"no_input"}),
            3 => json!({"type":"no_match"}),
            4 => json!({"type":"error"}),
            5 => json!({"type":"start_of_input"}),
            _ => json!({"type":"speech","partial":true,"params":{"text":"h"}}),
        };
        let mut p = json!({"call_id":call_id,"control_id":control_id,"node_id":"node-1",
            "result":result});
        if state % 3 == 0 {
            p["final"] = json!(state % 2 == 0);
        }
        p
    }

    fn component(call_id: &str, control_id: &str, state: u8) -> (EventType, Value) {
        let kinds = [
            EventType::CallRecord,
            EventType::CallTap,
            EventType::CallSendDigits,
            EventType::CallDetect,
            EventType::CallFax,
            EventType::CallRefer,
        ];
        let kind = kinds[usize::from(state) % kinds.len()].clone();
        let p = json!({"call_id":call_id,"control_id":control_id,"node_id":"node-1",
            "state":pick_str(&["finished", "error", "recording"], state / 8),
            "record":{"audio":{"format":"mp3"}},"url":"u","duration":1,"size":2});
        (kind, p)
    }

    fn server_frame(&mut self, kind: u8, state: u8) {
        self.next_id += 1;
        let f = match kind % 3 {
            0 => json!({"jsonrpc":"2.0","id":format!("srv-p{}", self.next_id),
                "method":"blade.ping","params":{}}),
            1 => json!({"jsonrpc":"2.0","id":format!("srv-d{}", self.next_id),
                "method":"blade.disconnect","params":{}}),
            _ => {
                let event = if state % 2 == 0 {
                    EventType::MessagingReceive
                } else {
                    EventType::MessagingState
                };
                frame::messaging_broadcast(
                    &format!("srv-m{}", self.next_id),
                    &self.protocol(),
                    event.as_str(),
                    "office",
                    json!({"message_id":format!("msg-{}", state % 4),
                        "context":"office","direction":"inbound","from_number":"+1","to_number":"+2",
                        "body":"hi","media":[],"segments":1,"tags":[],
                        "message_state":pick_str(&["received","queued","delivered","failed","x"], state / 2)}),
                )
            }
        };
        self.inject(&f.to_string());
    }

    /// Lets every timer of both sides fire.
    fn finish(&mut self) {
        for _ in 0..64 {
            let Some(t) = self.pair.next_timeout() else {
                break;
            };
            let by = t.saturating_duration_since(self.pair.now());
            self.pair.advance(by);
            self.drive();
        }
    }
}

/// Arbitrary bytes decoded (by `arbitrary`) into a program of [`Op`]s (at most 512) and run
/// by [`run_ops`].
pub fn session_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run_ops(&ops);
}

/// Runs `ops` on a [`Pair`] whose session (context `office`) is ready, then lets every timer
/// fire, and returns the pair. Panics on a panic of either side, on a client frame that is not
/// JSON-RPC 2.0, on a request id sent twice, and on unbounded in-flight or queued requests.
pub fn run_ops(ops: &[Op]) -> Pair {
    let mut d = Driver::new(Instant::now());
    for op in ops {
        d.run(op);
    }
    d.finish();
    d.pair
}
