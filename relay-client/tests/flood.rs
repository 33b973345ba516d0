//! A flood of inbound calls on virtual time: 10,000 offers to a consumer whose handlers are
//! slow. None may be dropped, and the client's own queue stays bounded (above its mark the
//! driver stops reading the socket, so the backlog waits on the server's side).

mod sim;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_client::{ClientOptions, RelayConsumer, Runtime};
use relay_proto::StopReason;
use serde_json::json;
use sim::{config, run, setup};

const CALLS: usize = 10_000;
const BACKLOG: usize = 64;

#[test]
fn ten_thousand_inbound_calls_all_reach_slow_handlers() {
    let (rt, server) = setup();
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let peak = Arc::new(Mutex::new(0usize));
    let consumer = RelayConsumer::new().options(
        ClientOptions::default()
            .with_consumer_backlog(BACKLOG)
            .with_event_capacity(1),
    );
    let stop = consumer.stop_handle();
    let s = server.clone();
    let (seen2, peak2, rt2) = (seen.clone(), peak.clone(), rt.clone());
    let consumer = consumer
        .on_ready(move |_client| {
            for i in 0..CALLS {
                let from = format!("+1555{i:07}");
                s.control(
                    "inbound_call",
                    json!({"context": "office", "from": from, "to": "+15553210002"}),
                );
            }
            async {}
        })
        .on_incoming_call(move |call| {
            let (seen, peak, rt, stop) = (seen2.clone(), peak2.clone(), rt2.clone(), stop.clone());
            async move {
                // A slow handler: a second of (virtual) work before anything else.
                rt.sleep_until(rt.now() + Duration::from_secs(1)).await;
                let stats = call.client().stats();
                {
                    let mut p = peak.lock().expect("peak");
                    *p = (*p).max(stats.consumer_backlog_peak);
                }
                let n = {
                    let mut s = seen.lock().expect("seen");
                    s.insert(call.id().map(ToString::to_string).unwrap_or_default());
                    s.len()
                };
                if n == CALLS {
                    stop.stop();
                }
            }
        });
    let stopped = run(
        &rt,
        consumer.run(config(), "ws://in-memory", rt.clone(), server.clone()),
    );
    assert_eq!(stopped, Ok(StopReason::Closed));
    assert_eq!(
        seen.lock().expect("seen").len(),
        CALLS,
        "every call reached its handler"
    );
    let peak = *peak.lock().expect("peak");
    // The driver reads at most one budget of frames past the mark before it pauses.
    assert!(
        peak > 0 && peak <= BACKLOG + 64,
        "consumer backlog peaked at {peak}"
    );
    assert!(
        server.peak_unread() > BACKLOG + 64,
        "the rest waited unread on the server side ({})",
        server.peak_unread()
    );
    assert_eq!(server.closes(), [1000], "stopped with a close frame");
}
