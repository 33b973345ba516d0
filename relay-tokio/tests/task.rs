//! `Task::deliver` against relay-mock: the task reaches a connected consumer; bad credentials,
//! bad hosts, an unreachable host and a silent server are typed errors.

use std::time::Duration;

use futures_util::StreamExt;
use relay_mock::{net, MockConfig};
use relay_tokio::{DeliverError, Event, SessionConfig, Task};
use serde_json::json;

#[tokio::test]
async fn a_delivered_task_reaches_the_consumer() {
    let mock = net::start(MockConfig::default())
        .await
        .expect("mock starts");
    let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
    let client = relay_tokio::builder(config)
        .with_host(mock.ws_url())
        .connect();
    let mut events = client.events().await.expect("subscribed");
    let wait = Duration::from_secs(20);
    tokio::time::timeout(wait, async {
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
        .with_runtime(relay_tokio::TokioRuntime)
        .with_host(mock.http_base())
        .with_timeout(wait);
    let message = json!({"job": "ünïcode ✓", "n": 7});
    task.deliver("office", &message).await.expect("delivered");
    let got = tokio::time::timeout(wait, async {
        while let Some(e) = events.next().await {
            if let Ok(Event::Task { context, message }) = e {
                return (context, message);
            }
        }
        panic!("event stream ended");
    })
    .await
    .expect("task event");
    assert_eq!(got, ("office".to_owned(), message));

    let wrong = Task::new("test-project", "wrong-token")
        .expect("credentials")
        .with_host(mock.http_base());
    match wrong.deliver("office", &json!({})).await {
        Err(DeliverError::Rejected(e)) => assert_eq!(e.status, 401, "{e}"),
        other => panic!("{other:?}"),
    }
    let ftp = task.clone().with_host("ftp://x");
    assert!(matches!(
        ftp.deliver("office", &json!({})).await,
        Err(DeliverError::Invalid(_))
    ));
    assert!(matches!(
        task.deliver("", &json!({})).await,
        Err(DeliverError::Invalid(_))
    ));
    client.disconnect().await;
    mock.shutdown().await;
}

/// A typed message serializes as JSON and arrives as such.
#[derive(serde::Serialize)]
struct Job<'a> {
    action: &'a str,
    number: &'a str,
}

#[tokio::test]
async fn typed_messages_unreachable_hosts_and_silent_servers() {
    assert!(matches!(
        Task::new("", "token"),
        Err(DeliverError::Invalid(_))
    ));
    // A port nobody listens on: refused at once.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let task = Task::new("p", "t")
        .expect("credentials")
        .with_host(format!("http://127.0.0.1:{port}"));
    let job = Job {
        action: "call",
        number: "+15551230001",
    };
    match task.deliver("office", &job).await {
        Err(DeliverError::Connect(_) | DeliverError::Io(_)) => {}
        other => panic!("{other:?}"),
    }
    // A server that accepts and never answers: the timeout bounds the delivery.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let task = task
        .with_host(format!("http://127.0.0.1:{port}"))
        .with_timeout(Duration::from_millis(300));
    assert!(matches!(
        task.deliver("office", &job).await,
        Err(DeliverError::Timeout)
    ));
    hold.abort();
}
