//! Replays the fuzz corpora of this crate's targets through the targets' own bodies (`emv::fuzz`),
//! so CI runs every committed input without libFuzzer: the hand-written seeds of
//! `fuzz/seeds/<target>/` and the minimised corpus of `fuzz/corpus/<target>/` that `scripts/fuzz`
//! writes. A panic (in the code under test or in an invariant the body checks) fails the test; the
//! last file name printed is the input.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "../../tests/support/corpus.rs"]
mod corpus;

use corpus::replay;

#[test]
fn tlv_corpus() {
    replay("tlv", emv::fuzz::tlv);
}

#[test]
fn kernel_response_corpus() {
    replay("kernel_response", |data| {
        let _ = emv::fuzz::kernel_responses(data);
    });
}

#[test]
fn iso8583_decode_corpus() {
    replay("iso8583_decode", emv::fuzz::iso8583_response);
}

#[test]
fn ca_keys_corpus() {
    replay("ca_keys", emv::fuzz::ca_key_file);
}

#[test]
fn qr_mpm_corpus() {
    replay("qr_mpm", emv::fuzz::qr_mpm);
}

#[test]
fn qr_cpm_corpus() {
    replay("qr_cpm", emv::fuzz::qr_cpm);
}

#[test]
fn qr_offline_code_corpus() {
    replay("qr_offline_code", emv::fuzz::qr_offline_code);
}
