//! Typed decode of every calling event payload (PROTOCOL.md §5.3–5.14).
//!
//! Decoding is lenient where servers vary (numbers as strings, optional fields missing, unknown
//! fields ignored) and strict only where the payload would be meaningless (no `call_id`, no
//! `control_id` on a component event, no `detect.params.event`, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::calling::states::{
    CollectResultType, ConnectState, DetectEvent, DetectType, DeviceType, DialState, Direction,
    FaxEventType, PlayState, RecordState, ReferState, SendDigitsState, TapState,
};
use crate::error::Error;
use crate::ids::{CallId, ControlId, DialTag, NodeId};
use crate::wire::{lenient, EventType};

/// A device as the server describes it (`{type, params}`), e.g. on inbound calls and peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `phone`, `sip`, `webrtc`, `rtp`, `ws`, ...
    #[serde(rename = "type", default)]
    pub device_type: DeviceType,
    /// Type-specific parameters (`from_number`/`to_number`, `from`/`to`, `addr`/`port`, ...).
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl DeviceInfo {
    fn str_param(&self, key: &str) -> Option<&str> {
        self.params.get(key).and_then(Value::as_str)
    }
    /// The caller: `from_number` (phone) or `from` (SIP).
    pub fn from(&self) -> Option<&str> {
        self.str_param("from_number")
            .or_else(|| self.str_param("from"))
    }
    /// The callee: `to_number` (phone) or `to` (SIP).
    pub fn to(&self) -> Option<&str> {
        self.str_param("to_number").or_else(|| self.str_param("to"))
    }
    /// The ring timeout, if present (number or string).
    pub fn timeout(&self) -> Option<u64> {
        self.params.get("timeout").and_then(lenient::value_as_u64)
    }
}

/// The other leg of a bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The peer's call id.
    pub call_id: CallId,
    /// The peer's node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// The peer's device, when the server sent it.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
}

/// A call's state. Ordered: `None < Created < Ringing < Answered < Ending < Ended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CallState {
    /// Client-only initial value (a call we know of before any state).
    None,
    /// Created.
    Created,
    /// Ringing.
    Ringing,
    /// Answered.
    Answered,
    /// Hanging up; counts as ended for refusing new commands.
    Ending,
    /// Gone. Terminal: the call leaves the registry.
    Ended,
}

impl CallState {
    /// Parses a wire name (`created`, ..., `ended`, and `none`). Unknown names are a typed error
    /// (the official SDK treats them as already reached: bug 17).
    pub fn parse(s: &str) -> Result<CallState, Error> {
        Ok(match s {
            "none" => CallState::None,
            "created" => CallState::Created,
            "ringing" => CallState::Ringing,
            "answered" => CallState::Answered,
            "ending" => CallState::Ending,
            "ended" => CallState::Ended,
            other => {
                return Err(Error::invalid(
                    "call state",
                    format!("unknown {other:?}; expected one of none, created, ringing, answered, ending, ended"),
                ))
            }
        })
    }
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::None => "none",
            CallState::Created => "created",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Ending => "ending",
            CallState::Ended => "ended",
        }
    }
    /// `ending` or `ended`.
    pub fn is_ended(self) -> bool {
        matches!(self, CallState::Ending | CallState::Ended)
    }
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Why a call ended; also the reason given to `hangup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum EndReason {
    /// Normal hangup (the default for `hangup`).
    Hangup,
    /// Cancelled before answer.
    Cancel,
    /// Busy.
    Busy,
    /// Not answered.
    NoAnswer,
    /// Declined.
    Decline,
    /// Error.
    Error,
    /// A value this version does not know (never accepted by `hangup`).
    Other(String),
}

impl EndReason {
    /// Parses a wire value; unknown values are kept.
    pub fn parse(s: &str) -> EndReason {
        match s {
            "hangup" => EndReason::Hangup,
            "cancel" => EndReason::Cancel,
            "busy" => EndReason::Busy,
            "noAnswer" => EndReason::NoAnswer,
            "decline" => EndReason::Decline,
            "error" => EndReason::Error,
            other => EndReason::Other(other.to_owned()),
        }
    }
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            EndReason::Hangup => "hangup",
            EndReason::Cancel => "cancel",
            EndReason::Busy => "busy",
            EndReason::NoAnswer => "noAnswer",
            EndReason::Decline => "decline",
            EndReason::Error => "error",
            EndReason::Other(s) => s,
        }
    }
}

/// `calling.call.receive` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReceivePayload {
    /// Call id.
    pub call_id: CallId,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// `created` normally.
    #[serde(default)]
    pub call_state: Option<String>,
    /// The context the call was offered to.
    pub context: String,
    /// `inbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The caller/callee device.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
}

/// `calling.call.state` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatePayload {
    /// Call id.
    pub call_id: CallId,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// New state (wire name).
    pub call_state: String,
    /// On ending/ended.
    #[serde(default)]
    pub end_reason: Option<String>,
    /// `inbound`/`outbound`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// e.g. `dial`.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Device.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
    /// Peer leg (server-created legs of a connect).
    #[serde(default)]
    pub peer: Option<PeerInfo>,
    /// The dial tag (legs of our dials).
    #[serde(default)]
    pub tag: Option<DialTag>,
}

/// The winning leg inside `calling.call.dial`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DialCall {
    /// Winner's call id.
    pub call_id: CallId,
    /// Winner's node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// Winner's device.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
    /// Whether it won.
    #[serde(default)]
    pub dial_winner: Option<bool>,
}

/// `calling.call.dial` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DialPayload {
    /// `dialing`, `answered`, `failed`.
    pub dial_state: DialState,
    /// The dial tag.
    pub tag: DialTag,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// The winner (on `answered`).
    #[serde(default)]
    pub call: Option<DialCall>,
}

/// `calling.call.connect` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConnectPayload {
    /// Call id.
    pub call_id: CallId,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// `connecting`, `connected`, `failed`, `disconnected`.
    pub connect_state: ConnectState,
    /// Peer (on `connected`).
    #[serde(default)]
    pub peer: Option<PeerInfo>,
}

/// Fields every component event carries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComponentIds {
    /// Call id.
    pub call_id: CallId,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// The control id we chose.
    pub control_id: ControlId,
}

/// `calling.call.play` / `record` / `tap` / `send_digits` payloads: a `state` (typed per kind:
/// [`PlayState`], [`RecordState`], [`TapState`], [`SendDigitsState`]) plus extras.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StateComponentPayload<S> {
    /// Ids.
    #[serde(flatten)]
    pub ids: ComponentIds,
    /// The component state.
    pub state: S,
    /// Record: the file URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Record: seconds.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub duration: Option<f64>,
    /// Record: bytes.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub size: Option<u64>,
    /// Record: the `record` object.
    #[serde(default)]
    pub record: Option<Value>,
    /// Tap: the `tap` object.
    #[serde(default)]
    pub tap: Option<Value>,
    /// Tap: the destination device.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
}

/// The `result` of a collect event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CollectResultPayload {
    /// `digit`, `speech`, `no_input`, `no_match`, `error`, `start_of_input`, ...
    #[serde(rename = "type")]
    pub result_type: CollectResultType,
    /// `{digits, terminator}` or `{text, confidence}`.
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// `calling.call.collect` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CollectPayload {
    /// Ids.
    #[serde(flatten)]
    pub ids: ComponentIds,
    /// The result.
    pub result: CollectResultPayload,
    /// `false` on partial results.
    #[serde(rename = "final", default)]
    pub is_final: Option<bool>,
    /// Newer servers: `collecting`/`finished`.
    #[serde(default)]
    pub state: Option<String>,
}

/// The `detect` object of a detect event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DetectObject {
    /// `machine`, `fax`, `digit`.
    #[serde(rename = "type", default = "no_detect_type")]
    pub detect_type: DetectType,
    /// `{event}`.
    pub params: DetectEventParams,
}

/// `detect.params`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DetectEventParams {
    /// `MACHINE`, `HUMAN`, `UNKNOWN`, `READY`, `NOT_READY`, `CED`, `CNG`, digits, `finished`, `error`.
    pub event: DetectEvent,
}

fn no_detect_type() -> DetectType {
    DetectType::Other(String::new())
}

/// `calling.call.detect` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DetectPayload {
    /// Ids.
    #[serde(flatten)]
    pub ids: ComponentIds,
    /// The detect object.
    pub detect: DetectObject,
}

/// `fax` object of a fax event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaxObject {
    /// `page`, `finished`, `error`.
    #[serde(rename = "type")]
    pub fax_type: FaxEventType,
    /// Details.
    #[serde(default)]
    pub params: Map<String, Value>,
}

/// `calling.call.fax` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FaxPayload {
    /// Ids.
    #[serde(flatten)]
    pub ids: ComponentIds,
    /// The fax object.
    pub fax: FaxObject,
}

/// `calling.call.refer` payload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReferPayload {
    /// Call id.
    pub call_id: CallId,
    /// Node id.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// `inProgress`, `cancel`, `busy`, `noAnswer`, `error`, `success`.
    pub state: ReferState,
    /// Refer-To.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sip_refer_to: Option<String>,
    /// REFER response code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sip_refer_response_code: Option<String>,
    /// NOTIFY response code.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sip_notify_response_code: Option<String>,
}

/// A decoded calling event payload.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallingPayload {
    /// `calling.call.receive`.
    Receive(ReceivePayload),
    /// `calling.call.state`.
    State(StatePayload),
    /// `calling.call.dial`.
    Dial(DialPayload),
    /// `calling.call.connect`.
    Connect(ConnectPayload),
    /// `calling.call.play`.
    Play(StateComponentPayload<PlayState>),
    /// `calling.call.collect`.
    Collect(CollectPayload),
    /// `calling.call.record`.
    Record(StateComponentPayload<RecordState>),
    /// `calling.call.detect`.
    Detect(DetectPayload),
    /// `calling.call.fax`.
    Fax(FaxPayload),
    /// `calling.call.tap`.
    Tap(StateComponentPayload<TapState>),
    /// `calling.call.send_digits`.
    SendDigits(StateComponentPayload<SendDigitsState>),
    /// `calling.call.refer`.
    Refer(ReferPayload),
}

fn de<T: serde::de::DeserializeOwned>(event_type: &EventType, params: &Value) -> Result<T, Error> {
    T::deserialize(params).map_err(|e| Error::malformed_event(event_type.as_str(), e))
}

/// Decodes the `params` of a calling event. `Ok(None)` for an event type this version does not
/// know (or not a calling one); `Err(PeerMisbehaved)` for a known type with a malformed payload.
pub fn decode_payload(
    event_type: &EventType,
    params: &Value,
) -> Result<Option<CallingPayload>, Error> {
    use EventType as T;
    let t = event_type;
    Ok(Some(match t {
        T::CallReceive => CallingPayload::Receive(de(t, params)?),
        T::CallState => CallingPayload::State(de(t, params)?),
        T::CallDial => CallingPayload::Dial(de(t, params)?),
        T::CallConnect => CallingPayload::Connect(de(t, params)?),
        T::CallPlay => CallingPayload::Play(de(t, params)?),
        T::CallCollect => CallingPayload::Collect(de(t, params)?),
        T::CallRecord => CallingPayload::Record(de(t, params)?),
        T::CallDetect => CallingPayload::Detect(de(t, params)?),
        T::CallFax => CallingPayload::Fax(de(t, params)?),
        T::CallTap => CallingPayload::Tap(de(t, params)?),
        T::CallSendDigits => CallingPayload::SendDigits(de(t, params)?),
        T::CallRefer => CallingPayload::Refer(de(t, params)?),
        _ => return Ok(None),
    }))
}

/// A truthy JSON value (`true`, `"true"`, non-zero number).
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim(), "true" | "1" | "yes"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}
