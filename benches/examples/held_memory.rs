//! Memory per held call, accounted allocation by allocation (issue 9): a measurement binary
//! with `dhat`'s counting global allocator (never in library code).
//!
//! - `held_memory core N`: N inbound calls (receive + answered) fed to a ready
//!   `relay_proto::Session`; prints what stays allocated per call in the core alone.
//! - `held_memory WS_URL N`: a relay-tokio `RelayConsumer` that answers N inbound calls from
//!   relay-mock and keeps every `Call` handle (as `consumer_load hold` does); once all are
//!   held it prints what stays allocated per held call, then writes `dhat-heap.json`, whose
//!   end-of-run blocks are the held calls' allocations by call stack
//!   (`python3 benches/compare/held_memory.py N` runs this and folds them by layer and site).
//!
//! - `held_memory WS_URL N flow`: answer -> TTS -> hangup for N calls instead; what stays
//!   allocated per call after they all ended should be nothing (flat memory).
//!
//! Prints `ready` when it receives on its context and `held {..}` / `core {..}` with the
//! figures per call: `live_bytes`, `live_allocs` (still allocated), `allocs` (made, in all).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use relay_proto::fuzzing::{frame, ready_session, READY_PROTOCOL};
use relay_proto::{Input, Output};
use relay_tokio::{RelayConsumer, SessionConfig};
use serde_json::json;

static FAILED_ANSWERS: AtomicUsize = AtomicUsize::new(0);
static FAILED_PLAYS: AtomicUsize = AtomicUsize::new(0);
static FAILED_HANGUPS: AtomicUsize = AtomicUsize::new(0);

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn per_call(before: &dhat::HeapStats, after: &dhat::HeapStats, n: usize) -> String {
    let n = n.max(1) as f64;
    format!(
        "{{\"calls\":{},\"live_bytes\":{:.1},\"live_allocs\":{:.2},\"allocs\":{:.2}}}",
        n,
        (after.curr_bytes as f64 - before.curr_bytes as f64) / n,
        (after.curr_blocks as f64 - before.curr_blocks as f64) / n,
        (after.total_blocks - before.total_blocks) as f64 / n,
    )
}

/// The core alone: what a ready session keeps per answered inbound call.
fn core(n: usize) {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = Instant::now();
    let (mut session, _) = ready_session(now);
    let frames: Vec<(String, String)> = (0..n)
        .map(|i| {
            let id = format!("a8f1c7e2-0000-4000-8000-{i:012}");
            let receive = frame::broadcast(
                READY_PROTOCOL,
                "calling.call.receive",
                json!({"call_state":"created","context":"office","direction":"inbound",
                    "device":{"type":"phone","params":{"from_number":"+15551230001","to_number":"+15553210002"}},
                    "call_id":id,"node_id":"d4c2b3a1-0000-4000-8000-000000000001@west-us"}),
            );
            let answered = frame::broadcast(
                READY_PROTOCOL,
                "calling.call.state",
                json!({"call_state":"answered","direction":"inbound",
                    "device":{"type":"phone","params":{"from_number":"+15551230001","to_number":"+15553210002"}},
                    "call_id":id,"node_id":"d4c2b3a1-0000-4000-8000-000000000001@west-us"}),
            );
            (receive.to_string(), answered.to_string())
        })
        .collect();
    let mut feed = |text: &str| {
        let _ = session.handle_input(now, Input::Frame(text));
        while !matches!(session.poll_output(), Output::Timeout(_)) {}
    };
    let before = dhat::HeapStats::get();
    for (receive, answered) in &frames {
        feed(receive);
        feed(answered);
    }
    let after = dhat::HeapStats::get();
    println!("core {}", per_call(&before, &after, n));
    println!(
        "sizes {{\"CallInfo\":{},\"DeviceInfo\":{},\"CallId\":{},\"Call handle\":{},\"Event\":{},\"CallEvent\":{},\"ComponentResult\":{}}}",
        std::mem::size_of::<relay_proto::calling::CallInfo>(),
        std::mem::size_of::<relay_proto::calling::DeviceInfo>(),
        std::mem::size_of::<relay_proto::CallId>(),
        std::mem::size_of::<relay_tokio::Call>(),
        std::mem::size_of::<relay_proto::Event>(),
        std::mem::size_of::<relay_proto::calling::CallEvent>(),
        std::mem::size_of::<relay_proto::calling::ComponentResult>(),
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 4 {
        eprintln!("usage: held_memory core|WS_URL N [flow]");
        std::process::exit(2);
    }
    let n: usize = args[2].parse().unwrap_or(1000);
    let flow = args.get(3).is_some_and(|a| a == "flow");
    if args[1] == "core" {
        core(n);
        return;
    }
    let profiler = Arc::new(Mutex::new(Some(
        dhat::Profiler::builder().trim_backtraces(Some(80)).build(),
    )));
    let held = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let baseline = Arc::new(Mutex::new(None));
    let b0 = baseline.clone();
    let (b, h, p) = (baseline.clone(), held.clone(), profiler.clone());
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(move |_client| {
            let b = b0.clone();
            async move {
                *b.lock().unwrap_or_else(|e| e.into_inner()) = Some(dhat::HeapStats::get());
                println!("ready");
            }
        })
        .on_incoming_call(move |call| {
            let (b, h, p) = (b.clone(), h.clone(), p.clone());
            async move {
                let answered = call.answer().await;
                if !answered.is_ok_and(|r| r.successful) {
                    FAILED_ANSWERS.fetch_add(1, Ordering::Relaxed);
                }
                let count = if flow {
                    if !call.play_tts("Welcome").await.is_ok_and(|r| r.successful) {
                        FAILED_PLAYS.fetch_add(1, Ordering::Relaxed);
                    }
                    match call.hangup().await {
                        Ok(r) if r.successful => {}
                        other => {
                            if FAILED_HANGUPS.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first failed hangup: {other:?}");
                            }
                        }
                    }
                    drop(call);
                    let mut held = h.lock().unwrap_or_else(|e| e.into_inner());
                    held.push(None);
                    held.len()
                } else {
                    let mut held = h.lock().unwrap_or_else(|e| e.into_inner());
                    held.push(Some(call));
                    held.len()
                };
                if count == n {
                    // Let the last call's leftovers (its task, its events) go first.
                    for _ in 0..100 {
                        tokio::task::yield_now().await;
                    }
                    if flow {
                        // And the last `ended` events (a hangup resolves on `ending`).
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    }
                    let after = dhat::HeapStats::get();
                    let before = b.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(before) = before {
                        println!("held {}", per_call(&before, &after, n));
                        println!(
                            "failed answers {}, plays {}, hangups {}",
                            FAILED_ANSWERS.load(Ordering::Relaxed),
                            FAILED_PLAYS.load(Ordering::Relaxed),
                            FAILED_HANGUPS.load(Ordering::Relaxed)
                        );
                    }
                    // Writes dhat-heap.json: its end-of-run blocks are the held calls.
                    p.lock().unwrap_or_else(|e| e.into_inner()).take();
                    println!("profile written");
                }
            }
        });
    let config = SessionConfig::new("test-project", "test-token");
    let stopped = relay_tokio::run_consumer(consumer.with_host(args[1].clone()), config).await;
    eprintln!("consumer stopped: {stopped:?}");
    drop(held);
    drop(profiler);
}
