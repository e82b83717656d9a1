//! The customer's EMVCo consumer-presented code: text and BER-TLV (body:
//! `emv::fuzz::qr_cpm`). Run with `scripts/fuzz qr_cpm`; corpus in `corpus/qr_cpm/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::qr_cpm(data));
