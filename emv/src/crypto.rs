//! Payment cryptography that both ends share: the terminal (PIN pad, kernel) and `hsm-sim` (host
//! HSM, issuer, virtual cards). Pure functions over RustCrypto block ciphers; no I/O.
//!
//! - [`key`]: secret key types (zeroized on drop, no `Debug`).
//! - [`cryptogram`]: EMV Book 2 Annex A1.4 ICC master key derivation, session keys, application
//!   cryptograms (ARQC/TC/AAC) and ARPC.
//! - [`mac`]: ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) and AES-CMAC.
//! - [`dukpt`]: AES DUKPT (ANSI X9.24-3-2017); [`tdes_dukpt`]: TDES DUKPT (X9.24-1:2009).
//! - [`pin_block`]: ISO 9564-1 PIN blocks (formats 4, 0, 3) and PIN translation.
//! - [`key_wrap`]: the PIN initial key wrapped for one PIN pad (ECDH P-256, HKDF, RFC 5649).
//! - [`attestation_token`]: the host-signed, short-lived attestation token.

pub mod attestation_token;
mod block;
pub mod cryptogram;
pub mod dukpt;
pub mod key;
pub mod key_wrap;
pub mod mac;
pub mod pin_block;
pub mod tdes_dukpt;
