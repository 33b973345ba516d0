//! Raw bytes, split into text frames, fed to a ready `Session` (`relay_mock::fuzzing::frames`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    relay_mock::fuzzing::frames(data);
});
