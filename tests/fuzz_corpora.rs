//! Replays the fuzz corpus of the PIN pad pipe protocol through the target's own body
//! (`softpos::pinpad::fuzz::pipe_stream`), so CI runs every committed input without libFuzzer: the
//! hand-written seeds of `fuzz/seeds/<target>/` and the minimised corpus of `fuzz/corpus/<target>/`
//! that `scripts/fuzz` writes. A panic (in the code under test or in an invariant the body checks)
//! fails the test; the last file name printed is the input.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/corpus.rs"]
mod corpus;

use corpus::replay;

#[test]
fn pinpad_protocol_corpus() {
    replay("pinpad_protocol", softpos::pinpad::fuzz::pipe_stream);
}
