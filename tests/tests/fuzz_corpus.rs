//! Replays the committed fuzz corpus (fuzz/corpus/*) as an ordinary test.

use std::path::Path;

#[test]
fn frames_corpus_replays_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/frames");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder exists") {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("corpus file");
        relay_proto::fuzzing::frames(&data);
        n += 1;
    }
    assert!(n >= 10, "corpus has {n} files");
}
