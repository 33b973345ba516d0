//! A consumer against an in-process relay-mock: it injects one inbound call through the mock's
//! control API, answers it, plays TTS, hangs up, and stops the consumer gracefully (teardown,
//! close frame) with its stop handle.
//!
//! `cargo run -p relay-tokio --example consumer`
#![allow(clippy::print_stdout)]

use std::time::Duration;

use relay_mock::{net, MockConfig};
use relay_tokio::{Call, ClientError, RelayConsumer, SessionConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// POSTs a JSON body to the mock's control API; returns the HTTP status.
async fn post(base: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await?;
    Ok(resp
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// The caller's number, as the call was offered.
fn caller(call: &Call) -> String {
    call.snapshot()
        .and_then(|c| c.from().map(str::to_owned))
        .unwrap_or_else(|| "an unknown number".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = net::start(MockConfig::default()).await?;
    println!("relay-mock on {}", mock.ws_url());
    let http = mock.http_base();

    let consumer = RelayConsumer::new().contexts(["office"]);
    // Stops the consumer from a handler; Ctrl-C or SIGTERM would too (run_consumer listens).
    let stop = consumer.stop_handle();
    let consumer = consumer
        .on_ready(move |_client| {
            let http = http.clone();
            async move {
                let body = r#"{"context":"office","from":"+15551230001","to":"+15553210002"}"#;
                match post(&http, "/__control/inbound_call", body).await {
                    Ok(status) => println!("injected an inbound call: HTTP {status}"),
                    Err(e) => println!("control API unreachable: {e}"),
                }
            }
        })
        .on_incoming_call(move |call| {
            let stop = stop.clone();
            async move {
                println!("A call came in from {}.", caller(&call));
                call.answer().await?;
                println!("We answered it.");
                let played = call.play_tts("Welcome to the Rust SDK").await?;
                println!(
                    "We said our welcome ({}).",
                    if played.successful {
                        "played to the end"
                    } else {
                        "it did not play"
                    }
                );
                call.hangup().await?;
                println!("We hung up. Stopping the consumer.");
                stop.stop();
                // An error here would be logged with the call id; the consumer would go on.
                Ok::<(), ClientError>(())
            }
        })
        .on_teardown(|_client| async {
            println!("Teardown: every handler has finished; the socket closes next.");
        });

    let config = SessionConfig::new("test-project", "test-token");
    let run = relay_tokio::run_consumer(consumer, config, mock.ws_url());
    let stopped = tokio::time::timeout(Duration::from_secs(20), run).await??;
    println!("The consumer stopped ({stopped:?}).");
    mock.shutdown().await;
    Ok(())
}
