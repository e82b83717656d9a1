//! The PIN key wrapped for the PIN pad, unwrapped with a fixed pad key (body:
//! `emv::fuzz::key_wrap`). Run with `scripts/fuzz key_wrap`; corpus in `corpus/key_wrap/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::key_wrap(data));
