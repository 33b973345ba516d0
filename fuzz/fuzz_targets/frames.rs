//! Raw bytes, split into text frames, fed to a ready `Session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    relay_proto::fuzzing::frames(data);
});
