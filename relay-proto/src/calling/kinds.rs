//! The table of component kinds ([`ComponentKind::spec`]: method, event type, control id,
//! accepted controls) and the controls ([`ControlAction`]). Plain data over the wire names, so
//! the session, the errors and the mock can all read it.

use crate::wire::{EventType, Method};

/// Which command a component (and its [`ComponentResult`](crate::calling::ComponentResult)) belongs to.
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
