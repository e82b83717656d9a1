//! The host's side of the acquirer link: a request body decoded and validated as the host
//! does before the ledger (body: `hsm_sim::host::fuzz::request`). Run with
//! `scripts/fuzz host_request`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hsm_sim::host::fuzz::request(data));
