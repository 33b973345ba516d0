//! An outbound call on async-std: connect, dial, hang up.
//!
//! `cargo run -p relay-async-std --example dial`
#![allow(clippy::print_stdout)]

pub(crate) mod support;

use relay_async_std::relay_proto::calling::{Device, DialParams};
use support::{Env, Outcome};

#[async_std::main]
async fn main() -> std::process::ExitCode {
    support::main(run).await
}

/// The flow: connect, dial, hang up, disconnect.
pub async fn run(env: Env) -> Outcome {
    let client = relay_async_std::connect(env.config(&[]), env.ws_url.clone());
    client.wait_ready().await?;
    println!("Connected to Relay.");
    let dial = client
        .calling()
        .dial_result(DialParams::single(Device::phone(&env.from, &env.to)))
        .await?;
    let Some(id) = dial.call_id.filter(|_| dial.successful) else {
        client.disconnect().await;
        return Err(format!("the call to {} was not answered ({})", env.to, dial.state).into());
    };
    println!("{} answered the call.", env.to);
    client.calling().call(id).hangup().await?;
    println!("Hung up.");
    client.disconnect().await;
    Ok(())
}
