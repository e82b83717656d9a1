//! Fuzzes the ISO 8583 decoder of the acquirer link (`emv::iso8583`, used by the terminal and
//! the host): any input either fails cleanly or decodes to a message that re-encodes and
//! decodes to itself. Seeds: `fuzz/corpus/iso8583_decode/` (replayed by
//! `emv/tests/iso8583_corpus.rs`).
#![no_main]

use emv::iso8583::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        let encoded = message.encode().expect("a decoded message encodes");
        assert_eq!(Message::decode(&encoded).expect("re-decodes"), message);
    }
    let _ = iso8583::decode_frame(data);
});
