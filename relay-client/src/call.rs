//! [`Call`]: a cheap handle on one call, and [`Action`]: a running component.
//!
//! Every command has an async form (`play_async`, returning an [`Action`] as soon as the core
//! accepted it) and a blocking form (`play`, which is `play_async(..)` then
//! [`Action::wait`]), so the two can never disagree.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::oneshot;
use futures_util::future::{FutureExt, Shared};
use futures_util::Stream;
use relay_proto::calling::{
    AnswerResult, CallInfo, CallState, ComponentOutcome, ComponentResult, ConnectParams,
    ConnectResult, ControlAction, ControlResult, DetectMode, DetectOutcome, DetectParams,
    DisconnectResult, EndReason, FaxOutcome, FaxSendParams, HangupResult, KindOutcome, Media,
    PassResult, PlayOutcome, PlayParams, PromptOutcome, PromptParams, RecordOutcome, RecordParams,
    ReferParams, ReferResult, SendDigitsResult, TapOutcome, TapParams, WaitForResult,
};
use relay_proto::calling::{CallEvent, DetectKind, FaxTone};
use relay_proto::{CallId, ControlId};

use crate::client::RelayClient;
use crate::delivery::{observer, Lagged, Observer};
use crate::driver::{CallOp, Command};
use crate::error::ClientError;

/// A call: the client handle plus the call id. Cheap to clone; dropping it does nothing to the
/// call.
#[derive(Debug, Clone)]
pub struct Call {
    client: RelayClient,
    id: CallId,
    snapshot: Option<Arc<CallInfo>>,
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
        Call {
            client,
            id,
            snapshot,
        }
    }

    /// The call id.
    pub fn id(&self) -> &CallId {
        &self.id
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
                call_id: self.id.clone(),
                sub,
            })
            .await?;
        Ok(CallEvents { inner })
    }

    /// The call as the registry knows it now (`None` once it ended and left the registry).
    pub async fn info(&self) -> Result<Option<CallInfo>, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.client
            .send(Command::CallInfo {
                call_id: self.id.clone(),
                reply,
            })
            .await?;
        Ok(rx.await?)
    }

    async fn start<O: KindOutcome>(&self, op: CallOp) -> Result<Action<O>, ClientError> {
        let (started, started_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        self.client
            .send(Command::Call {
                call_id: self.id.clone(),
                op,
                started,
                done,
            })
            .await?;
        let control_id = started_rx.await??;
        Ok(Action {
            call: self.clone(),
            control_id,
            done: done_rx.shared(),
            outcome: PhantomData,
        })
    }

    async fn run<O: KindOutcome>(&self, op: CallOp) -> Result<ComponentResult<O>, ClientError> {
        self.start(op).await?.wait().await
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

    /// Bridges the call (`calling.connect`); resolves on `connected` (with the peer) or
    /// failure.
    pub async fn connect(&self, params: ConnectParams) -> Result<ConnectResult, ClientError> {
        self.run(CallOp::Connect(Box::new(params))).await
    }

    /// Unbridges (`calling.disconnect`).
    pub async fn disconnect(&self) -> Result<DisconnectResult, ClientError> {
        self.run(CallOp::Disconnect).await
    }

    /// SIP REFER (`calling.refer`).
    pub async fn refer(&self, params: ReferParams) -> Result<ReferResult, ClientError> {
        self.run(CallOp::Refer(Box::new(params))).await
    }

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

    /// Sends DTMF digits (`1234567890*#ABCDwW`); resolves when they were sent.
    pub async fn send_digits(&self, digits: &str) -> Result<SendDigitsResult, ClientError> {
        self.run(CallOp::SendDigits(digits.to_owned())).await
    }

    component!(
        /// Plays media (`calling.play`); finishes on `finished` or `error`.
        play, play_async -> PlayOutcome, (params: PlayParams) => CallOp::Play(Box::new(params))
    );
    component!(
        /// Speaks a text with the default voice.
        play_tts, play_tts_async -> PlayOutcome, (text: &str) => CallOp::Play(Box::new(PlayParams::new([Media::tts(text)])))
    );
    component!(
        /// Plays one audio file (`playAudio`).
        play_audio, play_audio_async -> PlayOutcome, (url: &str) => CallOp::Play(Box::new(PlayParams::new([Media::audio(url)])))
    );
    component!(
        /// Plays `duration` seconds of silence (`playSilence`).
        play_silence, play_silence_async -> PlayOutcome, (duration: f64) => CallOp::Play(Box::new(PlayParams::new([Media::silence(duration)])))
    );
    component!(
        /// Plays a country ringtone (`playRingtone`), for `duration` seconds if given.
        play_ringtone, play_ringtone_async -> PlayOutcome, (name: &str, duration: Option<f64>) => CallOp::Play(Box::new(PlayParams::new([Media::ringtone(name, duration)])))
    );
    component!(
        /// Answering-machine detection with server defaults (`amd`).
        amd, amd_async -> DetectOutcome, (mode: DetectMode) => CallOp::Detect(Box::new(DetectParams::new(DetectKind::machine())), mode)
    );
    component!(
        /// Fax tone detection, any tone when `tone` is `None` (`detectFax`).
        detect_fax, detect_fax_async -> DetectOutcome, (tone: Option<FaxTone>, mode: DetectMode) => CallOp::Detect(Box::new(DetectParams::new(DetectKind::Fax { tone })), mode)
    );
    component!(
        /// DTMF detection, all digits when `digits` is `None` (`detectDigit`).
        detect_digit, detect_digit_async -> DetectOutcome, (digits: Option<&str>, mode: DetectMode) => CallOp::Detect(Box::new(DetectParams::new(DetectKind::Digit { digits: digits.map(str::to_owned) })), mode)
    );
    component!(
        /// Plays and collects digits or speech (`calling.play_and_collect`).
        prompt, prompt_async -> PromptOutcome, (params: PromptParams) => CallOp::Prompt(Box::new(params))
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

/// A running component (play, prompt, record, detect, tap, fax, ...) started by an `*_async`
/// method. Cheap to clone; dropping it leaves the component running.
///
/// Controls the component does not support (e.g. `pause` on a record) are refused by the core
/// with [`ClientError::Misuse`] ([`ApiMisuse::ControlNotSupported`](relay_proto::error::ApiMisuse::ControlNotSupported)),
/// nothing sent.
///
/// `O` is the kind's outcome type ([`PlayOutcome`], [`RecordOutcome`], ...), so
/// [`wait`](Self::wait) returns that kind's typed result.
#[derive(Debug)]
pub struct Action<O = ComponentOutcome> {
    call: Call,
    control_id: ControlId,
    done: Shared<oneshot::Receiver<ComponentResult>>,
    outcome: PhantomData<fn() -> O>,
}

impl<O> Clone for Action<O> {
    fn clone(&self) -> Self {
        Action {
            call: self.call.clone(),
            control_id: self.control_id.clone(),
            done: self.done.clone(),
            outcome: PhantomData,
        }
    }
}

/// A running `play`.
pub type PlayAction = Action<PlayOutcome>;
/// A running `prompt`.
pub type PromptAction = Action<PromptOutcome>;
/// A running `record`.
pub type RecordAction = Action<RecordOutcome>;
/// A running `detect`.
pub type DetectAction = Action<DetectOutcome>;
/// A running `tap`.
pub type TapAction = Action<TapOutcome>;
/// A running fax.
pub type FaxAction = Action<FaxOutcome>;

impl<O: KindOutcome> Action<O> {
    /// The component's control id.
    pub fn control_id(&self) -> &ControlId {
        &self.control_id
    }

    /// The call it runs on.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// Waits for the component's one outcome. Harmless to call again (and from clones): every
    /// caller gets the same result.
    pub async fn wait(&self) -> Result<ComponentResult<O>, ClientError> {
        narrow(self.done.clone().await?)
    }

    /// The outcome, if the component has finished (no need to await [`wait`](Self::wait)
    /// first).
    pub fn result(&self) -> Option<ComponentResult<O>> {
        narrow(self.poll_done()?.ok()?).ok()
    }

    /// Whether the component has finished (or the client closed before it did).
    pub fn is_done(&self) -> bool {
        self.poll_done().is_some()
    }

    /// Looks at the outcome without waiting: polls a clone of the shared receiver once, which
    /// also completes the shared state for every other clone and for `wait`.
    fn poll_done(&self) -> Option<Result<ComponentResult, oneshot::Canceled>> {
        if let Some(r) = self.done.peek() {
            return Some(r.clone());
        }
        self.done.clone().now_or_never()
    }

    async fn control(&self, action: ControlAction) -> Result<ControlResult, ClientError> {
        let call_id = self.call.id.clone();
        let control_id = self.control_id.clone();
        self.call
            .client
            .ask(|reply| Command::Control {
                call_id,
                control_id,
                action,
                reply,
            })
            .await
    }

    /// Stops the component; resolves with the control's answer (the outcome follows via
    /// [`wait`](Self::wait)).
    pub async fn stop(&self) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Stop).await
    }

    /// Pauses a playback.
    pub async fn pause(&self) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Pause).await
    }

    /// Resumes a playback.
    pub async fn resume(&self) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Resume).await
    }

    /// Sets the volume of a play or prompt, -40..=+40 dB.
    pub async fn volume(&self, db: f64) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Volume(db)).await
    }
}

/// The kind's own result. The core reports each control id's outcome with the kind it was
/// started as, so a mismatch is a bug; it is reported, never hidden.
fn narrow<O: KindOutcome>(result: ComponentResult) -> Result<ComponentResult<O>, ClientError> {
    result
        .narrow()
        .map_err(|other| ClientError::OutcomeMismatch(other.kind))
}
