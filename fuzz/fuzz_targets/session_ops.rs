//! `relay_mock::fuzzing::session_ops`: the corpus replay test (tests/tests/fuzz_corpus.rs) runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    relay_mock::fuzzing::session_ops(data);
});
