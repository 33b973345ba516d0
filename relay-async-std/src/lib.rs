//! async-std + async-tungstenite driver for `relay-client` (**planned; not implemented yet**).
//!
//! It will implement `relay-client`'s `Runtime` and `Connector` traits on async-std and
//! re-export the async API. It will stay tiny: every line of protocol and API logic lives in
//! `relay-proto` and `relay-client`.
