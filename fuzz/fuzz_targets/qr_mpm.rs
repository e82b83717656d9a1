//! The EMVCo merchant-presented QR code: the parser, its CRC and length checks, and rebuilding
//! what parses (body: `emv::fuzz::qr_mpm`). Run with `scripts/fuzz qr_mpm`; corpus in
//! `corpus/qr_mpm/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::qr_mpm(data));
