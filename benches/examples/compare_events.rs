//! The Rust half of `benches/compare/run.sh`: the same text frames through a ready
//! `relay_proto::Session` (decode, dispatch, typed event out), in one process, and the same
//! frames parsed into a plain `serde_json::Value` tree as the baseline (`core_vs_value` > 1
//! means the session handles a frame faster than `serde_json` alone builds its tree).
//!
//! Frames that announce a call (`calling.call.receive`) are fed once before the measurement,
//! so the calling events that follow refer to a known call.
//!
//! Usage: `cargo run --release -p relay-benches --example compare_events -- FRAMES_FILE ITERATIONS`
//! (with `COMPARE_CORE_ONLY=1` in the environment only the session side runs, for a profiler).
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::time::Instant;

use relay_proto::{fuzzing::ready_session, Input, Output};

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| "benches/compare/frames.jsonl".into());
    let iterations: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let (setup, frames): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|l| l.contains("\"calling.call.receive\""));
    assert!(!frames.is_empty(), "{file}: no frames to measure");
    let now = Instant::now();
    let (mut session, _) = ready_session(now);
    let mut feed = |frame: &str| {
        let mut events = 0;
        let _ = session.handle_input(now, Input::Frame(frame));
        loop {
            match session.poll_output() {
                Output::Event(_) => events += 1,
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        events
    };
    for f in &setup {
        feed(f);
    }
    let mut run = |n: usize, from: usize| {
        (from..from + n)
            .map(|i| feed(frames[i % frames.len()]))
            .sum::<usize>()
    };
    let parse = |n: usize, from: usize| {
        let mut keys = 0usize;
        for i in from..from + n {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(frames[i % frames.len()]) {
                keys += v.as_object().map_or(0, |o| o.len());
            }
        }
        keys
    };
    if std::env::var_os("COMPARE_CORE_ONLY").is_some() {
        // For a profiler: the session side alone.
        let delivered = run(iterations, 0);
        println!("{{\"delivered\":{delivered}}}");
        return;
    }
    run(iterations.min(20_000), 0);
    parse(iterations.min(20_000), 0);
    // Both sides alternate in chunks, so a busy machine slows both alike and the ratio holds.
    const CHUNK: usize = 5_000;
    let (mut ns, mut value_ns, mut delivered, mut keys) = (0f64, 0f64, 0usize, 0usize);
    let mut done = 0;
    while done < iterations {
        let n = CHUNK.min(iterations - done);
        let start = Instant::now();
        delivered += run(n, done);
        ns += start.elapsed().as_nanos() as f64;
        let start = Instant::now();
        keys += parse(n, done);
        value_ns += start.elapsed().as_nanos() as f64;
        done += n;
    }
    assert!(delivered >= iterations, "every frame must produce an event");
    assert!(keys > 0, "the frames must parse as JSON objects");
    let per_event = ns / iterations as f64;
    let per_value = value_ns / iterations as f64;
    println!(
        "{{\"impl\":\"relay-proto {}\",\"file\":\"{file}\",\"frames\":{iterations},\"ns_per_frame\":{per_event:.1},\"value_parse_ns\":{per_value:.1},\"core_vs_value\":{:.2}}}",
        env!("CARGO_PKG_VERSION"),
        per_value / per_event
    );
}
