//! Payment cryptography that both ends share: the terminal (PIN pad, kernel) and `hsm-sim` (host
//! HSM, issuer, virtual cards). Pure functions over RustCrypto block ciphers; no I/O.
//!
//! - [`key`]: secret key types (zeroized on drop, no `Debug`).
//! - [`cryptogram`]: EMV Book 2 Annex A1.4 ICC master key derivation, session keys, application
//!   cryptograms (ARQC/TC/AAC) and ARPC.
//! - [`mac`]: ISO/IEC 9797-1 MAC algorithm 3 (retail MAC).
//! - (to come: `dukpt`, `tdes_dukpt`, `pin_block`, AES-CMAC in `mac`.)

mod block;
pub mod cryptogram;
pub mod dukpt;
pub mod key;
pub mod mac;
pub mod pin_block;
