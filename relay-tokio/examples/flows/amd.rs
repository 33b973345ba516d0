//! Answering-machine detection (Node: `call.detectAnsweringMachine()` and
//! `detectAnsweringMachineAsync()` with a `detect.update` listener): call out, find out whether
//! a person or a machine answered (waiting for the beep before leaving a message), then run the
//! detector in the background and watch what it hears.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example amd`, `cargo run -p relay-async-std --example async_std_amd`).

use std::time::Duration;

use super::support::{Env, Outcome};
use futures_util::StreamExt;
use relay_client::relay_proto::calling::{
    CallEvent, DetectEvent, DetectParams, Device, DialParams,
};

/// The flow: dial, blocking detection (with the beep), async detection with updates, stop,
/// hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    println!("{} answered; listening for a machine.", env.to);

    // Node: detectAnsweringMachine({ initial_timeout: 5, wait_for_beep: true, timeout: 30 }).
    let settings = DetectParams::machine()
        .initial_timeout(Duration::from_secs(5))
        .wait_for_beep(true)
        .timeout(Duration::from_secs(30));
    let detected = call.detect_answering_machine(settings).await?;
    match detected.outcome.result.as_deref() {
        Some("MACHINE") => {
            println!("An answering machine picked up; it beeped, so we leave a message.");
            call.play_tts("Hello, this is SignalWire. Please call us back.")
                .await?;
        }
        Some("HUMAN") => println!("A person picked up."),
        Some(_) => println!("The detector could not tell who picked up."),
        None => println!("The detector gave no answer."),
    }

    // Start the detector in the background and watch its updates.
    let mut events = call.events().await?;
    let detector = call
        .detect_answering_machine_async(DetectParams::machine())
        .await?;
    let id = detector.control_id().clone();
    // The stream ends when the call ends, and the watcher with it.
    env.spawn(async move {
        while let Some(event) = events.next().await {
            if let Ok(CallEvent::DetectUpdate {
                control_id, event, ..
            }) = event
            {
                if control_id == id {
                    println!("The detector heard: {}.", describe(&event));
                }
            }
        }
    });
    env.sleep(Duration::from_millis(300)).await;
    if !detector.is_done() {
        detector.stop().await?;
        println!("Stopped the background detector.");
    }
    let last = detector.wait().await?;
    let heard = last.outcome.result.unwrap_or_default();
    let heard: Vec<&str> = heard.split(',').filter(|e| !e.is_empty()).collect();
    println!(
        "The background detector reported {} event(s) in all.",
        heard.len()
    );
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}

/// What a detector event means, in words.
fn describe(event: &DetectEvent) -> String {
    match event {
        DetectEvent::Machine => "a machine".into(),
        DetectEvent::Human => "a person".into(),
        DetectEvent::Unknown => "something it cannot place".into(),
        DetectEvent::Ready => "the beep (the machine is ready for a message)".into(),
        DetectEvent::NotReady => "the machine's greeting still playing".into(),
        DetectEvent::Finished => "nothing more (it finished)".into(),
        other => format!("the signal {}", other.as_str()),
    }
}
