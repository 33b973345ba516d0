//! Tapping (Node: `call.tapAsync({ audio_direction, target_type: 'rtp', ... })` then
//! `tapAction.stop()`): call out, stream the call's audio to an RTP endpoint for a moment, stop,
//! and print where it went.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example tap`, `cargo run -p relay-async-std --example async_std_tap`).

use std::time::Duration;

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{
    AudioDirection, Device, DeviceInfo, DialParams, TapDevice, TapParams,
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
    // Node's tapAction.sourceDevice: known, while the tap runs, once the server's answer to
    // `calling.tap` arrived.
    println!(
        "Tapping; the audio comes from {}.",
        describe(tap.source_device().as_ref())
    );
    tap.stop().await?;
    let result = tap.wait().await?;
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

/// A tap device in words: its type, address and port.
fn describe(device: Option<&DeviceInfo>) -> String {
    let Some(d) = device else {
        return "an unnamed device".into();
    };
    let param = |key: &str| {
        d.param(key).map(|v| match v.as_str() {
            Some(s) => s.to_owned(),
            None => v.to_string(),
        })
    };
    match (param("addr"), param("port")) {
        (Some(addr), Some(port)) => format!("{} {addr}:{port}", d.device_type.as_str()),
        _ => format!("a {} device", d.device_type.as_str()),
    }
}
