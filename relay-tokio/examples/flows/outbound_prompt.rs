//! Outbound call with a prompt (Node: `client.calling.dial(...)` then `call.promptTTS(...)`):
//! call a number, ask for a digit, say what was pressed, hang up.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example outbound_prompt`, `cargo run -p relay-async-std --example async_std_outbound_prompt`).

use std::time::Duration;

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{Device, DialParams, PromptParams};

/// The flow: dial, prompt, read back, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let Ok(call) = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await
    else {
        client.disconnect().await;
        return Err(format!("{} did not answer", env.to).into());
    };
    println!("{} answered; asking them to press a key.", env.to);
    let key = PromptParams::digits(1)
        .terminators("#")
        .digit_timeout(Duration::from_secs(5))
        .initial_timeout(Duration::from_secs(10));
    let prompt = call
        .prompt_tts(key, "Hello from SignalWire! Press any key, then hash.")
        .await?;
    match prompt.outcome.result().filter(|_| prompt.successful) {
        Some(digit) => {
            println!("They pressed {digit}.");
            call.play_tts(format!("You pressed {digit}. Good bye!"))
                .await?;
        }
        None => println!("They pressed nothing."),
    }
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
