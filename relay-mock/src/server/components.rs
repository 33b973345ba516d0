//! Call components (play, play_and_collect, record, detect, send/receive fax, tap, send_digits)
//! on the virtual clock, following "Component timing" in CONTROL_API.md.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use relay_proto::calling::{ComponentKind as Kind, ControlAction};
use relay_proto::wire::{EventType, Method};

use super::blade::{code, Exec};
use super::output::merge;
use super::script::Named;
use super::{Action, Effect, MockServer, Outcome, Params};

/// The protocol's event type for a component kind (from relay-proto's kind table).
fn event_type(kind: Kind) -> EventType {
    kind.spec()
        .event_type
        .unwrap_or_else(|| EventType::Unrecognized(String::new()))
}

/// The component a relay method starts, or the control it sends, per relay-proto's kind table.
pub(crate) fn component_method(method: Method) -> Option<(Kind, Option<ControlAction>)> {
    if let Some(kind) = Kind::from_method(method).filter(|k| k.has_control_id()) {
        return Some((kind, None));
    }
    let actions = [
        ControlAction::Stop,
        ControlAction::Pause,
        ControlAction::Resume,
        ControlAction::Volume(0.0),
    ];
    Kind::ALL.iter().find_map(|&kind| {
        actions
            .into_iter()
            .find(|&a| kind.control_method(a) == Some(method))
            .map(|a| (kind, Some(a)))
    })
}

/// The `message` of the `200` answer that starts a component of `kind`.
fn start_message(kind: Kind) -> &'static str {
    match kind {
        Kind::Play => "Playing",
        Kind::Prompt => "Prompting",
        Kind::Record => "Recording",
        Kind::Detect => "Detecting",
        Kind::SendFax => "Sending fax",
        Kind::ReceiveFax => "Receiving fax",
        Kind::Tap => "Tapping",
        Kind::SendDigits => "Sending digits",
        _ => "OK",
    }
}

/// Which component of which call an event belongs to.
struct Started<'a> {
    call_id: &'a str,
    control_id: &'a str,
    kind: Kind,
}

/// A running (or finished) component of a call.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub control_id: String,
    pub kind: Kind,
    pub done: bool,
    /// When the natural end is scheduled (while running).
    pub finish_at: Option<Instant>,
    /// Time left when paused.
    pub paused: Option<Duration>,
    /// The request params.
    pub spec: Value,
    /// A scripted named outcome.
    pub outcome: Option<Named>,
    /// Its scheduled events and finish with a sequence number up to this one are cancelled.
    pub cancelled_through: u64,
    /// When it started (what a stopped recording measures its length from).
    pub started_at: Option<Instant>,
}

fn secs(v: Option<&Value>) -> Option<Duration> {
    let f = v.and_then(relay_proto::wire::lenient::value_as_f64)?;
    (f.is_finite() && f >= 0.0).then(|| Duration::from_secs_f64(f.min(86_400.0)))
}

/// Whole milliseconds of `d` (saturating; lengths are capped at a day anyway).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A length in seconds as the server reports it: whole seconds as an integer, anything else
/// as a number with millisecond precision.
fn seconds_value(d: Duration) -> Value {
    let ms = millis(d);
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// The size of `d` of recorded audio: 8000 bytes a second plus a 44-byte header.
fn record_size(d: Duration) -> u64 {
    millis(d).saturating_mul(8).saturating_add(44)
}

/// Media length: silence/ringtone `params.duration` (ringtone 1 s if absent), audio/tts 0.3 s.
fn media_length(play: Option<&Value>) -> Duration {
    let mut total = Duration::ZERO;
    for m in play.and_then(Value::as_array).into_iter().flatten() {
        let p = m.get("params");
        let d = p.and_then(|p| p.get("duration"));
        total += match m.get("type").and_then(Value::as_str) {
            Some("silence") => secs(d).unwrap_or(Duration::ZERO),
            Some("ringtone") => secs(d).unwrap_or(Duration::from_secs(1)),
            _ => Duration::from_millis(300),
        };
    }
    total
}

impl Component {
    fn base(&self, ids: &Value) -> Value {
        merge(json!({"control_id": self.control_id}), Some(ids.clone()))
    }

    fn record_url(&self) -> String {
        let format = self
            .spec
            .pointer("/record/audio/format")
            .and_then(Value::as_str)
            .unwrap_or("mp3");
        format!(
            "https://mock.relay.invalid/recordings/{}.{format}",
            self.control_id
        )
    }

    /// How long a recording runs by itself: `record.audio.end_silence_timeout` (1 s if absent).
    fn record_length(&self) -> Duration {
        secs(self.spec.pointer("/record/audio/end_silence_timeout"))
            .unwrap_or(Duration::from_secs(1))
    }

    /// A record event in `state`; a `finished` one reports `recorded` of audio (duration, size).
    fn record_finished(&self, ids: &Value, state: &str, recorded: Duration) -> Value {
        let audio = self
            .spec
            .pointer("/record/audio")
            .cloned()
            .unwrap_or(json!({}));
        let mut p = merge(
            json!({"state": state, "url": self.record_url()}),
            Some(self.base(ids)),
        );
        if state == "finished" {
            p["duration"] = seconds_value(recorded);
            p["size"] = json!(record_size(recorded));
        }
        p["record"] = json!({"audio": audio});
        p
    }

    fn detect_type(&self) -> String {
        self.spec
            .pointer("/detect/type")
            .and_then(Value::as_str)
            .unwrap_or("machine")
            .to_owned()
    }

    fn detect_event(&self, ids: &Value, event: &str) -> Value {
        let t = self.detect_type();
        merge(
            json!({"detect": {"type": t, "params": {"event": event}}}),
            Some(self.base(ids)),
        )
    }

    fn fax_params(&self, success: bool) -> Value {
        let direction = if self.kind == Kind::SendFax {
            "send"
        } else {
            "receive"
        };
        let document = self
            .spec
            .get("document")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("https://mock.relay.invalid/faxes/{}.pdf", self.control_id));
        let identity = self
            .spec
            .get("identity")
            .and_then(Value::as_str)
            .unwrap_or("+15550000000");
        json!({"direction": direction, "identity": identity, "remote_identity": "+15559999999",
            "document": document, "success": success, "result": if success { "1231" } else { "1220" },
            "result_text": "", "pages": if success { 1 } else { 0 }})
    }

    fn collect_result(&self) -> Value {
        let forced = self.outcome.as_ref().map(Named::as_str);
        let digits = self.spec.pointer("/collect/digits");
        let speech = self.spec.pointer("/collect/speech");
        let kind = forced.unwrap_or(if digits.is_some() {
            "digit"
        } else if speech.is_some() {
            "speech"
        } else {
            "no_input"
        });
        match kind {
            "digit" => {
                let max = digits
                    .and_then(|d| d.get("max"))
                    .and_then(relay_proto::wire::lenient::value_as_u64)
                    .unwrap_or(3) as usize;
                let term = digits
                    .and_then(|d| d.get("terminators"))
                    .and_then(Value::as_str)
                    .and_then(|t| t.chars().next())
                    .unwrap_or('#');
                let d: String = "123".chars().take(max.max(1)).collect();
                json!({"type": "digit", "params": {"digits": d, "terminator": term.to_string()}})
            }
            "speech" => {
                json!({"type": "speech", "params": {"text": "hello world", "confidence": 83.2}})
            }
            other => json!({"type": other}),
        }
    }

    /// `{call_id, control_id, node_id, state}` (play and send_digits events) as text, the
    /// members in the order a `Value` object writes them.
    fn state_event(&self, ids: &Value, state: &str) -> Params {
        let id = |key: &str| ids.get(key).and_then(Value::as_str).unwrap_or_default();
        self.play_state(id("call_id"), id("node_id"), state)
    }

    /// [`Component::state_event`] from the ids themselves.
    fn play_state(&self, call_id: &str, node_id: &str, state: &str) -> Params {
        Params::text(&ComponentState {
            call_id,
            control_id: &self.control_id,
            node_id,
            state,
        })
    }

    /// The event sent when the component ends by itself.
    fn natural_end(&self, ids: &Value) -> Params {
        Params::from(match self.kind {
            Kind::Play => return self.state_event(ids, "finished"),
            Kind::Prompt => merge(
                json!({"result": self.collect_result()}),
                Some(self.base(ids)),
            ),
            Kind::Record => {
                let state = if self.outcome == Some(Named::NoInput) {
                    "no_input"
                } else {
                    "finished"
                };
                self.record_finished(ids, state, self.record_length())
            }
            Kind::Detect => self.detect_event(ids, "finished"),
            Kind::SendFax | Kind::ReceiveFax => merge(
                json!({"fax": {"type": "finished", "params": self.fax_params(true)}}),
                Some(self.base(ids)),
            ),
            // Tap, send_digits (and no other kind: only control-id kinds become components).
            _ => return self.stop_event(ids, Duration::ZERO),
        })
    }

    /// The event sent when the component is stopped (or its call ends) after `ran` of media
    /// time (a recording reports what it recorded so far).
    fn stop_event(&self, ids: &Value, ran: Duration) -> Params {
        Params::from(match self.kind {
            Kind::Play | Kind::SendDigits => return self.state_event(ids, "finished"),
            Kind::Prompt => merge(json!({"result": {"type": "error"}}), Some(self.base(ids))),
            Kind::Record => self.record_finished(ids, "finished", ran.min(self.record_length())),
            Kind::Detect => self.detect_event(ids, "finished"),
            Kind::SendFax | Kind::ReceiveFax => merge(
                json!({"fax": {"type": "finished", "params": self.fax_params(false)}}),
                Some(self.base(ids)),
            ),
            Kind::Tap => {
                let mut p = merge(json!({"state": "finished"}), Some(self.base(ids)));
                p["tap"] = self
                    .spec
                    .get("tap")
                    .cloned()
                    .unwrap_or(json!({"type": "audio", "params": {}}));
                p["device"] = self.spec.get("device").cloned().unwrap_or(json!({}));
                p
            }
            // Only control-id kinds become components; nothing to send for any other.
            _ => Value::Null,
        })
    }
}

/// The params of a play or send_digits event (see [`Component::state_event`]).
#[derive(serde::Serialize)]
struct ComponentState<'a> {
    call_id: &'a str,
    control_id: &'a str,
    node_id: &'a str,
    state: &'a str,
}

impl MockServer {
    fn comp_event(
        &mut self,
        offset: Duration,
        at: &Started<'_>,
        params: impl Into<Params>,
        effect: Effect,
    ) {
        let params = params.into();
        let offset = self.media_time(offset);
        self.schedule_in(
            offset,
            Action::CallEvent {
                call_id: at.call_id.to_owned(),
                control_id: Some(at.control_id.to_owned()),
                event_type: event_type(at.kind),
                params,
                effect,
            },
        );
    }

    /// Schedules the natural end `after` of media time from now (scaled by
    /// [`MockConfig::media_speed`](crate::MockConfig::media_speed)).
    fn schedule_finish(&mut self, call_id: &str, control_id: &str, after: Duration) {
        let after = self.media_time(after);
        self.schedule_finish_in(call_id, control_id, after);
    }

    /// Schedules the natural end `after` of wall time from now (already scaled).
    fn schedule_finish_in(&mut self, call_id: &str, control_id: &str, after: Duration) {
        let at = self.now().map(|n| n + after);
        if let Some(c) = self.component_mut(call_id, control_id) {
            c.finish_at = at;
        }
        self.schedule_in(
            after,
            Action::Finish {
                call_id: call_id.to_owned(),
                control_id: control_id.to_owned(),
            },
        );
    }

    fn component_mut(&mut self, call_id: &str, control_id: &str) -> Option<&mut Component> {
        self.calls
            .get_mut(call_id)?
            .components
            .iter_mut()
            .find(|c| c.control_id == control_id)
    }

    /// Cancels what is scheduled for the component so far (skipped when due).
    fn cancel_component(&mut self, call_id: &str, control_id: &str) {
        let scheduled = self.timer_seq();
        if let Some(c) = self.component_mut(call_id, control_id) {
            c.cancelled_through = scheduled;
        }
    }

    pub(crate) fn on_component(&mut self, ex: &Exec, call_id: &str, outcome: Option<Outcome>) {
        // Only the controls a kind accepts are methods at all (`calling.send_digits.stop` is not).
        let Some((kind, control)) = ex.method.and_then(component_method) else {
            self.reply_error(
                ex.conn,
                Some(&ex.id),
                code::METHOD_NOT_FOUND,
                "Method not found",
            );
            return;
        };
        let Some(control_id) = ex.str("control_id").map(str::to_owned) else {
            self.reply_error(
                ex.conn,
                Some(&ex.id),
                code::INVALID_PARAMS,
                "`control_id` is required",
            );
            return;
        };
        match control {
            None => self.start_component(ex, call_id, &control_id, kind, outcome),
            Some(action) => self.control_component(ex, call_id, &control_id, kind, action),
        }
    }

    fn start_component(
        &mut self,
        ex: &Exec,
        call_id: &str,
        control_id: &str,
        kind: Kind,
        outcome: Option<Outcome>,
    ) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        if call.is_over() {
            self.reply_fail(ex, "404", "Call is ending");
            return;
        }
        // Play events are written from the ids directly (see `Component::play_state`).
        let node_id = call.node_id.clone();
        let ids = if kind == Kind::Play {
            Value::Null
        } else {
            call.ids()
        };
        let named = match outcome {
            Some(Outcome::Named(n)) => Some(n),
            _ => None,
        };
        // Play and send_digits never read their request again (their events carry ids and
        // a state only): no copy of the request tree for them.
        let spec = match kind {
            Kind::Play | Kind::SendDigits => Value::Null,
            _ => ex.params.clone(),
        };
        let comp = Component {
            control_id: control_id.to_owned(),
            kind,
            done: false,
            finish_at: None,
            paused: None,
            spec,
            outcome: named,
            cancelled_through: 0,
            started_at: self.now(),
        };
        let extra = match kind {
            Kind::Record => json!({"url": comp.record_url()}),
            Kind::Tap => json!({"source_device": {"type": "rtp",
                "params": {"addr": "10.10.10.10", "port": 3000, "codec": "PCMU", "rate": 8000}}}),
            _ => json!({"call_id": call_id}),
        };
        let base = if kind == Kind::Play {
            Value::Null
        } else {
            comp.base(&ids)
        };
        let play_state = |state: &str| {
            Params::text(&ComponentState {
                call_id,
                control_id,
                node_id: &node_id,
                state,
            })
        };
        // What the start needs of the component; it moves into the call (a detector needs
        // it whole, the only copy).
        let record_url = (kind == Kind::Record).then(|| comp.record_url());
        let play_error = comp.outcome == Some(Named::Error);
        let detector = (kind == Kind::Detect).then(|| comp.clone());
        if let Some(call) = self.calls.get_mut(call_id) {
            call.components.retain(|c| c.control_id != control_id);
            call.components.push(comp);
        }
        self.reply_ok(ex, start_message(kind), extra);
        let at = Started {
            call_id,
            control_id,
            kind,
        };
        match kind {
            Kind::Play => {
                let first = play_state(if play_error { "error" } else { "playing" });
                self.start_play(ex, &at, play_error, first);
            }
            Kind::Prompt => {
                self.schedule_finish(call_id, control_id, media_length(ex.params.get("play")))
            }
            Kind::Record => {
                let p = merge(
                    json!({"state": "recording", "url": record_url.unwrap_or_default()}),
                    Some(base),
                );
                self.comp_event(Duration::ZERO, &at, p, Effect::None);
                let d = secs(ex.params.pointer("/record/audio/end_silence_timeout"))
                    .unwrap_or(Duration::from_secs(1));
                self.schedule_finish(call_id, control_id, d);
            }
            Kind::Detect => {
                if let Some(comp) = detector {
                    self.start_detect(ex, &at, &comp, &ids);
                }
            }
            Kind::SendFax | Kind::ReceiveFax => {
                let direction = if kind == Kind::SendFax {
                    "send"
                } else {
                    "receive"
                };
                let p = merge(
                    json!({"fax": {"type": "page", "params": {"direction": direction, "number": 1}}}),
                    Some(base),
                );
                self.comp_event(Duration::from_millis(500), &at, p, Effect::None);
                self.schedule_finish(call_id, control_id, Duration::from_secs(1));
            }
            Kind::Tap => {
                let mut p = merge(json!({"state": "tapping"}), Some(base));
                p["tap"] = ex
                    .params
                    .get("tap")
                    .cloned()
                    .unwrap_or(json!({"type": "audio", "params": {}}));
                p["device"] = ex.params.get("device").cloned().unwrap_or(json!({}));
                self.comp_event(Duration::ZERO, &at, p, Effect::None);
            }
            Kind::SendDigits => {
                let n = ex.str("digits").map_or(0, |d| d.chars().count()) as u64;
                self.schedule_finish(call_id, control_id, Duration::from_millis(50 * n.max(1)));
            }
            // Only control-id kinds reach here (see `component_method`).
            _ => {}
        }
    }

    /// Sends `first` (`playing`, or `error` when so scripted) and schedules the natural end.
    fn start_play(&mut self, ex: &Exec, at: &Started<'_>, error: bool, first: Params) {
        if error {
            let done = Effect::Complete(at.control_id.to_owned());
            self.comp_event(Duration::ZERO, at, first, done);
        } else {
            self.comp_event(Duration::ZERO, at, first, Effect::None);
            let length = media_length(ex.params.get("play"));
            self.schedule_finish(at.call_id, at.control_id, length);
        }
    }

    /// The detector events (scripted, or per the detector type), then the natural end.
    fn start_detect(&mut self, ex: &Exec, at: &Started<'_>, comp: &Component, ids: &Value) {
        let events: Vec<String> = match &comp.outcome {
            Some(Named::Detect(events)) => events.clone(),
            _ => match comp.detect_type().as_str() {
                "fax" => vec![ex
                    .params
                    .pointer("/detect/params/tone")
                    .and_then(Value::as_str)
                    .unwrap_or("CED")
                    .to_owned()],
                "digit" => vec![ex
                    .params
                    .pointer("/detect/params/digits")
                    .and_then(Value::as_str)
                    .and_then(|d| d.chars().next())
                    .unwrap_or('1')
                    .to_string()],
                _ => vec!["MACHINE".into(), "NOT_READY".into(), "READY".into()],
            },
        };
        for (i, e) in events.iter().enumerate() {
            let p = comp.detect_event(ids, e);
            let after = Duration::from_millis(45 * (i as u64 + 1));
            self.comp_event(after, at, p, Effect::None);
        }
        let t = secs(ex.params.get("timeout"))
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(30));
        let last = Duration::from_millis(45 * (events.len() as u64 + 1));
        self.schedule_finish(at.call_id, at.control_id, t.max(last));
    }

    fn control_component(
        &mut self,
        ex: &Exec,
        call_id: &str,
        control_id: &str,
        kind: Kind,
        action: ControlAction,
    ) {
        let now = self.now();
        let at = Started {
            call_id,
            control_id,
            kind,
        };
        let ids = self.calls.get(call_id).map(|c| c.ids()).unwrap_or_default();
        let Some(comp) = self
            .component_mut(call_id, control_id)
            .filter(|c| !c.done && c.kind == kind)
        else {
            self.reply_fail(ex, "404", "Component not found");
            return;
        };
        let comp_snapshot = comp.clone();
        let base = comp.base(&ids);
        match action {
            ControlAction::Volume(_) => self.reply_ok(ex, "Volume changed", json!({})),
            ControlAction::Pause => {
                if comp.paused.is_none() {
                    let left = match (comp.finish_at, now) {
                        (Some(f), Some(n)) => f.saturating_duration_since(n),
                        _ => Duration::ZERO,
                    };
                    comp.paused = Some(left);
                    comp.finish_at = None;
                    self.reply_ok(ex, "Paused", json!({}));
                    self.cancel_component(call_id, control_id);
                    let p = merge(json!({"state": "paused"}), Some(base));
                    self.comp_event(Duration::ZERO, &at, p, Effect::None);
                } else {
                    self.reply_ok(ex, "Paused", json!({}));
                }
            }
            ControlAction::Resume => {
                if let Some(left) = comp.paused.take() {
                    self.reply_ok(ex, "Resumed", json!({}));
                    let p = merge(json!({"state": "playing"}), Some(base));
                    self.comp_event(Duration::ZERO, &at, p, Effect::None);
                    // `left` was measured on the (already scaled) schedule.
                    self.schedule_finish_in(call_id, control_id, left);
                } else {
                    self.reply_ok(ex, "Resumed", json!({}));
                }
            }
            _ => {
                self.reply_ok(ex, "Stopped", json!({}));
                self.cancel_component(call_id, control_id);
                let ran = self.media_ran(&comp_snapshot);
                let p = comp_snapshot.stop_event(&ids, ran);
                let done = Effect::Complete(control_id.to_owned());
                self.comp_event(Duration::ZERO, &at, p, done);
            }
        }
    }

    /// How much media time `comp` has run since it started (all of it at media speed 0).
    fn media_ran(&self, comp: &Component) -> Duration {
        let wall = match (comp.started_at, self.now()) {
            (Some(start), Some(now)) => now.saturating_duration_since(start),
            _ => Duration::ZERO,
        };
        self.media_elapsed(wall)
    }

    /// A component's natural end (its [`Action::Finish`] fired).
    pub(crate) fn finish_component(&mut self, call_id: &str, control_id: &str) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let Some(comp) = call
            .components
            .iter()
            .find(|c| c.control_id == control_id)
            .filter(|c| !c.done && c.paused.is_none())
        else {
            return;
        };
        let p = match comp.kind {
            // The frequent one: written from the ids, no `{call_id, node_id}` tree.
            Kind::Play => comp.play_state(&call.call_id, &call.node_id, "finished"),
            _ => comp.natural_end(&call.ids()),
        };
        let kind = comp.kind;
        self.fire_call_event(
            call_id,
            Some(control_id),
            event_type(kind),
            p,
            Effect::Complete(control_id.to_owned()),
        );
    }

    /// Terminal events for every running component of the call, now, in creation order.
    pub(crate) fn stop_all_components(&mut self, call_id: &str) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let mut ids = None;
        // Each event depends on its component alone: written first, then sent in order.
        let stops: Vec<_> = call
            .components
            .iter()
            .filter(|c| !c.done)
            .map(|c| {
                let p = match c.kind {
                    Kind::Play | Kind::SendDigits => {
                        c.play_state(&call.call_id, &call.node_id, "finished")
                    }
                    _ => c.stop_event(ids.get_or_insert_with(|| call.ids()), self.media_ran(c)),
                };
                (c.control_id.clone(), c.kind, p)
            })
            .collect();
        for (control_id, kind, p) in stops {
            self.fire_call_event(
                call_id,
                Some(&control_id),
                event_type(kind),
                p,
                Effect::Complete(control_id.clone()),
            );
        }
    }
}
