//! The PIN pad's pipe protocol: frames read off a byte stream and decoded as requests and as
//! answers (body: `softpos::pinpad::fuzz::pipe_stream`). Run with
//! `scripts/fuzz pinpad_protocol`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| softpos::pinpad::fuzz::pipe_stream(data));
