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

#[test]
fn key_wrap_corpus() {
    replay("key_wrap", emv::fuzz::key_wrap);
}

#[test]
fn attestation_token_corpus() {
    replay("attestation_token", emv::fuzz::attestation_token);
}

/// Regenerates the seeds of `key_wrap` and `attestation_token`: a blob wrapped for the fixed
/// pad key, and tokens of the fixed host key (valid, expired, another terminal's):
/// `cargo test -p emv --test fuzz_corpora -- --ignored`.
#[test]
#[ignore = "writes seeds"]
fn write_key_wrap_and_token_seeds() {
    use emv::crypto::dukpt::Ksn;
    use emv::crypto::key::AesKey;
    use emv::crypto::{attestation_token, key_wrap};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let pad = key_wrap::public_key_bytes(&emv::fuzz::key_wrap_pad_key());
    let ksn = Ksn::from_bytes([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0, 0, 0, 0]);
    let key128 = AesKey::from_bytes_128([0x11; 16]);
    let blob = key_wrap::wrap(&pad, &key128, ksn).unwrap();
    write("key_wrap", "aes128", &blob);
    let mut altered = blob.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    write("key_wrap", "altered", &altered);
    write("key_wrap", "header-only", &blob[..17]);
    let host = emv::fuzz::attestation_host_key();
    let valid = attestation_token::issue(&host, "A0000001", 1_800_000_000, 1_800_000_120).unwrap();
    write("attestation_token", "valid", &valid);
    let backwards =
        attestation_token::issue(&host, "A0000001", 1_800_000_120, 1_800_000_000).unwrap();
    write("attestation_token", "expires-before-issue", &backwards);
    write("attestation_token", "short", &valid[..40]);
}
