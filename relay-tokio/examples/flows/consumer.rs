//! Getting started (Node: `new RelayConsumer({ contexts, ready, onIncomingCall })`): a consumer
//! answers an inbound call on the `office` context, greets the caller with text-to-speech and
//! hangs up.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example consumer`, `cargo run -p relay-async-std --example async_std_consumer`).

use super::support::{Env, Outcome};
use relay_client::{Call, RelayConsumer};

/// The flow: register `office`, take one call, greet, hang up.
pub async fn run(env: Env) -> Outcome {
    let ready_env = env.clone();
    env.run_consumer(&["office"], |finish| {
        RelayConsumer::new()
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
                let finish = finish.clone();
                async move {
                    let outcome = greet(&call).await;
                    finish.report(call.client(), outcome).await;
                }
            })
    })
    .await
}

async fn greet(call: &Call) -> Outcome {
    let from = call.from().unwrap_or_else(|| "an unknown number".into());
    println!("Incoming call from {from}.");
    let answer = call.answer().await?;
    if !answer.successful {
        return Err("the call could not be answered".into());
    }
    println!("Answered.");
    let played = call.play_tts("Welcome to SignalWire!").await?;
    println!(
        "Said \"Welcome to SignalWire!\" ({}).",
        if played.successful {
            "played to the end"
        } else {
            "playback failed"
        }
    );
    call.hangup().await?;
    println!("Hung up.");
    Ok(())
}
