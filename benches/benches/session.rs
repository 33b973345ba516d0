//! Throughput of the sans-IO core: decoding frames and pushing events through a ready session.
//! Run with `cargo bench -p relay-benches`.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use relay_proto::{fuzzing::ready_session, wire, Input, Output};
use serde_json::json;

fn message_broadcast() -> String {
    json!({"jsonrpc":"2.0","id":"b1","method":"blade.broadcast","params":{
        "broadcaster_nodeid":"n","protocol":"signalwire_SIG_x","channel":"notifications",
        "event":"queuing.relay.messaging","params":{"event_type":"messaging.state","context":"office",
        "params":{"message_id":"m1","context":"office","direction":"outbound","tags":["a","b"],
        "from_number":"+15550000001","to_number":"+15550000002","body":"hello","media":[],
        "segments":1,"message_state":"delivered"}}}})
    .to_string()
}

fn calling_frame(event: serde_json::Value) -> String {
    json!({"jsonrpc":"2.0","id":"b2","method":"blade.broadcast","params":{
        "broadcaster_nodeid":"n","protocol":"signalwire_SIG_x","channel":"notifications",
        "event":"queuing.relay.events","params":event}})
    .to_string()
}

fn bench(c: &mut Criterion) {
    let frame = message_broadcast();
    let mut g = c.benchmark_group("frames");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("decode_envelope", |b| {
        b.iter(|| wire::decode(black_box(&frame)).ok())
    });
    g.bench_function("session_handle_message_event", |b| {
        let now = Instant::now();
        let (mut s, _) = ready_session(now);
        b.iter(|| {
            let _ = s.handle_input(now, Input::Frame(black_box(&frame)));
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
        })
    });
    let play = calling_frame(json!({"event_type":"calling.call.play","params":{
        "call_id":"c1","node_id":"n1","control_id":"ctl-1","state":"playing"}}));
    g.throughput(Throughput::Bytes(play.len() as u64));
    g.bench_function("session_handle_call_play_event", |b| {
        let now = Instant::now();
        let (mut s, _) = ready_session(now);
        // An inbound call the play updates belong to.
        let receive = calling_frame(json!({"event_type":"calling.call.receive","params":{
            "call_state":"created","context":"office","direction":"inbound",
            "device":{"type":"phone","params":{"from_number":"+1","to_number":"+2"}},
            "call_id":"c1","node_id":"n1"}}));
        let _ = s.handle_input(now, Input::Frame(&receive));
        while !matches!(s.poll_output(), Output::Timeout(_)) {}
        b.iter(|| {
            let _ = s.handle_input(now, Input::Frame(black_box(&play)));
            while !matches!(s.poll_output(), Output::Timeout(_)) {}
        })
    });
    g.finish();
    c.bench_function("handshake", |b| b.iter(|| ready_session(Instant::now())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
