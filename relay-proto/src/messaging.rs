//! Messaging: `messaging.send` and the `messaging.receive` / `messaging.state` events.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{CommandError, PeerMisbehaved};
use crate::ids::MessageId;
use crate::outcome::RequestError;
use crate::wire::{lenient, EventType, RelayResult};

/// What to send with [`Session::messaging_send`](crate::Session::messaging_send).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageParams {
    /// Context that receives this message's state events.
    pub context: String,
    /// Sender number (`from_number` on the wire).
    pub from: String,
    /// Recipient number (`to_number` on the wire).
    pub to: String,
    /// Text; `body` and/or `media` is required.
    pub body: Option<String>,
    /// Media URLs.
    pub media: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Region.
    pub region: Option<String>,
    /// Any other key the server accepts, forwarded verbatim.
    pub extra: Map<String, Value>,
}

impl MessageParams {
    /// A text message.
    pub fn text(
        context: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        MessageParams {
            context: context.into(),
            from: from.into(),
            to: to.into(),
            body: Some(body.into()),
            ..Default::default()
        }
    }

    /// The wire params, after validation. The caller's value is not modified (the official SDK
    /// deletes `from`/`to` from the caller's object: its bug 26).
    pub fn to_wire(&self) -> Result<Value, CommandError> {
        for (name, v) in [
            ("context", &self.context),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if v.trim().is_empty() {
                return Err(CommandError::invalid(
                    format!("messaging.send `{name}`"),
                    "must not be empty",
                ));
            }
        }
        let has_body = self.body.as_deref().is_some_and(|b| !b.is_empty());
        if !has_body && self.media.is_empty() {
            return Err(CommandError::invalid(
                "messaging.send `body`",
                "needs a `body` or at least one `media` URL",
            ));
        }
        let mut m = self.extra.clone();
        m.insert("context".into(), Value::from(self.context.clone()));
        if let Some(b) = &self.body {
            m.insert("body".into(), Value::from(b.clone()));
        }
        if !self.media.is_empty() {
            m.insert("media".into(), Value::from(self.media.clone()));
        }
        if !self.tags.is_empty() {
            m.insert("tags".into(), Value::from(self.tags.clone()));
        }
        if let Some(r) = &self.region {
            m.insert("region".into(), Value::from(r.clone()));
        }
        m.insert("from_number".into(), Value::from(self.from.clone()));
        m.insert("to_number".into(), Value::from(self.to.clone()));
        Ok(Value::Object(m))
    }
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq)]
pub struct SendResult {
    /// `true` only when the server answered with code `"200"` (never "undefined").
    pub successful: bool,
    /// The message id the server assigned.
    pub message_id: Option<MessageId>,
    /// The relay `code`, when the server answered.
    pub code: Option<String>,
    /// The relay `message`, when the server answered.
    pub message: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<RequestError>,
}

impl SendResult {
    pub(crate) fn from_outcome(outcome: Result<RelayResult, RequestError>) -> Self {
        match outcome {
            Ok(r) => SendResult {
                successful: true,
                message_id: r.str_field("message_id").map(MessageId::from),
                code: r.code.clone(),
                message: r.message.clone(),
                error: None,
            },
            Err(e) => {
                let (code, message) = match &e {
                    RequestError::Relay(r) => (r.code.clone(), r.message.clone()),
                    RequestError::Rpc(r) => (Some(r.code.to_string()), Some(r.message.clone())),
                    _ => (None, None),
                };
                SendResult {
                    successful: false,
                    message_id: None,
                    code,
                    message,
                    error: Some(e),
                }
            }
        }
    }
}

/// A message's state. Unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageState {
    /// Accepted, waiting.
    Queued,
    /// Being sent.
    Initiated,
    /// Sent to the carrier.
    Sent,
    /// Delivered (terminal).
    Delivered,
    /// Not delivered (terminal).
    Undelivered,
    /// Failed (terminal).
    Failed,
    /// An inbound message (terminal).
    Received,
    /// A value this version does not know.
    Other(String),
}

impl MessageState {
    /// Reads the wire value.
    pub fn parse(s: &str) -> MessageState {
        match s {
            "queued" => MessageState::Queued,
            "initiated" => MessageState::Initiated,
            "sent" => MessageState::Sent,
            "delivered" => MessageState::Delivered,
            "undelivered" => MessageState::Undelivered,
            "failed" => MessageState::Failed,
            "received" => MessageState::Received,
            other => MessageState::Other(other.to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Initiated => "initiated",
            MessageState::Sent => "sent",
            MessageState::Delivered => "delivered",
            MessageState::Undelivered => "undelivered",
            MessageState::Failed => "failed",
            MessageState::Received => "received",
            MessageState::Other(s) => s,
        }
    }
}

impl Serialize for MessageState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MessageState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(MessageState::parse(&s))
    }
}

impl MessageState {
    /// Whether no further state follows.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            MessageState::Delivered
                | MessageState::Undelivered
                | MessageState::Failed
                | MessageState::Received
        )
    }
}

/// A message, inbound or outbound, with every field of the official SDK's `Message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `message_id`.
    #[serde(rename = "message_id")]
    pub id: MessageId,
    /// `message_state`.
    #[serde(rename = "message_state")]
    pub state: MessageState,
    /// Context.
    #[serde(default)]
    pub context: Option<String>,
    /// `from_number`.
    #[serde(rename = "from_number", default)]
    pub from: Option<String>,
    /// `to_number`.
    #[serde(rename = "to_number", default)]
    pub to: Option<String>,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// `inbound` or `outbound`.
    #[serde(default)]
    pub direction: Option<String>,
    /// Media URLs (empty when absent).
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub media: Vec<String>,
    /// Segment count.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub segments: Option<u64>,
    /// Tags (empty when absent).
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub tags: Vec<String>,
    /// Failure reason.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Which messaging event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum MessageEventKind {
    /// `messaging.receive`: an inbound message.
    Received,
    /// `messaging.state`: a state change of an outbound message.
    StateChanged,
}

impl MessageEventKind {
    /// The messaging event an `event_type` names (`None` for any other).
    pub fn from_event_type(event_type: &EventType) -> Option<Self> {
        match event_type {
            EventType::MessagingReceive => Some(MessageEventKind::Received),
            EventType::MessagingState => Some(MessageEventKind::StateChanged),
            _ => None,
        }
    }
}

/// A messaging event, routed by the outer `context`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageEvent {
    /// Which event.
    pub kind: MessageEventKind,
    /// The routing context (the event's outer `context`, falling back to the message's).
    pub context: String,
    /// The message.
    pub message: Message,
}

/// Decodes a messaging event (the inner object of a `queuing.relay.messaging` broadcast)
/// straight from its text. `Ok(Err(event_type))` for an unknown `event_type` or a payload that
/// is not a message (reported as unrecognized, never dropped); `Err` when it is not a relay
/// event at all.
pub(crate) fn decode_event(raw: &RawValue) -> Result<Result<MessageEvent, String>, PeerMisbehaved> {
    #[derive(Deserialize)]
    struct Inner<'a> {
        event_type: EventType,
        #[serde(default)]
        context: Option<String>,
        #[serde(default, borrow)]
        params: Option<&'a RawValue>,
    }
    let ev: Inner<'_> = serde_json::from_str(raw.get())
        .map_err(|e| PeerMisbehaved::malformed_event("relay event", e))?;
    if MessageEventKind::from_event_type(&ev.event_type).is_none() {
        return Ok(Err(ev.event_type.into_string()));
    }
    let message = ev
        .params
        .ok_or_else(|| "missing params".to_owned())
        .and_then(|p| serde_json::from_str::<Message>(p.get()).map_err(|e| e.to_string()));
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable messaging event");
            return Ok(Err(ev.event_type.into_string()));
        }
    };
    match message_event(&ev.event_type, ev.context, message) {
        Some(m) => Ok(Ok(m)),
        None => Ok(Err(ev.event_type.into_string())),
    }
}

/// The messaging event an inner event makes: which kind (`None` for another event type) and
/// the routing context (the outer `context`, else the message's: PROTOCOL.md §5.15). Both the
/// general and the fast broadcast path build events here.
pub(crate) fn message_event(
    event_type: &EventType,
    context: Option<String>,
    message: Message,
) -> Option<MessageEvent> {
    let kind = MessageEventKind::from_event_type(event_type)?;
    let context = context
        .or_else(|| message.context.clone())
        .unwrap_or_default();
    Some(MessageEvent {
        kind,
        context,
        message,
    })
}
