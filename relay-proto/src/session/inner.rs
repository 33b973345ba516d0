//! The inner objects of the broadcasts the session reads (task, calling and messaging
//! events), shared by the one-pass reader (`fast`) and the general path (`broadcast`).

use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::PeerMisbehaved;
use crate::wire::EventType;

use super::Event;

/// The inner object of a `queuing.relay.tasks` broadcast (PROTOCOL.md §5.16).
#[derive(serde::Deserialize)]
pub(super) struct TaskEvent {
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    message: Option<Value>,
}

impl TaskEvent {
    /// The task rule: a context is required; a missing message is `null`.
    pub(super) fn into_event(self) -> Result<Event, PeerMisbehaved> {
        let Some(context) = self.context else {
            return Err(PeerMisbehaved::TaskWithoutContext);
        };
        Ok(Event::Task {
            context,
            message: self.message.unwrap_or(Value::Null),
        })
    }
}

/// The inner event of a calling broadcast (the fields of [`RelayEvent`](wire::RelayEvent),
/// checked the same way but not kept), its `params` borrowed from the frame for a typed
/// decode: no JSON tree, and a small value to move around.
#[derive(serde::Deserialize)]
pub(super) struct CallingEvent<'a> {
    pub(super) event_type: EventType,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    event_channel: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    context: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    timestamp: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    project_id: Option<Text>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not kept
    space_id: Option<Text>,
    #[serde(default, borrow)]
    pub(super) params: Option<&'a RawValue>,
}

/// A member that must be a string (escaped or not), whose value is not kept.
pub(super) struct Text;

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        d.deserialize_str(V)
    }
}

/// The inner object of a messaging broadcast, its message typed.
#[derive(serde::Deserialize)]
pub(super) struct MessagingInner {
    pub(super) event_type: EventType,
    #[serde(default)]
    pub(super) context: Option<String>,
    pub(super) params: crate::messaging::Message,
}
