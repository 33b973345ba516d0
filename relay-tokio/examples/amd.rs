//! Answering-machine detection (Node: `call.detectAnsweringMachine()` and
//! `detectAnsweringMachineAsync()` with a `detect.update` listener): call out, find out whether
//! a person or a machine answered, then run the detector in the background and watch it.
//!
//! `cargo run -p relay-tokio --example amd`
#![allow(clippy::print_stdout)]

pub(crate) mod support;

use std::time::Duration;

use futures_util::StreamExt;
use relay_tokio::relay_proto::calling::{CallEvent, DetectMode, Device, DialParams};
use support::{Env, Outcome};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}

/// The flow: dial, blocking detection, async detection with updates, stop, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = relay_tokio::connect(env.config(&[]), env.ws_url.clone());
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
    let watcher = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(CallEvent::DetectUpdate {
                    control_id, event, ..
                }) if control_id == id => println!("Detector update: {event}."),
                _ => {}
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    watcher.abort();
    client.disconnect().await;
    Ok(())
}
