//! Component state machines: how each event moves a component and when it is final
//! (PROTOCOL.md §6.3, with the fixes of §13: `paused` is not terminal, partial collect results
//! are progress, connect resolves on `disconnected`).

use serde_json::value::RawValue;

use crate::calling::component_params::DetectMode;
use crate::calling::events::{
    truthy, CallState, CollectPayload, DetectPayload, EndReason, EventText, FaxPayload, PeerInfo,
    ReferPayload, StateComponentPayload,
};
use crate::calling::kinds::ComponentKind;
use crate::calling::states::{
    CollectResultType, ComponentState, ConnectState, DetectEvent, DetectType, FaxDirection,
    FaxEventType, PlayState, RecordState, ReferState, SendDigitsState, TapState,
};
use crate::calling::types::{ComponentOutcome, ComponentResult, PromptInput, ResultEvent};
use crate::outcome::RequestError;
use crate::wire::lenient;

/// Whether an event finished the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Continue,
    Finish,
}

/// Detect bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct DetectTrack {
    pub mode: DetectMode,
    pub wait_for_beep: bool,
    pub saw_machine: bool,
    pub events: Vec<String>,
}

/// The async form joins every event; bound the list so a chatty detector cannot grow it.
const MAX_DETECT_EVENTS: usize = 64;

/// A component (or call command) waiting for its outcome.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub kind: ComponentKind,
    pub result: ComponentResult,
    pub detect: Option<DetectTrack>,
    pub wait_states: Vec<CallState>,
    /// Set when a blocking detect completed early: the caller must stop the detector.
    pub stop_detector: bool,
    /// The execute params as sent, as JSON text (Node's `action.payload`); `None` when
    /// nothing was sent.
    pub payload: Option<String>,
    /// The server answered the execute request successfully (the component is running there).
    pub answered: bool,
}

fn ev(name: &str, payload: &(impl EventText + ?Sized)) -> Option<ResultEvent> {
    Some(ResultEvent::from_text(name.to_owned(), payload))
}

/// Where a component state is kept in its kind's outcome.
pub(crate) trait StoreState: ComponentState {
    fn store(&self, outcome: &mut ComponentOutcome);
}

macro_rules! store_state {
    ($($state:ty => $variant:ident),* $(,)?) => {$(
        impl StoreState for $state {
            fn store(&self, outcome: &mut ComponentOutcome) {
                if let ComponentOutcome::$variant(o) = outcome {
                    o.state = Some(self.clone());
                }
            }
        }
    )*};
}

store_state!(
    PlayState => Play,
    RecordState => Record,
    TapState => Tap,
    SendDigitsState => SendDigits,
    ReferState => Refer,
);

impl Component {
    pub(crate) fn new(kind: ComponentKind) -> Self {
        Component {
            kind,
            result: ComponentResult::new(kind),
            detect: None,
            wait_states: Vec::new(),
            stop_detector: false,
            payload: None,
            answered: false,
        }
    }

    /// Fails the component: execute failure, local refusal, or the call ended (§6.4). The
    /// `event` (when the call ended) names the call state.
    pub(crate) fn terminate(&mut self, event: Option<ResultEvent>, error: Option<RequestError>) {
        let r = &mut self.result;
        r.successful = false;
        if event.is_some() {
            r.event = event;
        }
        if let Some(RequestError::Relay(rr)) = &error {
            r.code = rr.code.clone();
            r.message = rr.message.clone();
        }
        if let Some(RequestError::Rpc(e)) = &error {
            r.code = Some(e.code.to_string());
            r.message = Some(e.message.clone());
        }
        r.error = error;
    }

    /// A `calling.call.state` for this call: Answer, Hangup and WaitFor listen.
    pub(crate) fn on_call_state(
        &mut self,
        state: CallState,
        end_reason: Option<&EndReason>,
        raw: &(impl EventText + ?Sized),
    ) -> Step {
        let r = &mut self.result;
        let successful = match (&mut r.outcome, state) {
            (ComponentOutcome::Answer(o), CallState::Answered) => {
                o.state = Some(state);
                true
            }
            (ComponentOutcome::Answer(o), CallState::Ending | CallState::Ended) => {
                o.state = Some(state);
                false
            }
            (ComponentOutcome::Hangup(o), CallState::Ended) => {
                o.end_reason = end_reason.cloned();
                true
            }
            (ComponentOutcome::WaitFor(o), _) if self.wait_states.contains(&state) => {
                o.state = Some(state);
                true
            }
            _ => return Step::Continue,
        };
        r.successful = successful;
        r.event = ev(state.as_str(), raw);
        Step::Finish
    }

    /// A `calling.call.connect` for this call: Connect and Disconnect listen.
    pub(crate) fn on_connect(
        &mut self,
        state: &ConnectState,
        peer: Option<&PeerInfo>,
        raw: &(impl EventText + ?Sized),
    ) -> Step {
        let r = &mut self.result;
        let successful = match (&mut r.outcome, state) {
            (ComponentOutcome::Connect(o), ConnectState::Connected) => {
                o.state = Some(state.clone());
                o.peer = peer.cloned();
                true
            }
            // A `disconnected` without `connected` resolves as a failure (the SDK hangs: bug 19).
            (ComponentOutcome::Connect(o), ConnectState::Failed | ConnectState::Disconnected) => {
                o.state = Some(state.clone());
                false
            }
            (ComponentOutcome::Disconnect(o), ConnectState::Disconnected) => {
                o.state = Some(state.clone());
                true
            }
            (ComponentOutcome::Disconnect(o), ConnectState::Failed) => {
                o.state = Some(state.clone());
                false
            }
            _ => return Step::Continue,
        };
        r.successful = successful;
        r.event = ev(state.as_str(), raw);
        Step::Finish
    }

    pub(crate) fn on_refer(&mut self, p: &ReferPayload, raw: &(impl EventText + ?Sized)) -> Step {
        if let ComponentOutcome::Refer(o) = &mut self.result.outcome {
            o.refer_to = p.sip_refer_to.clone().or(o.refer_to.take());
            o.refer_response_code = p
                .sip_refer_response_code
                .clone()
                .or(o.refer_response_code.take());
            o.refer_notify_code = p
                .sip_notify_response_code
                .clone()
                .or(o.refer_notify_code.take());
        }
        self.on_state(&p.state, raw)
    }

    /// A component state (play, record, tap, send_digits, refer): the state's own table says
    /// whether it ends the component (`paused` and unknown states are progress: bug 18).
    pub(crate) fn on_state<S: StoreState>(
        &mut self,
        state: &S,
        raw: &(impl EventText + ?Sized),
    ) -> Step {
        let r = &mut self.result;
        match state.outcome() {
            Some(ok) => {
                state.store(&mut r.outcome);
                r.successful = ok;
                r.event = ev(state.as_str(), raw);
                Step::Finish
            }
            None => Step::Continue,
        }
    }

    /// A record event: keep the file's details, then its state.
    pub(crate) fn on_record(
        &mut self,
        p: &StateComponentPayload<RecordState>,
        raw: &(impl EventText + ?Sized),
    ) -> Step {
        if let ComponentOutcome::Record(o) = &mut self.result.outcome {
            if p.url.is_some() {
                o.url = p.url.clone();
            }
            if p.duration.is_some() {
                o.duration = p.duration;
            }
            if p.size.is_some() {
                o.size = p.size;
            }
        }
        self.on_state(&p.state, raw)
    }

    /// A tap event: keep the tap and its destination, then its state.
    pub(crate) fn on_tap(
        &mut self,
        p: &StateComponentPayload<TapState>,
        raw: &(impl EventText + ?Sized),
    ) -> Step {
        if let ComponentOutcome::Tap(o) = &mut self.result.outcome {
            if p.tap.is_some() {
                o.tap = p.tap.clone();
            }
            if p.device.is_some() {
                o.destination_device = p.device.clone();
            }
        }
        self.on_state(&p.state, raw)
    }

    /// Partial results and start-of-input are progress; only a final result completes (bug 20).
    pub(crate) fn on_collect(&mut self, p: &CollectPayload) -> Step {
        if is_collect_progress(p) {
            return Step::Continue;
        }
        let r = &mut self.result;
        let t = &p.result.result_type;
        let params = &p.result.params;
        r.event = Some(ResultEvent::new(
            t.as_str(),
            &serde_json::json!({"type": t, "params": params}),
        ));
        let s = |k: &str| params.get(k).and_then(lenient::value_as_string);
        let input = match t {
            CollectResultType::Digit => Some(PromptInput::Digits {
                digits: s("digits"),
                terminator: s("terminator"),
            }),
            CollectResultType::Speech => Some(PromptInput::Speech {
                text: s("text"),
                confidence: params.get("confidence").and_then(lenient::value_as_f64),
            }),
            _ => None,
        };
        r.successful = input.is_some();
        if let ComponentOutcome::Prompt(o) = &mut r.outcome {
            o.result_type = Some(t.clone());
            o.input = input;
        }
        Step::Finish
    }

    pub(crate) fn on_detect(&mut self, p: &DetectPayload) -> Step {
        let Some(track) = self.detect.as_mut() else {
            return Step::Continue;
        };
        let r = &mut self.result;
        let ComponentOutcome::Detect(o) = &mut r.outcome else {
            return Step::Continue;
        };
        let detected = &p.detect.params.event;
        let event = detected.as_str();
        let detect_obj = serde_json::json!({
            "type": p.detect.detect_type,
            "params": {"event": event},
        });
        o.detect_type = Some(p.detect.detect_type.clone());
        o.last_event = Some(detected.clone());
        let terminal = detected.is_terminal();
        if !track.mode.is_blocking() {
            if terminal {
                r.successful = *detected != DetectEvent::Error;
                o.result = Some(track.events.join(","));
                r.event = ev(event, &detect_obj);
                return Step::Finish;
            }
            if track.events.len() < MAX_DETECT_EVENTS {
                track.events.push(event.to_owned());
            }
            return Step::Continue;
        }
        if terminal {
            r.successful = false;
            o.result = None;
            r.event = ev(event, &detect_obj);
            return Step::Finish;
        }
        let decided = if p.detect.detect_type == DetectType::Digit {
            Some(event.to_owned())
        } else if track.wait_for_beep && (track.saw_machine || *detected == DetectEvent::Machine) {
            track.saw_machine = true;
            (*detected == DetectEvent::Ready).then(|| DetectEvent::Machine.as_str().to_owned())
        } else if matches!(
            detected,
            DetectEvent::Machine
                | DetectEvent::Human
                | DetectEvent::Unknown
                | DetectEvent::Ced
                | DetectEvent::Cng
        ) {
            Some(event.to_owned())
        } else {
            None
        };
        let Some(result) = decided else {
            return Step::Continue;
        };
        r.successful = match track.mode {
            DetectMode::Human => result == DetectEvent::Human.as_str(),
            DetectMode::Machine => result == DetectEvent::Machine.as_str(),
            _ => true,
        };
        o.result = Some(result);
        r.event = ev(event, &detect_obj);
        // The blocking form is done but the server-side detector still runs: stop it (bug 21).
        self.stop_detector = true;
        Step::Finish
    }

    pub(crate) fn on_fax(&mut self, p: &FaxPayload) -> Step {
        let r = &mut self.result;
        let ComponentOutcome::Fax(o) = &mut r.outcome else {
            return Step::Continue;
        };
        let fp = &p.fax.params;
        let s = |k: &str| fp.get(k).and_then(lenient::value_as_string);
        if let Some(d) = s("direction") {
            o.direction = Some(FaxDirection::parse(&d));
        }
        if !matches!(p.fax.fax_type, FaxEventType::Finished | FaxEventType::Error) {
            return Step::Continue;
        }
        o.identity = s("identity").or(o.identity.take());
        o.remote_identity = s("remote_identity").or(o.remote_identity.take());
        o.document = s("document").or(o.document.take());
        o.pages = fp
            .get("pages")
            .and_then(lenient::value_as_u64)
            .or(o.pages.take());
        o.state = Some(p.fax.fax_type.clone());
        r.successful = truthy(fp.get("success"));
        let payload =
            serde_json::value::to_raw_value(fp).unwrap_or_else(|_| RawValue::NULL.to_owned());
        r.event = Some(ResultEvent::from_raw(
            p.fax.fax_type.as_str().to_owned(),
            payload,
        ));
        Step::Finish
    }
}

/// Whether a collect event is progress (partial result, start of input) rather than final.
pub(crate) fn is_collect_progress(p: &CollectPayload) -> bool {
    p.is_final == Some(false)
        || p.result.result_type == CollectResultType::StartOfInput
        || p.state.as_deref() == Some("collecting")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calling::events::{decode_payload, CallingPayload};
    use serde_json::{json, Value};

    fn ids() -> Value {
        json!({"control_id":"c","call_id":"a","node_id":"n"})
    }

    fn with(extra: Value) -> Value {
        let mut v = ids();
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        v
    }

    /// (kind, state, finishes, successful)
    #[test]
    fn state_component_table() {
        let table = [
            (ComponentKind::Play, "playing", false, false),
            (ComponentKind::Play, "paused", false, false),
            (ComponentKind::Play, "finished", true, true),
            (ComponentKind::Play, "error", true, false),
            (ComponentKind::Play, "brand_new_state", false, false),
            (ComponentKind::Record, "recording", false, false),
            (ComponentKind::Record, "paused", false, false),
            (ComponentKind::Record, "finished", true, true),
            (ComponentKind::Record, "no_input", true, false),
            (ComponentKind::Tap, "tapping", false, false),
            (ComponentKind::Tap, "finished", true, true),
            (ComponentKind::SendDigits, "finished", true, true),
        ];
        for (kind, state, finishes, ok) in table {
            let mut c = Component::new(kind);
            let raw = with(json!({ "state": state }));
            let event_type = kind.spec().event_type.unwrap();
            let step = match decode_payload(&event_type, &raw).unwrap().unwrap() {
                CallingPayload::Play(p) => c.on_state(&p.state, &raw),
                CallingPayload::SendDigits(p) => c.on_state(&p.state, &raw),
                CallingPayload::Record(p) => c.on_record(&p, &raw),
                CallingPayload::Tap(p) => c.on_tap(&p, &raw),
                other => panic!("{other:?}"),
            };
            assert_eq!(step == Step::Finish, finishes, "{kind:?} {state}");
            if finishes {
                assert_eq!(c.result.successful, ok, "{kind:?} {state}");
                assert_eq!(c.result.event.as_ref().unwrap().name, state);
            }
        }
    }

    #[test]
    fn call_state_table() {
        use CallState::*;
        let table = [
            (ComponentKind::Answer, Ringing, false, false),
            (ComponentKind::Answer, Answered, true, true),
            (ComponentKind::Answer, Ending, true, false),
            (ComponentKind::Hangup, Ending, false, false),
            (ComponentKind::Hangup, Ended, true, true),
            (ComponentKind::Play, Ended, false, false),
        ];
        for (kind, state, finishes, ok) in table {
            let mut c = Component::new(kind);
            let step = c.on_call_state(state, Some(&EndReason::Busy), &json!({}));
            assert_eq!(step == Step::Finish, finishes, "{kind:?} {state:?}");
            if finishes {
                assert_eq!(c.result.successful, ok, "{kind:?} {state:?}");
            }
        }
        let mut w = Component::new(ComponentKind::WaitFor);
        w.wait_states = vec![Ringing, Answered];
        assert_eq!(
            w.on_call_state(Created, Option::None, &json!({})),
            Step::Continue
        );
        assert_eq!(
            w.on_call_state(Answered, Option::None, &json!({})),
            Step::Finish
        );
        assert!(w.result.successful);
    }

    #[test]
    fn connect_table() {
        let table = [
            (ComponentKind::Connect, "connecting", false, false),
            (ComponentKind::Connect, "connected", true, true),
            (ComponentKind::Connect, "failed", true, false),
            (ComponentKind::Connect, "disconnected", true, false),
            (ComponentKind::Disconnect, "connected", false, false),
            (ComponentKind::Disconnect, "disconnected", true, true),
            (ComponentKind::Disconnect, "failed", true, false),
        ];
        for (kind, state, finishes, ok) in table {
            let mut c = Component::new(kind);
            let step = c.on_connect(&ConnectState::parse(state), None, &json!({}));
            assert_eq!(step == Step::Finish, finishes, "{kind:?} {state}");
            if finishes {
                assert_eq!(c.result.successful, ok, "{kind:?} {state}");
            }
        }
    }

    fn detect_events(
        mode: DetectMode,
        beep: bool,
        dtype: &str,
        evs: &[&str],
    ) -> Option<ComponentResult> {
        let mut c = Component::new(ComponentKind::Detect);
        c.detect = Some(DetectTrack {
            mode,
            wait_for_beep: beep,
            saw_machine: false,
            events: vec![],
        });
        for e in evs {
            let raw = with(json!({"detect":{"type":dtype,"params":{"event":e}}}));
            let Ok(Some(CallingPayload::Detect(p))) =
                decode_payload(&crate::wire::EventType::CallDetect, &raw)
            else {
                panic!("decode");
            };
            if c.on_detect(&p) == Step::Finish {
                return Some(c.result);
            }
        }
        None
    }

    #[test]
    fn detect_table() {
        use DetectMode::*;
        let r = |mode, beep, t, evs: &[&str]| {
            detect_events(mode, beep, t, evs)
                .map(|r| (r.successful, r.detect().unwrap().result.clone()))
        };
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            r(Blocking, false, "machine", &["READY", "HUMAN"]),
            Some((true, s("HUMAN")))
        );
        assert_eq!(
            r(Blocking, false, "machine", &["NOT_READY", "finished"]),
            Some((false, None))
        );
        assert_eq!(
            r(
                Blocking,
                true,
                "machine",
                &["MACHINE", "NOT_READY", "HUMAN", "READY"]
            ),
            Some((true, s("MACHINE")))
        );
        assert_eq!(
            r(Blocking, true, "machine", &["HUMAN"]),
            Some((true, s("HUMAN")))
        );
        assert_eq!(r(Blocking, false, "fax", &["CED"]), Some((true, s("CED"))));
        assert_eq!(r(Blocking, false, "digit", &["1#"]), Some((true, s("1#"))));
        assert_eq!(
            r(Human, false, "machine", &["MACHINE"]),
            Some((false, s("MACHINE")))
        );
        assert_eq!(
            r(Machine, false, "machine", &["MACHINE"]),
            Some((true, s("MACHINE")))
        );
        assert_eq!(
            r(
                Async,
                true,
                "machine",
                &["MACHINE", "NOT_READY", "READY", "finished"]
            ),
            Some((true, s("MACHINE,NOT_READY,READY")))
        );
        assert_eq!(
            r(Async, false, "machine", &["UNKNOWN", "error"]),
            Some((false, s("UNKNOWN")))
        );
        assert_eq!(r(Async, false, "machine", &["MACHINE", "HUMAN"]), None);
    }

    #[test]
    fn collect_table() {
        let table = [
            (json!({"type":"start_of_input"}), None, false, false),
            (
                json!({"type":"digit","params":{"digits":"1"}}),
                Some(false),
                false,
                false,
            ),
            (
                json!({"type":"digit","params":{"digits":"12","terminator":"#"}}),
                None,
                true,
                true,
            ),
            (
                json!({"type":"speech","params":{"text":"hi","confidence":"0.5"}}),
                Some(true),
                true,
                true,
            ),
            (json!({"type":"no_input"}), None, true, false),
            (json!({"type":"no_match"}), None, true, false),
            (json!({"type":"error"}), None, true, false),
        ];
        for (result, fin, finishes, ok) in table {
            let mut raw = with(json!({ "result": result }));
            if let Some(f) = fin {
                raw["final"] = json!(f);
            }
            let p: CollectPayload = serde_json::from_value(raw).unwrap();
            let mut c = Component::new(ComponentKind::Prompt);
            assert_eq!(c.on_collect(&p) == Step::Finish, finishes, "{result}");
            if finishes {
                assert_eq!(c.result.successful, ok, "{result}");
            }
        }
    }

    #[test]
    fn fax_and_refer() {
        let mut c = Component::new(ComponentKind::SendFax);
        let page = with(json!({"fax":{"type":"page","params":{"direction":"send","number":1}}}));
        let p: FaxPayload = serde_json::from_value(page).unwrap();
        assert_eq!(c.on_fax(&p), Step::Continue);
        let fin = with(json!({"fax":{"type":"finished","params":{"success":"true","pages":3}}}));
        let p: FaxPayload = serde_json::from_value(fin).unwrap();
        assert_eq!(c.on_fax(&p), Step::Finish);
        assert!(c.result.successful);
        assert_eq!(c.result.fax().unwrap().pages, Some(3));
        assert_eq!(c.result.fax().unwrap().direction, Some(FaxDirection::Send));

        let mut r = Component::new(ComponentKind::Refer);
        for (state, finishes, ok) in [("inProgress", false, false), ("busy", true, false)] {
            let raw = json!({"call_id":"a","state":state,"sip_refer_response_code":202});
            let p: ReferPayload = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(r.on_refer(&p, &raw) == Step::Finish, finishes);
            if finishes {
                assert_eq!(r.result.successful, ok);
                assert_eq!(
                    r.result.refer().unwrap().refer_response_code.as_deref(),
                    Some("202")
                );
            }
        }
    }
}
