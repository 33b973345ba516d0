//! Cross-crate integration tests live in `tests/tests/`. This library holds their shared
//! helpers: the golden-transcript check and small [`Pair`] builders.

#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use relay_mock::transcript::{self, Dir, Line};
use relay_mock::{MockConfig, Pair};
use relay_proto::{SequentialIds, SessionConfig};

/// Folder of the golden transcripts (`tests/transcripts/`).
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("transcripts")
}

/// Checks `transcript` against the golden file `tests/transcripts/<name>.jsonl`.
///
/// Two modes:
///
/// * **Record**: when env `UPDATE_GOLDEN=1` is set, or when the golden file does not exist and
///   env `CI` is *not* set, the transcript is written (as JSONL) to the golden file and the
///   check passes. Read the written file before committing it.
/// * **Compare** (otherwise): the golden file is read and compared with `transcript` by
///   [`relay_mock::transcript::compare`] (ids normalised to `id1`, `id2`, ..., timestamps
///   zeroed, canonical JSON, `t` ignored). A difference panics with the first differing line
///   (expected and actual). On CI a missing golden file is a failure.
pub fn assert_golden(name: &str, transcript: &[Line]) {
    let path = golden_dir().join(format!("{name}.jsonl"));
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let ci = std::env::var_os("CI").is_some();
    if update || (!path.exists() && !ci) {
        std::fs::create_dir_all(golden_dir()).expect("create tests/transcripts");
        std::fs::write(&path, transcript::to_jsonl(transcript))
            .unwrap_or_else(|e| panic!("write golden {}: {e}", path.display()));
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden {} unreadable ({e}); run with UPDATE_GOLDEN=1 to record it",
            path.display()
        )
    });
    let expected = transcript::parse_jsonl(&text)
        .unwrap_or_else(|e| panic!("golden {} is not a transcript: {e}", path.display()));
    if let Err(m) = transcript::compare(&expected, transcript) {
        panic!("golden {name} differs (UPDATE_GOLDEN=1 re-records it after review):\n{m}",);
    }
}

/// The deterministic session configuration of these tests (sequential ids, seed 0).
pub fn config() -> SessionConfig {
    SessionConfig::new("test-project", "test-token").with_id_generator(SequentialIds::new())
}

/// A [`Pair`] of [`config`] plus `contexts` against a default (seed 0) mock server.
pub fn pair_with(contexts: &[&str]) -> Pair {
    let cfg = if contexts.is_empty() {
        config()
    } else {
        config().with_contexts(contexts.iter().copied())
    };
    Pair::new(cfg, MockConfig::default(), Instant::now())
}

/// A [`Pair`] whose session is ready and whose `signalwire.receive` (if any) has landed.
/// Events of the handshake are left in the pair.
pub fn ready_pair(contexts: &[&str]) -> Pair {
    let mut p = pair_with(contexts);
    assert!(
        p.drive_until(|p| p.session().is_ready(), Duration::from_secs(1)),
        "session never became ready"
    );
    p.drive();
    p
}

/// The method of a client frame: the inner method of a `blade.execute`, else the top-level one.
pub fn method_of(frame: &serde_json::Value) -> String {
    let top = frame["method"].as_str().unwrap_or("");
    match frame["params"]["method"].as_str() {
        Some(inner) if top == "blade.execute" => inner.to_owned(),
        _ => top.to_owned(),
    }
}

/// Methods of every client-to-server request in `lines`, in order.
pub fn client_methods(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.dir == Dir::C2s && l.frame.get("method").is_some())
        .map(|l| method_of(&l.frame))
        .collect()
}

/// How many client requests in `lines` have `method` (top-level or `blade.execute` inner).
pub fn count_client(lines: &[Line], method: &str) -> usize {
    client_methods(lines)
        .iter()
        .filter(|m| *m == method)
        .count()
}

/// The states of every `messaging.state` event among `events`, in order.
pub fn message_states(events: &[relay_proto::Event]) -> Vec<relay_proto::MessageState> {
    events
        .iter()
        .filter_map(|e| match e {
            relay_proto::Event::Message(m)
                if m.kind == relay_proto::MessageEventKind::StateChanged =>
            {
                Some(m.message.state.clone())
            }
            _ => None,
        })
        .collect()
}
