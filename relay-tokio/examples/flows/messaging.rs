//! Messaging (Node: `client.messaging.send(...)`, `onMessageStateChange`,
//! `onIncomingMessage`): send a text and follow its state changes; answer an inbound text with
//! a reply.
//!
//! The flow is written against relay-client alone; relay-tokio and relay-async-std run it
//! (`cargo run -p relay-tokio --example messaging`, `cargo run -p relay-async-std --example async_std_messaging`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use super::support::{Env, Outcome};
use relay_client::relay_proto::{Message, MessageParams, MessageState};
use relay_client::{RelayClient, RelayConsumer};

/// The flow: one text out, one in, one reply; done when both outbound texts reached a final
/// state.
pub async fn run(env: Env) -> Outcome {
    let client: Arc<OnceLock<RelayClient>> = Arc::default();
    let settled = Arc::new(AtomicUsize::new(0));
    let ready_client = client.clone();
    let (ready_env, reply_env) = (env.clone(), env.clone());
    env.run_consumer(&["office"], |finish| {
        RelayConsumer::new()
            .on_ready(move |c| {
                let _ = ready_client.set(c.clone());
                let env = ready_env.clone();
                async move {
                    if let Err(e) = send_and_invite_a_reply(&c, &env).await {
                        println!("Sending failed: {e}");
                    }
                }
            })
            .on_incoming_message(move |client, message| {
                let env = reply_env.clone();
                async move {
                    if let Err(e) = reply(&client, &env, &message).await {
                        println!("Replying failed: {e}");
                    }
                }
            })
            .on_message_state_change(move |_client, message| {
                let (finish, client, settled) = (finish.clone(), client.clone(), settled.clone());
                async move {
                    println!(
                        "Message {} is now {}.",
                        message.id.as_str(),
                        message.state.as_str()
                    );
                    let outcome = match message.state {
                        MessageState::Delivered => Ok(()),
                        MessageState::Undelivered | MessageState::Failed => Err(format!(
                            "message {} was not delivered: {}",
                            message.id.as_str(),
                            message.reason.as_deref().unwrap_or("no reason given")
                        )
                        .into()),
                        _ => return,
                    };
                    let done = settled.fetch_add(1, Ordering::SeqCst) + 1;
                    if let (Some(client), true) = (client.get(), done == 2 || outcome.is_err()) {
                        finish.report(client, outcome).await;
                    }
                }
            })
    })
    .await
}

async fn send_and_invite_a_reply(client: &RelayClient, env: &Env) -> Outcome {
    let params = MessageParams::text("office", &env.from, &env.to, "Welcome at SignalWire!");
    let sent = client.messaging().send(params).await?;
    match sent.message_id.filter(|_| sent.successful) {
        Some(id) => println!("Sent a text to {} (message {}).", env.to, id.as_str()),
        None => return Err("the text was refused".into()),
    }
    env.inbound_message("office", "Hi! What are your opening hours?")
        .await
}

async fn reply(client: &RelayClient, env: &Env, message: &Message) -> Outcome {
    let from = message.from.clone().unwrap_or_default();
    println!(
        "Text from {from}: \"{}\"",
        message.body.as_deref().unwrap_or("")
    );
    let answer = "We are open 9 to 5, Monday to Friday.";
    let params = MessageParams::text("office", &env.from, &from, answer);
    let sent = client.messaging().send(params).await?;
    if !sent.successful {
        return Err("the reply was refused".into());
    }
    println!("Replied to {from}: \"{answer}\"");
    Ok(())
}
