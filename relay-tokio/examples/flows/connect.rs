//! Connecting calls (Node: `call.connect(...)` with devices in series, in parallel, and with a
//! ringback): call someone, bridge them to an agent tried one after another, then to a group
//! rung at once while the caller hears a ringtone.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example connect`, `cargo run -p relay-async-std --example async_std_connect`).

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{ConnectParams, Device, DialParams, Media};
use relay_client::Call;

/// The flow: dial, connect in series, disconnect, connect in parallel with ringback, hang up.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    println!("{} answered.", env.to);

    // Series: the first agent, then the second if the first does not answer.
    let series = ConnectParams::tree(vec![
        vec![Device::phone(&env.from, "+15550000001")],
        vec![Device::phone(&env.from, "+15550000002")],
    ]);
    connect(&call, series, "the agents in turn").await?;
    call.disconnect().await?;
    println!("Took the agent off the call.");

    // Parallel: both numbers ring at once, with a US ringtone meanwhile.
    let parallel = ConnectParams::tree(vec![vec![
        Device::phone(&env.from, "+15550000003"),
        Device::phone(&env.from, "+15550000004"),
    ]])
    .with_ringback(Media::ringtone("us", None));
    connect(&call, parallel, "the sales team at once (with ringback)").await?;

    call.hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}

async fn connect(call: &Call, params: ConnectParams, whom: &str) -> Outcome {
    println!("Connecting the caller to {whom}...");
    let connected = call.connect(params).await?;
    if !connected.successful {
        return Err(format!("nobody of {whom} answered").into());
    }
    let peer = connected
        .outcome
        .peer
        .as_ref()
        .and_then(|p| p.device.as_ref())
        .and_then(|d| d.to())
        .unwrap_or("someone");
    println!("Connected to {peer}.");
    Ok(())
}
