//! Outbound call with a prompt (Node: `client.calling.dial(...)` then `call.promptTTS(...)`):
//! call a number, ask for a digit, say what was pressed, hang up.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example outbound_prompt`, `cargo run -p relay-async-std --example async_std_outbound_prompt`).

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{
    CollectDigits, CollectParams, Device, DialParams, Media, PromptParams,
};

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
    let params = PromptParams {
        media: vec![Media::tts(
            "Hello from SignalWire! Press any key, then hash.",
        )],
        collect: CollectParams {
            digits: Some(CollectDigits {
                max: Some(1),
                terminators: Some("#".into()),
                digit_timeout: Some(5.0),
            }),
            initial_timeout: Some(10.0),
            ..Default::default()
        },
        ..Default::default()
    };
    let prompt = call.prompt(params).await?;
    match prompt.outcome.result().filter(|_| prompt.successful) {
        Some(digit) => {
            println!("They pressed {digit}.");
            call.play_tts(&format!("You pressed {digit}. Good bye!"))
                .await?;
        }
        None => println!("They pressed nothing."),
    }
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
