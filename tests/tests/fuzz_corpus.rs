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

/// The `session_ops` operations really drive both sides: an inbound call from the control API
/// is answered and played to by the session, and the mock sees those requests.
#[test]
fn session_ops_program_reaches_the_mock() {
    use relay_mock::fuzzing::{run_ops, MediaPick, Op};
    let pair = run_ops(&[
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
