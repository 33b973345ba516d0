//! Replays the committed fuzz corpus (fuzz/corpus/<target>/*) as an ordinary test, through the
//! same harness code the cargo-fuzz targets run (`relay_mock::fuzzing`, feature `fuzzing`). Inputs in `fuzz/regressions/` (known crashes not fixed yet)
//! are not replayed here.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8]), min: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus folder {} unreadable: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in &paths {
        let data = std::fs::read(path).expect("corpus file");
        let ok = std::panic::catch_unwind(|| run(&data));
        assert!(ok.is_ok(), "{target}: {} panics", path.display());
    }
    assert!(
        paths.len() >= min,
        "{target} corpus has {} files",
        paths.len()
    );
}

#[test]
fn frames_corpus_replays_without_panic() {
    replay("frames", relay_mock::fuzzing::frames, 10);
}

#[test]
fn mock_frames_corpus_replays_without_panic() {
    replay("mock_frames", relay_mock::fuzzing::mock_frames, 5);
}

#[test]
fn session_ops_corpus_replays_without_panic() {
    replay("session_ops", relay_mock::fuzzing::session_ops, 3);
}

/// The `mock_frames` operations reach the calling paths: an injected call is answered and
/// played to with well-formed requests built from the ids the server handed out.
#[test]
fn mock_ops_program_reaches_the_calls() {
    use relay_mock::fuzzing::{run_mock_ops, MockOp};
    let request = |method: u8| MockOp::Request {
        conn: 1,
        method,
        call: 0,
        control: 1,
        params: None,
    };
    let index = |m: relay_proto::wire::Method| {
        relay_proto::wire::Method::ALL
            .iter()
            .position(|x| *x == m)
            .and_then(|i| u8::try_from(i).ok())
            .expect("in the table")
    };
    let mut server = run_mock_ops(&[
        MockOp::Control {
            endpoint: 4, // inbound_call
            method: 0,
            choice: 0, // office, phone
            call: 0,
            n: 0,
            extra: None,
        },
        request(index(relay_proto::wire::Method::CallingAnswer)),
        request(index(relay_proto::wire::Method::CallingPlay)),
    ]);
    let methods: Vec<String> = server
        .transcript()
        .iter()
        .filter(|l| l.dir == relay_mock::transcript::Dir::S2c)
        .filter_map(|l| l.frame["params"]["params"]["event_type"].as_str())
        .map(str::to_owned)
        .collect();
    for wanted in [
        "calling.call.receive",
        "calling.call.state",
        "calling.call.play",
    ] {
        assert!(methods.iter().any(|m| m == wanted), "{wanted}: {methods:?}");
    }
}

/// The `session_ops` operations really drive both sides: an inbound call from the control API
/// is answered and played to by the session, and the mock sees those requests.
#[test]
fn session_ops_program_reaches_the_mock() {
    use relay_mock::fuzzing::{run_ops, MediaPick, Op};
    let mut pair = run_ops(&[
        Op::InboundCall(false),
        Op::Answer(2),
        Op::Play {
            call: 2,
            media: vec![MediaPick::Silence(8)],
            volume: 0,
        },
        Op::Advance(8),
    ]);
    let methods = relay_tests::client_methods(pair.transcript());
    assert!(methods.iter().any(|m| m == "calling.answer"), "{methods:?}");
    assert!(methods.iter().any(|m| m == "calling.play"), "{methods:?}");
}
