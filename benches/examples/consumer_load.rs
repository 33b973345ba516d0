//! Load consumer on relay-tokio, the Rust side of `benches/compare/compare.py`.
//!
//! `consumer_load WS_URL MODE N`
//! - `flow`: answer -> TTS -> hangup for every inbound call; prints `done {..}` after N calls.
//! - `hold`: answer every inbound call and keep it; prints `held {..}` after N answered calls.
//!
//! Prints `ready` once the consumer receives on its context, and `progress K` after every
//! 1,000 finished calls. The figures line carries the
//! number of calls, failures and the p50/p99 of the `answer()` round trip in milliseconds.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use relay_tokio::{RelayConsumer, SessionConfig};

struct Stats {
    n: usize,
    hold: bool,
    finished: AtomicUsize,
    failed: AtomicUsize,
    latencies_us: Mutex<Vec<u64>>,
    held: Mutex<Vec<relay_tokio::Call>>,
}

impl Stats {
    fn one(&self) {
        let finished = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished % 1000 == 0 {
            println!("progress {finished}");
        }
        if finished == self.n {
            let mut l = self
                .latencies_us
                .lock()
                .map(|l| l.clone())
                .unwrap_or_default();
            l.sort_unstable();
            let pick = |q: f64| {
                if l.is_empty() {
                    0.0
                } else {
                    l[((q * l.len() as f64) as usize).min(l.len() - 1)] as f64 / 1000.0
                }
            };
            println!(
                "{} {{\"calls\":{},\"failed\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3}}}",
                if self.hold { "held" } else { "done" },
                self.n,
                self.failed.load(Ordering::Acquire),
                pick(0.5),
                pick(0.99)
            );
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: consumer_load WS_URL flow|hold N");
        std::process::exit(2);
    }
    let url = args[1].clone();
    let hold = args[2] == "hold";
    let n: usize = args[3].parse().unwrap_or(1000);
    let stats = Arc::new(Stats {
        n,
        hold,
        finished: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        latencies_us: Mutex::new(Vec::with_capacity(n)),
        held: Mutex::new(Vec::new()),
    });
    let s = stats.clone();
    let consumer = RelayConsumer::new()
        .contexts(["office"])
        .on_ready(|_client| async {
            println!("ready");
        })
        .on_incoming_call(move |call| {
            let s = s.clone();
            async move {
                let t0 = Instant::now();
                let answered = call.answer().await;
                if let Ok(mut l) = s.latencies_us.lock() {
                    l.push(t0.elapsed().as_micros() as u64);
                }
                let ok = matches!(&answered, Ok(r) if r.successful);
                if !ok && s.failed.fetch_add(1, Ordering::AcqRel) < 3 {
                    eprintln!("answer failed: {answered:?}");
                }
                if s.hold {
                    if let Ok(mut h) = s.held.lock() {
                        h.push(call);
                    }
                } else {
                    let _ = call.play_tts("Welcome").await;
                    let _ = call.hangup().await;
                }
                s.one();
            }
        });
    let config = SessionConfig::new("test-project", "test-token");
    let stopped = relay_tokio::run_consumer(consumer.with_host(url), config).await;
    eprintln!("consumer stopped: {stopped:?}");
}
