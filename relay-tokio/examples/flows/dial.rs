//! An outbound call with a `RelayClient` (Node: `client.on('signalwire.ready', ...)` then
//! `client.calling.dial({ type: 'phone', from, to })`): dial, report the outcome, hang up. Against
//! the mock a second dial is told to meet a busy line, to show how a failed dial reads.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example dial`, `cargo run -p relay-async-std --example async_std_dial`).

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{Device, DialParams};

/// The flow: connect, dial once (answered), dial again (busy on the mock), disconnect.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    println!("Connected to Relay.");

    let params = DialParams::single(Device::phone(&env.from, &env.to));
    let dial = client.calling().dial_result(params.clone()).await?;
    if !dial.successful {
        return Err(format!("the call to {} was not answered ({})", env.to, dial.state).into());
    }
    let id = dial.call_id.ok_or("an answered dial names its call")?;
    println!("{} answered the call.", env.to);
    let call = client.calling().call(id);
    call.hangup().await?;
    println!("Hung up.");

    if env.is_mock() {
        env.next_outcome("calling.dial", "busy").await?;
        let dial = client.calling().dial_result(params).await?;
        let reason = dial
            .end_reason
            .as_ref()
            .map_or("no reason given", |r| r.as_str());
        println!(
            "The second call {} ({reason}).",
            if dial.successful {
                "was answered"
            } else {
                "did not connect"
            }
        );
        if dial.successful {
            return Err("the mock was told to make the second call busy".into());
        }
    }
    client.disconnect().await;
    Ok(())
}
