//! The customer's signed offline code: text and binary, and its checks (body:
//! `emv::fuzz::qr_offline_code`). Run with `scripts/fuzz qr_offline_code`; corpus in
//! `corpus/qr_offline_code/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::qr_offline_code(data));
