//! `MockConfig::media_speed` scales component timings; `inbound_call` with `count` batches.

mod common;

use std::time::Duration;

use common::*;
use relay_mock::MockConfig;
use serde_json::{json, Value};

/// A session on `office` with one inbound call: (conn, protocol, call ids).
fn call(h: &mut Harness) -> (relay_mock::ConnId, String, Value) {
    let conn = h.open();
    let (_, proto) = h.login(conn, &["office"]);
    let r = h
        .control("inbound_call", json!({"context": "office"}))
        .unwrap();
    h.events(conn);
    let ids = json!({"call_id": r["call_id"], "node_id": r["node_id"]});
    (conn, proto, ids)
}

fn play(h: &mut Harness, conn: relay_mock::ConnId, proto: &str, ids: &Value, media: Value) {
    let mut p = ids.clone();
    p["control_id"] = json!("c1");
    p["play"] = media;
    assert_eq!(h.execute(conn, proto, "calling.play", p)["code"], "200");
}

#[test]
fn speed_zero_completes_components_at_once() {
    let mut h = Harness::with(MockConfig::default().media_speed(0.0));
    let (conn, proto, ids) = call(&mut h);
    play(
        &mut h,
        conn,
        &proto,
        &ids,
        json!([{"type": "tts", "params": {"text": "hi"}}, {"type": "silence", "params": {"duration": 30}}]),
    );
    h.advance(Duration::ZERO);
    assert_eq!(
        h.event_names(conn),
        ["calling.call.play:playing", "calling.call.play:finished"]
    );
}

#[test]
fn speed_scales_media_lengths() {
    // 0.3 s of TTS at half the time scale: 150 ms.
    let mut h = Harness::with(MockConfig::default().media_speed(0.5));
    let (conn, proto, ids) = call(&mut h);
    play(
        &mut h,
        conn,
        &proto,
        &ids,
        json!([{"type": "tts", "params": {"text": "hi"}}]),
    );
    assert_eq!(h.event_names(conn), ["calling.call.play:playing"]);
    h.advance(Duration::from_millis(149));
    assert!(h.events(conn).is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.event_names(conn), ["calling.call.play:finished"]);

    // The default keeps the documented 0.3 s; nonsense values count as 1.0.
    for speed in [1.0, -1.0, f64::NAN] {
        let mut h = Harness::with(MockConfig::default().media_speed(speed));
        let (conn, proto, ids) = call(&mut h);
        play(
            &mut h,
            conn,
            &proto,
            &ids,
            json!([{"type": "tts", "params": {"text": "hi"}}]),
        );
        h.events(conn);
        h.advance(Duration::from_millis(299));
        assert!(h.events(conn).is_empty(), "speed {speed}");
        h.advance(Duration::from_millis(1));
        assert_eq!(
            h.event_names(conn),
            ["calling.call.play:finished"],
            "speed {speed}"
        );
    }
}

#[test]
fn pause_and_resume_keep_the_scaled_remainder() {
    let mut h = Harness::with(MockConfig::default().media_speed(0.5));
    let (conn, proto, ids) = call(&mut h);
    play(
        &mut h,
        conn,
        &proto,
        &ids,
        json!([{"type": "silence", "params": {"duration": 1}}]),
    );
    h.events(conn);
    h.advance(Duration::from_millis(200)); // 300 ms of the scaled 500 ms left
    let mut p = ids.clone();
    p["control_id"] = json!("c1");
    h.execute(conn, &proto, "calling.play.pause", p.clone());
    h.advance(Duration::from_secs(5));
    assert_eq!(h.event_names(conn), ["calling.call.play:paused"]);
    h.execute(conn, &proto, "calling.play.resume", p);
    h.advance(Duration::from_millis(299));
    assert_eq!(h.event_names(conn), ["calling.call.play:playing"]);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.event_names(conn), ["calling.call.play:finished"]);
}

#[test]
fn inbound_call_with_count_creates_a_batch() {
    let mut h = Harness::new();
    let a = h.open();
    h.login(a, &["office"]);
    let b = h.open();
    h.login(b, &["office"]);
    let r = h
        .control("inbound_call", json!({"context": "office", "count": 6}))
        .unwrap();
    let calls = r["calls"].as_array().expect("a list of calls");
    assert_eq!(calls.len(), 6);
    let mut ids: Vec<&str> = calls
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "distinct calls");
    // Spread across both sessions, every call announced once.
    let (ea, eb) = (h.events(a), h.events(b));
    assert_eq!(ea.len() + eb.len(), 6);
    assert!(!ea.is_empty() && !eb.is_empty());
    for bad in [json!(0), json!(-1), json!("3"), json!(10_001)] {
        let err = h
            .control("inbound_call", json!({"context": "office", "count": bad}))
            .unwrap_err();
        assert_eq!(err.status, 400, "{bad}");
    }
    let err = h
        .control("inbound_call", json!({"context": "nowhere", "count": 2}))
        .unwrap_err();
    assert_eq!(err.status, 404);
}

#[test]
fn stopped_recording_reports_media_time() {
    // At half the time scale, 1 s of wall time is 2 s of recording.
    let mut h = Harness::with(MockConfig::default().media_speed(0.5));
    let (conn, proto, ids) = call(&mut h);
    let mut p = ids.clone();
    p["control_id"] = json!("r");
    p["record"] = json!({"audio": {"end_silence_timeout": 30}});
    assert_eq!(h.execute(conn, &proto, "calling.record", p)["code"], "200");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.event_names(conn), ["calling.call.record:recording"]);
    let mut stop = ids.clone();
    stop["control_id"] = json!("r");
    h.execute(conn, &proto, "calling.record.stop", stop);
    let ev = h.events(conn);
    assert_eq!(ev[0]["params"]["state"], "finished");
    assert_eq!(ev[0]["params"]["duration"], json!(2));

    // At speed 0 a recording is over as soon as it starts: its whole timeout.
    let mut h = Harness::with(MockConfig::default().media_speed(0.0));
    let (conn, proto, ids) = call(&mut h);
    let mut p = ids.clone();
    p["control_id"] = json!("r");
    p["record"] = json!({"audio": {"end_silence_timeout": 3}});
    h.execute(conn, &proto, "calling.record", p);
    h.advance(Duration::ZERO);
    let ev = h.events(conn);
    assert_eq!(ev[1]["params"]["state"], "finished");
    assert_eq!(ev[1]["params"]["duration"], json!(3));
}
