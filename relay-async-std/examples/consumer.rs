//! Getting started on async-std: a consumer answers an inbound call on the `office` context,
//! greets the caller with text-to-speech and hangs up.
//!
//! `cargo run -p relay-async-std --example consumer`
#![allow(clippy::print_stdout)]

pub(crate) mod support;

use std::sync::{Arc, Mutex};

use relay_async_std::{Call, RelayConsumer};
use support::{Env, Outcome};

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}

/// The flow: register `office`, take one call, greet, hang up.
pub async fn run(env: Env) -> Outcome {
    let (tx, rx) = futures_channel::oneshot::channel::<Outcome>();
    let report = Arc::new(Mutex::new(Some(tx)));
    let ready_env = env.clone();
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |_client| {
            let env = ready_env.clone();
            async move {
                println!("Connected and listening on the context \"office\".");
                if let Err(e) = env.inbound_call("office").await {
                    println!("Could not place the test call: {e}");
                }
            }
        })
        .on_incoming_call(move |call| {
            let report = report.clone();
            async move {
                let outcome = greet(&call).await;
                if let Some(tx) = report.lock().ok().and_then(|mut r| r.take()) {
                    let _ = tx.send(outcome);
                    call.client().disconnect().await;
                }
            }
        });
    let stop = relay_async_std::run_consumer(consumer, env.config(&[]), env.ws_url.clone()).await?;
    rx.await
        .map_err(|_| format!("the consumer stopped before a call came in ({stop:?})"))?
}

async fn greet(call: &Call) -> Outcome {
    let from = call
        .snapshot()
        .and_then(|info| info.device.as_ref())
        .and_then(|device| device.from())
        .unwrap_or("an unknown number")
        .to_owned();
    println!("Incoming call from {from}.");
    if !call.answer().await?.successful {
        return Err("the call could not be answered".into());
    }
    println!("Answered.");
    call.play_tts("Welcome to SignalWire!").await?;
    println!("Said \"Welcome to SignalWire!\".");
    call.hangup().await?;
    println!("Hung up.");
    Ok(())
}
