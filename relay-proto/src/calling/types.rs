//! What the calling machine reports: [`CallEvent`] and the typed results it carries.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::calling::events::EventText;
use crate::calling::events::{CallState, DeviceInfo, EndReason, PeerInfo};
use crate::calling::info::CallInfo;
use crate::calling::kinds::{ComponentKind, ControlAction};
use crate::calling::payload::Payload;
use crate::calling::states::{
    CollectResultType, ConnectState, DetectEvent, DetectType, DialState, FaxDirection,
    FaxEventType, PlayState, RecordState, ReferState, SendDigitsState, TapState,
};
use crate::ids::{CallId, ControlId, DialTag, NodeId, RequestId};
use crate::outcome::RequestError;

/// The `event` of a result: its name (usually the final state) and payload. The payload is
/// kept as the JSON text the server sent (no tree is built for a result nobody reads);
/// [`payload`](Self::payload) parses it.
#[derive(Clone)]
pub struct ResultEvent {
    /// e.g. `finished`, `digit`, `ended`, `response`.
    pub name: String,
    /// The event params as JSON text (prompt: the `result`; fax: `fax.params`; detect: the
    /// `detect` object).
    payload: Payload,
}

impl ResultEvent {
    /// An event named `name` with this payload.
    pub fn new(name: impl Into<String>, payload: &Value) -> Self {
        let payload =
            serde_json::value::to_raw_value(payload).unwrap_or_else(|_| RawValue::NULL.to_owned());
        ResultEvent::from_raw(name.into(), payload)
    }

    /// An event whose payload is already JSON text.
    pub(crate) fn from_raw(name: String, payload: Box<RawValue>) -> Self {
        ResultEvent {
            name,
            payload: Payload::Text(payload),
        }
    }

    /// An event whose payload is `text`'s (read now, or later from its frame).
    pub(crate) fn from_text(name: String, text: &(impl EventText + ?Sized)) -> Self {
        ResultEvent {
            name,
            payload: text.to_payload(),
        }
    }

    /// The event params, parsed from the kept text on each call.
    pub fn payload(&self) -> Value {
        serde_json::from_str(self.payload_text()).unwrap_or(Value::Null)
    }

    /// The event params as JSON text.
    pub fn payload_text(&self) -> &str {
        self.payload.text()
    }
}

impl std::fmt::Debug for ResultEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultEvent")
            .field("name", &self.name)
            .field("payload", &self.payload())
            .finish()
    }
}

impl PartialEq for ResultEvent {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && (self.payload_text() == other.payload_text() || self.payload() == other.payload())
    }
}

/// The final outcome of a component or call command. Every result keeps what the official
/// SDK's `*Result` classes share (`successful`, the raw `event` {name, payload}); what is
/// particular to a kind is in [`ComponentResult::outcome`], one typed struct per kind.
///
/// `ComponentResult` (the default parameter) holds any kind's [`ComponentOutcome`];
/// `ComponentResult<RecordOutcome>` (alias [`RecordResult`]) and its siblings hold one kind's,
/// as the blocking forms of relay-client return them ([`ComponentResult::narrow`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ComponentResult<O = ComponentOutcome> {
    /// Which command.
    pub kind: ComponentKind,
    /// Whether it succeeded (for `WaitFor`: whether a requested state was reached).
    pub successful: bool,
    /// Final event name and payload.
    pub event: Option<ResultEvent>,
    /// Why it failed without a final event (execute failure, local refusal, call ended).
    pub error: Option<RequestError>,
    /// Relay `code` of the response (pass, failed executes).
    pub code: Option<String>,
    /// Relay `message` of the response.
    pub message: Option<String>,
    /// What is particular to the kind.
    pub outcome: O,
}

/// One kind's outcome struct: what [`ComponentResult::narrow`] can narrow to.
pub trait KindOutcome: Sized {
    /// Takes this kind's outcome out of `outcome` (or gives `outcome` back).
    fn from_outcome(outcome: ComponentOutcome) -> Result<Self, Box<ComponentOutcome>>;
}

impl KindOutcome for ComponentOutcome {
    fn from_outcome(outcome: ComponentOutcome) -> Result<Self, Box<ComponentOutcome>> {
        Ok(outcome)
    }
}

macro_rules! kind_outcomes {
    ($($variant:ident($ty:ident) => $alias:ident),* $(,)?) => {$(
        impl KindOutcome for $ty {
            fn from_outcome(outcome: ComponentOutcome) -> Result<Self, Box<ComponentOutcome>> {
                match outcome {
                    ComponentOutcome::$variant(o) => Ok(o),
                    other => Err(Box::new(other)),
                }
            }
        }
        #[doc = concat!("The result of one `", stringify!($variant), "` (the official SDK's `", stringify!($alias), "`).")]
        pub type $alias = ComponentResult<$ty>;
    )*};
}

kind_outcomes!(
    Answer(AnswerOutcome) => AnswerResult,
    Hangup(HangupOutcome) => HangupResult,
    Pass(PassOutcome) => PassResult,
    Connect(ConnectOutcome) => ConnectResult,
    Disconnect(DisconnectOutcome) => DisconnectResult,
    Refer(ReferOutcome) => ReferResult,
    WaitFor(WaitForOutcome) => WaitForResult,
    Play(PlayOutcome) => PlayResult,
    Prompt(PromptOutcome) => PromptResult,
    Record(RecordOutcome) => RecordResult,
    Detect(DetectOutcome) => DetectResult,
    Fax(FaxOutcome) => FaxResult,
    Tap(TapOutcome) => TapResult,
    SendDigits(SendDigitsOutcome) => SendDigitsResult,
);

impl ComponentResult {
    /// This result with its kind's own outcome type (`Err(self)` if it is another kind's).
    pub fn narrow<O: KindOutcome>(self) -> Result<ComponentResult<O>, Box<ComponentResult>> {
        let ComponentResult {
            kind,
            successful,
            event,
            error,
            code,
            message,
            outcome,
        } = self;
        match O::from_outcome(outcome) {
            Ok(outcome) => Ok(ComponentResult {
                kind,
                successful,
                event,
                error,
                code,
                message,
                outcome,
            }),
            Err(outcome) => Err(Box::new(ComponentResult {
                kind,
                successful,
                event,
                error,
                code,
                message,
                outcome: *outcome,
            })),
        }
    }
}

impl ComponentResult {
    pub(crate) fn new(kind: ComponentKind) -> Self {
        ComponentResult {
            kind,
            successful: false,
            event: None,
            error: None,
            code: None,
            message: None,
            outcome: ComponentOutcome::new(kind),
        }
    }
}

macro_rules! outcome_accessors {
    ($($fn:ident => $variant:ident($ty:ty)),* $(,)?) => {
        impl ComponentResult {
            $(
                #[doc = concat!("The [`", stringify!($ty), "`], if this is a `", stringify!($variant), "` result.")]
                pub fn $fn(&self) -> Option<&$ty> {
                    match &self.outcome {
                        ComponentOutcome::$variant(o) => Some(o),
                        _ => None,
                    }
                }
            )*
        }
    };
}

outcome_accessors!(
    answer => Answer(AnswerOutcome),
    hangup => Hangup(HangupOutcome),
    connect => Connect(ConnectOutcome),
    disconnect => Disconnect(DisconnectOutcome),
    refer => Refer(ReferOutcome),
    wait_for => WaitFor(WaitForOutcome),
    play => Play(PlayOutcome),
    prompt => Prompt(PromptOutcome),
    record => Record(RecordOutcome),
    detect => Detect(DetectOutcome),
    fax => Fax(FaxOutcome),
    tap => Tap(TapOutcome),
    send_digits => SendDigits(SendDigitsOutcome),
);

/// What is particular to each kind's outcome (the fields of the official SDK's `AnswerResult`,
/// `HangupResult`, `ConnectResult`, `ReferResult`, `PlayResult`, `PromptResult`,
/// `RecordResult`, `DetectResult`, `FaxResult`, `TapResult`, `SendDigitsResult`). A `state` is
/// `None` when the component ended without its own final event (the call ended, the request
/// failed: see [`ComponentResult::error`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ComponentOutcome {
    /// `calling.answer`.
    Answer(AnswerOutcome),
    /// `calling.end`.
    Hangup(HangupOutcome),
    /// `calling.pass` (its `code`/`message` are on the result).
    Pass(PassOutcome),
    /// `calling.connect`.
    Connect(ConnectOutcome),
    /// `calling.disconnect`.
    Disconnect(DisconnectOutcome),
    /// `calling.refer`.
    Refer(ReferOutcome),
    /// `wait_for`.
    WaitFor(WaitForOutcome),
    /// `calling.play`.
    Play(PlayOutcome),
    /// `calling.play_and_collect`.
    Prompt(PromptOutcome),
    /// `calling.record`.
    Record(RecordOutcome),
    /// `calling.detect`.
    Detect(DetectOutcome),
    /// `calling.send_fax` / `calling.receive_fax`.
    Fax(FaxOutcome),
    /// `calling.tap`.
    Tap(TapOutcome),
    /// `calling.send_digits`.
    SendDigits(SendDigitsOutcome),
}

impl ComponentOutcome {
    pub(crate) fn new(kind: ComponentKind) -> Self {
        match kind {
            ComponentKind::Answer => ComponentOutcome::Answer(AnswerOutcome::default()),
            ComponentKind::Hangup => ComponentOutcome::Hangup(HangupOutcome::default()),
            ComponentKind::Pass => ComponentOutcome::Pass(PassOutcome::default()),
            ComponentKind::Connect => ComponentOutcome::Connect(ConnectOutcome::default()),
            ComponentKind::Disconnect => ComponentOutcome::Disconnect(DisconnectOutcome::default()),
            ComponentKind::Refer => ComponentOutcome::Refer(ReferOutcome::default()),
            ComponentKind::WaitFor => ComponentOutcome::WaitFor(WaitForOutcome::default()),
            ComponentKind::Play => ComponentOutcome::Play(PlayOutcome::default()),
            ComponentKind::Prompt => ComponentOutcome::Prompt(PromptOutcome::default()),
            ComponentKind::Record => ComponentOutcome::Record(RecordOutcome::default()),
            ComponentKind::Detect => ComponentOutcome::Detect(DetectOutcome::default()),
            ComponentKind::SendFax | ComponentKind::ReceiveFax => {
                ComponentOutcome::Fax(FaxOutcome::default())
            }
            ComponentKind::Tap => ComponentOutcome::Tap(TapOutcome::default()),
            ComponentKind::SendDigits => ComponentOutcome::SendDigits(SendDigitsOutcome::default()),
        }
    }
}

/// `AnswerResult`: the call state that decided it.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AnswerOutcome {
    /// `answered` (success), or `ending`/`ended`.
    pub state: Option<CallState>,
}

/// `PassResult`: nothing beyond the response's `code`/`message` on the result.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PassOutcome {}

/// `HangupResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct HangupOutcome {
    /// `HangupResult.reason`: the call's end reason.
    pub end_reason: Option<EndReason>,
}

/// `ConnectResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ConnectOutcome {
    /// `connected` (success), `failed` or `disconnected`.
    pub state: Option<ConnectState>,
    /// `ConnectResult.call`: the connected peer leg (also in the registry).
    pub peer: Option<PeerInfo>,
}

/// The outcome of `calling.disconnect`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct DisconnectOutcome {
    /// `disconnected` (success) or `failed`.
    pub state: Option<ConnectState>,
}

/// `ReferResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ReferOutcome {
    /// The final refer state.
    pub state: Option<ReferState>,
    /// `referTo`.
    pub refer_to: Option<String>,
    /// `referResponseCode`: the REFER response code.
    pub refer_response_code: Option<String>,
    /// `referNotifyCode`: the NOTIFY response code.
    pub refer_notify_code: Option<String>,
}

/// The outcome of `wait_for`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct WaitForOutcome {
    /// The requested state that was reached.
    pub state: Option<CallState>,
}

impl ComponentResult<WaitForOutcome> {
    /// A `wait_for` decided without a command: the call had already reached `state`.
    /// relay-client answers this way once a call has left the registry (it ended), as Node's
    /// `waitFor` answers `true` for a state the call has passed.
    pub fn reached(state: CallState) -> Self {
        Self::decided(Some(state))
    }

    /// A `wait_for` decided without a command: the call ended without reaching any of the
    /// states asked for (unsuccessful, no error).
    pub fn not_reached() -> Self {
        Self::decided(None)
    }

    fn decided(state: Option<CallState>) -> Self {
        ComponentResult {
            kind: ComponentKind::WaitFor,
            successful: state.is_some(),
            event: None,
            error: None,
            code: None,
            message: None,
            outcome: WaitForOutcome { state },
        }
    }
}

/// `PlayResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PlayOutcome {
    /// `finished` or `error`.
    pub state: Option<PlayState>,
}

/// What a prompt collected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PromptInput {
    /// DTMF digits.
    Digits {
        /// The digits.
        digits: Option<String>,
        /// The terminator digit.
        terminator: Option<String>,
    },
    /// Recognised speech.
    Speech {
        /// The text.
        text: Option<String>,
        /// The recogniser's confidence.
        confidence: Option<f64>,
    },
}

/// `PromptResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PromptOutcome {
    /// `PromptResult.type`: `digit`, `speech`, `no_input`, `no_match`, `error`.
    pub result_type: Option<CollectResultType>,
    /// The input (for `digit` and `speech`).
    pub input: Option<PromptInput>,
}

impl PromptOutcome {
    /// `PromptResult.result`: the digits or the text.
    pub fn result(&self) -> Option<&str> {
        match &self.input {
            Some(PromptInput::Digits { digits, .. }) => digits.as_deref(),
            Some(PromptInput::Speech { text, .. }) => text.as_deref(),
            None => None,
        }
    }
    /// `PromptResult.terminator`.
    pub fn terminator(&self) -> Option<&str> {
        match &self.input {
            Some(PromptInput::Digits { terminator, .. }) => terminator.as_deref(),
            _ => None,
        }
    }
    /// `PromptResult.confidence`.
    pub fn confidence(&self) -> Option<f64> {
        match &self.input {
            Some(PromptInput::Speech { confidence, .. }) => *confidence,
            _ => None,
        }
    }
}

/// `RecordResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// `finished`, `no_input` or `error`.
    pub state: Option<RecordState>,
    /// The file's URL (from the response, overwritten by the final event).
    pub url: Option<String>,
    /// Seconds.
    pub duration: Option<f64>,
    /// Bytes.
    pub size: Option<u64>,
}

/// `DetectResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct DetectOutcome {
    /// `DetectResult.type`: `machine`, `fax` or `digit`.
    pub detect_type: Option<DetectType>,
    /// The last detector event seen.
    pub last_event: Option<DetectEvent>,
    /// `DetectResult.result`: `MACHINE`, `HUMAN`, `CED`, the digits, or in async mode the
    /// joined list of events (`"MACHINE,NOT_READY,READY"`).
    pub result: Option<String>,
}

/// `FaxResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct FaxOutcome {
    /// `finished` or `error`.
    pub state: Option<FaxEventType>,
    /// `send` or `receive`.
    pub direction: Option<FaxDirection>,
    /// Our identity.
    pub identity: Option<String>,
    /// The remote identity.
    pub remote_identity: Option<String>,
    /// Document URL.
    pub document: Option<String>,
    /// Pages (string or number on the wire).
    pub pages: Option<u64>,
}

/// `TapResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TapOutcome {
    /// `finished`.
    pub state: Option<TapState>,
    /// The `tap` object.
    pub tap: Option<Value>,
    /// Where the server sends from (from the response).
    pub source_device: Option<DeviceInfo>,
    /// Where the audio goes (from the events).
    pub destination_device: Option<DeviceInfo>,
}

/// `SendDigitsResult`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SendDigitsOutcome {
    /// `finished` or `error`.
    pub state: Option<SendDigitsState>,
}

/// The outcome of a dial as the core reports it (`relay_client::DialResult` adds the call
/// handle).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DialOutcome {
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
    /// The event that decided it (Node's `DialResult.event`): the `calling.call.dial` event
    /// named by its `dial_state` (`answered`, `failed`), or the single leg's
    /// `calling.call.state` event named `ended`; with its params as the payload. `None`
    /// when no event decided it (the request failed, the session stopped, the dial was lost).
    pub event: Option<ResultEvent>,
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

impl ControlResult {
    /// The answer to a `stop` of a component that had already finished: nothing was sent,
    /// and the component is stopped, so it is successful.
    pub fn already_finished() -> Self {
        ControlResult {
            successful: true,
            code: None,
            message: Some("component already finished".into()),
            error: None,
        }
    }
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
        /// The call, as registered (the registry's own shared info: no copy).
        call: std::sync::Arc<CallInfo>,
    },
    /// A call changed state (also the first state of a leg we learn of). On `ended` the call
    /// has left the registry after its components were finished. A state event that repeats
    /// the call's current state (servers send duplicates) is no change and is not reported.
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
    /// A call left the registry because the session was *not* restored after a reconnect:
    /// the server dropped the old Blade session, so this client will hear nothing more of the
    /// call and cannot control it. Its unfinished components were finished first, each with
    /// [`RequestError::Lost`](crate::RequestError::Lost). Treat the call as ended.
    Lost {
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
        result: DialOutcome,
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
            | CallEvent::Lost { call_id }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Method;

    #[test]
    fn narrow_keeps_the_kind_and_gives_other_kinds_back() {
        let mut r = ComponentResult::new(ComponentKind::Record);
        r.successful = true;
        if let ComponentOutcome::Record(o) = &mut r.outcome {
            o.url = Some("https://x/r.mp3".into());
        }
        let rec: RecordResult = r.clone().narrow().unwrap();
        assert!(rec.successful);
        assert_eq!(rec.outcome.url.as_deref(), Some("https://x/r.mp3"));
        let back = r.clone().narrow::<PlayOutcome>().unwrap_err();
        assert_eq!(*back, r);
        assert!(ComponentResult::new(ComponentKind::SendFax).fax().is_some());
        assert!(ComponentResult::new(ComponentKind::Pass)
            .narrow::<PassOutcome>()
            .is_ok());
    }

    #[test]
    fn kind_table_is_consistent() {
        for &k in ComponentKind::ALL {
            let spec = k.spec();
            if let Some(m) = spec.method {
                assert_eq!(ComponentKind::from_method(m), Some(k), "{k:?}");
            }
            // Only components with a control id can be controlled.
            for a in [
                ControlAction::Stop,
                ControlAction::Pause,
                ControlAction::Volume(0.0),
            ] {
                if k.accepts(a) {
                    assert!(spec.has_control_id, "{k:?} {a:?}");
                }
            }
        }
        assert!(!ComponentKind::SendDigits.accepts(ControlAction::Stop));
        assert!(ComponentKind::Prompt.accepts(ControlAction::Volume(1.0)));
        assert!(!ComponentKind::Record.accepts(ControlAction::Pause));
        assert_eq!(
            ComponentKind::Tap.control_method(ControlAction::Stop),
            Some(Method::CallingTapStop)
        );
    }
}
