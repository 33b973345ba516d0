//! RelayConsumer's lifecycle on virtual time: setup / ready / teardown hooks, handlers that
//! fail without stopping the consumer, typed tasks, and a graceful stop (no new work, running
//! handlers finish within the grace period, teardown, close frame, return).

mod sim;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_client::{ClientError, RelayConsumer, Runtime};
use relay_proto::{SessionConfig, StopReason};
use serde_json::json;
use sim::{run, setup, Server};

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, line: impl Into<String>) {
    log.lock().expect("log").push(line.into());
}

fn plain_config() -> SessionConfig {
    SessionConfig::new("test-project", "test-token").with_seed(7)
}

fn inbound_call(server: &Server, from: &str) {
    server.control(
        "inbound_call",
        json!({"context": "office", "from": from, "to": "+15553210002"}),
    );
}

#[derive(Debug, serde::Deserialize)]
struct Job {
    number: String,
    attempts: u32,
}

#[test]
fn hooks_failing_handlers_typed_tasks_and_a_graceful_stop() {
    let (rt, server) = setup();
    let log: Log = Arc::default();
    let consumer = RelayConsumer::new().grace_period(Duration::from_secs(30));
    let stop = consumer.stop_handle();
    let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
    let (s, rt2, stop2) = (server.clone(), rt.clone(), stop.clone());
    let consumer = consumer
        // The Node SDK's setup: contexts are set here, before connecting.
        .on_setup(|config| config.contexts.push("office".into()))
        .on_ready(move |_client| {
            note(&l1, "ready");
            inbound_call(&s, "+15550000001");
            inbound_call(&s, "+15550000002");
            assert_eq!(
                s.deliver_task("office", &json!({"number": "+15551112222", "attempts": 3})),
                204
            );
            assert_eq!(s.deliver_task("office", &json!({"unexpected": true})), 204);
            async {}
        })
        .on_incoming_call(move |call| {
            let (log, rt, stop) = (l2.clone(), rt2.clone(), stop2.clone());
            async move {
                let from = call.snapshot().and_then(|c| c.from().map(str::to_owned));
                if from.as_deref() == Some("+15550000001") {
                    note(&log, "call 1 fails");
                    return Err(ClientError::Closed);
                }
                call.answer().await?;
                // A long handler: the stop below must wait for it.
                stop.stop();
                rt.sleep_until(rt.now() + Duration::from_secs(5)).await;
                call.hangup().await?;
                note(&log, "call 2 done");
                Ok(())
            }
        })
        .on_task_as(move |_client, job: Job| {
            let log = l3.clone();
            async move { note(&log, format!("job {} x{}", job.number, job.attempts)) }
        })
        .on_teardown(move |_client| {
            let log = l4.clone();
            async move { note(&log, "teardown") }
        });
    let stopped = run(
        &rt,
        consumer.run(plain_config(), "ws://in-memory", rt.clone(), server.clone()),
    );
    assert_eq!(stopped, Ok(StopReason::Closed));
    let log = log.lock().expect("log").clone();
    assert_eq!(log.first().map(String::as_str), Some("ready"));
    assert!(log.contains(&"call 1 fails".to_owned()), "{log:?}");
    assert!(log.contains(&"job +15551112222 x3".to_owned()), "{log:?}");
    // The failing handler did not stop anything; the running one finished before teardown.
    let done = log.iter().position(|l| l == "call 2 done");
    let teardown = log.iter().position(|l| l == "teardown");
    assert!(done.is_some() && teardown > done, "{log:?}");
    assert_eq!(log.last().map(String::as_str), Some("teardown"));
    assert_eq!(
        server.closes(),
        [1000],
        "closed with a close frame after teardown"
    );
}

#[test]
fn handlers_past_the_grace_period_are_left_behind() {
    let (rt, server) = setup();
    let log: Log = Arc::default();
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .grace_period(Duration::from_secs(2));
    let stop = consumer.stop_handle();
    let (l1, l2) = (log.clone(), log.clone());
    let (s, rt2) = (server.clone(), rt.clone());
    let consumer = consumer
        .on_ready(move |_client| {
            inbound_call(&s, "+15550000001");
            async {}
        })
        .on_incoming_call(move |_call| {
            let (log, rt, stop) = (l1.clone(), rt2.clone(), stop.clone());
            async move {
                stop.stop();
                rt.sleep_until(rt.now() + Duration::from_secs(600)).await;
                note(&log, "never");
            }
        })
        .on_teardown(move |_client| {
            let log = l2.clone();
            async move { note(&log, "teardown") }
        });
    let t0 = rt.now();
    let stopped = run(
        &rt,
        consumer.run(plain_config(), "ws://in-memory", rt.clone(), server.clone()),
    );
    assert_eq!(stopped, Ok(StopReason::Closed));
    let took = rt.now() - t0;
    assert!(
        took < Duration::from_secs(4),
        "stop took {took:?}, grace is 2 s"
    );
    assert_eq!(*log.lock().expect("log"), ["teardown"]);
    assert_eq!(server.closes(), [1000]);
}

#[test]
fn a_shutdown_future_stops_the_consumer() {
    let (rt, server) = setup();
    let rt2 = rt.clone();
    let shutdown = async move { rt2.sleep_until(rt2.now() + Duration::from_secs(3)).await };
    let consumer = RelayConsumer::new().contexts(["office"]);
    let t0 = rt.now();
    let stopped = run(
        &rt,
        consumer.run_until(
            plain_config(),
            "ws://in-memory",
            rt.clone(),
            server.clone(),
            shutdown,
        ),
    );
    assert_eq!(stopped, Ok(StopReason::Closed));
    assert_eq!(rt.now() - t0, Duration::from_secs(3));
    assert_eq!(server.closes(), [1000]);
}
