//! Payment cryptography that both ends share: the terminal (PIN pad, kernel) and `hsm-sim` (host
//! HSM, issuer, virtual cards). Pure functions over RustCrypto block ciphers; no I/O.
//!
//! - [`key`]: secret key types (zeroized on drop, no `Debug`).
//! - [`cryptogram`]: EMV Book 2 Annex A1.4 ICC master key derivation, session keys, application
//!   cryptograms (ARQC/TC/AAC) and ARPC.
//! - (to come: `dukpt`, `pin_block`, `mac`.)

pub mod cryptogram;
pub mod key;
