//! `deliver_task` against relay-mock: the task reaches a connected consumer; bad credentials
//! and bad URLs are typed errors.

use std::time::Duration;

use futures_util::StreamExt;
use relay_mock::{net, MockConfig};
use relay_tokio::{deliver_task, DeliverError, Event, SessionConfig, Task};
use serde_json::json;

#[tokio::test]
async fn a_delivered_task_reaches_the_consumer() {
    let mock = net::start(MockConfig::default())
        .await
        .expect("mock starts");
    let config = SessionConfig::new("test-project", "test-token").with_contexts(["office"]);
    let client = relay_tokio::connect(config, mock.ws_url());
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

    let task = Task::new("test-project", "test-token").expect("credentials");
    let message = json!({"job": "ünïcode ✓", "n": 7});
    deliver_task(&task, &mock.http_base(), "office", &message, wait)
        .await
        .expect("delivered");
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

    let wrong = Task::new("test-project", "wrong-token").expect("credentials");
    match deliver_task(&wrong, &mock.http_base(), "office", &json!({}), wait).await {
        Err(DeliverError::Rejected(e)) => assert_eq!(e.status, 401, "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        deliver_task(&task, "ftp://x", "office", &json!({}), wait).await,
        Err(DeliverError::Invalid(_))
    ));
    assert!(matches!(
        deliver_task(&task, &mock.http_base(), "", &json!({}), wait).await,
        Err(DeliverError::Invalid(_))
    ));
    client.disconnect().await;
    mock.shutdown().await;
}
