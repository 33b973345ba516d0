//! Runtime-agnostic async API for SignalWire Relay v2 (**planned; not implemented yet**).
//!
//! This crate will hold what application code writes against: `RelayClient`, `RelayConsumer`
//! (contexts, `on_incoming_call`, `on_task`, ...), `Call` with every blocking and async action,
//! `Messaging` and `Task`. One driver future per connection will own a
//! [`relay_proto::Session`] and route its events to waiting futures; the runtime is abstracted
//! behind small `Runtime` and `Connector` traits implemented by `relay-tokio` and
//! `relay-async-std`.
//!
//! Until then, embed [`relay_proto::Session`] directly: it is the complete protocol engine.
