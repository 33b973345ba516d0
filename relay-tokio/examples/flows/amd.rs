//! Answering-machine detection (Node: `call.detectAnsweringMachine()` and
//! `detectAnsweringMachineAsync()` with a `detect.update` listener): call out, find out whether
//! a person or a machine answered, then run the detector in the background and watch it.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example amd`, `cargo run -p relay-async-std --example async_std_amd`).

use std::time::Duration;

use super::support::{Env, Outcome};
use futures_util::StreamExt;
use relay_client::relay_proto::calling::{CallEvent, DetectMode, Device, DialParams};

/// The flow: dial, blocking detection, async detection with updates, stop, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    println!("{} answered; listening for a machine.", env.to);

    let detected = call.amd(DetectMode::Blocking).await?;
    match detected.outcome.result.as_deref() {
        Some("MACHINE") => println!("An answering machine picked up."),
        Some("HUMAN") => println!("A person picked up."),
        Some(other) => println!("The detector could not tell ({other})."),
        None => println!("The detector gave no answer."),
    }

    // Start the detector in the background and watch its updates.
    let mut events = call.events().await?;
    let detector = call.amd_async(DetectMode::Async).await?;
    let id = detector.control_id().clone();
    // The stream ends when the client disconnects, and the watcher with it.
    env.spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(CallEvent::DetectUpdate {
                    control_id, event, ..
                }) if control_id == id => println!("Detector update: {event}."),
                _ => {}
            }
        }
    });
    env.sleep(Duration::from_millis(300)).await;
    if !detector.is_done() {
        detector.stop().await?;
        println!("Stopped the background detector.");
    }
    let last = detector.wait().await?;
    println!(
        "The background detector heard: {}.",
        last.outcome.result.as_deref().unwrap_or("nothing")
    );
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
