//! Fuzzes the BER-TLV parser, the tag dictionary's dump, the encoder, DOLs and the PPSE parser
//! (security requirements §F B1). Run with `cargo fuzz run tlv`; seeds in `corpus/tlv/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    emv::tlv::fuzz_one(data);
});
