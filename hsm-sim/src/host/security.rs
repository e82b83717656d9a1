//! The one small interface between the issuer/host and the payment HSM: every key operation
//! the host needs goes through [`SecurityModule`], so the host never holds a key.
//!
//! [`HsmSecurity`] implements it with [`crate::hsm`].

use std::path::Path;

use emv::crypto::cryptogram::{CryptogramInput, CryptogramVersion};
use zeroize::Zeroizing;

use super::HostError;

/// What the issuer needs from the HSM.
pub trait SecurityModule: Send + Sync {
    /// Verifies an online PIN: decrypts the ISO 9564-1 format-4 PIN block `pin_block` under
    /// the AES DUKPT PIN key of `ksn` (X9.24-3-2017) and compares it with the account's PIN
    /// verification value. `Ok(false)` for a wrong PIN.
    fn verify_pin(
        &self,
        ksn: &[u8; 12],
        pin_block: &[u8; 16],
        pan: &str,
        pin_verification_value: &[u8],
    ) -> Result<bool, SecurityError>;

    /// Verifies an ARQC (EMV Book 2 §8.1) with the ICC master key derived from the issuer's
    /// IMK-AC of `rid`. `Ok(false)` for a wrong cryptogram.
    fn verify_arqc(
        &self,
        card: &CardKeyReference<'_>,
        input: &CryptogramInput<'_>,
        arqc: [u8; 8],
    ) -> Result<bool, SecurityError>;

    /// The issuer authentication data for tag `91` (EMV Book 2 §8.2): the ARPC and, for
    /// method 1, the ARC it covers.
    fn issuer_authentication_data(
        &self,
        card: &CardKeyReference<'_>,
        atc: [u8; 2],
        arqc: [u8; 8],
        response_code: [u8; 2],
    ) -> Result<Vec<u8>, SecurityError>;

    /// The 8-byte MAC of `data` with the AES DUKPT MAC key of `ksn` (`docs/iso8583.md` §6).
    fn mac(&self, ksn: &[u8; 12], data: &[u8], request: bool) -> Result<[u8; 8], SecurityError>;

    /// The PIN verification value stored for `pan` and `pin` (account seeding only).
    fn pin_verification_value(&self, pan: &str, pin: &str) -> Result<Vec<u8>, SecurityError>;

    /// A new terminal's AES DUKPT initial key and initial KSN (enrolment).
    fn create_terminal_key(&self, terminal_id: &str) -> Result<TerminalKey, SecurityError>;
}

/// Which card keys an ARQC uses.
#[derive(Debug, Clone, Copy)]
pub struct CardKeyReference<'a> {
    /// The scheme's RID (first five bytes of the AID).
    pub rid: &'a [u8],
    /// The PAN digits.
    pub pan: &'a str,
    /// The PAN sequence number.
    pub pan_sequence_number: u8,
    /// The cryptogram version, from the IAD.
    pub version: CryptogramVersion,
}

/// A terminal's DUKPT initial key (secret) and initial key serial number.
pub struct TerminalKey {
    /// The AES-128 initial key (X9.24-3-2017 §6.3), secret.
    pub initial_key: Zeroizing<Vec<u8>>,
    /// The 12-byte initial KSN (counter 0).
    pub initial_ksn: [u8; 12],
}

/// Errors of the security module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// The operation is not available (HSM not integrated yet, or unknown scheme).
    #[error("HSM operation unavailable: {0}")]
    Unavailable(&'static str),
    /// The HSM rejected the input (bad KSN, bad PIN block format).
    #[error("HSM rejected the request: {0}")]
    Rejected(String),
}

/// The host's security module backed by [`crate::hsm`].
pub struct HsmSecurity {
    _private: (),
}

impl HsmSecurity {
    /// Opens (or creates on first start) the HSM state in `data_dir`.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, HostError> {
        let _ = data_dir;
        // TODO(hsm integration): open crate::hsm::Hsm here once it lands.
        Ok(Self { _private: () })
    }
}

impl SecurityModule for HsmSecurity {
    fn verify_pin(
        &self,
        ksn: &[u8; 12],
        pin_block: &[u8; 16],
        pan: &str,
        pin_verification_value: &[u8],
    ) -> Result<bool, SecurityError> {
        let _ = (ksn, pin_block, pan, pin_verification_value);
        Err(SecurityError::Unavailable("PIN verification"))
    }

    fn verify_arqc(
        &self,
        card: &CardKeyReference<'_>,
        input: &CryptogramInput<'_>,
        arqc: [u8; 8],
    ) -> Result<bool, SecurityError> {
        let _ = (card, input, arqc);
        Err(SecurityError::Unavailable("ARQC verification"))
    }

    fn issuer_authentication_data(
        &self,
        card: &CardKeyReference<'_>,
        atc: [u8; 2],
        arqc: [u8; 8],
        response_code: [u8; 2],
    ) -> Result<Vec<u8>, SecurityError> {
        let _ = (card, atc, arqc, response_code);
        Err(SecurityError::Unavailable("ARPC"))
    }

    fn mac(&self, ksn: &[u8; 12], data: &[u8], request: bool) -> Result<[u8; 8], SecurityError> {
        let _ = (ksn, data, request);
        Err(SecurityError::Unavailable("MAC"))
    }

    fn pin_verification_value(&self, pan: &str, pin: &str) -> Result<Vec<u8>, SecurityError> {
        let _ = (pan, pin);
        Err(SecurityError::Unavailable("PIN verification value"))
    }

    fn create_terminal_key(&self, terminal_id: &str) -> Result<TerminalKey, SecurityError> {
        let _ = terminal_id;
        Err(SecurityError::Unavailable("terminal key"))
    }
}
