//! The terminal's side of the acquirer link: ISO 8583 decoding of the host's answers, the
//! round trip, DE 39, DE 55 and the MAC layout (body: `emv::fuzz::iso8583_response`). Run with
//! `scripts/fuzz iso8583_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::iso8583_response(data));
