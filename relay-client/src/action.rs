//! [`Action`]: a running component started by an `*_async` method of [`Call`], typed by its
//! kind so that it carries only the controls that kind supports.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_channel::oneshot;
use futures_util::future::{FutureExt, Shared};
use relay_proto::calling::{
    CallEvent, CollectProgress, ComponentResult, ConnectOutcome, ConnectState, ControlAction,
    ControlResult, DetectEvent, DetectOutcome, DeviceInfo, FaxEventType, FaxOutcome, KindOutcome,
    PlayOutcome, PlayState, PromptOutcome, RecordOutcome, RecordState, ReferOutcome, ReferState,
    SendDigitsOutcome, SendDigitsState, TapOutcome, TapState, Volume,
};
use relay_proto::ControlId;

use crate::call::Call;
use crate::driver::Command;
use crate::error::ClientError;
use crate::live::ActionCell;

mod sealed {
    pub trait Sealed {}
}

/// A component kind an [`Action`] can run: its outcome type, and the state its updates
/// report. Implemented for the outcome types of play, prompt, record, detect, fax, tap,
/// send-digits, connect and refer; sealed.
pub trait ActionKind: KindOutcome + sealed::Sealed + Send + Sync + 'static {
    /// The state the component's updates report ([`PlayState`], [`RecordState`], ...).
    type State: Clone + fmt::Debug + PartialEq + Send + Sync + 'static;

    /// The state an update of this kind reports.
    #[doc(hidden)]
    fn state_in(event: &CallEvent) -> Option<Self::State>;

    /// The state the call's own updates report (connect and refer updates carry no control id).
    #[doc(hidden)]
    fn call_state(_call: &Call) -> Option<Self::State> {
        None
    }

    /// The final state of a finished component.
    #[doc(hidden)]
    fn final_state(outcome: &Self) -> Option<Self::State>;
}

/// Kinds that accept `stop` (play, prompt, record, detect, fax, tap).
pub trait Stoppable: ActionKind {}

/// Kinds that accept `volume` (play, prompt).
pub trait Adjustable: ActionKind {}

macro_rules! action_kind {
    ($out:ty, $state:ty, |$e:ident| $pat:pat => $val:expr, |$o:ident| $fin:expr) => {
        impl sealed::Sealed for $out {}
        impl ActionKind for $out {
            type State = $state;
            fn state_in($e: &CallEvent) -> Option<$state> {
                match $e {
                    $pat => Some($val),
                    _ => None,
                }
            }
            fn final_state($o: &Self) -> Option<$state> {
                $fin
            }
        }
    };
}

action_kind!(PlayOutcome, PlayState, |e| CallEvent::PlayUpdate { state, .. } => state.clone(), |o| o.state.clone());
action_kind!(PromptOutcome, CollectProgress, |e| CallEvent::CollectUpdate { progress, .. } => progress.clone(), |_o| None);
action_kind!(RecordOutcome, RecordState, |e| CallEvent::RecordUpdate { state, .. } => state.clone(), |o| o.state.clone());
action_kind!(DetectOutcome, DetectEvent, |e| CallEvent::DetectUpdate { event, .. } => event.clone(), |o| o.last_event.clone());
action_kind!(FaxOutcome, FaxEventType, |e| CallEvent::FaxUpdate { fax_type, .. } => fax_type.clone(), |o| o.state.clone());
action_kind!(TapOutcome, TapState, |e| CallEvent::TapUpdate { state, .. } => state.clone(), |o| o.state.clone());
action_kind!(SendDigitsOutcome, SendDigitsState, |e| CallEvent::SendDigitsUpdate { state, .. } => state.clone(), |o| o.state.clone());

impl sealed::Sealed for ConnectOutcome {}
impl ActionKind for ConnectOutcome {
    type State = ConnectState;
    fn state_in(_: &CallEvent) -> Option<ConnectState> {
        None
    }
    fn call_state(call: &Call) -> Option<ConnectState> {
        call.read_live(|l| l.connect_state().cloned())
    }
    fn final_state(o: &Self) -> Option<ConnectState> {
        o.state.clone()
    }
}

impl sealed::Sealed for ReferOutcome {}
impl ActionKind for ReferOutcome {
    type State = ReferState;
    fn state_in(_: &CallEvent) -> Option<ReferState> {
        None
    }
    fn call_state(call: &Call) -> Option<ReferState> {
        call.read_live(|l| l.refer_state().cloned())
    }
    fn final_state(o: &Self) -> Option<ReferState> {
        o.state.clone()
    }
}

impl Stoppable for PlayOutcome {}
impl Stoppable for PromptOutcome {}
impl Stoppable for RecordOutcome {}
impl Stoppable for DetectOutcome {}
impl Stoppable for FaxOutcome {}
impl Stoppable for TapOutcome {}
impl Adjustable for PlayOutcome {}
impl Adjustable for PromptOutcome {}

/// A running component (play, prompt, record, detect, fax, tap, send-digits, connect, refer)
/// started by an `*_async` method of [`Call`]. Cheap to clone; dropping it leaves the
/// component running.
///
/// `O` is the kind's outcome type, so [`wait`](Self::wait) and [`result`](Self::result)
/// return that kind's typed result, [`state`](Self::state) its typed state, and only the
/// controls the kind supports exist: `pause`/`resume` on a [`PlayAction`], `volume` on play
/// and prompt, `stop` on play, prompt, record, detect, fax and tap.
///
/// ```compile_fail
/// # async fn f(record: relay_client::RecordAction) {
/// record.pause().await; // a recording cannot be paused
/// # }
/// ```
///
/// ```no_run
/// use relay_client::{Call, ClientError};
/// use relay_proto::calling::{PlayState, RecordParams, Volume};
///
/// async fn record_greeting(call: &Call) -> Result<(), ClientError> {
///     let play = call.play_tts_async("Leave a message after the beep").await?;
///     if play.state() == Some(PlayState::Playing) {
///         play.volume(Volume::db(-6.0)?).await?;
///     }
///     play.wait().await?;
///     let record = call.record_async(RecordParams::default()).await?;
///     println!("recording to {:?}", record.url());
///     record.stop().await?; // also fine if it had already finished
///     let done = record.wait().await?;
///     println!("{} seconds", done.outcome.duration.unwrap_or_default());
///     Ok(())
/// }
/// ```
pub struct Action<O> {
    call: Call,
    control_id: ControlId,
    done: Shared<oneshot::Receiver<ComponentResult>>,
    cell: Arc<ActionCell>,
    outcome: PhantomData<fn() -> O>,
}

impl<O> fmt::Debug for Action<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Action")
            .field("call", &self.call.id())
            .field("control_id", &self.control_id)
            .finish_non_exhaustive()
    }
}

impl<O> Clone for Action<O> {
    fn clone(&self) -> Self {
        Action {
            call: self.call.clone(),
            control_id: self.control_id.clone(),
            done: self.done.clone(),
            cell: self.cell.clone(),
            outcome: PhantomData,
        }
    }
}

/// A running `play` (Node's `PlayAction`): pause, resume, volume, stop.
pub type PlayAction = Action<PlayOutcome>;
/// A running `prompt` (`PromptAction`): volume, stop.
pub type PromptAction = Action<PromptOutcome>;
/// A running `record` (`RecordAction`): url, stop.
pub type RecordAction = Action<RecordOutcome>;
/// A running `detect` (`DetectAction`): stop.
pub type DetectAction = Action<DetectOutcome>;
/// A running `tap` (`TapAction`): source device, stop.
pub type TapAction = Action<TapOutcome>;
/// A running fax send or receive (`FaxAction`): stop.
pub type FaxAction = Action<FaxOutcome>;
/// A running `send_digits` (`SendDigitsAction`).
pub type SendDigitsAction = Action<SendDigitsOutcome>;
/// A running `connect` (`ConnectAction`).
pub type ConnectAction = Action<ConnectOutcome>;
/// A running `refer` (`ReferAction`).
pub type ReferAction = Action<ReferOutcome>;

impl<O: ActionKind> Action<O> {
    pub(crate) fn new(
        call: Call,
        control_id: ControlId,
        done: oneshot::Receiver<ComponentResult>,
        cell: Arc<ActionCell>,
    ) -> Self {
        Action {
            call,
            control_id,
            done: done.shared(),
            cell,
            outcome: PhantomData,
        }
    }

    /// The component's control id (Node's `controlId`).
    pub fn control_id(&self) -> &ControlId {
        &self.control_id
    }

    /// The call it runs on.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// The params the component was started with, exactly as sent (Node's
    /// `action.payload`): `node_id`, `call_id`, `control_id` and the command's own params
    /// (`play`, `volume`, `collect`, `record`, `detect`, `devices`, ...). `Null` when nothing
    /// was sent (the call had already ended and the command was refused locally).
    ///
    /// ```no_run
    /// # async fn f(call: relay_client::Call) -> Result<(), relay_client::ClientError> {
    /// let play = call.play_tts_async("Hello").await?;
    /// assert_eq!(play.payload()["play"][0]["params"]["text"], "Hello");
    /// assert_eq!(play.payload()["control_id"], play.control_id().as_str());
    /// # Ok(()) }
    /// ```
    pub fn payload(&self) -> &serde_json::Value {
        static NONE: serde_json::Value = serde_json::Value::Null;
        self.cell.payload().unwrap_or(&NONE)
    }

    /// Waits for the component's one outcome. Harmless to call again (and from clones): every
    /// caller gets the same result.
    pub async fn wait(&self) -> Result<ComponentResult<O>, ClientError> {
        narrow(self.done.clone().await?)
    }

    /// The outcome, if the component has finished (Node's `result`; no need to await
    /// [`wait`](Self::wait) first).
    pub fn result(&self) -> Option<ComponentResult<O>> {
        narrow(self.poll_done()?.ok()?).ok()
    }

    /// Whether the component has finished, or the client closed before it did (Node's
    /// `completed`).
    pub fn is_done(&self) -> bool {
        self.poll_done().is_some()
    }

    /// The component's current state (Node's `state`): the last its updates reported, or
    /// the final one once it finished; `None` before the first update.
    pub fn state(&self) -> Option<O::State> {
        if let Some(state) = self.result().and_then(|r| O::final_state(&r.outcome)) {
            return Some(state);
        }
        if let Some(state) = self.cell.get().last_update.as_ref().and_then(O::state_in) {
            return Some(state);
        }
        O::call_state(&self.call)
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
        let Some(call_id) = self.call.id().cloned() else {
            return Err(ClientError::NotDialed);
        };
        let control_id = self.control_id.clone();
        self.call
            .client()
            .ask(|reply| Command::Control {
                call_id,
                control_id,
                action,
                reply,
            })
            .await
    }
}

impl<O: Stoppable> Action<O> {
    /// Stops the component; resolves with the control's answer (the outcome follows via
    /// [`wait`](Self::wait)). Stopping a component that has already finished is not an error:
    /// nothing is sent and the answer is [`ControlResult::already_finished`].
    pub async fn stop(&self) -> Result<ControlResult, ClientError> {
        if self.is_done() {
            return Ok(ControlResult::already_finished());
        }
        match self.control(ControlAction::Stop).await {
            // It finished while the stop was on its way to the driver.
            Err(ClientError::Proto(_)) if self.is_done() => Ok(ControlResult::already_finished()),
            other => other,
        }
    }
}

impl<O: Adjustable> Action<O> {
    /// Sets the volume of a play or prompt (Node's `volume`); [`Volume`] is validated to
    /// -40..=+40 dB when it is made.
    pub async fn volume(&self, volume: Volume) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Volume(volume.get())).await
    }
}

impl Action<PlayOutcome> {
    /// Pauses the playback.
    pub async fn pause(&self) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Pause).await
    }

    /// Resumes the playback.
    pub async fn resume(&self) -> Result<ControlResult, ClientError> {
        self.control(ControlAction::Resume).await
    }
}

impl Action<RecordOutcome> {
    /// The recording's URL (Node's `RecordAction.url`), as soon as the server's answer to
    /// `calling.record` carried it (before the recording finished).
    pub fn url(&self) -> Option<String> {
        self.result()
            .and_then(|r| r.outcome.url)
            .or_else(|| self.cell.get().url)
    }
}

impl Action<TapOutcome> {
    /// Where the server sends the tapped audio from (Node's `TapAction.sourceDevice`), as
    /// soon as the server's answer to `calling.tap` carried it.
    pub fn source_device(&self) -> Option<DeviceInfo> {
        self.result()
            .and_then(|r| r.outcome.source_device)
            .or_else(|| self.cell.get().source_device)
    }
}

/// The kind's own result. The core reports each control id's outcome with the kind it was
/// started as, so a mismatch is a bug; it is reported, never hidden.
fn narrow<O: KindOutcome>(result: ComponentResult) -> Result<ComponentResult<O>, ClientError> {
    result
        .narrow()
        .map_err(|other| ClientError::OutcomeMismatch(other.kind))
}
