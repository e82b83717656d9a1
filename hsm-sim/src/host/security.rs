//! The one small interface between the issuer/host and the payment HSM: every key operation
//! the host needs goes through [`SecurityModule`], so the host never holds a key.
//!
//! [`HsmSecurity`] implements it with [`crate::hsm::Hsm`].

use std::path::Path;

use emv::crypto::cryptogram::{CryptogramInput, CryptogramVersion};
use emv::crypto::dukpt::Ksn;
use emv::crypto::pin_block::Pin;
use zeroize::Zeroizing;

use super::HostError;
use crate::hsm::{Hsm, HsmError};

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

    /// The 8-byte MAC of `data` with the AES DUKPT MAC key of `ksn` (`docs/iso8583.md` §6):
    /// usage `2000` (the request's key) when `request`, else `2001` (the response's key).
    fn mac(&self, ksn: &[u8; 12], data: &[u8], request: bool) -> Result<[u8; 8], SecurityError>;

    /// Verifies a request MAC (usage `2000`, 8 to 16 bytes, constant time): `Ok(false)` for a
    /// wrong MAC, [`SecurityError::Replayed`] for a KSN below one already seen for its key.
    fn verify_request_mac(
        &self,
        ksn: &[u8; 12],
        data: &[u8],
        mac: &[u8],
    ) -> Result<bool, SecurityError>;

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
    /// The HSM rejected the input (bad KSN, bad PIN block format, unknown key).
    #[error("HSM rejected the request: {0}")]
    Rejected(String),
    /// The DUKPT KSN is not above the last one seen (security requirements C4).
    #[error("replayed KSN")]
    Replayed,
}

/// The host's security module backed by [`crate::hsm::Hsm`] (keys in `DATA/hsm-keys`).
pub struct HsmSecurity {
    hsm: Hsm,
}

impl HsmSecurity {
    /// Opens (or creates on first start) the HSM key file in `data_dir`.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, HostError> {
        let hsm = Hsm::load_or_create(data_dir).map_err(|e| HostError::Hsm(e.to_string()))?;
        Ok(Self { hsm })
    }

    /// Wraps an HSM (tests: [`Hsm::with_test_keys`]).
    pub fn new(hsm: Hsm) -> Self {
        Self { hsm }
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
        self.hsm
            .verify_pin(
                Ksn::from_bytes(*ksn),
                pin_block,
                pan,
                pin_verification_value,
            )
            .map_err(map_error)
    }

    fn verify_arqc(
        &self,
        card: &CardKeyReference<'_>,
        input: &CryptogramInput<'_>,
        arqc: [u8; 8],
    ) -> Result<bool, SecurityError> {
        match self.hsm.verify_arqc(
            card.rid,
            card.version,
            card.pan,
            card.pan_sequence_number,
            input,
            arqc,
        ) {
            Ok(()) => Ok(true),
            Err(HsmError::CryptogramMismatch) => Ok(false),
            Err(e) => Err(map_error(e)),
        }
    }

    fn issuer_authentication_data(
        &self,
        card: &CardKeyReference<'_>,
        atc: [u8; 2],
        arqc: [u8; 8],
        response_code: [u8; 2],
    ) -> Result<Vec<u8>, SecurityError> {
        self.hsm
            .issuer_authentication_data(
                card.rid,
                card.version,
                card.pan,
                card.pan_sequence_number,
                atc,
                arqc,
                response_code,
            )
            .map_err(map_error)
    }

    fn mac(&self, ksn: &[u8; 12], data: &[u8], request: bool) -> Result<[u8; 8], SecurityError> {
        self.hsm
            .mac(Ksn::from_bytes(*ksn), data, request)
            .map_err(map_error)
    }

    fn verify_request_mac(
        &self,
        ksn: &[u8; 12],
        data: &[u8],
        mac: &[u8],
    ) -> Result<bool, SecurityError> {
        match self.hsm.mac_verify(Ksn::from_bytes(*ksn), data, mac) {
            Ok(()) => Ok(true),
            Err(HsmError::MacMismatch) => Ok(false),
            Err(e) => Err(map_error(e)),
        }
    }

    fn pin_verification_value(&self, pan: &str, pin: &str) -> Result<Vec<u8>, SecurityError> {
        let pin =
            Pin::from_ascii(pin.as_bytes()).map_err(|e| SecurityError::Rejected(e.to_string()))?;
        self.hsm
            .pin_verification_value(pan, &pin)
            .map(|pvv| pvv.to_vec())
            .map_err(map_error)
    }

    fn create_terminal_key(&self, terminal_id: &str) -> Result<TerminalKey, SecurityError> {
        let _ = terminal_id;
        let key = self.hsm.create_terminal_key().map_err(map_error)?;
        Ok(TerminalKey {
            initial_key: Zeroizing::new(key.initial_key.expose_secret().to_vec()),
            initial_ksn: key.initial_ksn.to_bytes(),
        })
    }
}

fn map_error(e: HsmError) -> SecurityError {
    match e {
        HsmError::ReplayedKsn => SecurityError::Replayed,
        HsmError::Storage(_) | HsmError::RandomUnavailable | HsmError::MalformedKeyFile => {
            SecurityError::Unavailable("HSM storage")
        }
        other => SecurityError::Rejected(other.to_string()),
    }
}
