//! The types an application needs, in one import: `use relay_tokio::prelude::*;` (relay-client's
//! [prelude](relay_client::prelude): client, consumer, calls, actions, tasks, parameters,
//! results, messaging, `StreamExt`).
//!
//! ```no_run
//! use relay_tokio::prelude::*;
//!
//! # async fn demo() -> Result<(), ClientError> {
//! let client = relay_tokio::builder(SessionConfig::new("project", "token"))
//!     .with_host("ws://127.0.0.1:8080")
//!     .connect();
//! client.wait_ready().await?;
//! let call = client
//!     .calling()
//!     .dial(DialParams::single(Device::phone("+15551230001", "+15553210002")))
//!     .await?;
//! call.play(PlayParams::new([Media::tts("Hello")])).await?;
//! # Ok(())
//! # }
//! ```

pub use relay_client::prelude::*;
