//! See `tests/src/fuzz_harness.rs` (`http_head`): the corpus replay test runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/src/fuzz_harness.rs"]
#[allow(dead_code)]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    fuzz_harness::http_head(data);
});
