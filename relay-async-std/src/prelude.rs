//! The types an application needs, in one import: `use relay_async_std::prelude::*;`.
//!
//! ```no_run
//! use relay_async_std::prelude::*;
//!
//! # async fn demo() -> Result<(), ClientError> {
//! let client = relay_async_std::connect(SessionConfig::new("project", "token"), "ws://127.0.0.1:8080");
//! client.wait_ready().await?;
//! let call = client
//!     .calling()
//!     .dial(DialParams::single(Device::phone("+15551230001", "+15553210002")))
//!     .await?;
//! call.play(PlayParams::new([Media::tts("Hello")])).await?;
//! # Ok(())
//! # }
//! ```

pub use crate::{
    Action, Call, ClientError, DeliverError, Event, RelayClient, RelayConsumer, SessionConfig, Task,
};
pub use relay_proto::calling::{
    AudioDirection, CallEvent, CallState, CollectDigits, CollectParams, ConnectParams, DetectKind,
    DetectMode, DetectParams, Device, DialParams, EndReason, Media, PlayParams, PromptParams,
    RecordFormat, RecordParams, TapDevice, TapParams,
};
pub use relay_proto::{Message, MessageParams, MessageState};
