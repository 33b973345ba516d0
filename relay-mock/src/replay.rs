//! Replaying a recorded transcript against a live [`Session`]: golden tests of call flows.
//!
//! The server side of the transcript (`s2c` frames, opens and closes) is fed to the session at
//! the recorded offsets on a virtual clock; every frame the session sends is compared with the
//! next recorded `c2s` frame after canonicalisation. Ids the client makes (request ids,
//! `control_id`s, dial tags) differ from run to run, so each recorded id is mapped to the live
//! id found at the same place, and that mapping is applied to the server frames that follow.
//!
//! The application's reaction to events is part of a call flow, so the replay takes a callback
//! that sees every event and may issue commands, exactly as the application would:
//!
//! ```no_run
//! use std::time::Instant;
//! use relay_mock::replay::assert_replay;
//! use relay_proto::{CallEvent, Event, SessionConfig};
//!
//! let jsonl = std::fs::read_to_string("tests/transcripts/inbound.jsonl").unwrap();
//! let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
//! assert_replay(config, &jsonl, Instant::now(), |session, now, event| {
//!     if let Event::Call(CallEvent::IncomingCall { call }) = event {
//!         let _ = session.call_mut(&call.id).and_then(|mut c| c.answer(now));
//!     }
//! });
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use relay_proto::{CloseInfo, Event, Input, Output, Session, SessionConfig, TransportAction};
use serde_json::Value;

use crate::transcript::{canonical, parse_jsonl, Dir, IdMap, Line, Mismatch};

/// What a successful replay saw.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Recorded client frames the session reproduced.
    pub client_frames: usize,
    /// Recorded server frames fed to the session.
    pub server_frames: usize,
    /// Every event the session produced, in order.
    pub events: Vec<Event>,
    /// Server frames the session refused (decode errors and the like), with the reason.
    pub refused_frames: Vec<String>,
    /// Answers to server requests (e.g. `blade.ping`) the session sent where the recording
    /// has none (the official Node SDK never answers them).
    pub extra_responses: usize,
}

struct Replayer<F> {
    session: Session,
    app: F,
    sent: VecDeque<Value>,
    connect_requested: bool,
    report: ReplayReport,
}

impl<F: FnMut(&mut Session, Instant, &Event)> Replayer<F> {
    fn drain(&mut self, now: Instant) {
        // Bounded: an app that issues a command for every event it sees cannot loop forever.
        for _ in 0..100_000 {
            match self.session.poll_output() {
                Output::Transmit(f) => self
                    .sent
                    .push_back(serde_json::from_str(&f).unwrap_or(Value::String(f))),
                Output::Transport(TransportAction::Connect) => self.connect_requested = true,
                Output::Event(e) => {
                    (self.app)(&mut self.session, now, &e);
                    self.report.events.push(e);
                }
                Output::Timeout(_) => return,
                _ => {}
            }
        }
    }

    fn run_timers(&mut self, now: Instant) {
        for _ in 0..10_000 {
            match self.session.poll_timeout() {
                Some(t) if t <= now => {
                    let _ = self.session.handle_input(t, Input::Timeout);
                    self.drain(t);
                }
                _ => return,
            }
        }
    }
}

fn without_agent(mut v: Value) -> Value {
    if let Some(p) = v.get_mut("params").and_then(Value::as_object_mut) {
        p.remove("agent");
    }
    v
}

fn mismatch(index: usize, expected: Option<String>, actual: Option<String>) -> Mismatch {
    Mismatch {
        index,
        expected,
        actual,
    }
}

/// Replays `transcript` against a new session made from `config` at virtual time `start`.
/// `app` sees every event (and may issue commands) as the application would.
///
/// The `agent` of `blade.connect` is not compared (it names the SDK). REST (`transport:
/// "http"`) lines and control markers are skipped. Returns the first difference, with the index
/// of the transcript line where it appeared.
pub fn replay_session(
    config: SessionConfig,
    transcript: &[Line],
    start: Instant,
    app: impl FnMut(&mut Session, Instant, &Event),
) -> Result<ReplayReport, Mismatch> {
    let mut r = Replayer {
        session: Session::new(config, start),
        app,
        sent: VecDeque::new(),
        connect_requested: false,
        report: ReplayReport::default(),
    };
    let mut ids = IdMap::new();
    r.drain(start);
    for (index, line) in transcript.iter().enumerate() {
        let now = start + Duration::from_millis(line.t);
        r.run_timers(now);
        if line.transport.is_some() {
            continue;
        }
        match line.dir {
            Dir::Ctl => match line.frame.get("event").and_then(Value::as_str) {
                Some("ws_open") => {
                    if !r.connect_requested {
                        return Err(mismatch(
                            index,
                            Some("a transport (ws_open)".into()),
                            Some("the session did not ask for one".into()),
                        ));
                    }
                    r.connect_requested = false;
                    let _ = r.session.handle_input(now, Input::Opened);
                    r.drain(now);
                }
                Some("ws_close") => {
                    let code = line
                        .frame
                        .get("code")
                        .and_then(Value::as_u64)
                        .and_then(|c| u16::try_from(c).ok());
                    let info = CloseInfo {
                        code,
                        reason: "closed in the recording",
                    };
                    let _ = r.session.handle_input(now, Input::Closed(info));
                    r.drain(now);
                }
                _ => {}
            },
            Dir::C2s => {
                let expected_is_request = line.frame.get("method").is_some();
                // Our answers to server pings have no counterpart in a Node recording.
                while expected_is_request
                    && r.sent.front().is_some_and(|f| f.get("method").is_none())
                {
                    r.sent.pop_front();
                    r.report.extra_responses += 1;
                }
                let Some(live) = r.sent.pop_front() else {
                    return Err(mismatch(index, Some(canonical(&line.frame)), None));
                };
                ids.learn(&line.frame, &live);
                let mut expected = line.frame.clone();
                ids.apply(&mut expected);
                let (expected, live) = (without_agent(expected), without_agent(live));
                if canonical(&expected) != canonical(&live) {
                    return Err(mismatch(
                        index,
                        Some(canonical(&expected)),
                        Some(canonical(&live)),
                    ));
                }
                r.report.client_frames += 1;
            }
            Dir::S2c => {
                let mut frame = line.frame.clone();
                ids.apply(&mut frame);
                let text = match &frame {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Err(e) = r.session.handle_input(now, Input::Frame(&text)) {
                    r.report.refused_frames.push(e.to_string());
                }
                r.report.server_frames += 1;
                r.drain(now);
            }
        }
    }
    if let Some(extra) = r.sent.iter().find(|f| f.get("method").is_some()) {
        return Err(mismatch(transcript.len(), None, Some(canonical(extra))));
    }
    Ok(r.report)
}

/// The one-line test helper: parses `jsonl`, replays it, and panics with a readable diff on
/// the first difference.
#[track_caller]
pub fn assert_replay(
    config: SessionConfig,
    jsonl: &str,
    start: Instant,
    app: impl FnMut(&mut Session, Instant, &Event),
) -> ReplayReport {
    let lines = match parse_jsonl(jsonl) {
        Ok(l) => l,
        Err(e) => panic!("transcript does not parse: {e}"),
    };
    match replay_session(config, &lines, start, app) {
        Ok(report) => report,
        Err(m) => panic!("replay diverged from the recording\n{m}"),
    }
}
