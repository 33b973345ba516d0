//! Tasks (Node: `new Task(project, token).deliver(context, message)` and the consumer's
//! `onTask`): a producer delivers `{"action": "call", ...}` to the `office` context; the
//! consumer receives it in `on_task`, reads it into a typed job and places the call it asks for.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example task`, `cargo run -p relay-async-std --example async_std_task`).

use super::support::{Env, Outcome};
use relay_client::relay_proto::calling::{Device, DialParams};
use relay_client::{RelayClient, RelayConsumer};
use serde::{Deserialize, Serialize};

/// The task's message: what the producer asks the consumer to do.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    action: String,
    from: String,
    to: String,
}

/// The flow: the consumer is ready, a task arrives, the consumer dials.
pub async fn run(env: Env) -> Outcome {
    let ready_env = env.clone();
    env.run_consumer(&["office"], |finish| {
        RelayConsumer::new()
            .on_ready(move |_client| {
                let env = ready_env.clone();
                async move {
                    println!("Consumer ready on the context \"office\".");
                    if let Err(e) = produce(&env).await {
                        println!("Delivering the task failed: {e}");
                    }
                }
            })
            .on_task(move |client, message| {
                let finish = finish.clone();
                async move {
                    let outcome = consume(&client, message).await;
                    finish.report(&client, outcome).await;
                }
            })
    })
    .await
}

/// The producer side (normally another, short-lived process).
async fn produce(env: &Env) -> Outcome {
    let job = Job {
        action: "call".into(),
        from: env.from.clone(),
        to: env.to.clone(),
    };
    env.task()?.deliver("office", &job).await?;
    println!("Delivered a task asking to call {}.", job.to);
    Ok(())
}

/// The consumer side: `onTask`.
async fn consume(client: &RelayClient, message: serde_json::Value) -> Outcome {
    let job: Job = serde_json::from_value(message)?;
    println!(
        "Received a task: {} {} from {}.",
        job.action, job.to, job.from
    );
    if job.action != "call" {
        return Err(format!("unknown action {:?}", job.action).into());
    }
    let call = client
        .calling()
        .dial(DialParams::single(Device::phone(&job.from, &job.to)))
        .await?;
    println!("{} answered.", job.to);
    call.play_tts("This call was placed by a Relay task.")
        .await?;
    call.hangup().await?;
    println!("Said why we called and hung up.");
    Ok(())
}
