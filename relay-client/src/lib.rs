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
//!   socket (a plain client gets the same queue as an [`InboundStream`], from
//!   [`ClientBuilder::connect_with_inbound`]), and outcomes go to the futures waiting for them. Optional observers
//!   ([`RelayClient::events`], [`Call::events`]) are bounded; one that falls behind misses
//!   events and is told how many ([`Lagged`]).
//!
//! # Where this SDK behaves differently from `@signalwire/node` 2.6.0, on purpose
//!
//! The wire protocol is the Node SDK's (same frames, same handshake, same correlation), so a
//! server cannot tell the two apart. Section 13 of the protocol reference lists that SDK's
//! faults; here each is fixed, with a test of its own in relay-proto (`tests/session_lifecycle.rs`
//! and `tests/calling_bugs.rs` name them `bugN_...`):
//!
//! | Node 2.6.0 (§13 item) | here |
//! |---|---|
//! | the offline queue is re-sent after every reconnect (1) | a queued command is sent once, on the next ready session; past `offline_timeout` it resolves with `RequestError::OfflineTimeout` instead |
//! | a request in flight at a disconnect hangs 10 s, then closes the *new* connection (2) | it resolves at once with `RequestError::ConnectionLost`; a stale timer never touches a newer connection |
//! | keepalive chains multiply on server closes (3) | one keepalive per connection |
//! | reconnect after 3-5 s, forever, no backoff (4) | exponential backoff with jitter ([`relay_proto::Backoff`]: 0.5 s doubling to 30 s, ±20%, optional attempt limit) |
//! | no WebSocket Close frame on close (5) | a Close frame is sent, then the socket is closed |
//! | a server `-32000` error forces a reconnect (6) | it is that request's error, nothing more |
//! | a numeric `code: 200` counts as failure; nested `result`s are unwrapped (7) | `200` and `"200"` both succeed; a `result` inside a relay result stays data |
//! | server `blade.ping` is not answered; `blade.disconnect` stalls 10-20 s (8) | the ping is answered; `blade.disconnect` pauses commands (they queue) until the next handshake |
//! | commands before `signalwire.ready` go out with `protocol: null` (9) | they queue until the session is ready |
//! | an auth error leaves the socket open; a setup without `protocol` still reports ready (10) | an auth error stops the session with [`relay_proto::StopReason::AuthFailed`] (unless configured to retry); a setup without a protocol closes and reconnects |
//! | inbound handlers are dropped on every close, and `ready` runs again after each reconnect (11) | the session re-registers its contexts itself; [`RelayConsumer::on_ready`] runs once |
//! | JSON `null` or a broadcast without `params` crashes the handler (13) | the frame is refused with a typed input error and the session goes on |
//! | calls created from events stay in state `none` (14) | the first state (`created`, a peer's first state) is applied |
//! | zombie and duplicate `Call` objects (15, 16) | one call per `call_id`; ended legs leave the registry; a multi-device dial resolves with the answered leg and its device |
//! | `waitFor` returns `true` for skipped or unknown states (17) | [`Call::wait_for`] says which state was reached, or that the call ended first |
//! | play/record `paused` marks the component done (18) | `paused` is progress; only a final state ends it |
//! | `connect()` can stay pending on `disconnected` (19) | a `disconnected` without `connected` resolves it as a failure |
//! | a prompt ends on the first partial result (20) | partial results and start-of-input are progress |
//! | blocking detect leaves the server's detector running (21) | it is stopped once the blocking form has its answer |
//! | `pass()` on an ending call throws; `answer()` on an answered call waits for the end (22) | a typed refusal; `answer()` on an answered call returns at once |
//! | a terminal event then an error response turns success into failure (23) | the first outcome stands |
//! | `onReceive("ctx", fn)` with one string throws (24) | one context or many |
//! | `call.on(name, fn)` keeps one callback per name (25) | every subscriber gets every update |
//! | parameter objects are mutated (26) | parameters are taken by value or borrowed, never changed |
//! | `ConnectResult.call` is undefined without an earlier peer state event (27) | the peer leg exists either way |
//! | `webrtc.message` events crash a `RelayClient` (28) | unknown events are ignored |
//! | every client adds SIGINT/SIGTERM listeners (29) | only `run_consumer` of an adapter listens, while it runs |
//! | `Task.deliver`: `Content-Length` in UTF-16 units, host fixed at port 443, rejects with `undefined` (30) | length in bytes, [`Task::with_host`], a typed [`DeliverError`] |
//! | `SendResult.successful` can be `undefined` (31) | always a `bool` |
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
mod inbound;
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
pub use inbound::{Inbound, InboundStream};
pub use relay_proto;
pub use relay_proto::task::TaskError;
pub use runtime::{
    os_seed, seed_from_os, AsyncTimer, BoxFuture, Connector, Runtime, TransportError, WsLimits,
    WsRecv, WsTransport,
};
pub use task::{DeliverError, Task, DEFAULT_TASK_HOST, DEFAULT_TASK_TIMEOUT};
#[cfg(feature = "tungstenite")]
pub use tungstenite::{websocket_config, ws_target, TungsteniteTransport, WsTarget};
