//! The kernels driven by a card whose every response comes from the input: SELECT PPSE and
//! AID, GPO, READ RECORD, GENERATE AC, through the terminal's own driver (body and input
//! layout: `emv::fuzz::kernel_responses`). Run with `scripts/fuzz kernel_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emv::fuzz::kernel_responses(data);
});
