//! BER-TLV: the parser, the tag dictionary's dump, the encoder, DOLs and the PPSE parser
//! (body: `emv::fuzz::tlv`). Run with `scripts/fuzz tlv`; corpus in `corpus/tlv/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emv::fuzz::tlv(data));
