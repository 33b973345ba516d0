//! Runtime-agnostic async API for SignalWire Relay v2.
//!
//! This crate is what application code writes against: [`RelayClient`], [`RelayConsumer`],
//! [`Call`] with a blocking and an async form of every component, [`Action`] (play, prompt,
//! record, ... controls), and [`Messaging`]. All protocol logic lives in
//! [`relay_proto::Session`]; this crate adds only async ergonomics. Use it through an adapter
//! — `relay-tokio` or `relay-async-std` — which supplies a [`Runtime`] and a [`Connector`].
//!
//! # Architecture
//!
//! * One **driver** future per connection, spawned through [`Runtime::spawn`], owns the
//!   `Session` (no `Arc<Mutex<Session>>`). Its loop: drain `poll_output` (write frames, route
//!   events, open/close the socket), wait for the first of {frame, command, timer}, then make
//!   one mutation with `now = runtime.now()`.
//! * Handles ([`RelayClient`], [`Call`], [`Action`]) are cheap clones holding a bounded
//!   `futures-channel` command sender plus ids; answers come back on `oneshot`s that a router
//!   keyed by `RequestId` / `ControlId` / `DialTag` completes. Dropping a handle never
//!   disturbs the core; dropping the last one closes the session.
//! * Blocking forms are the async form plus [`Action::wait`]: `play()` is `play_async()`
//!   then `wait()`, so they can never disagree.
//! * The driver is poll-driven: the in-flight connect, pending writes and closes are state,
//!   so commands, timers and [`RelayClient::disconnect`] are served in every state.
//! * Events that must arrive (inbound calls, messages, tasks, outcomes) are never dropped: the
//!   [`RelayConsumer`] gets them through a lossless queue whose backlog pauses reading the
//!   socket, and outcomes go to the futures waiting for them. Optional observers
//!   ([`RelayClient::events`], [`Call::events`]) are bounded; one that falls behind misses
//!   events and is told how many ([`Lagged`]).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use relay_client::{ClientError, RelayClient, Runtime, Connector};
//! use relay_proto::calling::{Device, DialParams, Media, PlayParams};
//! use relay_proto::{MessageParams, SessionConfig};
//!
//! async fn flow(runtime: impl Runtime, connector: impl Connector) -> Result<(), ClientError> {
//!     let config = SessionConfig::new("my-project", "my-token").with_contexts(["office"]);
//!     // The real service (wss://relay.signalwire.com) unless `with_host` says otherwise.
//!     let client = RelayClient::builder(config, runtime, connector).connect();
//!     client.wait_ready().await?;
//!
//!     let call = client.calling().dial(DialParams::single(Device::phone("+15550001", "+15550002"))).await?;
//!     let play = call.play_async(PlayParams::new([Media::ringtone("us", Some(Duration::from_secs(30)))])).await?;
//!     play.pause().await?;
//!     play.resume().await?;
//!     play.stop().await?;
//!     let _finished = play.wait().await?;
//!     call.play(PlayParams::new([Media::tts("Goodbye")])).await?;
//!     call.hangup().await?;
//!
//!     let sent = client.messaging().send(MessageParams::text("office", "+15550001", "+15550002", "hi")).await?;
//!     assert!(sent.successful);
//!     client.disconnect().await;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

mod action;
mod call;
mod call_components;
mod client;
mod consumer;
mod delivery;
mod driver;
mod error;
mod facades;
mod live;
pub mod prelude;
mod runtime;
mod state;
mod task;
#[cfg(feature = "tungstenite")]
mod tungstenite;

pub use action::{
    Action, ActionKind, Adjustable, ConnectAction, DetectAction, FaxAction, PlayAction,
    PromptAction, RecordAction, ReferAction, SendDigitsAction, Stoppable, TapAction,
};
#[allow(deprecated)]
pub use call::Dialed;
pub use call::{Call, CallEvents, DialResult};
pub use client::{
    relay_url, ClientBuilder, ClientEvents, ClientStats, Events, RelayClient, DEFAULT_HOST,
};
pub use consumer::{HandlerOutcome, RelayConsumer, StopHandle};
pub use delivery::{ClientEvent, Lagged, SessionFailure};
pub use driver::ClientOptions;
pub use error::ClientError;
pub use facades::{Calling, Messaging};
pub use relay_proto;
pub use relay_proto::task::TaskError;
pub use runtime::{
    os_seed, seed_from_os, AsyncTimer, BoxFuture, Connector, Runtime, TransportError, WsLimits,
    WsRecv, WsTransport,
};
pub use task::{DeliverError, Task, DEFAULT_TASK_HOST, DEFAULT_TASK_TIMEOUT};
#[cfg(feature = "tungstenite")]
pub use tungstenite::{websocket_config, ws_target, TungsteniteTransport, WsTarget};
