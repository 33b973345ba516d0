//! The types an application needs, in one import: `use relay_client::prelude::*;` (the
//! adapters' preludes, `relay_tokio::prelude` and `relay_async_std::prelude`, are this one).
//!
//! It holds the client, consumer, call and action handles, task delivery, the parameter and
//! result types of every call method, messaging, and `StreamExt` for reading event streams.
//!
//! ```no_run
//! use relay_client::prelude::*;
//!
//! async fn greet(call: Call) -> Result<(), ClientError> {
//!     call.answer().await?;
//!     let mut events = call.events().await?;
//!     call.play(PlayParams::new([Media::tts("Hello")])).await?;
//!     call.hangup().await?;
//!     while let Some(Ok(event)) = events.next().await {
//!         if let CallEvent::StateChanged { state: CallState::Ended, .. } = event {
//!             break;
//!         }
//!     }
//!     Ok(())
//! }
//! ```

pub use crate::{
    relay_url, Action, Call, CallEvents, Calling, ClientBuilder, ClientError, ClientEvent,
    ClientEvents, ClientOptions, ConnectAction, DeliverError, DetectAction, DialResult, Events,
    FaxAction, HandlerOutcome, Lagged, Messaging, PlayAction, PromptAction, RecordAction,
    ReferAction, RelayClient, RelayConsumer, SendDigitsAction, SessionFailure, StopHandle,
    TapAction, Task, TaskError, DEFAULT_HOST,
};
pub use futures_util::StreamExt as _;
pub use relay_proto::calling::{
    AnswerResult, Audio, AudioDirection, CallEvent, CallState, Codec, CollectDigits, CollectParams,
    CollectSpeech, ConnectParams, ConnectResult, ControlResult, DetectKind, DetectMode,
    DetectParams, DetectResult, Device, DialParams, EndReason, FaxResult, FaxSendParams, FaxTone,
    HangupResult, Media, PhoneDevice, PlayParams, PlayResult, PromptParams, PromptResult,
    RecordFormat, RecordParams, RecordResult, ReferParams, ReferResult, ResultEvent, Ringtone,
    SipDevice, SipHeader, TapDevice, TapParams, TapResult, Tts, TtsGender, Volume,
};
pub use relay_proto::{
    Event, Message, MessageParams, MessageState, SendResult, SessionConfig, StopReason,
};
