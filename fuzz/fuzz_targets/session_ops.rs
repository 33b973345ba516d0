//! See `tests/src/fuzz_harness.rs` (`session_ops`): the corpus replay test runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/src/fuzz_harness.rs"]
#[allow(dead_code)]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    fuzz_harness::session_ops(data);
});
