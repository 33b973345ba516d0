//! Inbound IVR (Node: `onIncomingCall` with `call.promptTTS({ type: 'digits', digits_max: 3,
//! text })`): answer, ask for a 3-digit PIN, read it back, hang up. On the mock the caller
//! "types" 123.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example ivr`, `cargo run -p relay-async-std --example async_std_ivr`).

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::PromptParams;
use relay_client::{Call, RelayConsumer};

/// The flow: one inbound call through the PIN menu.
pub async fn run(env: Env) -> Outcome {
    let ready_env = env.clone();
    env.run_consumer(&["home", "office"], |finish| {
        RelayConsumer::new()
            .on_ready(move |_client| {
                let env = ready_env.clone();
                async move {
                    println!("Listening on \"home\" and \"office\".");
                    if let Err(e) = env.inbound_call("office").await {
                        println!("Could not place the test call: {e}");
                    }
                }
            })
            .on_incoming_call(move |call| {
                let finish = finish.clone();
                async move {
                    let outcome = pin_menu(&call).await;
                    finish.report(call.client(), outcome).await;
                }
            })
    })
    .await
}

async fn pin_menu(call: &Call) -> Outcome {
    if !call.answer().await?.successful {
        return Err("Answer Error".into());
    }
    println!("Answered; asking for a PIN.");
    let prompt = call
        .prompt_tts(
            PromptParams::digits(3),
            "Welcome to SignalWire! Please, enter your 3 digits PIN",
        )
        .await?;
    match prompt.outcome.result().filter(|_| prompt.successful) {
        Some(pin) => {
            println!("The caller entered the PIN {pin}.");
            call.play_tts(format!("You entered: {pin}. Thanks and good bye!"))
                .await?;
        }
        None => println!("The caller entered nothing usable."),
    }
    call.hangup().await?;
    println!("Hung up.");
    Ok(())
}
