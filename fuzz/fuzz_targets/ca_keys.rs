//! The CA public key file parser (`docs/capk.md`; body: `emv::fuzz::ca_key_file`). Run with
//! `scripts/fuzz ca_keys`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::ca_key_file(data));
