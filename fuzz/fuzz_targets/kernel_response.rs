//! Fuzzes the kernels' `handle` with arbitrary card responses: the whole sans-IO transaction
//! (Entry Point, Kernels 2, 3, 7) driven by the responses in the input (layout documented on
//! `emv::kernel::fuzz_responses`). Run with `cargo fuzz run kernel_response`; seeds in
//! `corpus/kernel_response/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emv::kernel::fuzz_responses(data);
});
