//! The component methods of [`Call`] (connect, refer, play, prompt, record, detect, tap,
//! fax, send-digits and their convenience forms): each has an async form returning an
//! [`Action`] and a blocking form that waits for it. Kept apart from `call.rs` so that the
//! call handle does not depend on the action types that depend on it.

use std::time::Duration;

use relay_proto::calling::{
    Audio, CallState, ComponentResult, ConnectOutcome, ConnectParams, DetectKind, DetectMode,
    DetectOutcome, DetectParams, DisconnectResult, FaxOutcome, FaxSendParams, FaxTone, Media,
    PlayOutcome, PlayParams, PromptOutcome, PromptParams, RecordOutcome, RecordParams,
    ReferOutcome, ReferParams, Ringtone, SendDigitsOutcome, TapOutcome, TapParams, Tts, Volume,
    WaitForResult,
};

use crate::action::{Action, ActionKind};
use crate::call::Call;
use crate::driver::CallOp;
use crate::error::ClientError;

macro_rules! component {
    ($(#[$doc:meta])* $blocking:ident, $async_name:ident -> $out:ty, ($($arg:ident : $ty:ty),*) => $op:expr) => {
        $(#[$doc])*
        #[doc = ""]
        #[doc = concat!("Blocking form: resolves with the outcome, as [`", stringify!($async_name), "`](Self::", stringify!($async_name), ") then [`Action::wait`] would.")]
        pub async fn $blocking(&self, $($arg: $ty),*) -> Result<ComponentResult<$out>, ClientError> {
            self.run($op).await
        }

        $(#[$doc])*
        #[doc = ""]
        #[doc = "Async form: resolves with an [`Action`] once the core accepted the command."]
        pub async fn $async_name(&self, $($arg: $ty),*) -> Result<Action<$out>, ClientError> {
            self.start($op).await
        }
    };
}

impl Call {
    async fn start<O: ActionKind>(&self, op: CallOp) -> Result<Action<O>, ClientError> {
        let (control_id, done, cell) = self.begin(op).await?;
        Ok(Action::new(self.clone(), control_id, done, cell))
    }

    component!(
        /// Bridges the call (`calling.connect`); finishes on `connected` (with the peer) or
        /// failure.
        connect, connect_async -> ConnectOutcome, (params: ConnectParams) => CallOp::Connect(Box::new(params))
    );

    /// Unbridges (`calling.disconnect`).
    pub async fn disconnect(&self) -> Result<DisconnectResult, ClientError> {
        self.run(CallOp::Disconnect).await
    }

    component!(
        /// SIP REFER (`calling.refer`).
        refer, refer_async -> ReferOutcome, (params: ReferParams) => CallOp::Refer(Box::new(params))
    );

    /// Waits until the call reaches any of `states` (empty: `ended`); `successful` tells
    /// whether one was reached before the call ended.
    ///
    /// On a call that has ended (and so left the core's registry, or never got an id because
    /// its dial failed) the answer comes at once from the states this handle saw: `ended` and
    /// `ending` are reached, an earlier state is reached if the call was in it (Node answers
    /// `true` here too), any other is unsuccessful.
    pub async fn wait_for(&self, states: &[CallState]) -> Result<WaitForResult, ClientError> {
        match self.reached_after_end(states) {
            Some(Some(state)) => Ok(WaitForResult::reached(state)),
            Some(None) => Ok(WaitForResult::not_reached()),
            None => self.run(CallOp::WaitFor(states.to_vec())).await,
        }
    }

    /// For an ended call, the first of `states` (empty: `ended`) it has been in (`Some(None)`:
    /// none); `None` while the call is not ended (the core then answers).
    fn reached_after_end(&self, states: &[CallState]) -> Option<Option<CallState>> {
        let wanted: &[CallState] = if states.is_empty() {
            &[CallState::Ended]
        } else {
            states
        };
        self.read_live(|l| {
            if l.state() != CallState::Ended {
                return None;
            }
            let visited = l.visited()
                | crate::live::state_bit(CallState::Ending)
                | crate::live::state_bit(CallState::Ended);
            Some(
                wanted
                    .iter()
                    .copied()
                    .find(|s| visited & crate::live::state_bit(*s) != 0),
            )
        })
    }

    /// `waitForRinging`.
    pub async fn wait_for_ringing(&self) -> Result<WaitForResult, ClientError> {
        self.wait_for(&[CallState::Ringing]).await
    }

    /// `waitForAnswered`.
    pub async fn wait_for_answered(&self) -> Result<WaitForResult, ClientError> {
        self.wait_for(&[CallState::Answered]).await
    }

    /// `waitForEnding`.
    pub async fn wait_for_ending(&self) -> Result<WaitForResult, ClientError> {
        self.wait_for(&[CallState::Ending]).await
    }

    /// `waitForEnded`.
    pub async fn wait_for_ended(&self) -> Result<WaitForResult, ClientError> {
        self.wait_for(&[CallState::Ended]).await
    }

    component!(
        /// Sends DTMF digits (`1234567890*#ABCDwW`); finishes when they were sent.
        send_digits, send_digits_async -> SendDigitsOutcome, (digits: &str) => CallOp::SendDigits(digits.to_owned())
    );

    component!(
        /// Plays media (`calling.play`); finishes on `finished` or `error`.
        play, play_async -> PlayOutcome, (params: PlayParams) => CallOp::Play(Box::new(params))
    );
    component!(
        /// Speaks a text (`playTTS`): a `&str`, or a [`Tts`] with language, gender and volume.
        play_tts, play_tts_async -> PlayOutcome, (tts: impl Into<Tts>) => CallOp::Play(Box::new(tts_play(tts.into())))
    );
    component!(
        /// Plays one audio file (`playAudio`): a URL, or an [`Audio`] with a volume.
        play_audio, play_audio_async -> PlayOutcome, (audio: impl Into<Audio>) => CallOp::Play(Box::new(audio_play(audio.into())))
    );
    component!(
        /// Plays silence for `duration` (`playSilence`).
        play_silence, play_silence_async -> PlayOutcome, (duration: Duration) => CallOp::Play(Box::new(PlayParams::new([Media::silence(duration)])))
    );
    component!(
        /// Plays a country ringtone (`playRingtone`): a country code, or a [`Ringtone`] with
        /// duration and volume.
        play_ringtone, play_ringtone_async -> PlayOutcome, (ringtone: impl Into<Ringtone>) => CallOp::Play(Box::new(ringtone_play(ringtone.into())))
    );
    component!(
        /// Answering-machine detection with server defaults (`amd`).
        amd, amd_async -> DetectOutcome, (mode: DetectMode) => CallOp::Detect(Box::new(DetectParams::new(DetectKind::machine())), mode)
    );
    /// Answering-machine detection (`detectAnsweringMachine`) with every detector setting of
    /// `params` (e.g. `DetectParams::machine().timeout(..)`); completes on the first decisive
    /// event (with `wait_for_beep`, on the beep).
    pub async fn detect_answering_machine(
        &self,
        params: DetectParams,
    ) -> Result<ComponentResult<DetectOutcome>, ClientError> {
        self.run(CallOp::Detect(Box::new(params), DetectMode::Blocking))
            .await
    }

    /// Answering-machine detection that keeps running (`detectAnsweringMachineAsync`): its
    /// updates arrive on [`events`](Self::events) until it is stopped or times out.
    pub async fn detect_answering_machine_async(
        &self,
        params: DetectParams,
    ) -> Result<Action<DetectOutcome>, ClientError> {
        self.start(CallOp::Detect(Box::new(params), DetectMode::Async))
            .await
    }

    /// Deprecated `detectHuman`: successful only when a human answered.
    #[deprecated(note = "use detect_answering_machine")]
    pub async fn detect_human(
        &self,
        params: DetectParams,
    ) -> Result<ComponentResult<DetectOutcome>, ClientError> {
        self.run(CallOp::Detect(Box::new(params), DetectMode::Human))
            .await
    }

    /// Deprecated `detectMachine`: successful only when a machine answered.
    #[deprecated(note = "use detect_answering_machine")]
    pub async fn detect_machine(
        &self,
        params: DetectParams,
    ) -> Result<ComponentResult<DetectOutcome>, ClientError> {
        self.run(CallOp::Detect(Box::new(params), DetectMode::Machine))
            .await
    }

    /// Deprecated `detectHumanAsync`: the same as
    /// [`detect_answering_machine_async`](Self::detect_answering_machine_async), as in Node.
    #[deprecated(note = "use detect_answering_machine_async")]
    pub async fn detect_human_async(
        &self,
        params: DetectParams,
    ) -> Result<Action<DetectOutcome>, ClientError> {
        self.detect_answering_machine_async(params).await
    }

    /// Deprecated `detectMachineAsync`: the same as
    /// [`detect_answering_machine_async`](Self::detect_answering_machine_async), as in Node.
    #[deprecated(note = "use detect_answering_machine_async")]
    pub async fn detect_machine_async(
        &self,
        params: DetectParams,
    ) -> Result<Action<DetectOutcome>, ClientError> {
        self.detect_answering_machine_async(params).await
    }

    component!(
        /// Fax tone detection (`detectFax`), any tone when `tone` is `None`, for at most
        /// `timeout` (server default when `None`).
        detect_fax, detect_fax_async -> DetectOutcome, (tone: Option<FaxTone>, timeout: Option<Duration>, mode: DetectMode) => CallOp::Detect(Box::new(with_timeout(DetectParams::new(DetectKind::Fax { tone }), timeout)), mode)
    );
    component!(
        /// DTMF detection (`detectDigit`), all digits when `digits` is `None`, for at most
        /// `timeout` (server default when `None`).
        detect_digit, detect_digit_async -> DetectOutcome, (digits: Option<&str>, timeout: Option<Duration>, mode: DetectMode) => CallOp::Detect(Box::new(with_timeout(DetectParams::new(DetectKind::Digit { digits: digits.map(str::to_owned) }), timeout)), mode)
    );
    component!(
        /// Plays and collects digits or speech (`calling.play_and_collect`).
        prompt, prompt_async -> PromptOutcome, (params: PromptParams) => CallOp::Prompt(Box::new(params))
    );
    component!(
        /// Speaks a text and collects digits or speech (`promptTTS`); `params` says what to
        /// collect, e.g. `PromptParams::digits(4).terminators("#")`.
        prompt_tts, prompt_tts_async -> PromptOutcome, (params: PromptParams, tts: impl Into<Tts>) => {
            let tts = tts.into();
            CallOp::Prompt(Box::new(with_prompt_media(params, tts.media(), tts.volume)))
        }
    );
    component!(
        /// Plays an audio file and collects digits or speech (`promptAudio`).
        prompt_audio, prompt_audio_async -> PromptOutcome, (params: PromptParams, audio: impl Into<Audio>) => {
            let audio = audio.into();
            CallOp::Prompt(Box::new(with_prompt_media(params, audio.media(), audio.volume)))
        }
    );
    component!(
        /// Plays a ringtone and collects digits or speech (`promptRingtone`).
        prompt_ringtone, prompt_ringtone_async -> PromptOutcome, (params: PromptParams, ringtone: impl Into<Ringtone>) => {
            let ringtone = ringtone.into();
            CallOp::Prompt(Box::new(with_prompt_media(params, ringtone.media(), ringtone.volume)))
        }
    );
    component!(
        /// Records (`calling.record`); the result carries `url`, `duration`, `size`.
        record, record_async -> RecordOutcome, (params: RecordParams) => CallOp::Record(Box::new(params))
    );
    component!(
        /// Detects a machine, fax tone or digits (`calling.detect`); see [`DetectMode`].
        detect, detect_async -> DetectOutcome, (params: DetectParams, mode: DetectMode) => CallOp::Detect(Box::new(params), mode)
    );
    component!(
        /// Taps the call's audio (`calling.tap`); finishes when stopped or the call ends.
        tap, tap_async -> TapOutcome, (params: TapParams) => CallOp::Tap(Box::new(params))
    );
    component!(
        /// Sends a fax (`calling.send_fax`).
        send_fax, send_fax_async -> FaxOutcome, (params: FaxSendParams) => CallOp::SendFax(Box::new(params))
    );
    component!(
        /// Receives a fax (`calling.receive_fax`).
        receive_fax, receive_fax_async -> FaxOutcome, () => CallOp::ReceiveFax
    );
}

fn volume_db(volume: Option<Volume>) -> Option<f64> {
    volume.map(Volume::get)
}

fn tts_play(tts: Tts) -> PlayParams {
    PlayParams {
        volume: volume_db(tts.volume),
        ..PlayParams::new([tts.media()])
    }
}

fn audio_play(audio: Audio) -> PlayParams {
    PlayParams {
        volume: volume_db(audio.volume),
        ..PlayParams::new([audio.media()])
    }
}

fn ringtone_play(ringtone: Ringtone) -> PlayParams {
    PlayParams {
        volume: volume_db(ringtone.volume),
        ..PlayParams::new([ringtone.media()])
    }
}

fn with_prompt_media(params: PromptParams, media: Media, volume: Option<Volume>) -> PromptParams {
    let volume = volume_db(volume).or(params.volume);
    PromptParams {
        volume,
        ..params.media([media])
    }
}

fn with_timeout(params: DetectParams, timeout: Option<Duration>) -> DetectParams {
    match timeout {
        Some(t) => params.timeout(t),
        None => params,
    }
}
