//! [`Call`]: a cheap handle on one call, with its state readable at any time.
//!
//! Every command has an async form (`play_async`, returning an [`Action`](crate::Action) as soon as the core
//! accepted it) and a blocking form (`play`, which is `play_async(..)` then
//! [`Action::wait`](crate::Action::wait)), so the two can never disagree.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::oneshot;
use futures_util::Stream;
use relay_proto::calling::{
    AnswerResult, CallEvent, CallInfo, CallState, ComponentResult, ConnectState, DeviceInfo,
    DeviceType, DialOutcome, DialParams, Direction, EndReason, HangupResult, KindOutcome,
    PassResult, ResultEvent, SipHeader, DEFAULT_DEVICE_TIMEOUT,
};
use relay_proto::{CallId, ControlId, DialTag, NodeId};

use crate::client::RelayClient;
use crate::delivery::{observer, Lagged, Observer};
use crate::driver::{CallOp, CallReply, Command};
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
    /// What [`dial`](Self::dial) places (calls from `new_call`).
    dial: Option<Arc<DialParams>>,
}

/// The result of a dial (Node's `DialResult`), from [`Call::dial`] or
/// [`Calling::dial_result`](crate::Calling::dial_result): its [`call`](Self::call) is the
/// very handle that was dialed, in state `answered`, or `ended` (with [`Call::busy`] /
/// [`Call::failed`]) when no leg answered. A busy or failed dial is a result with
/// `successful: false`, not an error.
///
/// ```no_run
/// use relay_client::{ClientError, RelayClient};
/// use relay_proto::calling::{Device, DialParams};
///
/// async fn ring(client: &RelayClient) -> Result<(), ClientError> {
///     let call = client.calling().new_call(DialParams::single(Device::phone("+15550001", "+15550002")));
///     let dial = call.dial().await?;
///     if dial.successful {
///         dial.call.play_tts("Hello").await?;
///         dial.call.hangup().await?;
///     } else if dial.call.busy() {
///         println!("the line was busy");
///     }
///     if let Some(event) = &dial.event {
///         println!("decided by {}", event.name); // "answered", "failed", "ended"
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DialResult {
    /// Whether a leg answered.
    pub successful: bool,
    /// The call that was dialed.
    pub call: Call,
    /// The event that decided the dial (Node's `event`): `{name, payload}` with the name
    /// `answered`/`failed` (the dial event) or `ended` (the single leg's state event), and
    /// that event's params. `None` when no event decided it (the request failed, the session
    /// stopped).
    pub event: Option<ResultEvent>,
    /// The dial's outcome as the core reported it (state, end reason, request error).
    pub outcome: DialOutcome,
}

/// The former name of [`DialResult`].
#[deprecated(note = "renamed to DialResult")]
pub type Dialed = DialResult;

impl DialResult {
    pub(crate) fn new(call: Call, outcome: DialOutcome) -> Self {
        DialResult {
            successful: outcome.successful,
            call,
            event: outcome.event.clone(),
            outcome,
        }
    }
}

impl Call {
    /// A handle on call `id`; `info` is the registry's (shared) entry when the caller has it.
    pub(crate) fn new(client: RelayClient, id: CallId, info: Option<&Arc<CallInfo>>) -> Self {
        let cell = client.call_cells().get_or_make(&id, info);
        Call {
            client,
            cell,
            dial: None,
        }
    }

    /// A call not dialed yet (see [`Calling::new_call`](crate::Calling::new_call)).
    pub(crate) fn unstarted(client: RelayClient, params: DialParams) -> Self {
        Call {
            client,
            cell: Arc::new(CallCell::default()),
            dial: Some(Arc::new(params)),
        }
    }

    /// Places a call made with [`new_call`](crate::Calling::new_call) (Node's `call.dial()`)
    /// and resolves once a leg answered or the dial failed; either way the result's call is
    /// this handle (busy and failed dials are `Ok` with `successful: false`, as in Node).
    /// A call that was not made with `new_call`, or was dialed already, is
    /// [`ClientError::Misuse`] with nothing sent.
    pub async fn dial(&self) -> Result<DialResult, ClientError> {
        let dialed_before = self.id().is_some() || self.read_live(|l| l.tag().is_some());
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
        let outcome: DialOutcome = self
            .client
            .ask(|reply| Command::Dial {
                params,
                cell,
                reply,
            })
            .await?;
        if let Some(id) = &outcome.call_id {
            self.cell.set_id(id.clone());
        }
        Ok(DialResult::new(self.clone(), outcome))
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
        self.read_live(|l| l.node_id().cloned())
    }

    /// The call's device (`type`, `from`, `to`, `timeout` are read from it). A call from
    /// [`new_call`](crate::Calling::new_call) with a single device has it before it is
    /// dialed, as the dial will send it (Node sets `device` when the call is made).
    pub fn device(&self) -> Option<DeviceInfo> {
        self.read_live(|l| l.device().cloned())
            .or_else(|| self.planned_device())
    }

    /// Reads the device: the call's own, else the one it will dial.
    fn with_device<T>(&self, f: impl Fn(&DeviceInfo) -> T) -> Option<T> {
        self.read_live(|l| l.device().map(&f))
            .or_else(|| self.planned_device().as_ref().map(&f))
    }

    /// The single device of a call not dialed yet.
    fn planned_device(&self) -> Option<DeviceInfo> {
        let params = self.dial.as_deref()?;
        if self.id().is_some() {
            return None;
        }
        match params.devices.as_slice() {
            [group] => match group.as_slice() {
                [device] => device.info().ok(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The device type (Node's `type`: `phone`, `sip`, ...).
    pub fn call_type(&self) -> Option<String> {
        self.with_device(|d| d.device_type.as_str().to_owned())
    }

    /// The caller.
    pub fn from(&self) -> Option<String> {
        self.with_device(|d| d.from().map(str::to_owned)).flatten()
    }

    /// The callee.
    pub fn to(&self) -> Option<String> {
        self.with_device(|d| d.to().map(str::to_owned)).flatten()
    }

    /// The ring timeout (Node's `timeout`; whole seconds on the wire): the device's, or for
    /// a phone device without one the default of 30 seconds, as Node reports it.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.with_device(|d| match (d.timeout(), &d.device_type) {
            (Some(t), _) => Some(t),
            (None, DeviceType::Phone) => Some(u64::from(DEFAULT_DEVICE_TIMEOUT)),
            (None, _) => None,
        })
        .flatten()
        .map(std::time::Duration::from_secs)
    }

    /// The SIP headers of a SIP call's device (Node's `headers`); empty for other calls.
    pub fn headers(&self) -> Vec<SipHeader> {
        self.with_device(|d| {
            if d.device_type != DeviceType::Sip {
                return Vec::new();
            }
            let Some(serde_json::Value::Array(items)) = d.other_param("headers") else {
                return Vec::new();
            };
            items
                .iter()
                .filter_map(|h| {
                    let name = h.get("name")?.as_str()?;
                    let value = h.get("value").and_then(|v| v.as_str()).unwrap_or_default();
                    Some(SipHeader::new(name, value))
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// The tag of a call this client dialed (Node's `tag`): how the dial's events are
    /// matched to it before the call has an id.
    pub fn tag(&self) -> Option<DialTag> {
        self.read_live(|l| l.tag().cloned())
    }

    /// The context an inbound call was offered to.
    pub fn context(&self) -> Option<String> {
        self.read_live(|l| l.context().map(|c| c.to_string()))
    }

    /// `inbound` or `outbound`.
    pub fn direction(&self) -> Option<Direction> {
        self.read_live(|l| l.direction().cloned())
    }

    /// The current state ([`CallState::None`] before the first state is known).
    pub fn state(&self) -> CallState {
        self.read_live(CallLive::state)
    }

    /// The state before the current one.
    pub fn prev_state(&self) -> CallState {
        self.read_live(CallLive::prev_state)
    }

    /// Why the call ended (on `ending`/`ended`).
    pub fn end_reason(&self) -> Option<EndReason> {
        self.read_live(|l| l.end_reason().cloned())
    }

    /// The bridged peer leg, as a `Call` (Node's `peer`): its state, device and the rest are
    /// the registry's, kept current while this call goes on.
    pub fn peer(&self) -> Option<Call> {
        let (peer, linked) =
            self.read_live(|l| (l.peer().map(|p| p.call_id.clone()), l.peer_cell().cloned()));
        let peer = peer?;
        let cell = match linked {
            Some(cell) => cell,
            None => self.client.call_cells().get_or_make(&peer, None),
        };
        Some(Call {
            client: self.client.clone(),
            cell,
            dial: None,
        })
    }

    /// The last state of a `connect` on this call.
    pub fn connect_state(&self) -> Option<ConnectState> {
        self.read_live(|l| l.connect_state().cloned())
    }

    /// Not [`ended`](Self::ended), as Node's `active`: a call from
    /// [`new_call`](crate::Calling::new_call) is active before it is dialed (state
    /// [`CallState::None`]).
    pub fn active(&self) -> bool {
        !self.ended()
    }

    /// In state `answered`.
    pub fn answered(&self) -> bool {
        self.state() == CallState::Answered
    }

    /// In state `ending`.
    pub fn ending(&self) -> bool {
        self.state() == CallState::Ending
    }

    /// In state `ending` or `ended`, as Node's `ended` (or passed to another consumer, or
    /// lost in a reconnect). [`ending`](Self::ending) and [`state`](Self::state) tell the two
    /// apart.
    pub fn ended(&self) -> bool {
        self.read_live(|l| l.state().is_ended() || l.gone)
    }

    /// Ended with reason `error`.
    pub fn failed(&self) -> bool {
        self.read_live(|l| {
            l.state() == CallState::Ended && l.end_reason() == Some(&EndReason::Error)
        })
    }

    /// Ended with reason `busy`.
    pub fn busy(&self) -> bool {
        self.read_live(|l| {
            l.state() == CallState::Ended && l.end_reason() == Some(&EndReason::Busy)
        })
    }

    /// The call's info as last known, if any: the registry's own entry while the call is in
    /// it (one `Arc` shared with the registry and every handle, so this costs a reference
    /// count), then the last state it had. A snapshot: it does not change after it is taken.
    /// `None` for a call the client has learned nothing about (a [`new_call`] not dialed
    /// yet, a call known only by its id).
    ///
    /// [`new_call`]: crate::Calling::new_call
    pub fn snapshot(&self) -> Option<Arc<CallInfo>> {
        self.read_live(|l| l.info().cloned())
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

    pub(crate) async fn begin(
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
                reply: CallReply::Action {
                    started,
                    done,
                    cell: cell.clone(),
                },
            })
            .await?;
        let control_id = started_rx.await??;
        Ok((control_id, done_rx, cell))
    }

    pub(crate) async fn run<O: KindOutcome>(
        &self,
        op: CallOp,
    ) -> Result<ComponentResult<O>, ClientError> {
        let call_id = self.require_id()?;
        let reply = |reply| Command::Call {
            call_id,
            op,
            reply: CallReply::Outcome(reply),
        };
        let result: ComponentResult = self.client.ask(reply).await?;
        result
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
