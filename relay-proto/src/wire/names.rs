//! The protocol's names, each written once: [`Method`] (every Blade and relay method) and
//! [`EventType`] (every calling and messaging `event_type`). Both the client core and relay-mock
//! name methods and events only through these enums.
//!
//! A crate-private `wire_enum!` macro builds the string-valued enums of the
//! protocol (call states, component states, directions, ...): one table gives each variant its
//! wire value, and the enum gets `parse`/`as_str`/`Display`/`FromStr`/serde from it.

use std::fmt;

/// A string-valued protocol enum. Two forms:
///
/// * `open`: `#[non_exhaustive]` with an escape variant holding a value this version does not
///   know (`parse` never fails; the value round-trips).
/// * `closed`: a `Copy` enum of a fixed vocabulary (`parse` returns `None` for anything else).
///
/// Deserialization of the open form is lenient like the rest of the wire layer: a number or a
/// boolean is read as its text (`1` → `"1"`).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis open enum $name:ident {
            $( $(#[$vmeta:meta])* $var:ident = $wire:literal, )*
        }
        $(#[$ometa:meta])* other $other:ident
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* $var, )*
            $(#[$ometa])* $other(String),
        }

        impl $name {
            /// Reads a wire value; a value this version does not know is kept as is.
            pub fn parse(s: &str) -> Self {
                match s {
                    $( $wire => Self::$var, )*
                    other => Self::$other(other.to_owned()),
                }
            }
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$var => $wire, )*
                    Self::$other(s) => s,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any($crate::wire::names::LenientStr(Self::parse))
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis closed enum $name:ident {
            $( $(#[$vmeta:meta])* $var:ident = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $var, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( Self::$var, )* ];
            /// Reads a wire value (`None` for a value outside the vocabulary).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some(Self::$var), )*
                    _ => None,
                }
            }
            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$var => $wire, )*
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::wire::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::wire::names::UnknownName {
                    kind: stringify!($name),
                    value: s.to_owned(),
                })
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = ::std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use wire_enum;

/// A name outside a closed vocabulary (e.g. a method this version does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// Which vocabulary (`Method`, ...).
    pub kind: &'static str,
    /// The value received.
    pub value: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownName {}

/// serde visitor behind the open form's lenient decode: a string, or a number/boolean as text.
#[doc(hidden)]
pub struct LenientStr<T>(pub fn(&str) -> T);

impl<T> serde::de::Visitor<'_> for LenientStr<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (or a number)")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        Ok((self.0)(&v.to_string()))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        Ok((self.0)(&v.to_string()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        Ok((self.0)(
            &serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        ))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
        Ok((self.0)(if v { "true" } else { "false" }))
    }
}

wire_enum! {
    /// Every method of the protocol: the Blade layer (`blade.*`, the JSON-RPC `method`) and the
    /// relay layer (the `method` inside a `blade.execute`, PROTOCOL.md §3-§4, §8).
    pub closed enum Method {
        /// `blade.connect`: authentication and session creation.
        Connect = "blade.connect",
        /// `blade.execute`: envelope of every relay command.
        Execute = "blade.execute",
        /// `blade.subscription`: channel subscription.
        Subscription = "blade.subscription",
        /// `blade.ping`: keepalive, either direction.
        Ping = "blade.ping",
        /// `blade.disconnect`: the server asks the client to pause and expect a close.
        Disconnect = "blade.disconnect",
        /// `blade.broadcast`: server event delivery.
        Broadcast = "blade.broadcast",
        /// `blade.reauthenticate`: JWT refresh.
        Reauthenticate = "blade.reauthenticate",
        /// `setup` (protocol `signalwire`): asks for the session's relay protocol.
        Setup = "setup",
        /// `signalwire.receive`: register contexts.
        Receive = "signalwire.receive",
        /// `calling.dial`.
        CallingDial = "calling.dial",
        /// `calling.begin` (older form of dial; never sent by this crate).
        CallingBegin = "calling.begin",
        /// `calling.answer`.
        CallingAnswer = "calling.answer",
        /// `calling.end`.
        CallingEnd = "calling.end",
        /// `calling.pass`.
        CallingPass = "calling.pass",
        /// `calling.connect`.
        CallingConnect = "calling.connect",
        /// `calling.disconnect`.
        CallingDisconnect = "calling.disconnect",
        /// `calling.refer`.
        CallingRefer = "calling.refer",
        /// `calling.play`.
        CallingPlay = "calling.play",
        /// `calling.play.stop`.
        CallingPlayStop = "calling.play.stop",
        /// `calling.play.pause`.
        CallingPlayPause = "calling.play.pause",
        /// `calling.play.resume`.
        CallingPlayResume = "calling.play.resume",
        /// `calling.play.volume`.
        CallingPlayVolume = "calling.play.volume",
        /// `calling.play_and_collect`.
        CallingPlayAndCollect = "calling.play_and_collect",
        /// `calling.play_and_collect.stop`.
        CallingPlayAndCollectStop = "calling.play_and_collect.stop",
        /// `calling.play_and_collect.volume`.
        CallingPlayAndCollectVolume = "calling.play_and_collect.volume",
        /// `calling.record`.
        CallingRecord = "calling.record",
        /// `calling.record.stop`.
        CallingRecordStop = "calling.record.stop",
        /// `calling.detect`.
        CallingDetect = "calling.detect",
        /// `calling.detect.stop`.
        CallingDetectStop = "calling.detect.stop",
        /// `calling.send_fax`.
        CallingSendFax = "calling.send_fax",
        /// `calling.send_fax.stop`.
        CallingSendFaxStop = "calling.send_fax.stop",
        /// `calling.receive_fax`.
        CallingReceiveFax = "calling.receive_fax",
        /// `calling.receive_fax.stop`.
        CallingReceiveFaxStop = "calling.receive_fax.stop",
        /// `calling.tap`.
        CallingTap = "calling.tap",
        /// `calling.tap.stop`.
        CallingTapStop = "calling.tap.stop",
        /// `calling.send_digits`.
        CallingSendDigits = "calling.send_digits",
        /// `messaging.send`.
        MessagingSend = "messaging.send",
    }
}

impl Method {
    /// The namespace of calling methods and event types (`calling.`): a server routes any name
    /// in it to its calling service, known or not.
    pub const CALLING_PREFIX: &'static str = "calling.";

    /// A Blade-layer method (the JSON-RPC `method` itself, not a relay method inside
    /// `blade.execute`).
    pub fn is_blade(self) -> bool {
        matches!(
            self,
            Method::Connect
                | Method::Execute
                | Method::Subscription
                | Method::Ping
                | Method::Disconnect
                | Method::Broadcast
                | Method::Reauthenticate
        )
    }

    /// A calling method (`calling.*`).
    pub fn is_calling(self) -> bool {
        self.as_str().starts_with(Method::CALLING_PREFIX)
    }
}

wire_enum! {
    /// The `event_type` of a calling or messaging broadcast (PROTOCOL.md §5). Task broadcasts
    /// have none; the broadcast's own `event` is [`BroadcastKind`](crate::wire::BroadcastKind).
    pub open enum EventType {
        /// `calling.call.receive`: an inbound call.
        CallReceive = "calling.call.receive",
        /// `calling.call.state`.
        CallState = "calling.call.state",
        /// `calling.call.dial`.
        CallDial = "calling.call.dial",
        /// `calling.call.connect`.
        CallConnect = "calling.call.connect",
        /// `calling.call.play`.
        CallPlay = "calling.call.play",
        /// `calling.call.collect`.
        CallCollect = "calling.call.collect",
        /// `calling.call.record`.
        CallRecord = "calling.call.record",
        /// `calling.call.detect`.
        CallDetect = "calling.call.detect",
        /// `calling.call.fax`.
        CallFax = "calling.call.fax",
        /// `calling.call.tap`.
        CallTap = "calling.call.tap",
        /// `calling.call.send_digits`.
        CallSendDigits = "calling.call.send_digits",
        /// `calling.call.refer`.
        CallRefer = "calling.call.refer",
        /// `messaging.receive`: an inbound message.
        MessagingReceive = "messaging.receive",
        /// `messaging.state`: a state change of an outbound message.
        MessagingState = "messaging.state",
    }
    /// An event type this version does not know (ignored by the session).
    other Unrecognized
}

impl EventType {
    /// The wire value, owned.
    pub fn into_string(self) -> String {
        match self {
            EventType::Unrecognized(s) => s,
            known => known.as_str().to_owned(),
        }
    }

    /// A calling event type (`calling.*`), known or not.
    pub fn is_calling(&self) -> bool {
        self.as_str().starts_with(Method::CALLING_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for m in Method::ALL {
            assert!(seen.insert(m.as_str()), "duplicate {m}");
            assert_eq!(Method::parse(m.as_str()), Some(*m));
            assert_eq!(m.to_string().parse::<Method>(), Ok(*m));
        }
        assert!(Method::Ping.is_blade() && !Method::CallingPlay.is_blade());
        assert!(Method::CallingPlay.is_calling() && !Method::MessagingSend.is_calling());
        let e = "calling.nope".parse::<Method>().unwrap_err();
        assert_eq!(e.to_string(), "unknown Method \"calling.nope\"");
    }

    #[test]
    fn event_types_keep_unknown_values() {
        assert_eq!(EventType::parse("calling.call.play"), EventType::CallPlay);
        let u = EventType::parse("calling.call.new_thing");
        assert_eq!(u, EventType::Unrecognized("calling.call.new_thing".into()));
        assert_eq!(u.as_str(), "calling.call.new_thing");
        assert!(u.is_calling());
        let j: EventType = serde_json::from_str("\"messaging.state\"").unwrap();
        assert_eq!(j, EventType::MessagingState);
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"messaging.state\"");
    }
}
