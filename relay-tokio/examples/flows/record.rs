//! Recording (Node: `call.recordAsync({...})` then `recordAction.stop()`): call out, start a
//! recording in the background, stop it, and print where the file is.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example record`, `cargo run -p relay-async-std --example async_std_record`).

use std::time::Duration;

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{
    AudioDirection, Device, DialParams, RecordFormat, RecordParams,
};

/// The flow: dial, record in the background, stop, read the result, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    println!("{} answered; recording.", env.to);

    let params = RecordParams {
        beep: Some(true),
        format: Some(RecordFormat::Mp3),
        direction: Some(AudioDirection::Both),
        end_silence_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let recording = call.record_async(params).await?;
    // Do other things while recording, then stop it.
    env.sleep(Duration::from_millis(500)).await;
    // Node's recordAction.url: known, while recording, once the server's answer to
    // `calling.record` arrived.
    match recording.url() {
        Some(url) => println!("Recording to {url}."),
        None => println!("Recording (the server has not named the file yet)."),
    }
    recording.stop().await?;
    let result = recording.wait().await?;
    match result.outcome.url.as_deref() {
        Some(url) => println!(
            "Stopped the recording: {url} ({:.1} s).",
            result.outcome.duration.unwrap_or(0.0)
        ),
        None => println!("Stopped the recording; the server gave no file."),
    }
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
