//! `Task::deliver` on async-std against relay-mock: the task reaches a connected client; bad
//! credentials, bad hosts and a silent server are typed errors.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use relay_async_std::{DeliverError, Event, SessionConfig, Task};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[derive(serde::Serialize)]
struct Job<'a> {
    action: &'a str,
    number: &'a str,
}

#[async_std::test]
async fn a_delivered_task_reaches_the_consumer() {
    let mock = support::Mock::start();
    let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
    let client = relay_async_std::builder(config)
        .with_host(mock.ws_url.clone())
        .connect();
    let mut events = client.events().await.expect("subscribed");
    async_std::future::timeout(WAIT, async {
        while let Some(e) = events.next().await {
            if matches!(
                e,
                Ok(Event::ContextsRegistered {
                    outcome: Ok(()),
                    ..
                })
            ) {
                break;
            }
        }
    })
    .await
    .expect("contexts registered");

    let task = Task::new("test-project", "test-token")
        .expect("credentials")
        // The blocking exchange on the runtime's own blocking pool.
        .with_runtime(relay_async_std::AsyncStdRuntime)
        .with_host(mock.http_base.clone())
        .with_timeout(WAIT);
    let job = Job {
        action: "call",
        number: "+15551230001",
    };
    task.deliver("office", &job).await.expect("delivered");
    let got = async_std::future::timeout(WAIT, async {
        while let Some(e) = events.next().await {
            if let Ok(Event::Task { context, message }) = e {
                return (context, message);
            }
        }
        panic!("event stream ended");
    })
    .await
    .expect("task event");
    let expected = json!({"action": "call", "number": "+15551230001"});
    assert_eq!(got, ("office".to_owned(), expected));

    let wrong = Task::new("test-project", "wrong-token")
        .expect("credentials")
        .with_host(mock.http_base.clone());
    match wrong.deliver("office", &json!({})).await {
        Err(DeliverError::Rejected(e)) => assert_eq!(e.status, 401, "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        task.clone()
            .with_host("ftp://x")
            .deliver("office", &1)
            .await,
        Err(DeliverError::Invalid(_))
    ));
    client.disconnect().await;
}

#[async_std::test]
async fn a_silent_server_times_out() {
    let silent = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let hold = async_std::task::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let task = Task::new("p", "t")
        .expect("credentials")
        .with_host(format!("http://127.0.0.1:{port}"))
        .with_timeout(Duration::from_millis(300));
    assert!(matches!(
        task.deliver("office", &json!({})).await,
        Err(DeliverError::Timeout)
    ));
    let _ = hold.cancel().await;
}
