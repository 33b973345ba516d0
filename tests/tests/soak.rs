//! The soak: 20,000 inbound calls through one `RelayConsumer` (relay-tokio, real sockets)
//! against relay-mock (`media_speed` 0), with the socket dropped every few seconds. Every call
//! must be accounted for (it reached the handler and its handler finished), no await may be
//! pending at the end, and memory must be flat after the calls end.
//!
//! Ignored by default (it takes a minute or two); run it in release:
//!
//! ```text
//! cargo test --release -p relay-tests --test soak -- --ignored --nocapture
//! ```
//!
//! `SOAK_CALLS` overrides the number of calls, `SOAK_WINDOW` the most calls in progress at
//! once (default 500), `SOAK_WALL_SECS` the wall-clock bound. The run is bounded: it fails if it has not
//! finished after five minutes of wall-clock time. It prints its figures (calls, outcomes,
//! drops, wall time, RSS before / peak / after).
#![allow(clippy::disallowed_methods)]
// The soak prints its figures and its progress.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relay_client::{ClientError, RelayClient, RelayConsumer};
use relay_mock::net::{self, RunningServer};
use relay_mock::MockConfig;
use relay_proto::{RequestError, StopReason};
use relay_tokio::{TokioConnector, TokioRuntime};
use serde_json::json;

const CALLS: u64 = 20_000;
/// Calls injected per `inbound_call` batch.
const BATCH: u64 = 250;
/// Most calls injected but not yet finished by their handler (keeps the run paced, and below
/// the session's offline-queue bound of 1,024 commands, so a drop does not make the commands
/// of every running handler hit that bound).
const WINDOW: u64 = 500;
const DROP_EVERY: Duration = Duration::from_secs(2);
const WALL_LIMIT: Duration = Duration::from_secs(300);
/// No handler finishing for this long (longer than every bound of the session config below)
/// means every call that reached the handler is done.
const SETTLE: Duration = Duration::from_secs(25);
/// An offer counts as lost in transit if a drop came at most this long after its batch was
/// injected (the batch was still in the socket, unread, when it died).
const TRANSIT: Duration = Duration::from_secs(1);

fn env(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

/// `SOAK_CALLS` or [`CALLS`]; `SOAK_WALL_SECS` or [`WALL_LIMIT`].
fn settings() -> (u64, Duration) {
    let calls = env("SOAK_CALLS").unwrap_or(CALLS);
    let wall = env("SOAK_WALL_SECS").map_or(WALL_LIMIT, Duration::from_secs);
    (calls, wall)
}

/// Resident set size of this process, in KiB (`VmRSS` in /proc/self/status).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What the handlers saw.
#[derive(Default)]
struct Tally {
    reached: Mutex<BTreeSet<String>>,
    injected: AtomicU64,
    /// When each drop was made.
    drops_at: Mutex<Vec<Instant>>,
    /// Awaits in progress: answer, play, hangup.
    awaiting: [AtomicU64; 3],
    started: AtomicU64,
    finished: AtomicU64,
    /// Every step succeeded.
    success: AtomicU64,
    /// A step failed with a typed error caused by a drop (connection lost, lost event, timeout).
    fault: AtomicU64,
    /// A step refused at a configured bound (`Error::Capacity`).
    capacity: AtomicU64,
    /// Anything else (counted, and fails the soak).
    other: Mutex<Vec<String>>,
}

impl Tally {
    fn record<T>(&self, id: &str, step: &str, r: &Result<T, ClientError>, ok: bool) -> bool {
        match r {
            Ok(_) if ok => true,
            Err(ClientError::Request(
                RequestError::ConnectionLost
                | RequestError::Lost
                | RequestError::Timeout
                | RequestError::OfflineTimeout,
            )) => {
                self.fault.fetch_add(1, Ordering::Relaxed);
                false
            }
            Ok(_) => {
                self.fault.fetch_add(1, Ordering::Relaxed);
                false
            }
            // A configured bound (typed, nothing sent): backpressure, not a failure.
            Err(ClientError::Proto(relay_proto::Error::Capacity { .. })) => {
                self.capacity.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(e) => {
                let mut other = self.other.lock().expect("other");
                other.push(format!("{id} {step}: {e}"));
                false
            }
        }
    }
}

/// Awaits `fut`, counting it in `gauge` meanwhile.
async fn pending<T>(gauge: &AtomicU64, fut: impl std::future::Future<Output = T>) -> T {
    gauge.fetch_add(1, Ordering::Relaxed);
    let out = fut.await;
    gauge.fetch_sub(1, Ordering::Relaxed);
    out
}

/// The handler's flow: answer, play (instant with `media_speed` 0), hang up.
async fn handle(tally: Arc<Tally>, call: relay_client::Call) {
    let id = call
        .id()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    tally.started.fetch_add(1, Ordering::Relaxed);
    tally.reached.lock().expect("reached").insert(id.clone());
    let answer = pending(&tally.awaiting[0], call.answer()).await;
    let mut ok = tally.record(
        &id,
        "answer",
        &answer,
        answer.as_ref().is_ok_and(|r| r.successful),
    );
    if ok {
        let play = pending(&tally.awaiting[1], call.play_tts("hello")).await;
        ok = tally.record(
            &id,
            "play",
            &play,
            play.as_ref().is_ok_and(|r| r.successful),
        );
    }
    // Hang up whatever happened before (a call left up would be a leak on the server).
    let hangup = pending(&tally.awaiting[2], call.hangup()).await;
    let hung_up = tally.record(
        &id,
        "hangup",
        &hangup,
        hangup.as_ref().is_ok_and(|r| r.successful),
    );
    if ok && hung_up {
        tally.success.fetch_add(1, Ordering::Relaxed);
    }
    tally.finished.fetch_add(1, Ordering::Relaxed);
}

/// Injects `calls` inbound calls in batches, keeping at most [`WINDOW`] unfinished; returns
/// the batches the server created (when, and the call ids).
async fn inject(server: &RunningServer, tally: &Tally, calls: u64) -> Vec<(Instant, Vec<String>)> {
    let mut batches = Vec::new();
    let window = env("SOAK_WINDOW").unwrap_or(WINDOW);
    let mut ids = BTreeSet::new();
    while (ids.len() as u64) < calls {
        let outstanding = ids.len() as u64 - tally.finished.load(Ordering::Relaxed);
        if outstanding + BATCH > window {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let n = BATCH.min(calls - ids.len() as u64);
        let body = json!({"context": "office", "from": "+15551230001",
            "to": "+15553210002", "count": n});
        let at = Instant::now();
        match server.control("inbound_call", body).await {
            Ok(out) => {
                let created = out["calls"].as_array().cloned().unwrap_or_default();
                assert_eq!(created.len() as u64, n, "{out}");
                tally.injected.fetch_add(n, Ordering::Relaxed);
                let mut batch = Vec::new();
                for c in created {
                    let id = c["call_id"].as_str().expect("call_id").to_owned();
                    ids.insert(id.clone());
                    batch.push(id);
                }
                batches.push((at, batch));
            }
            // No session receives the context right now (the socket was just dropped).
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    batches
}

/// Drops the client's socket every [`DROP_EVERY`] until `done`; returns how many drops.
async fn dropper(
    server: &RunningServer,
    tally: &Tally,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> u64 {
    let mut drops = 0;
    loop {
        tokio::time::sleep(DROP_EVERY).await;
        if done.load(Ordering::Relaxed) {
            return drops;
        }
        println!(
            "soak: {} injected, {} reached the handler, {} finished, {drops} drops, \
             awaiting answer/play/hangup {:?}",
            tally.injected.load(Ordering::Relaxed),
            tally.started.load(Ordering::Relaxed),
            tally.finished.load(Ordering::Relaxed),
            tally.awaiting.each_ref().map(|a| a.load(Ordering::Relaxed)),
        );
        let at = Instant::now();
        if let Ok(out) = server.control("drop", json!({})).await {
            drops += out["dropped"].as_u64().unwrap_or(0);
            tally.drops_at.lock().expect("drops").push(at);
        }
    }
}

/// Samples the RSS every 50 ms until `done`; returns the peak (KiB).
async fn rss_peak(done: Arc<std::sync::atomic::AtomicBool>) -> u64 {
    let mut peak = rss_kib();
    while !done.load(Ordering::Relaxed) {
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    peak.max(rss_kib())
}

#[test]
#[ignore = "the soak: run in release with --ignored --nocapture (see the file's docs)"]
fn soak_20k_calls_with_socket_drops() {
    let (calls, wall) = settings();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        match tokio::time::timeout(wall, soak(calls)).await {
            Ok(()) => {}
            Err(_) => panic!("the soak did not finish within {wall:?}"),
        }
    });
}

async fn soak(calls: u64) {
    let server = net::start(MockConfig::default().media_speed(0.0).record_limit(0))
        .await
        .expect("mock starts");
    let tally = Arc::new(Tally::default());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<RelayClient>();
    let ready_tx = Mutex::new(Some(ready_tx));
    let consumer = RelayConsumer::new().grace_period(Duration::from_secs(30));
    let stop = consumer.stop_handle();
    let t2 = tally.clone();
    let consumer = consumer
        .on_ready(move |client| {
            if let Some(tx) = ready_tx.lock().expect("ready").take() {
                let _ = tx.send(client);
            }
            async {}
        })
        .on_incoming_call(move |call| handle(t2.clone(), call));
    let config = relay_tests::config()
        .with_contexts(["office"])
        .with_lost_event_timeout(Duration::from_secs(5))
        .with_offline_timeout(Duration::from_secs(10))
        .with_request_timeout(Duration::from_secs(10));
    let run = consumer.run(config, server.ws_url(), TokioRuntime, TokioConnector);
    let body = async {
        let client = ready_rx.await.expect("on_ready ran");
        let figures = drive(&server, &tally, &client, calls).await;
        stop.stop();
        figures
    };
    let (stopped, f) = tokio::join!(run, body);
    server.shutdown().await;
    let reached = tally.reached.lock().expect("reached").clone();
    let other = tally.other.lock().expect("other").clone();
    let (started_n, finished) = (
        tally.started.load(Ordering::Relaxed),
        tally.finished.load(Ordering::Relaxed),
    );
    let (drops, backlog) = (f.drops, f.backlog);
    let ids: BTreeSet<String> = f.batches.iter().flat_map(|(_, b)| b.clone()).collect();
    let unknown: Vec<_> = reached.difference(&ids).take(5).collect();
    assert!(unknown.is_empty(), "calls nobody injected: {unknown:?}");
    // Every call is accounted for: it reached the handler, or its offer was in the socket when
    // a drop killed it (Relay v2 does not replay events after a restore, so no client can
    // see such an offer).
    let drops_at = tally.drops_at.lock().expect("drops").clone();
    let (mut unaccounted, mut lost_in_transit) = (Vec::new(), 0u64);
    for (at, batch) in &f.batches {
        let dropped_after = drops_at.iter().any(|d| *d >= *at && *d - *at <= TRANSIT);
        for id in batch.iter().filter(|id| !reached.contains(*id)) {
            if dropped_after {
                lost_in_transit += 1;
            } else {
                unaccounted.push(id.clone());
            }
        }
    }
    println!(
        "soak: calls {calls}, reached handler {}, lost in transit by a drop {lost_in_transit}, \
         finished {finished}, all steps ok {}, \
         typed fault errors {}, refused at a bound {}, other errors {}, drops {drops}, wall {:.1} s, \
         RSS before {} KiB, peak {peak} KiB, at end {rss_end} KiB, after 5 s idle {rss_after} KiB",
        reached.len(),
        tally.success.load(Ordering::Relaxed),
        tally.fault.load(Ordering::Relaxed),
        tally.capacity.load(Ordering::Relaxed),
        other.len(),
        f.wall.as_secs_f64(),
        f.rss_before,
        drops = f.drops,
        peak = f.rss_peak,
        rss_end = f.rss_end,
        rss_after = f.rss_after,
    );
    assert_eq!(stopped, Ok(StopReason::Closed));
    let (rss_end, rss_after) = (f.rss_end, f.rss_after);
    assert_eq!(ids.len() as u64, calls, "the server created every call");
    assert!(
        unaccounted.is_empty(),
        "{} calls never reached the handler without a drop to explain it: {:?}",
        unaccounted.len(),
        &unaccounted[..unaccounted.len().min(5)]
    );
    assert_eq!(
        started_n,
        reached.len() as u64,
        "no call reached the handler twice"
    );
    assert_eq!(finished, started_n, "no handler is left pending");
    assert_eq!(backlog, 0, "nothing waits in the consumer queue");
    assert!(other.is_empty(), "untyped or unexpected errors: {other:?}");
    assert!(drops >= 1, "the socket was dropped during the soak");
    assert!(f.session_before.is_some());
    assert_eq!(
        f.session_before, f.session_after,
        "every drop was a restore"
    );
    // Flat after the calls end: no growth while idle (allowing allocator noise).
    assert!(
        rss_after <= rss_end + 4 * 1024,
        "RSS grew while idle: {rss_end} -> {rss_after} KiB"
    );
}

/// What [`drive`] measured.
struct Figures {
    batches: Vec<(Instant, Vec<String>)>,
    drops: u64,
    wall: Duration,
    rss_before: u64,
    rss_peak: u64,
    rss_end: u64,
    rss_after: u64,
    backlog: usize,
    session_before: Option<String>,
    session_after: Option<String>,
}

/// Injects the calls while dropping the socket, waits for every handler, measures.
async fn drive(server: &RunningServer, tally: &Tally, client: &RelayClient, calls: u64) -> Figures {
    let session_before = client.session_id();
    let rss_before = rss_kib();
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = tokio::spawn(rss_peak(done.clone()));
    let work = async {
        let batches = inject(server, tally, calls).await;
        // Every call that reached the handler finishes; the others are lost in transit (see
        // `lost_in_transit`): wait until nothing moves for a while.
        let mut last = (u64::MAX, Instant::now());
        loop {
            let now = (tally.finished.load(Ordering::Relaxed), Instant::now());
            if now.0 == calls || (now.0 == last.0 && now.1 - last.1 > SETTLE) {
                break;
            }
            if now.0 != last.0 {
                last = now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        done.store(true, Ordering::Relaxed);
        batches
    };
    let (batches, drops) = tokio::join!(work, dropper(server, tally, done.clone()));
    let wall = started.elapsed();
    let rss_peak = peak.await.expect("sampler");
    let rss_end = rss_kib();
    // Idle for a while: memory must not keep growing once the calls are over.
    tokio::time::sleep(Duration::from_secs(5)).await;
    Figures {
        batches,
        drops,
        wall,
        rss_before,
        rss_peak,
        rss_end,
        rss_after: rss_kib(),
        backlog: client.stats().consumer_backlog,
        session_before,
        session_after: client.session_id(),
    }
}
