//! Typed decode of every calling event payload (PROTOCOL.md §5.3–5.14).
//!
//! Decoding is lenient where servers vary (numbers as strings, optional fields missing, unknown
//! fields ignored) and strict only where the payload would be meaningless (no `call_id`, no
//! `control_id` on a component event, no `detect.params.event`, ...).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::calling::states::{
    CollectResultType, ConnectState, DetectEvent, DetectType, DialState, Direction, FaxEventType,
    PlayState, RecordState, ReferState, SendDigitsState, TapState,
};
use crate::error::{CommandError, PeerMisbehaved};
use crate::ids::{CallId, ControlId, DialTag, NodeId};
use crate::wire::{lenient, EventType};

pub use super::device::DeviceInfo;

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
    pub fn parse(s: &str) -> Result<CallState, CommandError> {
        Ok(match s {
            "none" => CallState::None,
            "created" => CallState::Created,
            "ringing" => CallState::Ringing,
            "answered" => CallState::Answered,
            "ending" => CallState::Ending,
            "ended" => CallState::Ended,
            other => {
                return Err(CommandError::invalid(
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
#[serde(from = "flat::StateComponentWire<S>")]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
pub struct StateComponentPayload<S> {
    /// Ids.
    pub ids: ComponentIds,
    /// The component state.
    pub state: S,
    /// Record: the file URL.
    pub url: Option<String>,
    /// Record: seconds.
    pub duration: Option<f64>,
    /// Record: bytes.
    pub size: Option<u64>,
    /// Record: the `record` object.
    pub record: Option<Value>,
    /// Tap: the `tap` object.
    pub tap: Option<Value>,
    /// Tap: the destination device.
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
#[serde(from = "flat::CollectWire")]
pub struct CollectPayload {
    /// Ids.
    pub ids: ComponentIds,
    /// The result.
    pub result: CollectResultPayload,
    /// `false` on partial results.
    pub is_final: Option<bool>,
    /// Newer servers: `collecting`/`finished`.
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
#[serde(from = "flat::DetectWire")]
pub struct DetectPayload {
    /// Ids.
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
#[serde(from = "flat::FaxWire")]
pub struct FaxPayload {
    /// Ids.
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

/// Component payloads as they arrive: the ids inline with the rest (decoding them through
/// `#[serde(flatten)]` would buffer every field of the event first).
mod flat {
    use serde::Deserialize;
    use serde_json::Value;

    use super::{
        lenient, CollectPayload, CollectResultPayload, ComponentIds, DetectObject, DetectPayload,
        DeviceInfo, FaxObject, FaxPayload, StateComponentPayload,
    };
    use crate::ids::{CallId, ControlId, NodeId};

    macro_rules! flat_ids {
        ($wire:ident $(<$g:ident>)? => $public:ident {
            $($(#[$m:meta])* $f:ident : $t:ty),* $(,)?
        }) => {
            #[derive(Deserialize)]
            pub(super) struct $wire $(<$g>)? {
                call_id: CallId,
                #[serde(default)]
                node_id: Option<NodeId>,
                control_id: ControlId,
                $($(#[$m])* $f: $t,)*
            }
            impl $(<$g>)? From<$wire $(<$g>)?> for $public $(<$g>)? {
                fn from(w: $wire $(<$g>)?) -> Self {
                    $public {
                        ids: ComponentIds {
                            call_id: w.call_id,
                            node_id: w.node_id,
                            control_id: w.control_id,
                        },
                        $($f: w.$f,)*
                    }
                }
            }
        };
    }

    flat_ids!(StateComponentWire<S> => StateComponentPayload {
        state: S,
        #[serde(default)]
        url: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_f64")]
        duration: Option<f64>,
        #[serde(default, deserialize_with = "lenient::opt_u64")]
        size: Option<u64>,
        #[serde(default)]
        record: Option<Value>,
        #[serde(default)]
        tap: Option<Value>,
        #[serde(default)]
        device: Option<DeviceInfo>,
    });

    flat_ids!(CollectWire => CollectPayload {
        result: CollectResultPayload,
        #[serde(rename = "final", default)]
        is_final: Option<bool>,
        #[serde(default)]
        state: Option<String>,
    });

    flat_ids!(DetectWire => DetectPayload { detect: DetectObject });

    flat_ids!(FaxWire => FaxPayload { fax: FaxObject });
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

/// An event's `params` as it came: a JSON tree, or the frame's own text (the hot path decodes
/// typed payloads straight from the text and builds a tree only for a result that keeps it).
pub(crate) trait EventParams {
    /// Decodes a typed payload.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        event_type: &EventType,
    ) -> Result<T, PeerMisbehaved>;
}

/// Where a result event's payload text comes from: a tree, the params' own text, or the frame
/// it can be read from again (only when a result keeps it).
pub(crate) trait EventText {
    /// The payload as JSON text.
    fn to_raw(&self) -> Box<RawValue>;

    /// The payload as a result keeps it (the text now, unless it is cheaper to find later).
    fn to_payload(&self) -> crate::calling::payload::Payload {
        crate::calling::payload::Payload::Text(self.to_raw())
    }
}

fn malformed(event_type: &EventType, e: serde_json::Error) -> PeerMisbehaved {
    PeerMisbehaved::malformed_event(event_type.as_str(), e)
}

impl EventParams for Value {
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        event_type: &EventType,
    ) -> Result<T, PeerMisbehaved> {
        T::deserialize(self).map_err(|e| malformed(event_type, e))
    }
}

impl EventText for Value {
    fn to_raw(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

impl EventParams for RawValue {
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        event_type: &EventType,
    ) -> Result<T, PeerMisbehaved> {
        serde_json::from_str(self.get()).map_err(|e| malformed(event_type, e))
    }
}

impl EventText for RawValue {
    fn to_raw(&self) -> Box<RawValue> {
        self.to_owned()
    }
}

/// Decodes the `params` of a calling event. `Ok(None)` for an event type this version does not
/// know (or not a calling one); `Err(PeerMisbehaved)` for a known type with a malformed payload.
pub fn decode_payload(
    event_type: &EventType,
    params: &Value,
) -> Result<Option<CallingPayload>, PeerMisbehaved> {
    decode_params(event_type, params)
}

/// [`decode_payload`] straight from the frame's text (`params` borrowed from the frame): typed
/// structs, no intermediate JSON tree.
pub fn decode_payload_raw(
    event_type: &EventType,
    params: &RawValue,
) -> Result<Option<CallingPayload>, PeerMisbehaved> {
    decode_params(event_type, params)
}

/// Reads the typed payload of a calling event into its slot, in the pass that reads the frame:
/// `false` for an event type this version does not know (its value is skipped).
pub(crate) struct PayloadSeed<'a>(pub &'a EventType, pub &'a mut Option<CallingPayload>);

impl<'de> serde::de::DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        use EventType as T;
        *self.1 = Some(match self.0 {
            T::CallReceive => CallingPayload::Receive(Deserialize::deserialize(d)?),
            T::CallState => CallingPayload::State(Deserialize::deserialize(d)?),
            T::CallDial => CallingPayload::Dial(Deserialize::deserialize(d)?),
            T::CallConnect => CallingPayload::Connect(Deserialize::deserialize(d)?),
            T::CallPlay => CallingPayload::Play(Deserialize::deserialize(d)?),
            T::CallCollect => CallingPayload::Collect(Deserialize::deserialize(d)?),
            T::CallRecord => CallingPayload::Record(Deserialize::deserialize(d)?),
            T::CallDetect => CallingPayload::Detect(Deserialize::deserialize(d)?),
            T::CallFax => CallingPayload::Fax(Deserialize::deserialize(d)?),
            T::CallTap => CallingPayload::Tap(Deserialize::deserialize(d)?),
            T::CallSendDigits => CallingPayload::SendDigits(Deserialize::deserialize(d)?),
            T::CallRefer => CallingPayload::Refer(Deserialize::deserialize(d)?),
            _ => {
                serde::de::IgnoredAny::deserialize(d)?;
                return Ok(false);
            }
        });
        Ok(true)
    }
}

pub(crate) fn decode_params<P: EventParams + ?Sized>(
    event_type: &EventType,
    params: &P,
) -> Result<Option<CallingPayload>, PeerMisbehaved> {
    use EventType as T;
    let t = event_type;
    Ok(Some(match t {
        T::CallReceive => CallingPayload::Receive(params.decode(t)?),
        T::CallState => CallingPayload::State(params.decode(t)?),
        T::CallDial => CallingPayload::Dial(params.decode(t)?),
        T::CallConnect => CallingPayload::Connect(params.decode(t)?),
        T::CallPlay => CallingPayload::Play(params.decode(t)?),
        T::CallCollect => CallingPayload::Collect(params.decode(t)?),
        T::CallRecord => CallingPayload::Record(params.decode(t)?),
        T::CallDetect => CallingPayload::Detect(params.decode(t)?),
        T::CallFax => CallingPayload::Fax(params.decode(t)?),
        T::CallTap => CallingPayload::Tap(params.decode(t)?),
        T::CallSendDigits => CallingPayload::SendDigits(params.decode(t)?),
        T::CallRefer => CallingPayload::Refer(params.decode(t)?),
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The hot path (typed decode from the frame's text) and the tree path agree on every
    /// payload kind, lenient fields included, and report the same malformed payloads.
    #[test]
    fn text_and_tree_decode_agree() {
        let ids = json!({"call_id": "c1", "node_id": "n1", "control_id": "k1"});
        let with = |extra: Value| {
            let mut v = ids.clone();
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            v
        };
        let cases = [
            (
                EventType::CallReceive,
                json!({"call_id": "c1", "context": "office", "call_state": "created",
                "device": {"type": "phone", "params": {"from_number": "+1", "to_number": "+2"}}}),
            ),
            (
                EventType::CallState,
                json!({"call_id": "c1", "call_state": "ended", "end_reason": "hangup"}),
            ),
            (EventType::CallPlay, with(json!({"state": "finished"}))),
            (
                EventType::CallRecord,
                with(json!({"state": "finished", "url": "u", "duration": "2.5", "size": 10})),
            ),
            (
                EventType::CallCollect,
                with(
                    json!({"result": {"type": "digit", "params": {"digits": "12"}}, "final": true}),
                ),
            ),
            (
                EventType::CallDetect,
                with(json!({"detect": {"type": "machine", "params": {"event": "HUMAN"}}})),
            ),
            (
                EventType::CallFax,
                with(json!({"fax": {"type": "finished", "params": {"pages": 2}}})),
            ),
            (
                EventType::CallRefer,
                json!({"call_id": "c1", "state": "success", "sip_refer_response_code": 202}),
            ),
            (
                EventType::CallPlay,
                json!({"call_id": "c1", "state": "finished"}),
            ),
            (EventType::CallState, json!(null)),
        ];
        for (t, params) in cases {
            let text = params.to_string();
            let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
            let from_tree = decode_payload(&t, &params);
            let from_text = decode_payload_raw(&t, &raw);
            match (&from_tree, &from_text) {
                (Ok(a), Ok(b)) => {
                    assert!(a.is_some(), "{t}: {text}");
                    assert_eq!(a, b, "{t}: {text}");
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{t}: {text}: tree {from_tree:?} vs text {from_text:?}"),
            }
        }
        assert!(matches!(
            decode_payload_raw(&EventType::CallPlay, RawValue::NULL),
            Err(PeerMisbehaved::MalformedEvent { .. })
        ));
    }
}
