//! Blade-level frames: `blade.connect`, `blade.execute`, `signalwire.setup`,
//! `blade.subscription`, `blade.ping`, `blade.disconnect`, `blade.broadcast`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Blade protocol version the client announces; always 2.1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// 2
    pub major: u32,
    /// 1
    pub minor: u32,
    /// 0
    pub revision: u32,
}

impl Version {
    /// The version every Relay v2 client sends.
    pub const CURRENT: Version = Version {
        major: 2,
        minor: 1,
        revision: 0,
    };
}

/// `blade.connect` `authentication`: a project token, or a JWT.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// Project id.
    pub project: String,
    /// Project (API) token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// JWT, used instead of `token` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_token: Option<String>,
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authentication")
            .field("project", &self.project)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("jwt_token", &self.jwt_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `blade.connect` params, in the key order the official SDK uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectParams {
    /// Always [`Version::CURRENT`].
    pub version: Version,
    /// Credentials.
    pub authentication: Authentication,
    /// The previous session id, on a reconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessionid: Option<String>,
    /// Client agent string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// `authorization` in the `blade.connect` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    /// Project id.
    #[serde(default)]
    pub project: Option<String>,
    /// Expiry (Unix seconds) or null for no expiry.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub expires_at: Option<f64>,
    /// Granted scopes.
    #[serde(default, deserialize_with = "super::lenient::vec_or_null")]
    pub scopes: Vec<String>,
    /// Signature; the relay protocol name embeds it (`signalwire_<signature>_…`).
    #[serde(default)]
    pub signature: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `blade.connect` result (fields the client uses; the rest kept in `extra`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectResult {
    /// Whether the server restored the session named in the request (`null` or another
    /// type reads as false: a reconnect then starts afresh instead of failing forever).
    #[serde(default, deserialize_with = "super::lenient::bool_or_null")]
    pub session_restored: bool,
    /// The session id to present on the next reconnect.
    #[serde(default)]
    pub sessionid: Option<String>,
    /// The node id the server assigned us.
    #[serde(default)]
    pub nodeid: Option<String>,
    /// The master node id.
    #[serde(default)]
    pub master_nodeid: Option<String>,
    /// Authorization details.
    #[serde(default)]
    pub authorization: Authorization,
    /// Bookkeeping arrays (`routes`, `protocols`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `blade.execute` params: the envelope of every relay command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteParams {
    /// `"signalwire"` for setup, the session's relay protocol otherwise.
    pub protocol: String,
    /// The relay method (`setup`, `signalwire.receive`, `calling.play`, ...).
    pub method: String,
    /// The method's params.
    #[serde(default)]
    pub params: Value,
}

/// `blade.subscription` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionParams {
    /// `add` (or `remove`).
    pub command: String,
    /// The relay protocol.
    pub protocol: String,
    /// Channels; the relay flows use `["notifications"]`.
    pub channels: Vec<String>,
}

/// `blade.subscription` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionResult {
    /// Echo of the command.
    #[serde(default)]
    pub command: Option<String>,
    /// Echo of the protocol.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Channels subscribed.
    #[serde(default, deserialize_with = "super::lenient::vec_or_null")]
    pub subscribe_channels: Vec<String>,
    /// Channels that failed.
    #[serde(default, deserialize_with = "super::lenient::vec_or_null")]
    pub failed_channels: Vec<String>,
}

/// `blade.broadcast` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastParams {
    /// Sender node.
    #[serde(default)]
    pub broadcaster_nodeid: Option<String>,
    /// Relay protocol the event belongs to.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Channel, normally `notifications`.
    #[serde(default)]
    pub channel: Option<String>,
    /// `queuing.relay.events`, `queuing.relay.messaging`, `queuing.relay.tasks` or `relay`.
    #[serde(default)]
    pub event: Option<String>,
    /// The event object.
    #[serde(default)]
    pub params: Option<Value>,
}

/// Which stream a broadcast belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastKind {
    /// `queuing.relay.events` (and the newer `relay`): calling events.
    Calling,
    /// `queuing.relay.messaging`.
    Messaging,
    /// `queuing.relay.tasks`.
    Tasks,
}

impl BroadcastKind {
    /// Classifies the broadcast `event` field. `relay` is handled like `queuing.relay.events`
    /// (the official SDK drops it); its inner `event_type` decides the real routing.
    pub fn from_event(event: &str) -> Option<Self> {
        match event {
            "relay" => Some(BroadcastKind::Calling),
            _ => [
                BroadcastKind::Calling,
                BroadcastKind::Messaging,
                BroadcastKind::Tasks,
            ]
            .into_iter()
            .find(|k| k.as_str() == event),
        }
    }

    /// The broadcast `event` a server sends for this stream.
    pub const fn as_str(self) -> &'static str {
        match self {
            BroadcastKind::Calling => "queuing.relay.events",
            BroadcastKind::Messaging => "queuing.relay.messaging",
            BroadcastKind::Tasks => "queuing.relay.tasks",
        }
    }
}

/// The generic inner event `{event_type, params, ...}` of calling and messaging broadcasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayEvent {
    /// e.g. `calling.call.state`, `messaging.receive`.
    pub event_type: crate::wire::EventType,
    /// Event channel (the protocol).
    #[serde(default)]
    pub event_channel: Option<String>,
    /// Outer context (messaging routes on this).
    #[serde(default)]
    pub context: Option<String>,
    /// Server timestamp.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub timestamp: Option<f64>,
    /// Project id.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Space id.
    #[serde(default)]
    pub space_id: Option<String>,
    /// The type-specific payload.
    #[serde(default)]
    pub params: Value,
}

/// Method names the Blade layer uses (derived from [`Method`](crate::wire::Method), the one
/// table of names).
pub mod method {
    use crate::wire::Method;
    /// Authentication and session creation.
    pub const CONNECT: &str = Method::Connect.as_str();
    /// Envelope of every relay command.
    pub const EXECUTE: &str = Method::Execute.as_str();
    /// Channel subscription.
    pub const SUBSCRIPTION: &str = Method::Subscription.as_str();
    /// Keepalive, either direction.
    pub const PING: &str = Method::Ping.as_str();
    /// Server asks the client to pause and expect a close.
    pub const DISCONNECT: &str = Method::Disconnect.as_str();
    /// Server event delivery.
    pub const BROADCAST: &str = Method::Broadcast.as_str();
    /// JWT refresh.
    pub const REAUTHENTICATE: &str = Method::Reauthenticate.as_str();
}
