//! The host's attestation token, parsed and verified against a fixed host key (body:
//! `emv::fuzz::attestation_token`). Run with `scripts/fuzz attestation_token`; corpus in `corpus/attestation_token/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::attestation_token(data));
