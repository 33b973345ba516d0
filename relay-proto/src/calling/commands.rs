//! Issuing commands and routing their responses: starting components, controls, and the
//! outcome of every calling request.

use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::calling::component_params::PlayParams;
use crate::calling::components::Component;
use crate::calling::params::{Media, WireMediaList};
use crate::calling::Outbox;
use crate::calling::{
    complete_dial, emit_finished, params, CallEvent, CallState, Calling, CallingRequest,
    ComponentKind, ComponentOutcome, ControlAction, ControlResult, DialOutcome, PendingDial,
    ResultEvent,
};
use crate::error::{ApiMisuse, Capacity, CommandError};
use crate::ids::{CallId, ControlId, DialTag, NodeId, RequestId};
use crate::outcome::RequestError;
use crate::wire::{JsonText, RelayResult};

/// The ids every call command carries (`node_id` when known, `call_id`, and `control_id` for
/// a component), written into its params without building a JSON tree.
/// A command's own params, besides the ids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rest<'a> {
    /// Any params, as a tree.
    Map(Map<String, Value>),
    /// One string member (`calling.end`'s `reason`), with no tree built for it.
    Str(&'static str, &'a str),
    /// `calling.play`'s `play` list and `volume`, written with no tree built (checked first
    /// with [`PlayParams::validate`]).
    Play(&'a PlayParams),
}

impl From<Map<String, Value>> for Rest<'_> {
    fn from(m: Map<String, Value>) -> Self {
        Rest::Map(m)
    }
}

/// One member's value, as [`CallIds::with`] writes it.
#[derive(Clone, Copy)]
enum Member<'a> {
    Tree(&'a Value),
    Str(&'a str),
    Media(&'a [Media]),
}

pub(crate) struct CallIds<'a> {
    pub node_id: Option<&'a NodeId>,
    pub call_id: &'a CallId,
    pub control_id: Option<&'a ControlId>,
}

impl CallIds<'_> {
    /// `rest` with these ids, as JSON text: the same bytes as inserting the ids into the map
    /// and serializing it (keys sorted; with serde_json's `preserve_order` feature on, the ids
    /// are merged into `rest`'s insertion order instead). An id replaces a key of `rest` with
    /// its name. Written piece by piece ([`JsonText`]); the text is the core's own, so it is
    /// not parsed again to be checked.
    pub(crate) fn with(&self, rest: &Rest<'_>) -> String {
        match rest {
            Rest::Map(m) => self.write(
                m.iter().map(|(k, v)| (k.as_str(), Member::Tree(v))),
                m.len(),
            ),
            Rest::Str(k, v) => self.write(std::iter::once((*k, Member::Str(v))), 1),
            Rest::Play(p) => {
                let volume = p.wire_volume();
                let play = std::iter::once(("play", Member::Media(&p.media)));
                let volume = volume.as_ref().map(|v| ("volume", Member::Tree(v)));
                self.write(play.chain(volume), 2)
            }
        }
    }

    fn write<'m>(&self, rest: impl Iterator<Item = (&'m str, Member<'m>)>, n: usize) -> String {
        let ids = self.entries();
        let is_id = |k: &str| ids.iter().any(|(name, v)| v.is_some() && *name == k);
        let room = ids
            .iter()
            .map(|(_, v)| v.map_or(0, |v| v.len() + 16))
            .sum::<usize>();
        let mut t = JsonText::with_capacity(room + 2 + n * 48);
        let mut sep = "{";
        let mut member = |t: &mut JsonText, k: &str, v: Member<'_>| {
            t.raw(sep).str(k).raw(":");
            match v {
                Member::Str(s) => {
                    t.str(s);
                }
                // A tree always serializes (string keys, finite numbers).
                Member::Tree(v) => {
                    let _ = t.value(v);
                }
                // Checked before: every media item serializes.
                Member::Media(m) => {
                    let _ = t.value(&WireMediaList(m));
                }
            }
            sep = ",";
        };
        let mut next = 0;
        for (k, v) in rest {
            if is_id(k) {
                continue;
            }
            while next < ids.len() && ids[next].0 < k {
                if let (name, Some(id)) = ids[next] {
                    member(&mut t, name, Member::Str(id));
                }
                next += 1;
            }
            member(&mut t, k, v);
        }
        for (name, id) in &ids[next..] {
            if let Some(id) = id {
                member(&mut t, name, Member::Str(id));
            }
        }
        if sep == "{" {
            t.raw("{");
        }
        t.raw("}");
        t.finish()
    }

    fn entries(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("call_id", Some(self.call_id.as_str())),
            ("control_id", self.control_id.map(ControlId::as_str)),
            ("node_id", self.node_id.map(NodeId::as_str)),
        ]
    }
}

impl Calling {
    /// Starts a component or call command (see [`CallMut`]).
    pub(crate) fn start<'p>(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        call_id: &CallId,
        kind: ComponentKind,
        params: impl Into<Rest<'p>>,
        setup: impl FnOnce(&mut Component),
    ) -> Result<ControlId, CommandError> {
        let params = params.into();
        let now = out.observe(now);
        let Some(call) = self.calls.get_mut(call_id) else {
            if self.is_gone(call_id) {
                let control_id = out.next_control_id();
                let mut comp = Component::new(kind);
                let why = format!("call {call_id} has ended");
                comp.terminate(None, Some(RequestError::Refused(why)));
                emit_finished(out, call_id, control_id.clone(), comp);
                return Ok(control_id);
            }
            return Err(CommandError::ApiMisuse(ApiMisuse::UnknownCall {
                call_id: call_id.clone(),
            }));
        };
        if call.components.len() >= self.max_components {
            return Err(CommandError::Capacity(Capacity::ComponentsPerCall {
                limit: self.max_components,
            }));
        }
        let control_id = out.next_control_id();
        let mut comp = Component::new(kind);
        setup(&mut comp);
        if call.info.ended() {
            // Nothing is sent on an ending call; the outcome is a local refusal (§6.4.3).
            let why = format!("call {call_id} is {}", call.info.state.as_str());
            tracing::debug!(call_id = %call_id, control_id = %control_id, "{why}: refused");
            comp.terminate(None, Some(RequestError::Refused(why)));
            emit_finished(out, call_id, control_id.clone(), comp);
            return Ok(control_id);
        }
        let Some(method) = kind.method() else {
            call.components.insert(control_id.clone(), comp);
            if !out.can_send() {
                let deadline = now + self.lost_event_timeout;
                self.lost.started_offline(call_id, &control_id, deadline);
            }
            return Ok(control_id);
        };
        let ids = CallIds {
            node_id: call.info.node_id.as_ref(),
            call_id,
            control_id: kind.has_control_id().then_some(&control_id),
        };
        let params = ids.with(&params);
        let req = CallingRequest::Command {
            call_id: call_id.clone(),
            control_id: control_id.clone(),
            kind,
        };
        // The params text goes into the frame and stays with the component (Node's
        // `action.payload`). Nothing can answer before this returns (sans-IO), so adding the
        // component after the send still applies events racing the response (§6.5).
        out.execute(now, method, &params, req)?;
        comp.payload = Some(params);
        call.components.insert(control_id.clone(), comp);
        Ok(control_id)
    }

    /// Reports a command outcome that needs no request (answer on an answered call, wait_for
    /// on a reached state).
    pub(crate) fn finish_now(
        &mut self,
        out: &mut dyn Outbox,
        call_id: &CallId,
        kind: ComponentKind,
        state: Option<CallState>,
    ) -> Result<ControlId, CommandError> {
        if !self.calls.contains_key(call_id) {
            return Err(CommandError::ApiMisuse(ApiMisuse::UnknownCall {
                call_id: call_id.clone(),
            }));
        }
        let control_id = out.next_control_id();
        let mut c = Component::new(kind);
        c.result.successful = true;
        match &mut c.result.outcome {
            ComponentOutcome::Answer(o) => o.state = state,
            ComponentOutcome::WaitFor(o) => o.state = state,
            _ => {}
        }
        emit_finished(out, call_id, control_id.clone(), c);
        Ok(control_id)
    }

    /// Sends `stop`/`pause`/`resume`/`volume` to a running component.
    pub(crate) fn control(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        call_id: &CallId,
        control_id: &ControlId,
        action: ControlAction,
    ) -> Result<RequestId, CommandError> {
        let Some(call) = self.calls.get(call_id) else {
            return Err(CommandError::ApiMisuse(ApiMisuse::UnknownCall {
                call_id: call_id.clone(),
            }));
        };
        let Some(comp) = call.components.get(control_id) else {
            return Err(CommandError::ApiMisuse(ApiMisuse::UnknownComponent {
                call_id: call_id.clone(),
                control_id: control_id.clone(),
            }));
        };
        let Some(method) = comp.kind.control_method(action) else {
            return Err(CommandError::ApiMisuse(ApiMisuse::ControlNotSupported {
                kind: comp.kind,
                action,
            }));
        };
        let mut params = Map::new();
        if let ControlAction::Volume(v) = action {
            params::validate_volume(v)?;
            params.insert("volume".into(), params::num(v));
        }
        let params = CallIds {
            node_id: call.info.node_id.as_ref(),
            call_id,
            control_id: Some(control_id),
        }
        .with(&Rest::Map(params));
        let req = CallingRequest::Control {
            call_id: call_id.clone(),
            control_id: control_id.clone(),
            action,
            internal: false,
        };
        out.execute(now, method, &params, req)
    }

    pub(crate) fn register_dial(&mut self, tag: DialTag, devices: usize) {
        self.dials.insert(
            tag,
            PendingDial {
                devices,
                legs: Vec::new(),
            },
        );
    }

    pub(crate) fn check_dial_room(&self) -> Result<(), CommandError> {
        Ok(self.ensure_room()?)
    }

    /// The outcome of a request this sub-machine sent.
    pub(crate) fn handle_response(
        &mut self,
        out: &mut dyn Outbox,
        _now: Instant,
        id: RequestId,
        req: CallingRequest,
        outcome: Result<RelayResult, RequestError>,
    ) {
        match req {
            CallingRequest::Dial { tag } => self.on_dial_response(out, tag, outcome),
            CallingRequest::Command {
                call_id,
                control_id,
                kind,
            } => self.on_command_response(out, call_id, control_id, kind, outcome),
            CallingRequest::Control {
                call_id,
                control_id,
                action,
                internal,
            } => {
                let result = control_result(outcome);
                if internal {
                    tracing::debug!(call_id = %call_id, control_id = %control_id, ok = result.successful, "detector stop answered");
                    return;
                }
                out.emit(CallEvent::ControlCompleted {
                    call_id,
                    control_id,
                    request: id,
                    action,
                    result,
                });
            }
        }
    }

    /// A dial request's answer: only a failure matters (success waits for the dial event).
    fn on_dial_response(
        &mut self,
        out: &mut dyn Outbox,
        tag: DialTag,
        outcome: Result<RelayResult, RequestError>,
    ) {
        let Err(e) = outcome else {
            return;
        };
        if self.dials.remove(&tag).is_some() {
            tracing::debug!(tag = %tag, error = %e, "dial request failed");
            complete_dial(
                out,
                tag,
                DialOutcome {
                    successful: false,
                    state: crate::calling::DialState::Failed,
                    call_id: None,
                    node_id: None,
                    end_reason: None,
                    error: Some(e),
                    event: None,
                },
            );
        }
    }

    /// A component command's answer: a pass finishes with it, a failure finishes any
    /// command, a success only fills in what the answer carries (a record's url, a tap's
    /// source device).
    fn on_command_response(
        &mut self,
        out: &mut dyn Outbox,
        call_id: CallId,
        control_id: ControlId,
        kind: ComponentKind,
        outcome: Result<RelayResult, RequestError>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            tracing::trace!(call_id = %call_id, control_id = %control_id, "response for a removed call; ignored");
            return;
        };
        let Some(comp) = call.components.get_mut(&control_id) else {
            // Already finished by its events: a late error cannot overturn it (bug 23).
            tracing::trace!(call_id = %call_id, control_id = %control_id, "response for a finished component; ignored");
            return;
        };
        let finished = match (kind, outcome) {
            (ComponentKind::Pass, outcome) => {
                finish_pass(comp, outcome);
                true
            }
            (_, Ok(r)) => {
                absorb_execute_result(comp, &r);
                comp.answered = true;
                false
            }
            (_, Err(e)) => {
                tracing::debug!(call_id = %call_id, control_id = %control_id, error = %e, "command failed");
                comp.terminate(None, Some(e));
                true
            }
        };
        if !finished {
            return;
        }
        let Some(c) = call.components.remove(&control_id) else {
            return;
        };
        let passed = kind == ComponentKind::Pass && c.result.successful;
        emit_finished(out, &call_id, control_id, c);
        if passed {
            // The call now belongs to another consumer: no more events will come for it
            // here, so it leaves the registry instead of lingering as a zombie.
            self.remove_call(out, &call_id, "passed", &json!({"call_id": call_id}));
            out.emit(CallEvent::Released { call_id });
        }
    }
}

/// A pass finishes with its answer: the relay code and message, successful without error.
fn finish_pass(comp: &mut Component, outcome: Result<RelayResult, RequestError>) {
    let (code, message, error) = match outcome {
        Ok(r) => (r.code, r.message, None),
        Err(RequestError::Relay(r)) => (
            r.code.clone(),
            r.message.clone(),
            Some(RequestError::Relay(r)),
        ),
        Err(e) => (None, None, Some(e)),
    };
    let r = &mut comp.result;
    r.successful = error.is_none();
    r.event = Some(ResultEvent::new(
        "response",
        &json!({"code": code, "message": message}),
    ));
    r.code = code;
    r.message = message;
    r.error = error;
}

/// What a successful execute answer tells a running component.
fn absorb_execute_result(comp: &mut Component, r: &RelayResult) {
    match &mut comp.result.outcome {
        ComponentOutcome::Record(o) => {
            if let Some(u) = r.str_field("url") {
                o.url = Some(u);
            }
        }
        ComponentOutcome::Tap(o) => {
            o.source_device = r.field("source_device");
        }
        _ => {}
    }
}

/// A control's answer as its result: the relay or JSON-RPC code and message of a failure.
fn control_result(outcome: Result<RelayResult, RequestError>) -> ControlResult {
    match outcome {
        Ok(r) => ControlResult {
            successful: true,
            code: r.code,
            message: r.message,
            error: None,
        },
        Err(e) => {
            let (code, message) = match &e {
                RequestError::Relay(r) => (r.code.clone(), r.message.clone()),
                RequestError::Rpc(r) => (Some(r.code.to_string()), Some(r.message.clone())),
                _ => (None, None),
            };
            ControlResult {
                successful: false,
                code,
                message,
                error: Some(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids written into the params come out exactly as inserting them into the map and
    /// serializing it would (what the frames were before, and what the golden transcripts hold).
    /// `calling.play` params written as text are the bytes of the tree they replace, and
    /// are refused exactly when the tree is.
    #[test]
    fn play_params_as_text_are_the_tree_bytes() {
        use crate::calling::component_params::PlayParams;
        use crate::calling::params::Media;
        use crate::calling::TtsGender;
        use std::time::Duration;
        let node = NodeId::new("node-1");
        let call = CallId::new("call-1");
        let control = ControlId::new("ctl-1");
        let ids = CallIds {
            node_id: Some(&node),
            call_id: &call,
            control_id: Some(&control),
        };
        let tts = |t: &str, l: Option<&str>, g: Option<TtsGender>| Media::Tts {
            text: t.into(),
            language: l.map(Into::into),
            gender: g,
        };
        let lists = vec![
            vec![Media::tts("Welcome")],
            vec![tts(
                "hi \"there\" \\ ✓",
                Some("en-GB"),
                Some(TtsGender::Female),
            )],
            vec![
                tts("x", None, Some(TtsGender::Male)),
                tts("y", Some("fr-FR"), None),
            ],
            vec![Media::audio("https://example.invalid/a.mp3?x=1&y=\u{7f}")],
            vec![
                Media::silence(Duration::from_millis(500)),
                Media::silence(Duration::from_secs(30)),
            ],
            vec![
                Media::ringtone("us", None),
                Media::ringtone("it", Some(Duration::from_secs_f64(2.25))),
            ],
            vec![],
            vec![Media::tts("  ")],
            vec![Media::audio("")],
            vec![Media::silence(Duration::from_secs(100_000))],
            vec![Media::ringtone("us", Some(Duration::from_secs(100_000)))],
        ];
        for media in lists {
            for volume in [
                None,
                Some(0.0),
                Some(2.5),
                Some(-3.0),
                Some(40.0),
                Some(41.0),
                Some(f64::NAN),
            ] {
                let p = PlayParams {
                    media: media.clone(),
                    volume,
                };
                match (p.validate(), p.to_wire()) {
                    (Ok(()), Ok(tree)) => assert_eq!(
                        ids.with(&Rest::Play(&p)),
                        ids.with(&Rest::Map(tree)),
                        "{p:?}"
                    ),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{p:?}: validate {a:?}, tree {b:?}"),
                }
            }
        }
    }

    #[test]
    fn ids_are_written_where_a_map_would_put_them() {
        let node = NodeId::new("node-1");
        let call = CallId::new("call-1");
        let control = ControlId::new("ctl-1");
        let rests = [
            json!({}),
            json!({"reason": "hangup"}),
            json!({"media": [{"type": "tts", "params": {"text": "hi \"there\""}}], "volume": 2.5}),
            json!({"a": 1, "call_id": "user's", "zz": null, "node_id": "theirs"}),
        ];
        for rest in rests {
            let Value::Object(rest) = rest else {
                unreachable!("objects above")
            };
            for (node_id, control_id) in [
                (Some(&node), Some(&control)),
                (None, Some(&control)),
                (Some(&node), None),
                (None, None),
            ] {
                let mut expected = rest.clone();
                if let Some(n) = node_id {
                    expected.insert("node_id".into(), json!(n.as_str()));
                }
                expected.insert("call_id".into(), json!(call.as_str()));
                if let Some(c) = control_id {
                    expected.insert("control_id".into(), json!(c.as_str()));
                }
                let got = CallIds {
                    node_id,
                    call_id: &call,
                    control_id,
                }
                .with(&Rest::Map(rest.clone()));
                assert_eq!(&*got, Value::Object(expected.clone()).to_string());
                // A one-string rest writes as the tree with that member would.
                if rest.len() == 1 {
                    if let Some((k, Value::String(v))) = rest.iter().next() {
                        let key: &'static str = if k == "reason" { "reason" } else { continue };
                        let one = CallIds {
                            node_id,
                            call_id: &call,
                            control_id,
                        }
                        .with(&Rest::Str(key, v));
                        assert_eq!(one, got);
                    }
                }
            }
        }
    }
}
