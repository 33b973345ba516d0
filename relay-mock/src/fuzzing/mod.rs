//! The fuzz harness: the entry points of the cargo-fuzz targets in `fuzz/`, and of the test that
//! replays their committed corpus (`tests/tests/fuzz_corpus.rs`), so a corpus input runs the
//! exact same code under the fuzzer and under `cargo test`.
//!
//! Only built with the `fuzzing` feature; not part of the stable API.
//!
//! * [`frames`]: raw text frames to a ready `Session` (from `relay_proto::fuzzing`).
//! * [`mock_frames`]: a program of [`MockOp`]s (derived with `arbitrary`) on a
//!   [`crate::MockServer`] with several connections: requests, control, faults, time.
//! * [`session_ops`]: a program of [`Op`]s (derived with `arbitrary`) on a [`crate::Pair`]:
//!   session commands, server control and faults, forged server frames, time.
//!
//! Every function takes arbitrary bytes and panics only when the code under test breaks an
//! invariant (or panics itself).

#[allow(clippy::disallowed_methods)] // the harness is the driver: it reads the clock once
mod mock_frames;
#[allow(clippy::disallowed_methods)] // the harness is the driver: it reads the clock once
mod session_ops;

pub use mock_frames::{mock_frames, run_mock_ops, Json, MockOp};
pub use relay_proto::fuzzing::frames;
pub use session_ops::{run_ops, session_ops, Answer, Forged, MediaPick, Op};
