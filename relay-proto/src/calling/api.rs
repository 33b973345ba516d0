//! The public calling API: the borrowed [`CallMut`] handle, and the dial.

use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::calling::commands::Rest;
use crate::calling::component_params::{
    DetectKind, DetectMode, DetectParams, FaxSendParams, FaxTone, PlayParams, PromptParams,
    RecordParams, ReferParams, TapParams,
};
use crate::calling::kinds::{ComponentKind, ControlAction};
use crate::calling::params::{validate_send_digits, ConnectParams, DialParams, Media};
use crate::calling::Outbox;
use crate::calling::{detect_track, CallInfo, CallState, Calling, CallingRequest, EndReason};
use crate::error::{ApiMisuse, CommandError};
use crate::ids::{CallId, ControlId, DialTag, RequestId};
use crate::wire::Method;

impl Calling {
    /// Dials out (`calling.dial`); see [`Session::dial`](crate::Session::dial).
    pub(crate) fn dial(
        &mut self,
        out: &mut dyn Outbox,
        now: Instant,
        params: &DialParams,
    ) -> Result<DialTag, CommandError> {
        params.validate()?;
        self.check_dial_room()?;
        let tag = out.next_dial_tag();
        let wire = params.to_wire(tag.as_str())?;
        out.execute(
            now,
            Method::CallingDial,
            &serde_json::to_string(&wire).map_err(|e| {
                CommandError::invalid("dial params", format!("not serializable: {e}"))
            })?,
            CallingRequest::Dial { tag: tag.clone() },
        )?;
        self.register_dial(tag.clone(), params.device_count());
        Ok(tag)
    }

    /// A handle on one call; see [`Session::call_mut`](crate::Session::call_mut).
    pub(crate) fn call_mut<'a>(
        &'a mut self,
        out: &'a mut dyn Outbox,
        id: &CallId,
    ) -> Result<CallMut<'a>, CommandError> {
        if self.call(id).is_none() && !self.is_gone(id) {
            return Err(CommandError::ApiMisuse(ApiMisuse::UnknownCall {
                call_id: id.clone(),
            }));
        }
        Ok(CallMut {
            out,
            calling: self,
            id: id.clone(),
        })
    }
}

/// Commands on one call. Every command returns a [`ControlId`] whose outcome arrives exactly
/// once as [`CallEvent::ComponentFinished`](crate::CallEvent::ComponentFinished); controls
/// (`stop`, `pause`, `resume`, `volume`) return a [`RequestId`] answered by
/// [`CallEvent::ControlCompleted`](crate::CallEvent::ControlCompleted).
///
/// On a call that is `ending`/`ended`, every command but the controls is refused locally:
/// nothing is sent and its `ComponentFinished` (with
/// [`RequestError::Refused`](crate::RequestError::Refused)) is queued at once.
pub struct CallMut<'a> {
    out: &'a mut dyn Outbox,
    calling: &'a mut Calling,
    id: CallId,
}

impl std::fmt::Debug for CallMut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMut")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl CallMut<'_> {
    /// The call id.
    pub fn id(&self) -> &CallId {
        &self.id
    }

    /// The call as the registry knows it.
    pub fn info(&self) -> Option<&CallInfo> {
        self.calling.call(&self.id)
    }

    fn start(
        &mut self,
        now: Instant,
        kind: ComponentKind,
        params: Map<String, Value>,
    ) -> Result<ControlId, CommandError> {
        self.calling
            .start(self.out, now, &self.id, kind, params, |_| {})
    }

    /// Answers (`calling.answer`); finishes on `answered` (success) or `ending`/`ended`.
    /// Answering an answered call succeeds at once without sending anything.
    #[must_use = "the id identifies the outcome"]
    pub fn answer(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        if self.info().is_some_and(|c| c.state == CallState::Answered) {
            return self.calling.finish_now(
                self.out,
                &self.id,
                ComponentKind::Answer,
                Some(CallState::Answered),
            );
        }
        self.start(now, ComponentKind::Answer, Map::new())
    }

    /// Hangs up (`calling.end`); finishes on `ended` with the end reason.
    #[must_use = "the id identifies the outcome"]
    pub fn hangup(&mut self, now: Instant, reason: EndReason) -> Result<ControlId, CommandError> {
        if let EndReason::Other(r) = &reason {
            return Err(CommandError::invalid(
                "hangup reason",
                format!("{r:?} is not one of hangup, cancel, busy, noAnswer, decline, error"),
            ));
        }
        self.calling.start(
            self.out,
            now,
            &self.id,
            ComponentKind::Hangup,
            Rest::Str("reason", reason.as_str()),
            |_| {},
        )
    }

    /// Hands an inbound call back to Relay (`calling.pass`); finishes on the response, with
    /// `code`/`message`. On an ending call it is refused like any command (the SDK throws: bug
    /// 22).
    #[must_use = "the id identifies the outcome"]
    pub fn pass(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.start(now, ComponentKind::Pass, Map::new())
    }

    /// Bridges the call to new legs (`calling.connect`). A device without `from` takes the
    /// call's own (and a phone device without timeout the call's timeout). Finishes on
    /// `connected` (success, with the peer, which is then in the registry), `failed`, or
    /// `disconnected` before `connected` (failure).
    #[must_use = "the id identifies the outcome"]
    pub fn connect(
        &mut self,
        now: Instant,
        params: &ConnectParams,
    ) -> Result<ControlId, CommandError> {
        let Some(info) = self.info() else {
            // Gone: refused with a typed outcome; the call's device defaults are unknown.
            return self.start(now, ComponentKind::Connect, Map::new());
        };
        let device = info.device.clone();
        let m = params.to_wire(device.as_deref())?;
        self.start(now, ComponentKind::Connect, m)
    }

    /// Unbridges (`calling.disconnect`); finishes on `disconnected` (success) or `failed`.
    #[must_use = "the id identifies the outcome"]
    pub fn disconnect(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.start(now, ComponentKind::Disconnect, Map::new())
    }

    /// SIP REFER (`calling.refer`); finishes on any state but `inProgress` (success on
    /// `success`), with `refer_to` and the response/notify codes.
    #[must_use = "the id identifies the outcome"]
    pub fn refer(&mut self, now: Instant, params: &ReferParams) -> Result<ControlId, CommandError> {
        let m = params.to_wire()?;
        self.start(now, ComponentKind::Refer, m)
    }

    /// Waits for any of `states` (empty: `ended`). Finishes at once with success if the call
    /// has already been in one of them, with success when one is reached, and with failure
    /// when the call ends first. Nothing is sent.
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for(
        &mut self,
        now: Instant,
        states: &[CallState],
    ) -> Result<ControlId, CommandError> {
        let states: Vec<CallState> = if states.is_empty() {
            vec![CallState::Ended]
        } else {
            states.to_vec()
        };
        let reached = self
            .info()
            .and_then(|c| states.iter().find(|s| c.has_reached(**s)).copied());
        if let Some(s) = reached {
            return self
                .calling
                .finish_now(self.out, &self.id, ComponentKind::WaitFor, Some(s));
        }
        self.calling.start(
            self.out,
            now,
            &self.id,
            ComponentKind::WaitFor,
            Map::new(),
            |c| c.wait_states = states,
        )
    }

    /// [`wait_for`](Self::wait_for) by state names; an unknown name is `ApiMisuse` (the SDK
    /// returns `true` for it: bug 17).
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for_names(
        &mut self,
        now: Instant,
        names: &[&str],
    ) -> Result<ControlId, CommandError> {
        let states = names
            .iter()
            .map(|n| CallState::parse(n))
            .collect::<Result<Vec<_>, _>>()?;
        self.wait_for(now, &states)
    }

    /// Plays media (`calling.play`); finishes on `finished` (success) or `error`. `paused` is
    /// progress.
    #[must_use = "the id identifies the outcome"]
    pub fn play(&mut self, now: Instant, params: &PlayParams) -> Result<ControlId, CommandError> {
        params.validate()?;
        self.calling.start(
            self.out,
            now,
            &self.id,
            ComponentKind::Play,
            Rest::Play(params),
            |_| {},
        )
    }

    /// Plays and collects (`calling.play_and_collect`); partial results and start of input
    /// are progress; finishes on `digit`/`speech` (success) or `no_input`/`no_match`/`error`.
    #[must_use = "the id identifies the outcome"]
    pub fn prompt(
        &mut self,
        now: Instant,
        params: &PromptParams,
    ) -> Result<ControlId, CommandError> {
        let m = params.to_wire()?;
        self.start(now, ComponentKind::Prompt, m)
    }

    /// Records (`calling.record`); the URL comes with the response and the final event;
    /// finishes on `finished` (success) or `no_input`.
    #[must_use = "the id identifies the outcome"]
    pub fn record(
        &mut self,
        now: Instant,
        params: &RecordParams,
    ) -> Result<ControlId, CommandError> {
        let m = params.to_wire()?;
        self.start(now, ComponentKind::Record, m)
    }

    /// Detects a machine, fax tone or digits (`calling.detect`); see [`DetectMode`] for when
    /// it finishes. A blocking detect that decides early stops the server's detector with
    /// `calling.detect.stop` (the SDK leaves it running: bug 21).
    #[must_use = "the id identifies the outcome"]
    pub fn detect(
        &mut self,
        now: Instant,
        params: &DetectParams,
        mode: DetectMode,
    ) -> Result<ControlId, CommandError> {
        let m = params.to_wire(mode)?;
        let track = detect_track(params, mode);
        self.calling
            .start(self.out, now, &self.id, ComponentKind::Detect, m, |c| {
                c.detect = Some(track)
            })
    }

    /// Deprecated `detectHuman`: a blocking machine detect, successful only on `HUMAN`.
    #[must_use = "the id identifies the outcome"]
    pub fn detect_human(
        &mut self,
        now: Instant,
        params: &DetectParams,
    ) -> Result<ControlId, CommandError> {
        self.detect(now, params, DetectMode::Human)
    }

    /// Deprecated `detectMachine`: a blocking machine detect, successful only on `MACHINE`.
    #[must_use = "the id identifies the outcome"]
    pub fn detect_machine(
        &mut self,
        now: Instant,
        params: &DetectParams,
    ) -> Result<ControlId, CommandError> {
        self.detect(now, params, DetectMode::Machine)
    }

    /// `playAudio`: plays one audio file.
    #[must_use = "the id identifies the outcome"]
    pub fn play_audio(&mut self, now: Instant, url: &str) -> Result<ControlId, CommandError> {
        self.play(now, &PlayParams::new([Media::audio(url)]))
    }

    /// `playTTS`: speaks a text with the server's default voice.
    #[must_use = "the id identifies the outcome"]
    pub fn play_tts(&mut self, now: Instant, text: &str) -> Result<ControlId, CommandError> {
        self.play(now, &PlayParams::new([Media::tts(text)]))
    }

    /// `playSilence`: plays silence for `duration`.
    #[must_use = "the id identifies the outcome"]
    pub fn play_silence(
        &mut self,
        now: Instant,
        duration: std::time::Duration,
    ) -> Result<ControlId, CommandError> {
        self.play(now, &PlayParams::new([Media::silence(duration)]))
    }

    /// `playRingtone`: plays a country ringtone.
    #[must_use = "the id identifies the outcome"]
    pub fn play_ringtone(
        &mut self,
        now: Instant,
        name: &str,
        duration: Option<std::time::Duration>,
    ) -> Result<ControlId, CommandError> {
        self.play(now, &PlayParams::new([Media::ringtone(name, duration)]))
    }

    /// `amd` / `detectAnsweringMachine`: machine detection with server defaults.
    #[must_use = "the id identifies the outcome"]
    pub fn amd(&mut self, now: Instant, mode: DetectMode) -> Result<ControlId, CommandError> {
        self.detect(now, &DetectParams::new(DetectKind::machine()), mode)
    }

    /// `detectFax`: fax tone detection (any tone when `tone` is `None`).
    #[must_use = "the id identifies the outcome"]
    pub fn detect_fax(
        &mut self,
        now: Instant,
        tone: Option<FaxTone>,
        mode: DetectMode,
    ) -> Result<ControlId, CommandError> {
        self.detect(now, &DetectParams::new(DetectKind::Fax { tone }), mode)
    }

    /// `detectDigit`: DTMF detection (all digits when `digits` is `None`).
    #[must_use = "the id identifies the outcome"]
    pub fn detect_digit(
        &mut self,
        now: Instant,
        digits: Option<&str>,
        mode: DetectMode,
    ) -> Result<ControlId, CommandError> {
        let kind = DetectKind::Digit {
            digits: digits.map(str::to_owned),
        };
        self.detect(now, &DetectParams::new(kind), mode)
    }

    /// `waitForRinging`.
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for_ringing(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.wait_for(now, &[CallState::Ringing])
    }

    /// `waitForAnswered`.
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for_answered(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.wait_for(now, &[CallState::Answered])
    }

    /// `waitForEnding`.
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for_ending(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.wait_for(now, &[CallState::Ending])
    }

    /// `waitForEnded`.
    #[must_use = "the id identifies the outcome"]
    pub fn wait_for_ended(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.wait_for(now, &[CallState::Ended])
    }

    /// Sends a fax (`calling.send_fax`); finishes on `finished`/`error` with the fax fields.
    #[must_use = "the id identifies the outcome"]
    pub fn send_fax(
        &mut self,
        now: Instant,
        params: &FaxSendParams,
    ) -> Result<ControlId, CommandError> {
        let m = params.to_wire()?;
        self.start(now, ComponentKind::SendFax, m)
    }

    /// Receives a fax (`calling.receive_fax`).
    #[must_use = "the id identifies the outcome"]
    pub fn receive_fax(&mut self, now: Instant) -> Result<ControlId, CommandError> {
        self.start(now, ComponentKind::ReceiveFax, Map::new())
    }

    /// Taps the audio (`calling.tap`); the source device comes with the response, the
    /// destination with the events; finishes on `finished`.
    #[must_use = "the id identifies the outcome"]
    pub fn tap(&mut self, now: Instant, params: &TapParams) -> Result<ControlId, CommandError> {
        let m = params.to_wire()?;
        self.start(now, ComponentKind::Tap, m)
    }

    /// Sends DTMF (`calling.send_digits`): only `1234567890*#ABCDwW` is accepted.
    #[must_use = "the id identifies the outcome"]
    pub fn send_digits(&mut self, now: Instant, digits: &str) -> Result<ControlId, CommandError> {
        validate_send_digits(digits)?;
        let mut m = Map::new();
        m.insert("digits".into(), json!(digits));
        self.start(now, ComponentKind::SendDigits, m)
    }

    fn control(
        &mut self,
        now: Instant,
        control_id: &ControlId,
        action: ControlAction,
    ) -> Result<RequestId, CommandError> {
        self.calling
            .control(self.out, now, &self.id, control_id, action)
    }

    /// Stops a running component (`<method>.stop`). Allowed on an ending call.
    #[must_use = "the request id identifies the control's answer"]
    pub fn stop(
        &mut self,
        now: Instant,
        control_id: &ControlId,
    ) -> Result<RequestId, CommandError> {
        self.control(now, control_id, ControlAction::Stop)
    }

    /// Pauses a playback (`calling.play.pause`).
    #[must_use = "the request id identifies the control's answer"]
    pub fn pause(
        &mut self,
        now: Instant,
        control_id: &ControlId,
    ) -> Result<RequestId, CommandError> {
        self.control(now, control_id, ControlAction::Pause)
    }

    /// Resumes a playback (`calling.play.resume`).
    #[must_use = "the request id identifies the control's answer"]
    pub fn resume(
        &mut self,
        now: Instant,
        control_id: &ControlId,
    ) -> Result<RequestId, CommandError> {
        self.control(now, control_id, ControlAction::Resume)
    }

    /// Changes the volume of a play or prompt (`<method>.volume`), -40..=+40 dB.
    #[must_use = "the request id identifies the control's answer"]
    pub fn volume(
        &mut self,
        now: Instant,
        control_id: &ControlId,
        volume: f64,
    ) -> Result<RequestId, CommandError> {
        self.control(now, control_id, ControlAction::Volume(volume))
    }
}
