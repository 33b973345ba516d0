//! Tapping (Node: `call.tapAsync({ audio_direction, target_type: 'rtp', ... })` then
//! `tapAction.stop()`): call out, stream the call's audio to an RTP endpoint for a moment, stop,
//! and print where it went.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example tap`, `cargo run -p relay-async-std --example async_std_tap`).

use std::time::Duration;

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{
    AudioDirection, Device, DialParams, TapDevice, TapParams,
};

/// The flow: dial, tap in the background, stop, read the devices, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    println!("{} answered; tapping the audio.", env.to);

    let params = TapParams {
        direction: Some(AudioDirection::Both),
        device: TapDevice::Rtp {
            addr: "192.168.1.1".into(),
            port: 1234,
            codec: None,
            ptime: None,
            rate: None,
        },
    };
    let tap = call.tap_async(params).await?;
    env.sleep(Duration::from_millis(300)).await;
    tap.stop().await?;
    let result = tap.wait().await?;
    let describe = |d: Option<&relay_client::relay_proto::calling::DeviceInfo>| {
        d.map(|d| {
            let addr = d.params.get("addr").and_then(|v| v.as_str()).unwrap_or("?");
            let port = d
                .params
                .get("port")
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{} {addr}:{port}", d.device_type)
        })
        .unwrap_or_else(|| "an unnamed device".into())
    };
    println!(
        "Stopped the tap: audio went from {} to {}.",
        describe(result.outcome.source_device.as_ref()),
        describe(result.outcome.destination_device.as_ref())
    );
    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
