//! The async-std examples' flows run against an embedded relay-mock (what
//! `cargo run -p relay-async-std --example NAME` does without `SIGNALWIRE_*` variables).

// Every example declares its own `support` module, as a standalone program must.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/consumer.rs"]
mod consumer;
#[allow(dead_code)]
#[path = "../examples/dial.rs"]
mod dial;

#[async_std::test]
async fn consumer() {
    use consumer::support::{run, Backend};
    if let Err(e) = run(Backend::Mock, consumer::run).await {
        panic!("example consumer failed: {e}");
    }
}

#[async_std::test]
async fn dial() {
    use dial::support::{run, Backend};
    if let Err(e) = run(Backend::Mock, dial::run).await {
        panic!("example dial failed: {e}");
    }
}
