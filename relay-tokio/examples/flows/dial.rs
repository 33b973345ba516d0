//! An outbound call with a `RelayClient` (Node: `client.on('signalwire.ready', ...)`, then
//! `client.calling.newCall({ type: 'phone', from, to })` and `call.dial()`): watch the call ring,
//! report the outcome, hang up. Against the mock a second call is told to meet a busy line, to
//! show how a failed dial reads.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example dial`, `cargo run -p relay-async-std --example async_std_dial`).

use super::support::{Env, Outcome};
use futures_util::StreamExt;
use relay_client::relay_proto::calling::{CallEvent, Device, DialParams};
use relay_client::Call;

/// The flow: connect, dial once (answered), dial again (busy on the mock), disconnect.
pub async fn run(env: Env) -> Outcome {
    let client = env.connect();
    client.wait_ready().await?;
    println!("Connected to Relay.");

    let params = DialParams::single(Device::phone(&env.from, &env.to));
    // Node's newCall: a call that can be watched before it is dialed.
    let call = client.calling().new_call(params.clone());
    watch(&env, &call).await?;
    let dialed = call.dial().await?;
    if !dialed.successful {
        return Err(format!("the call to {} was not answered", env.to).into());
    }
    println!("{} answered the call.", env.to);
    call.hangup().await?;
    println!("Hung up.");

    if env.is_mock() {
        env.next_outcome("calling.dial", "busy").await?;
        let second = client.calling().new_call(params);
        let dialed = second.dial().await?;
        if dialed.successful {
            return Err("the mock was told to make the second call busy".into());
        }
        let why = if second.busy() {
            "the line was busy"
        } else {
            "nobody answered"
        };
        println!("The second call did not go through: {why}.");
    }
    client.disconnect().await;
    Ok(())
}

/// Prints the call's progress; the stream ends when the call has ended.
async fn watch(env: &Env, call: &Call) -> Outcome {
    let mut events = call.events().await?;
    env.spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if let CallEvent::StateChanged { state, .. } = event {
                println!("The call is now {}.", state.as_str());
            }
        }
    });
    Ok(())
}
