//! The string-valued vocabulary of calling (PROTOCOL.md §4-§7): one enum per component state,
//! call-level event, result type, direction, device type, TTS gender and codec. Each is
//! `#[non_exhaustive]` and keeps a value this version does not know in its `Other` variant, so
//! a newer server never breaks decoding and every value round-trips.
//!
//! Component states also say whether they end their component ([`ComponentState::outcome`]):
//! that is the terminal-state table the client core and relay-mock share.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::names::wire_enum;

/// A component (or call-level) state that may end its component.
pub trait ComponentState: fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    /// `None`: progress (the component goes on). `Some(true)`: a terminal success;
    /// `Some(false)`: a terminal failure.
    fn outcome(&self) -> Option<bool>;
    /// The wire value.
    fn as_str(&self) -> &str;
}

macro_rules! component_state {
    ($name:ident { $($var:ident => $out:expr),* $(,)? }) => {
        impl ComponentState for $name {
            fn outcome(&self) -> Option<bool> {
                match self {
                    $( $name::$var => $out, )*
                    _ => None,
                }
            }
            fn as_str(&self) -> &str {
                $name::as_str(self)
            }
        }
    };
}

wire_enum! {
    /// `dial_state` of `calling.call.dial`, and the state of a [`DialOutcome`](crate::DialOutcome).
    pub open enum DialState {
        /// The legs are being dialed.
        Dialing = "dialing",
        /// A leg answered (terminal, success).
        Answered = "answered",
        /// No leg answered (terminal, failure).
        Failed = "failed",
        /// Client-side: the single leg of a dial ended before answering (terminal, failure).
        Ended = "ended",
    }
    /// A value this version does not know.
    other Other
}
component_state!(DialState { Answered => Some(true), Failed => Some(false), Ended => Some(false) });

wire_enum! {
    /// `connect_state` of `calling.call.connect`.
    pub open enum ConnectState {
        /// Dialing the peer.
        Connecting = "connecting",
        /// Bridged.
        Connected = "connected",
        /// The connect failed.
        Failed = "failed",
        /// The bridge ended.
        Disconnected = "disconnected",
    }
    /// A value this version does not know.
    other Other
}

wire_enum! {
    /// `state` of `calling.call.play`.
    pub open enum PlayState {
        /// Playing.
        Playing = "playing",
        /// Paused (progress, not terminal: bug 18).
        Paused = "paused",
        /// Done (terminal, success).
        Finished = "finished",
        /// Failed (terminal).
        Error = "error",
    }
    /// A value this version does not know (progress).
    other Other
}
component_state!(PlayState { Finished => Some(true), Error => Some(false) });

wire_enum! {
    /// `state` of `calling.call.record`.
    pub open enum RecordState {
        /// Recording.
        Recording = "recording",
        /// Paused (progress).
        Paused = "paused",
        /// Done (terminal, success).
        Finished = "finished",
        /// Nothing was heard (terminal, failure).
        NoInput = "no_input",
        /// Failed (terminal).
        Error = "error",
    }
    /// A value this version does not know (progress).
    other Other
}
component_state!(RecordState { Finished => Some(true), NoInput => Some(false), Error => Some(false) });

wire_enum! {
    /// `state` of `calling.call.tap`.
    pub open enum TapState {
        /// Tapping.
        Tapping = "tapping",
        /// Done (terminal, success).
        Finished = "finished",
    }
    /// A value this version does not know (progress).
    other Other
}
component_state!(TapState { Finished => Some(true) });

wire_enum! {
    /// `state` of `calling.call.send_digits`.
    pub open enum SendDigitsState {
        /// Done (terminal, success).
        Finished = "finished",
        /// Failed (terminal).
        Error = "error",
    }
    /// A value this version does not know (progress).
    other Other
}
component_state!(SendDigitsState { Finished => Some(true), Error => Some(false) });

wire_enum! {
    /// `state` of `calling.call.refer`.
    pub open enum ReferState {
        /// The REFER is under way.
        InProgress = "inProgress",
        /// Transferred (terminal, success).
        Success = "success",
        /// Cancelled (terminal).
        Cancel = "cancel",
        /// Busy (terminal).
        Busy = "busy",
        /// Not answered (terminal).
        NoAnswer = "noAnswer",
        /// Failed (terminal).
        Error = "error",
    }
    /// A value this version does not know (terminal failure, as the official SDK treats it).
    other Other
}

impl ComponentState for ReferState {
    fn outcome(&self) -> Option<bool> {
        match self {
            ReferState::InProgress => None,
            ReferState::Success => Some(true),
            _ => Some(false),
        }
    }
    fn as_str(&self) -> &str {
        ReferState::as_str(self)
    }
}

wire_enum! {
    /// `fax.type` of `calling.call.fax`.
    pub open enum FaxEventType {
        /// A page was sent or received (progress).
        Page = "page",
        /// Done (terminal; success per the event's `success`).
        Finished = "finished",
        /// Failed (terminal).
        Error = "error",
    }
    /// A value this version does not know (progress).
    other Other
}

wire_enum! {
    /// Which way a fax goes (`fax.params.direction`).
    pub open enum FaxDirection {
        /// Sending.
        Send = "send",
        /// Receiving.
        Receive = "receive",
    }
    /// A value this version does not know.
    other Other
}

wire_enum! {
    /// `detect.type` of `calling.call.detect`.
    pub open enum DetectType {
        /// Answering-machine detection.
        Machine = "machine",
        /// Fax tone detection.
        Fax = "fax",
        /// DTMF detection.
        Digit = "digit",
    }
    /// A value this version does not know.
    other Other
}

/// `detect.params.event` of `calling.call.detect`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DetectEvent {
    /// `MACHINE`.
    Machine,
    /// `HUMAN`.
    Human,
    /// `UNKNOWN`.
    Unknown,
    /// `READY`: the machine's greeting ended (the beep).
    Ready,
    /// `NOT_READY`: the machine's greeting goes on.
    NotReady,
    /// `CED`: a fax answering tone.
    Ced,
    /// `CNG`: a fax calling tone.
    Cng,
    /// The detector stopped (terminal).
    Finished,
    /// The detector failed (terminal).
    Error,
    /// DTMF digits (`0-9`, `*`, `#`, `A-D`).
    Digits(String),
    /// A value this version does not know.
    Other(String),
}

impl DetectEvent {
    /// Reads a wire value.
    pub fn parse(s: &str) -> DetectEvent {
        match s {
            "MACHINE" => DetectEvent::Machine,
            "HUMAN" => DetectEvent::Human,
            "UNKNOWN" => DetectEvent::Unknown,
            "READY" => DetectEvent::Ready,
            "NOT_READY" => DetectEvent::NotReady,
            "CED" => DetectEvent::Ced,
            "CNG" => DetectEvent::Cng,
            "finished" => DetectEvent::Finished,
            "error" => DetectEvent::Error,
            d if !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')) =>
            {
                DetectEvent::Digits(d.to_owned())
            }
            other => DetectEvent::Other(other.to_owned()),
        }
    }
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            DetectEvent::Machine => "MACHINE",
            DetectEvent::Human => "HUMAN",
            DetectEvent::Unknown => "UNKNOWN",
            DetectEvent::Ready => "READY",
            DetectEvent::NotReady => "NOT_READY",
            DetectEvent::Ced => "CED",
            DetectEvent::Cng => "CNG",
            DetectEvent::Finished => "finished",
            DetectEvent::Error => "error",
            DetectEvent::Digits(s) | DetectEvent::Other(s) => s,
        }
    }
    /// `finished` or `error`: the detector is done.
    pub fn is_terminal(&self) -> bool {
        matches!(self, DetectEvent::Finished | DetectEvent::Error)
    }
}

impl fmt::Display for DetectEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DetectEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DetectEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(crate::wire::names::LenientStr(DetectEvent::parse))
    }
}

wire_enum! {
    /// `result.type` of `calling.call.collect`.
    pub open enum CollectResultType {
        /// Digits were collected.
        Digit = "digit",
        /// Speech was recognised.
        Speech = "speech",
        /// Nothing was heard.
        NoInput = "no_input",
        /// Input did not match.
        NoMatch = "no_match",
        /// The collect failed.
        Error = "error",
        /// The caller started to speak or press keys (progress).
        StartOfInput = "start_of_input",
    }
    /// A value this version does not know.
    other Other
}

impl CollectResultType {
    /// `digit` or `speech`: the prompt got input.
    pub fn is_input(&self) -> bool {
        matches!(self, CollectResultType::Digit | CollectResultType::Speech)
    }
}

wire_enum! {
    /// Which way a call goes.
    pub open enum Direction {
        /// Offered to us.
        Inbound = "inbound",
        /// Dialed by us (or a leg the server created for us).
        Outbound = "outbound",
    }
    /// A value this version does not know.
    other Other
}

wire_enum! {
    /// A device's `type`.
    pub open enum DeviceType {
        /// PSTN phone.
        Phone = "phone",
        /// SIP.
        Sip = "sip",
        /// WebRTC.
        Webrtc = "webrtc",
        /// RTP stream (tap).
        Rtp = "rtp",
        /// WebSocket stream (tap).
        Ws = "ws",
    }
    /// A value this version does not know (empty when the server sent none).
    other Other
}

impl Default for DeviceType {
    fn default() -> Self {
        DeviceType::Other(String::new())
    }
}

wire_enum! {
    /// The voice of a text-to-speech media.
    pub open enum TtsGender {
        /// Male.
        Male = "male",
        /// Female.
        Female = "female",
    }
    /// Another value the server accepts.
    other Other
}

wire_enum! {
    /// An audio/video codec (SIP `codecs`, tap devices).
    pub open enum Codec {
        /// G.711 µ-law.
        Pcmu = "PCMU",
        /// G.711 A-law.
        Pcma = "PCMA",
        /// Opus.
        Opus = "OPUS",
        /// G.729.
        G729 = "G729",
        /// G.722.
        G722 = "G722",
        /// VP8 (video).
        Vp8 = "VP8",
        /// H.264 (video).
        H264 = "H264",
    }
    /// Another codec the server accepts.
    other Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_unknown_values_are_kept() {
        assert_eq!(PlayState::parse("paused"), PlayState::Paused);
        assert_eq!(PlayState::parse("x").as_str(), "x");
        assert_eq!(ReferState::parse("noAnswer"), ReferState::NoAnswer);
        let c: Codec = serde_json::from_str("\"PCMU\"").unwrap();
        assert_eq!(c, Codec::Pcmu);
        assert_eq!(
            serde_json::to_string(&Codec::Other("AMR".into())).unwrap(),
            "\"AMR\""
        );
        let d: DetectEvent = serde_json::from_str("12").unwrap();
        assert_eq!(d, DetectEvent::Digits("12".into()));
        assert_eq!(DetectEvent::parse("1#"), DetectEvent::Digits("1#".into()));
        assert_eq!(DetectEvent::parse("CED"), DetectEvent::Ced);
        assert_eq!(
            DetectEvent::parse("BEEP"),
            DetectEvent::Other("BEEP".into())
        );
    }

    #[test]
    fn terminal_tables() {
        assert_eq!(PlayState::Paused.outcome(), None);
        assert_eq!(PlayState::Finished.outcome(), Some(true));
        assert_eq!(PlayState::Error.outcome(), Some(false));
        assert_eq!(RecordState::NoInput.outcome(), Some(false));
        assert_eq!(TapState::Tapping.outcome(), None);
        assert_eq!(SendDigitsState::Error.outcome(), Some(false));
        assert_eq!(ReferState::InProgress.outcome(), None);
        assert_eq!(ReferState::Busy.outcome(), Some(false));
        assert_eq!(DialState::Dialing.outcome(), None);
        assert_eq!(DialState::Answered.outcome(), Some(true));
    }
}
