//! The Node SDK transcripts: they parse, round-trip, and their client frames replay against the
//! server with responses and events of the recorded shape.

mod common;

use std::time::Duration;

use common::*;
use relay_mock::transcript::{compare, compare_filtered, parse_jsonl, to_jsonl, Dir, IdMap, Line};
use relay_mock::MockConfig;
use serde_json::Value;

const FILES: [&str; 3] = [
    "handshake.jsonl",
    "consumer_inbound_call.jsonl",
    "play_async_controls.jsonl",
];

fn load(name: &str) -> Vec<Line> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    parse_jsonl(&text).unwrap()
}

#[test]
fn transcripts_parse_and_round_trip() {
    for f in FILES {
        let lines = load(f);
        assert!(lines.len() >= 10, "{f}");
        let again = parse_jsonl(&to_jsonl(&lines)).unwrap();
        assert_eq!(again, lines);
        assert!(compare(&lines, &again).is_ok());
    }
}

#[test]
fn diff_points_at_first_mismatch() {
    let a = load("handshake.jsonl");
    let mut b = a.clone();
    // Renaming an id consistently is not a difference...
    b[4].frame["result"]["responder_nodeid"] = Value::from("other");
    assert!(compare(&a, &b).is_ok());
    // ...a changed value is.
    b[4].frame["result"]["result"]["extra"] = Value::from(1);
    let m = compare(&a, &b).unwrap_err();
    assert_eq!(m.index, 4);
    assert!(m.to_string().contains("line 5"), "{m}");
    assert!(compare(&a, &a[..5]).unwrap_err().actual.is_none());
}

/// Replays the recorded client frames and control markers, at the recorded times, learning the
/// id correspondence from the server's frames; returns the live transcript.
fn replay(lines: &[Line]) -> Vec<Line> {
    let mut h = Harness::with(
        MockConfig::default()
            .project("oracle-project-0001")
            .token("PToracle0000token"),
    );
    let mut ids = IdMap::new();
    let mut conn = None;
    let recorded_s2c: Vec<&Line> = lines.iter().filter(|l| l.dir == Dir::S2c).collect();
    let mut seen_s2c = 0;
    for l in lines {
        let at = h.start + Duration::from_millis(l.t);
        if at > h.now {
            h.advance(at - h.now);
        }
        match l.dir {
            Dir::Ctl => {
                if l.frame["event"] == "ws_open" {
                    conn = Some(h.open());
                } else if l.frame["event"] == "ws_close" {
                    if let Some(c) = conn {
                        h.server.connection_closed(h.now, c);
                    }
                } else if let Some(ep) = l.frame["control"].as_str() {
                    h.control(ep, l.frame["body"].clone()).unwrap();
                }
            }
            Dir::C2s => {
                let mut f = l.frame.clone();
                ids.apply(&mut f);
                h.send(conn.unwrap(), &f);
            }
            Dir::S2c => {}
        }
        // Learn ids from every server frame produced so far, pairing by position.
        let live: Vec<Line> = h
            .server
            .transcript()
            .iter()
            .filter(|x| x.dir == Dir::S2c)
            .cloned()
            .collect();
        while seen_s2c < live.len() && seen_s2c < recorded_s2c.len() {
            ids.learn(&recorded_s2c[seen_s2c].frame, &live[seen_s2c].frame);
            seen_s2c += 1;
        }
    }
    h.server.transcript().to_vec()
}

fn shape(l: &Line) -> String {
    let f = &l.frame;
    if let Some(m) = f["method"].as_str() {
        if m == "blade.broadcast" {
            return format!("event {}", summary(&f["params"]["params"]));
        }
        return format!("request {m}");
    }
    if f.get("error").is_some() {
        return format!("error {}", f["error"]["code"]);
    }
    let r = &f["result"];
    match r.get("result") {
        Some(rel) => format!(
            "relay code={} keys={:?}",
            rel["code"],
            rel.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        ),
        None => format!(
            "blade keys={:?}",
            r.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())
        ),
    }
}

#[test]
fn node_sdk_frames_are_answered_like_the_recording() {
    for f in FILES {
        let rec = load(f);
        let live = replay(&rec);
        let rec_shapes: Vec<String> = rec
            .iter()
            .filter(|l| l.dir == Dir::S2c)
            .map(shape)
            .collect();
        let live_shapes: Vec<String> = live
            .iter()
            .filter(|l| l.dir == Dir::S2c)
            .map(shape)
            .collect();
        assert_eq!(live_shapes, rec_shapes, "{f}");
        // And the client frames are identical after id normalisation.
        compare_filtered(&rec, &live, |l| l.dir == Dir::C2s).unwrap_or_else(|m| panic!("{f}: {m}"));
    }
}
