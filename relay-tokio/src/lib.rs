//! tokio + tokio-tungstenite driver for `relay-client` (**planned; not implemented yet**).
//!
//! It will implement `relay-client`'s `Runtime` and `Connector` traits on tokio and re-export
//! the async API, so that an application depends on this one crate.
