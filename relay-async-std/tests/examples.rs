//! Every example's flow (the same flows as relay-tokio's, shared through relay-client) runs
//! on async-std against an embedded relay-mock (what `cargo run -p relay-async-std --example
//! async_std_NAME` does without `SIGNALWIRE_*` variables).

// Every example declares its own `support` module, as a standalone program must.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/amd.rs"]
mod amd;
#[allow(dead_code)]
#[path = "../examples/connect.rs"]
mod connect;
#[allow(dead_code)]
#[path = "../examples/consumer.rs"]
mod consumer;
#[allow(dead_code)]
#[path = "../examples/dial.rs"]
mod dial;
#[allow(dead_code)]
#[path = "../examples/ivr.rs"]
mod ivr;
#[allow(dead_code)]
#[path = "../examples/messaging.rs"]
mod messaging;
#[allow(dead_code)]
#[path = "../examples/outbound_prompt.rs"]
mod outbound_prompt;
#[allow(dead_code)]
#[path = "../examples/record.rs"]
mod record;
#[allow(dead_code)]
#[path = "../examples/tap.rs"]
mod tap;
#[allow(dead_code)]
#[path = "../examples/task.rs"]
mod task;

macro_rules! runs {
    ($($name:ident),* $(,)?) => {$(
        #[async_std::test]
        async fn $name() {
            if let Err(e) = $name::support::run($name::support::Backend::Mock, $name::run).await {
                panic!("example {} failed on async-std: {e}", stringify!($name));
            }
        }
    )*};
}

runs!(
    consumer,
    task,
    dial,
    ivr,
    outbound_prompt,
    messaging,
    connect,
    amd,
    record,
    tap,
);
