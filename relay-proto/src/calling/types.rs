//! What the calling machine reports: [`CallEvent`] and the typed results it carries.

use serde_json::Value;

use crate::calling::call::CallInfo;
use crate::calling::events::{CallState, DeviceInfo, EndReason, PeerInfo};
use crate::calling::states::{
    CollectResultType, ConnectState, DetectEvent, DetectType, DialState, FaxDirection,
    FaxEventType, PlayState, RecordState, ReferState, SendDigitsState, TapState,
};
use crate::ids::{CallId, ControlId, DialTag, NodeId, RequestId};
use crate::session::RequestError;
use crate::wire::{EventType, Method};

/// Which command a component (and its [`ComponentResult`]) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ComponentKind {
    /// `calling.answer`.
    Answer,
    /// `calling.end`.
    Hangup,
    /// `calling.pass`.
    Pass,
    /// `calling.connect`.
    Connect,
    /// `calling.disconnect`.
    Disconnect,
    /// `calling.refer`.
    Refer,
    /// `wait_for` (nothing sent).
    WaitFor,
    /// `calling.play`.
    Play,
    /// `calling.play_and_collect`.
    Prompt,
    /// `calling.record`.
    Record,
    /// `calling.detect`.
    Detect,
    /// `calling.send_fax`.
    SendFax,
    /// `calling.receive_fax`.
    ReceiveFax,
    /// `calling.tap`.
    Tap,
    /// `calling.send_digits`.
    SendDigits,
}

/// What the protocol says about one component kind: the one table both the client core and
/// relay-mock read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KindSpec {
    /// The relay method that starts it (`None` for `WaitFor`, which sends nothing).
    pub method: Option<Method>,
    /// The event type that reports on it (`None` for pass, which completes on its response).
    pub event_type: Option<EventType>,
    /// Whether the command carries our `control_id` (and its events come back with it).
    pub has_control_id: bool,
    /// `<method>.stop`, if it can be stopped.
    pub stop: Option<Method>,
    /// `calling.play.pause`/`.resume`, if it can be paused.
    pub pause_resume: Option<(Method, Method)>,
    /// `<method>.volume`, if its volume can be changed.
    pub volume: Option<Method>,
}

impl ComponentKind {
    /// Every kind.
    pub const ALL: &'static [ComponentKind] = &[
        ComponentKind::Answer,
        ComponentKind::Hangup,
        ComponentKind::Pass,
        ComponentKind::Connect,
        ComponentKind::Disconnect,
        ComponentKind::Refer,
        ComponentKind::WaitFor,
        ComponentKind::Play,
        ComponentKind::Prompt,
        ComponentKind::Record,
        ComponentKind::Detect,
        ComponentKind::SendFax,
        ComponentKind::ReceiveFax,
        ComponentKind::Tap,
        ComponentKind::SendDigits,
    ];

    /// The protocol's table for this kind (PROTOCOL.md §4.15).
    pub fn spec(self) -> KindSpec {
        use EventType as E;
        use Method as M;
        let (method, event_type, has_control_id, stop) = match self {
            ComponentKind::Answer => (Some(M::CallingAnswer), Some(E::CallState), false, None),
            ComponentKind::Hangup => (Some(M::CallingEnd), Some(E::CallState), false, None),
            ComponentKind::Pass => (Some(M::CallingPass), None, false, None),
            ComponentKind::Connect => (Some(M::CallingConnect), Some(E::CallConnect), false, None),
            ComponentKind::Disconnect => (
                Some(M::CallingDisconnect),
                Some(E::CallConnect),
                false,
                None,
            ),
            ComponentKind::Refer => (Some(M::CallingRefer), Some(E::CallRefer), false, None),
            ComponentKind::WaitFor => (None, Some(E::CallState), false, None),
            ComponentKind::Play => (
                Some(M::CallingPlay),
                Some(E::CallPlay),
                true,
                Some(M::CallingPlayStop),
            ),
            ComponentKind::Prompt => (
                Some(M::CallingPlayAndCollect),
                Some(E::CallCollect),
                true,
                Some(M::CallingPlayAndCollectStop),
            ),
            ComponentKind::Record => (
                Some(M::CallingRecord),
                Some(E::CallRecord),
                true,
                Some(M::CallingRecordStop),
            ),
            ComponentKind::Detect => (
                Some(M::CallingDetect),
                Some(E::CallDetect),
                true,
                Some(M::CallingDetectStop),
            ),
            ComponentKind::SendFax => (
                Some(M::CallingSendFax),
                Some(E::CallFax),
                true,
                Some(M::CallingSendFaxStop),
            ),
            ComponentKind::ReceiveFax => (
                Some(M::CallingReceiveFax),
                Some(E::CallFax),
                true,
                Some(M::CallingReceiveFaxStop),
            ),
            ComponentKind::Tap => (
                Some(M::CallingTap),
                Some(E::CallTap),
                true,
                Some(M::CallingTapStop),
            ),
            ComponentKind::SendDigits => (
                Some(M::CallingSendDigits),
                Some(E::CallSendDigits),
                true,
                None,
            ),
        };
        KindSpec {
            method,
            event_type,
            has_control_id,
            stop,
            pause_resume: (self == ComponentKind::Play)
                .then_some((M::CallingPlayPause, M::CallingPlayResume)),
            volume: match self {
                ComponentKind::Play => Some(M::CallingPlayVolume),
                ComponentKind::Prompt => Some(M::CallingPlayAndCollectVolume),
                _ => None,
            },
        }
    }

    /// The kind a relay method starts (`None` for a method that starts no component).
    pub fn from_method(method: Method) -> Option<ComponentKind> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.spec().method == Some(method))
    }

    /// The relay method that starts it (`None` for `WaitFor`).
    pub fn method(self) -> Option<Method> {
        self.spec().method
    }

    /// Whether the wire command carries our `control_id` (and events come back with it).
    pub fn has_control_id(self) -> bool {
        self.spec().has_control_id
    }

    /// The method of `action` on this kind (`None`: the kind does not accept it).
    pub fn control_method(self, action: ControlAction) -> Option<Method> {
        let spec = self.spec();
        match action {
            ControlAction::Stop => spec.stop,
            ControlAction::Pause => spec.pause_resume.map(|(p, _)| p),
            ControlAction::Resume => spec.pause_resume.map(|(_, r)| r),
            ControlAction::Volume(_) => spec.volume,
        }
    }

    /// Whether `action` is a control this component accepts.
    pub fn accepts(self, action: ControlAction) -> bool {
        self.control_method(action).is_some()
    }
}

/// A control sent to a running component.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ControlAction {
    /// `<method>.stop`.
    Stop,
    /// `calling.play.pause`.
    Pause,
    /// `calling.play.resume`.
    Resume,
    /// `<method>.volume` with this dB value.
    Volume(f64),
}

impl ControlAction {
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            ControlAction::Stop => "stop",
            ControlAction::Pause => "pause",
            ControlAction::Resume => "resume",
            ControlAction::Volume(_) => "volume",
        }
    }
}

/// The `event` of a result: its name (usually the final state) and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultEvent {
    /// e.g. `finished`, `digit`, `ended`, `response`.
    pub name: String,
    /// The event params (prompt: the `result`; fax: `fax.params`; detect: the `detect` object).
    pub payload: Value,
}

/// The final outcome of a component or call command: every field of the official SDK's
/// `*Result` classes; fields that do not apply to a kind stay `None` (and are left out of its
/// `Debug` output).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ComponentResult {
    /// Which command.
    pub kind: ComponentKind,
    /// Whether it succeeded (for `WaitFor`: whether a requested state was reached).
    pub successful: bool,
    /// Final state (`finished`, `error`, `no_input`, `failed`, `connected`, `success`,
    /// `"successful"` for a prompt that got input, the last detect event, ...).
    pub state: Option<String>,
    /// Final event name and payload.
    pub event: Option<ResultEvent>,
    /// Why it failed without a final event (execute failure, local refusal).
    pub error: Option<RequestError>,
    /// Relay `code` of the response (pass, failed executes).
    pub code: Option<String>,
    /// Relay `message` of the response.
    pub message: Option<String>,
    /// Record: file URL (from the response, overwritten by the final event).
    pub url: Option<String>,
    /// Record: seconds.
    pub duration: Option<f64>,
    /// Record: bytes.
    pub size: Option<u64>,
    /// Prompt and detect: result type (`digit`, `speech`, `no_input`, ...; detect: `machine`,
    /// `fax`, `digit`).
    pub result_type: Option<String>,
    /// Prompt: digits or text. Detect: `MACHINE`, `HUMAN`, `CED`, digits, or the joined list
    /// in async mode (`"MACHINE,NOT_READY,READY"`).
    pub result: Option<String>,
    /// Prompt: the terminator digit.
    pub terminator: Option<String>,
    /// Prompt: speech confidence.
    pub confidence: Option<f64>,
    /// Fax: `send` or `receive`.
    pub direction: Option<FaxDirection>,
    /// Fax: our identity.
    pub identity: Option<String>,
    /// Fax: the remote identity.
    pub remote_identity: Option<String>,
    /// Fax: document URL.
    pub document: Option<String>,
    /// Fax: pages (string or number on the wire).
    pub pages: Option<u64>,
    /// Tap: the `tap` object.
    pub tap: Option<Value>,
    /// Tap: where the server sends from (from the response).
    pub source_device: Option<DeviceInfo>,
    /// Tap: where the audio goes (from the events).
    pub destination_device: Option<DeviceInfo>,
    /// Refer: Refer-To.
    pub refer_to: Option<String>,
    /// Refer: REFER response code.
    pub refer_response_code: Option<String>,
    /// Refer: NOTIFY response code.
    pub refer_notify_code: Option<String>,
    /// Hangup: the call's end reason.
    pub end_reason: Option<EndReason>,
    /// Connect: the connected peer leg (also in the registry).
    pub peer: Option<PeerInfo>,
}

impl std::fmt::Debug for ComponentResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ComponentResult");
        d.field("kind", &self.kind)
            .field("successful", &self.successful);
        macro_rules! opt {
            ($($name:ident),*) => {$(
                if let Some(v) = &self.$name {
                    d.field(stringify!($name), v);
                }
            )*};
        }
        opt!(
            state,
            event,
            error,
            code,
            message,
            url,
            duration,
            size,
            result_type,
            result,
            terminator,
            confidence,
            direction,
            identity,
            remote_identity,
            document,
            pages,
            tap,
            source_device,
            destination_device,
            refer_to,
            refer_response_code,
            refer_notify_code,
            end_reason,
            peer
        );
        d.finish()
    }
}

impl ComponentResult {
    pub(crate) fn new(kind: ComponentKind) -> Self {
        ComponentResult {
            kind,
            successful: false,
            state: None,
            event: None,
            error: None,
            code: None,
            message: None,
            url: None,
            duration: None,
            size: None,
            result_type: None,
            result: None,
            terminator: None,
            confidence: None,
            direction: None,
            identity: None,
            remote_identity: None,
            document: None,
            pages: None,
            tap: None,
            source_device: None,
            destination_device: None,
            refer_to: None,
            refer_response_code: None,
            refer_notify_code: None,
            end_reason: None,
            peer: None,
        }
    }
}

/// The outcome of a dial.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DialResult {
    /// Whether a leg answered.
    pub successful: bool,
    /// `answered`, `failed`, or `ended` (single-device dial whose leg ended first).
    pub state: DialState,
    /// The winning leg (now in the registry) on success.
    pub call_id: Option<CallId>,
    /// The winner's node id.
    pub node_id: Option<NodeId>,
    /// The single leg's end reason when it ended before answering.
    pub end_reason: Option<EndReason>,
    /// Why the dial request itself failed.
    pub error: Option<RequestError>,
}

/// The outcome of a control (`stop`, `pause`, `resume`, `volume`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ControlResult {
    /// Relay code `"200"`.
    pub successful: bool,
    /// Relay `code`.
    pub code: Option<String>,
    /// Relay `message`.
    pub message: Option<String>,
    /// Why it failed.
    pub error: Option<RequestError>,
}

/// Progress of a prompt (never a completion).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CollectProgress {
    /// The caller started speaking or pressing keys.
    StartOfInput,
    /// A partial (non-final) result.
    Partial {
        /// `digit` or `speech`.
        result_type: CollectResultType,
        /// Digits or text so far.
        result: Option<String>,
        /// Speech confidence.
        confidence: Option<f64>,
    },
    /// The final result (a [`CallEvent::ComponentFinished`] follows for tracked components).
    Final {
        /// `digit`, `speech`, `no_input`, `no_match`, `error`.
        result_type: CollectResultType,
        /// Digits or text.
        result: Option<String>,
        /// Terminator digit.
        terminator: Option<String>,
        /// Speech confidence.
        confidence: Option<f64>,
    },
}

/// A calling event. Component updates are reported for every event of a known call (also for
/// components started elsewhere); each component we started gets exactly one
/// [`CallEvent::ComponentFinished`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// An inbound call was offered to one of our contexts; it is in the registry in state
    /// `created`.
    IncomingCall {
        /// The call, as registered.
        call: Box<CallInfo>,
    },
    /// A call changed state (also the first state of a leg we learn of). On `ended` the call
    /// has left the registry after its components were finished.
    StateChanged {
        /// Call id.
        call_id: CallId,
        /// New state.
        state: CallState,
        /// Previous state (`None` for a call first seen in this event).
        prev_state: CallState,
        /// End reason, on `ending`/`ended`.
        end_reason: Option<EndReason>,
        /// The dial tag, for legs of our dials.
        tag: Option<DialTag>,
        /// The call's peer, if bridged.
        peer: Option<PeerInfo>,
    },
    /// A call left the registry without ending here: it was passed to another consumer
    /// (`calling.pass` succeeded). Its unfinished components were finished first.
    Released {
        /// Call id.
        call_id: CallId,
    },
    /// `calling.call.dial` `dialing`.
    DialProgress {
        /// The dial.
        tag: DialTag,
        /// `dialing`.
        state: DialState,
    },
    /// A dial finished: exactly once per [`Session::dial`](crate::Session::dial).
    DialCompleted {
        /// The tag `dial` returned.
        tag: DialTag,
        /// The outcome.
        result: DialResult,
    },
    /// `calling.call.connect`.
    ConnectUpdate {
        /// Call id.
        call_id: CallId,
        /// `connecting`, `connected`, `failed`, `disconnected`.
        state: ConnectState,
        /// The peer (on `connected`).
        peer: Option<PeerInfo>,
    },
    /// `calling.call.play` (`playing`, `paused`, `finished`, `error`).
    PlayUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// State.
        state: PlayState,
    },
    /// `calling.call.collect`.
    CollectUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// What happened.
        progress: CollectProgress,
    },
    /// `calling.call.record`.
    RecordUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// `recording`, `finished`, `no_input`.
        state: RecordState,
        /// URL.
        url: Option<String>,
        /// Seconds.
        duration: Option<f64>,
        /// Bytes.
        size: Option<u64>,
    },
    /// `calling.call.detect`.
    DetectUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// `machine`, `fax`, `digit`.
        detect_type: DetectType,
        /// The detector event (`MACHINE`, `READY`, `CED`, `1#`, `finished`, ...).
        event: DetectEvent,
    },
    /// `calling.call.fax`.
    FaxUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// `page`, `finished`, `error`.
        fax_type: FaxEventType,
        /// Direction.
        direction: Option<FaxDirection>,
        /// Page number (on `page`) or page count.
        page: Option<u64>,
    },
    /// `calling.call.tap`.
    TapUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// `tapping`, `finished`.
        state: TapState,
        /// The `tap` object.
        tap: Option<Value>,
        /// Destination device.
        device: Option<DeviceInfo>,
    },
    /// `calling.call.send_digits`.
    SendDigitsUpdate {
        /// Call id.
        call_id: CallId,
        /// Control id.
        control_id: ControlId,
        /// `finished`.
        state: SendDigitsState,
    },
    /// `calling.call.refer`.
    ReferUpdate {
        /// Call id.
        call_id: CallId,
        /// `inProgress`, `success`, `error`, `busy`, `noAnswer`, `cancel`.
        state: ReferState,
        /// Refer-To.
        refer_to: Option<String>,
        /// REFER response code.
        refer_response_code: Option<String>,
        /// NOTIFY response code.
        refer_notify_code: Option<String>,
    },
    /// A component or call command finished: exactly once per id returned by a `CallMut`
    /// command (answer, hangup, pass, connect, disconnect, refer, wait_for, play, prompt,
    /// record, detect, fax, tap, send_digits).
    ComponentFinished {
        /// Call id.
        call_id: CallId,
        /// The id the command returned.
        control_id: ControlId,
        /// The outcome.
        result: Box<ComponentResult>,
    },
    /// A control (`stop`, `pause`, `resume`, `volume`) was answered.
    ControlCompleted {
        /// Call id.
        call_id: CallId,
        /// The component controlled.
        control_id: ControlId,
        /// The request the control method returned.
        request: RequestId,
        /// Which control.
        action: ControlAction,
        /// The outcome.
        result: ControlResult,
    },
}

impl CallEvent {
    /// The call the event is about (`None` for dial events, which carry only their tag, until
    /// the dial is answered).
    pub fn call_id(&self) -> Option<&CallId> {
        match self {
            CallEvent::IncomingCall { call } => Some(&call.id),
            CallEvent::DialCompleted { result, .. } => result.call_id.as_ref(),
            CallEvent::DialProgress { .. } => None,
            CallEvent::StateChanged { call_id, .. }
            | CallEvent::Released { call_id }
            | CallEvent::ConnectUpdate { call_id, .. }
            | CallEvent::PlayUpdate { call_id, .. }
            | CallEvent::CollectUpdate { call_id, .. }
            | CallEvent::RecordUpdate { call_id, .. }
            | CallEvent::DetectUpdate { call_id, .. }
            | CallEvent::FaxUpdate { call_id, .. }
            | CallEvent::TapUpdate { call_id, .. }
            | CallEvent::SendDigitsUpdate { call_id, .. }
            | CallEvent::ReferUpdate { call_id, .. }
            | CallEvent::ComponentFinished { call_id, .. }
            | CallEvent::ControlCompleted { call_id, .. } => Some(call_id),
        }
    }

    /// The component the event is about (updates, outcomes and control answers).
    pub fn control_id(&self) -> Option<&ControlId> {
        match self {
            CallEvent::PlayUpdate { control_id, .. }
            | CallEvent::CollectUpdate { control_id, .. }
            | CallEvent::RecordUpdate { control_id, .. }
            | CallEvent::DetectUpdate { control_id, .. }
            | CallEvent::FaxUpdate { control_id, .. }
            | CallEvent::TapUpdate { control_id, .. }
            | CallEvent::SendDigitsUpdate { control_id, .. }
            | CallEvent::ComponentFinished { control_id, .. }
            | CallEvent::ControlCompleted { control_id, .. } => Some(control_id),
            _ => None,
        }
    }

    /// The dial tag, for dial events and state changes of dial legs.
    pub fn dial_tag(&self) -> Option<&DialTag> {
        match self {
            CallEvent::DialProgress { tag, .. } | CallEvent::DialCompleted { tag, .. } => Some(tag),
            CallEvent::StateChanged { tag, .. } => tag.as_ref(),
            _ => None,
        }
    }
}
