//! [`Call`]: a cheap handle on one call, with its state readable at any time.
//!
//! Every command has an async form (`play_async`, returning an [`Action`] as soon as the core
//! accepted it) and a blocking form (`play`, which is `play_async(..)` then
//! [`Action::wait`]), so the two can never disagree.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::Stream;
use relay_proto::calling::{
    AnswerResult, Audio, CallInfo, CallState, ComponentResult, ConnectOutcome, ConnectParams,
    ConnectState, DetectMode, DetectOutcome, DetectParams, DeviceInfo, DialParams, DialResult,
    Direction, DisconnectResult, EndReason, FaxOutcome, FaxSendParams, HangupResult, KindOutcome,
    Media, PassResult, PlayOutcome, PlayParams, PromptOutcome, PromptParams, RecordOutcome,
    RecordParams, ReferOutcome, ReferParams, Ringtone, SendDigitsOutcome, TapOutcome, TapParams,
    Tts, Volume, WaitForResult,
};
use relay_proto::calling::{CallEvent, DetectKind, FaxTone};
use relay_proto::{CallId, ControlId, NodeId};

use crate::action::{Action, ActionKind};
use crate::client::RelayClient;
use crate::delivery::{observer, Lagged, Observer};
use crate::driver::{CallOp, Command};
use crate::error::ClientError;
use crate::live::{ActionCell, CallCell, CallLive};

/// A call: the client handle plus the call's live state. Cheap to clone (every clone shares
/// the same state); dropping it does nothing to the call.
///
/// The state getters ([`state`](Self::state), [`ended`](Self::ended), [`peer`](Self::peer),
/// ...) are synchronous: the driver keeps the state current from the call's events, and a
/// handle keeps the last state after the call ended and left the client's registry.
///
/// ```no_run
/// use relay_client::{Call, ClientError};
/// use relay_proto::calling::{CallState, PromptParams};
///
/// async fn ivr(call: Call) -> Result<(), ClientError> {
///     println!("{} calls {}", call.from().unwrap_or_default(), call.to().unwrap_or_default());
///     call.answer().await?;
///     let pin = call.prompt_tts(PromptParams::digits(4).terminators("#"), "Enter your PIN").await?;
///     match pin.outcome.result() {
///         Some(pin) => call.play_tts(format!("You entered {pin}")).await?,
///         None => call.play_tts("No PIN entered").await?,
///     };
///     call.hangup().await?;
///     assert!(call.ended() && call.state() == CallState::Ended);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Call {
    client: RelayClient,
    cell: Arc<CallCell>,
    snapshot: Option<Arc<CallInfo>>,
    /// What [`dial`](Self::dial) places (calls from `new_call`).
    dial: Option<Arc<DialParams>>,
}

/// The outcome of [`Call::dial`] (Node's `DialResult`): its [`call`](Self::call) is the very
/// handle that was dialed, in state `answered`, or `ended` (with [`Call::busy`] /
/// [`Call::failed`]) when no leg answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Dialed {
    /// Whether a leg answered.
    pub successful: bool,
    /// The call that was dialed.
    pub call: Call,
    /// The dial's outcome as the core reported it (state, end reason, error).
    pub result: DialResult,
}

macro_rules! component {
    ($(#[$doc:meta])* $blocking:ident, $async_name:ident -> $out:ty, ($($arg:ident : $ty:ty),*) => $op:expr) => {
        $(#[$doc])*
        #[doc = ""]
        #[doc = concat!("Blocking form: [`", stringify!($async_name), "`](Self::", stringify!($async_name), ") then [`Action::wait`].")]
        pub async fn $blocking(&self, $($arg: $ty),*) -> Result<ComponentResult<$out>, ClientError> {
            self.$async_name($($arg),*).await?.wait().await
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
    pub(crate) fn new(client: RelayClient, id: CallId, snapshot: Option<Arc<CallInfo>>) -> Self {
        let cell = client.call_cells().get_or_make(&id, snapshot.as_deref());
        Call {
            client,
            cell,
            snapshot,
            dial: None,
        }
    }

    /// A call not dialed yet (see [`Calling::new_call`](crate::Calling::new_call)).
    pub(crate) fn unstarted(client: RelayClient, params: DialParams) -> Self {
        Call {
            client,
            cell: Arc::new(CallCell::default()),
            snapshot: None,
            dial: Some(Arc::new(params)),
        }
    }

    /// Places a call made with [`new_call`](crate::Calling::new_call) (Node's `call.dial()`)
    /// and resolves once a leg answered or the dial failed; either way the result's call is
    /// this handle (busy and failed dials are `Ok` with `successful: false`, as in Node).
    /// A call that was not made with `new_call`, or was dialed already, is
    /// [`ClientError::Misuse`] with nothing sent.
    pub async fn dial(&self) -> Result<Dialed, ClientError> {
        let dialed_before = self.id().is_some() || self.read_live(|l| l.tag.is_some());
        let params = match &self.dial {
            Some(p) if !dialed_before => Box::new(DialParams::clone(p)),
            _ => {
                return Err(ClientError::Misuse(
                    relay_proto::error::ApiMisuse::InvalidParameter {
                        which: "dial".into(),
                        why: "only a call from new_call that has not been dialed can dial".into(),
                    },
                ))
            }
        };
        let cell = Some(self.cell.clone());
        let result: DialResult = self
            .client
            .ask(|reply| Command::Dial {
                params,
                cell,
                reply,
            })
            .await?;
        if let Some(id) = &result.call_id {
            self.cell.set_id(id.clone());
        }
        Ok(Dialed {
            successful: result.successful,
            call: self.clone(),
            result,
        })
    }

    pub(crate) fn read_live<T>(&self, f: impl FnOnce(&CallLive) -> T) -> T {
        self.cell.read(f)
    }

    /// The call id (`None` for a call from [`new_call`](crate::Calling::new_call) until its
    /// dial has an answered leg).
    pub fn id(&self) -> Option<&CallId> {
        self.cell.id()
    }

    fn require_id(&self) -> Result<CallId, ClientError> {
        self.id().cloned().ok_or(ClientError::NotDialed)
    }

    /// The node the call lives on.
    pub fn node_id(&self) -> Option<NodeId> {
        self.read_live(|l| l.node_id.clone())
    }

    /// The call's device (`type`, `from`, `to`, `timeout` are read from it).
    pub fn device(&self) -> Option<DeviceInfo> {
        self.read_live(|l| l.device.as_deref().cloned())
    }

    /// The device type (Node's `type`: `phone`, `sip`, ...).
    pub fn call_type(&self) -> Option<String> {
        self.read_live(|l| l.device.as_ref().map(|d| d.device_type.as_str().to_owned()))
    }

    /// The caller.
    pub fn from(&self) -> Option<String> {
        self.read_live(|l| {
            l.device
                .as_deref()
                .and_then(DeviceInfo::from)
                .map(str::to_owned)
        })
    }

    /// The callee.
    pub fn to(&self) -> Option<String> {
        self.read_live(|l| {
            l.device
                .as_deref()
                .and_then(DeviceInfo::to)
                .map(str::to_owned)
        })
    }

    /// The ring timeout of the call's device, in seconds.
    pub fn timeout(&self) -> Option<u64> {
        self.read_live(|l| l.device.as_deref().and_then(DeviceInfo::timeout))
    }

    /// The context an inbound call was offered to.
    pub fn context(&self) -> Option<String> {
        self.read_live(|l| l.context.clone())
    }

    /// `inbound` or `outbound`.
    pub fn direction(&self) -> Option<Direction> {
        self.read_live(|l| l.direction.clone())
    }

    /// The current state ([`CallState::None`] before the first state is known).
    pub fn state(&self) -> CallState {
        self.read_live(|l| l.state)
    }

    /// The state before the current one.
    pub fn prev_state(&self) -> CallState {
        self.read_live(|l| l.prev_state)
    }

    /// Why the call ended (on `ending`/`ended`).
    pub fn end_reason(&self) -> Option<EndReason> {
        self.read_live(|l| l.end_reason.clone())
    }

    /// The bridged peer leg, as a `Call`.
    pub fn peer(&self) -> Option<Call> {
        let peer = self.read_live(|l| l.peer.clone())?;
        Some(Call::new(self.client.clone(), peer.call_id, None))
    }

    /// The last state of a `connect` on this call.
    pub fn connect_state(&self) -> Option<ConnectState> {
        self.read_live(|l| l.connect_state.clone())
    }

    /// Neither `ending` nor `ended` (and not passed or lost).
    pub fn active(&self) -> bool {
        self.read_live(|l| !l.state.is_ended() && !l.gone && l.state != CallState::None)
    }

    /// In state `answered`.
    pub fn answered(&self) -> bool {
        self.state() == CallState::Answered
    }

    /// In state `ending`.
    pub fn ending(&self) -> bool {
        self.state() == CallState::Ending
    }

    /// In state `ended` (or passed to another consumer, or lost in a reconnect).
    pub fn ended(&self) -> bool {
        self.read_live(|l| l.state == CallState::Ended || l.gone)
    }

    /// Ended with reason `error`.
    pub fn failed(&self) -> bool {
        self.read_live(|l| l.state == CallState::Ended && l.end_reason == Some(EndReason::Error))
    }

    /// Ended with reason `busy`.
    pub fn busy(&self) -> bool {
        self.read_live(|l| l.state == CallState::Ended && l.end_reason == Some(EndReason::Busy))
    }

    /// The call as it was when this handle was made (inbound calls: as offered), if known.
    pub fn snapshot(&self) -> Option<&CallInfo> {
        self.snapshot.as_deref()
    }

    /// The client this call belongs to.
    pub fn client(&self) -> &RelayClient {
        &self.client
    }

    /// This call's events from now on (state changes, component updates, outcomes), routed
    /// by call id. The stream ends after the call ended (at once for a call the client no
    /// longer tracks). Like every observer it is bounded: if it falls behind it misses events
    /// and yields `Err(Lagged)` with how many.
    pub async fn events(&self) -> Result<CallEvents, ClientError> {
        let (sub, inner) = observer(self.client.event_capacity());
        self.client
            .send(Command::SubscribeCall {
                target: self.target(),
                sub,
            })
            .await?;
        Ok(CallEvents { inner })
    }

    /// The call as the registry knows it now (`None` once it ended and left the registry).
    pub async fn info(&self) -> Result<Option<CallInfo>, ClientError> {
        let Some(call_id) = self.id().cloned() else {
            return Ok(None);
        };
        let (reply, rx) = oneshot::channel();
        self.client
            .send(Command::CallInfo { call_id, reply })
            .await?;
        Ok(rx.await?)
    }

    /// Who `events()` subscribes to: the call id, or the cell of a call not dialed yet.
    fn target(&self) -> crate::driver::CallTarget {
        match self.id() {
            Some(id) => crate::driver::CallTarget::Id(id.clone()),
            None => crate::driver::CallTarget::Cell(self.cell.clone()),
        }
    }

    async fn begin(
        &self,
        op: CallOp,
    ) -> Result<
        (
            ControlId,
            oneshot::Receiver<ComponentResult>,
            Arc<ActionCell>,
        ),
        ClientError,
    > {
        let call_id = self.require_id()?;
        let (started, started_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        let cell = Arc::new(ActionCell::default());
        self.client
            .send(Command::Call {
                call_id,
                op,
                started,
                done,
                cell: cell.clone(),
            })
            .await?;
        let control_id = started_rx.await??;
        Ok((control_id, done_rx, cell))
    }

    async fn start<O: ActionKind>(&self, op: CallOp) -> Result<Action<O>, ClientError> {
        let (control_id, done, cell) = self.begin(op).await?;
        Ok(Action::new(self.clone(), control_id, done, cell))
    }

    async fn run<O: KindOutcome>(&self, op: CallOp) -> Result<ComponentResult<O>, ClientError> {
        let (_, done, _) = self.begin(op).await?;
        done.await?
            .narrow()
            .map_err(|other| ClientError::OutcomeMismatch(other.kind))
    }

    /// Answers; resolves on `answered` (or failure if the call ends first).
    pub async fn answer(&self) -> Result<AnswerResult, ClientError> {
        self.run(CallOp::Answer).await
    }

    /// Hangs up with reason `hangup`; resolves on `ended`.
    pub async fn hangup(&self) -> Result<HangupResult, ClientError> {
        self.hangup_with(EndReason::Hangup).await
    }

    /// Hangs up with a reason; resolves on `ended`.
    pub async fn hangup_with(&self, reason: EndReason) -> Result<HangupResult, ClientError> {
        self.run(CallOp::Hangup(reason)).await
    }

    /// Hands an inbound call back to Relay (`calling.pass`).
    pub async fn pass(&self) -> Result<PassResult, ClientError> {
        self.run(CallOp::Pass).await
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
    pub async fn wait_for(&self, states: &[CallState]) -> Result<WaitForResult, ClientError> {
        self.run(CallOp::WaitFor(states.to_vec())).await
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
        play_silence, play_silence_async -> PlayOutcome, (duration: Duration) => CallOp::Play(Box::new(PlayParams::new([Media::silence(duration.as_secs_f64())])))
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

/// A stream of one call's [`CallEvent`]s (see [`Call::events`]); `Err(Lagged)` tells how
/// many it missed.
#[derive(Debug)]
pub struct CallEvents {
    inner: Observer<CallEvent>,
}

impl Stream for CallEvents {
    type Item = Result<CallEvent, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}
