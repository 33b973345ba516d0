//! Typed identifiers and the injected id generator.
//!
//! Every id on the wire is an opaque string: the core never insists on UUID syntax for ids the
//! server assigns. Ids the client makes (request ids, control ids, dial tags) come from an
//! [`IdGenerator`] passed in through the configuration, so golden tests can use
//! [`SequentialIds`] and production uses [`SeededIds`] seeded from the OS by the adapter.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// The hasher of the core's id-keyed maps (calls, requests in flight, ended calls):
/// deterministic, as the core uses no randomness, and every such map is bounded by the
/// session's configuration. FxHash rather than SipHash: an id is hashed on every event and
/// command, and SipHash over a 36-byte id was a visible share of a busy consumer's CPU.
pub(crate) type IdHasher = rustc_hash::FxBuildHasher;

macro_rules! id_common {
    ($name:ident, $prefix:literal) => {
        impl $name {
            /// The string as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// The id exactly as on the wire, so it can be logged and stored as is.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// The id with its type as a prefix (`call:…`), to tell ids apart in debug output.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, ":{}"), &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }
    };
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a wire string.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
        }

        id_common!($name, $prefix);
    };
}

/// An id kept for as long as a call lives and held in several places at once (the registry
/// key, the call's info, the client's call cell and every handle): one shared allocation
/// (`Arc<str>`), so a copy costs a reference count, not a string.
macro_rules! shared_id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a wire string.
            pub fn new(s: impl Into<String>) -> Self {
                Self(Arc::from(s.into()))
            }
        }

        id_common!($name, $prefix);

        impl From<Arc<str>> for $name {
            fn from(s: Arc<str>) -> Self {
                Self(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        /// A JSON string, like the wire id.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        /// A JSON string, copied once into the shared allocation.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(SharedStrVisitor).map(Self)
            }
        }
    };
}

/// Reads a JSON string straight into an `Arc<str>` (no intermediate `String`).
struct SharedStrVisitor;

impl serde::de::Visitor<'_> for SharedStrVisitor {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string id")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arc<str>, E> {
        Ok(Arc::from(v))
    }
}

shared_id_type!(
    /// A JSON-RPC request id (client-made for our requests, server-made for its own).
    RequestId,
    "req"
);
shared_id_type!(
    /// A component's `control_id`, made by the client when it starts the component.
    ControlId,
    "ctl"
);
shared_id_type!(
    /// A call's `call_id`, assigned by the server.
    CallId,
    "call"
);
shared_id_type!(
    /// A call's `node_id`, assigned by the server.
    NodeId,
    "node"
);
shared_id_type!(
    /// The `tag` of a `calling.dial`, made by the client; correlates the dial until `call_id` is known.
    DialTag,
    "tag"
);
id_type!(
    /// A Blade `sessionid`, assigned by the server on `blade.connect`.
    SessionId,
    "session"
);
id_type!(
    /// A message's `message_id`, assigned by the server.
    MessageId,
    "msg"
);

/// What an id is for; generators may use it (the default ones make the same shape for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// A JSON-RPC request id.
    Request,
    /// A component `control_id`.
    Control,
    /// A dial `tag`.
    Tag,
    /// Anything else (e.g. ids a mock server makes).
    Other,
}

/// Makes the ids the client puts on the wire. Implementations must be deterministic for a given
/// construction (the core calls them in a deterministic order).
pub trait IdGenerator: Send + 'static {
    /// The next id of the given kind.
    fn next_id(&mut self, kind: IdKind) -> String;

    /// Puts the next id of the given kind in `buf`, replacing what it held: the same id
    /// [`next_id`](Self::next_id) would give. The core makes its ids this way, into one
    /// reused buffer; the default takes `next_id`'s string, and a generator may override it
    /// to write the id without allocating.
    fn write_next_id(&mut self, kind: IdKind, buf: &mut String) {
        *buf = self.next_id(kind);
    }
}

/// UUID-v4-shaped ids from a seeded [`SplitMix64`]. Adapters seed it from the OS; tests pass a
/// fixed seed.
#[derive(Debug, Clone)]
pub struct SeededIds {
    rng: SplitMix64,
}

impl SeededIds {
    /// A generator whose ids are decided by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
        }
    }
}

impl IdGenerator for SeededIds {
    fn next_id(&mut self, kind: IdKind) -> String {
        let mut id = String::with_capacity(uuid::fmt::Hyphenated::LENGTH);
        self.write_next_id(kind, &mut id);
        id
    }

    fn write_next_id(&mut self, _kind: IdKind, buf: &mut String) {
        let hi = self.rng.next_u64().to_be_bytes();
        let lo = self.rng.next_u64().to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi);
        bytes[8..].copy_from_slice(&lo);
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        buf.clear();
        buf.push_str(
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut text),
        );
    }
}

/// `00000000-0000-4000-8000-000000000001`, `…002`, …: one counter for every kind, so golden
/// transcripts are readable and stable.
#[derive(Debug, Clone, Default)]
pub struct SequentialIds {
    next: u64,
}

impl SequentialIds {
    /// Starts at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGenerator for SequentialIds {
    fn next_id(&mut self, kind: IdKind) -> String {
        let mut id = String::with_capacity(uuid::fmt::Hyphenated::LENGTH);
        self.write_next_id(kind, &mut id);
        id
    }

    fn write_next_id(&mut self, _kind: IdKind, buf: &mut String) {
        use std::fmt::Write as _;
        self.next += 1;
        buf.clear();
        let _ = write!(buf, "00000000-0000-4000-8000-{:012x}", self.next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_are_uuid_v4_and_deterministic() {
        let mut a = SeededIds::new(42);
        let mut b = SeededIds::new(42);
        let x = a.next_id(IdKind::Request);
        assert_eq!(x, b.next_id(IdKind::Request));
        // Written into a buffer: the same sequence.
        let mut buf = String::from("left over");
        let mut c = SeededIds::new(42);
        c.write_next_id(IdKind::Request, &mut buf);
        assert_eq!(buf, x);
        let y = a.next_id(IdKind::Control);
        c.write_next_id(IdKind::Control, &mut buf);
        assert_eq!(buf, y);
        let parsed = uuid::Uuid::parse_str(&x).expect("valid uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(x, a.next_id(IdKind::Request));
    }

    #[test]
    fn sequential_ids_count() {
        let mut g = SequentialIds::new();
        assert_eq!(
            g.next_id(IdKind::Request),
            "00000000-0000-4000-8000-000000000001"
        );
        assert_eq!(
            g.next_id(IdKind::Control),
            "00000000-0000-4000-8000-000000000002"
        );
    }

    #[test]
    fn shared_ids_share_one_allocation_and_stay_json_strings() {
        let id = CallId::new("a8f1c7e2-0000-4000-8000-000000000001");
        let copy = id.clone();
        assert_eq!(
            id.as_str().as_ptr(),
            copy.as_str().as_ptr(),
            "a copy is the same string"
        );
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, r#""a8f1c7e2-0000-4000-8000-000000000001""#);
        assert_eq!(serde_json::from_str::<CallId>(&json).expect("id"), id);
        let escaped: NodeId = serde_json::from_str(r#""n\u0041@west""#).expect("escaped");
        assert_eq!(escaped.as_str(), "nA@west");
        assert!(
            serde_json::from_str::<DialTag>("12").is_err(),
            "ids are strings"
        );
        let set: std::collections::HashSet<CallId> = [id.clone()].into();
        assert!(set.contains("a8f1c7e2-0000-4000-8000-000000000001"));
        assert_eq!(
            format!(
                "{:?} {}",
                DialTag::from("t"),
                NodeId::from(String::from("n"))
            ),
            "tag:t n"
        );
    }

    #[test]
    fn display_is_the_wire_id_debug_is_prefixed() {
        assert_eq!(CallId::new("abc").to_string(), "abc");
        assert_eq!(ControlId::new("x").to_string(), "x");
        assert_eq!(MessageId::new("m-1").to_string(), "m-1");
        assert_eq!(SessionId::new("s-1").to_string(), "s-1");
        assert_eq!(format!("{:?}", CallId::new("abc")), "call:abc");
        assert_eq!(format!("{:?}", ControlId::new("x")), "ctl:x");
        assert_eq!(format!("{:?}", MessageId::new("m")), "msg:m");
        assert_eq!(format!("{:?}", SessionId::new("s")), "session:s");
    }
}
