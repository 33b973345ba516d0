//! Pair: relay_proto::Session against MockServer on a virtual clock.

use std::time::{Duration, Instant};

use relay_mock::transcript::Dir;
use relay_mock::{MockConfig, Pair};
use relay_proto::{Event, SessionConfig};
use serde_json::json;

fn pair() -> Pair {
    Pair::new(
        SessionConfig::new("test-project", "test-token").with_contexts(["office"]),
        MockConfig::default(),
        Instant::now(),
    )
}

#[test]
fn handshake_and_inbound_call() {
    let mut p = pair();
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(1)));
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Ready {
                restored: false,
                ..
            }
        )),
        "{ev:?}"
    );
    // The receive is in flight right after ready; let it land.
    p.drive();
    let r = p
        .control("inbound_call", json!({"context":"office"}))
        .unwrap();
    assert!(r["call_id"].is_string());
    p.drive();
    let ev = p.take_events();
    // relay-proto's calling machine may not decode inbound calls yet; either way the event
    // must reach the session.
    assert!(
        ev.iter().any(|e| matches!(e, Event::Call(_))
            || matches!(e, Event::Unrecognized { event_type, .. } if event_type == "calling.call.receive")),
        "{ev:?}"
    );
    // Client frames in the transcript: connect, setup, subscription, receive, ...
    let methods: Vec<String> = p
        .transcript()
        .iter()
        .filter(|l| l.dir == Dir::C2s)
        .map(|l| {
            format!(
                "{}/{}",
                l.frame["method"].as_str().unwrap_or(""),
                l.frame["params"]["method"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(methods[0], "blade.connect/");
    assert_eq!(methods[1], "blade.execute/setup");
    assert_eq!(methods[2], "blade.subscription/");
}

#[test]
fn drop_reconnects_and_restores() {
    let mut p = pair();
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(1)));
    let sid = p.session().session_id().map(str::to_owned);
    let proto = p.session().protocol().map(str::to_owned);
    p.take_events();
    assert_eq!(p.control("drop", json!({})).unwrap(), json!({"dropped": 1}));
    p.drive();
    assert!(!p.session().is_ready());
    assert!(p.drive_until(|p| p.session().is_ready(), Duration::from_secs(120)));
    let ev = p.take_events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Ready {
                restored: true,
                reconnected: true,
                ..
            }
        )),
        "{ev:?}"
    );
    assert_eq!(p.session().session_id().map(str::to_owned), sid);
    assert_eq!(p.session().protocol().map(str::to_owned), proto);
    assert_eq!(p.server().live_sessions().len(), 1);
}

#[test]
fn keepalive_runs_for_minutes_in_microseconds() {
    let mut p = pair();
    p.advance(Duration::from_secs(600));
    assert!(p.session().is_ready());
    let pings = p
        .transcript()
        .iter()
        .filter(|l| l.dir == Dir::C2s && l.frame["method"] == "blade.ping")
        .count();
    assert!(pings >= 50, "{pings}");
    assert!(p.elapsed() >= Duration::from_secs(600));
}
