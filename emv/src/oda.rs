//! Offline data authentication (EMV Book 2 §5, §6; Book C-2 CDA; Book C-3/C-7 fDDA).
//!
//! CONTRACT: the kernels call [`OfflineDataAuthenticator::authenticate`] once the card data is
//! read (SDA, DDA after INTERNAL AUTHENTICATE, fDDA after GPO and records, CDA after GENERATE
//! AC). The kernel builds an [`OdaInput`] from the card's data and maps the [`OdaResult`] onto the
//! TVR and its outcome rules. [`NotPerformed`] is the authenticator used until CA keys are
//! configured; [`Authenticator`] is the real one, holding a [`CaKeyStore`].
//!
//! Layout:
//! - [`CaKeyStore`]: certification authority public keys by RID and index, loaded from the
//!   human-editable files of `assets/capk/` (format: `docs/capk.md`), checksums checked.
//! - [`recover_issuer_public_key`], [`recover_icc_public_key`]: certificate recovery and checks
//!   (EMV Book 2 §5.3, §6.3, §6.4).
//! - [`verify_signed_static_data`] (SDA, Book 2 §5.4), [`verify_signed_dynamic_data`] (DDA and
//!   fDDA, Book 2 §6.5), [`verify_combined_signature`] (CDA, Book 2 §6.6).
//! - [`Authenticator`]: runs the whole chain for an [`OdaInput`] and says why it failed.

mod authenticator;
mod capk;
mod certificate;
mod rsa_key;
mod signed_data;

pub use authenticator::Authenticator;
pub use capk::{CaKeyStore, CaPublicKey, CapkError, KeyExpiry};
pub use certificate::{
    IccPublicKey, IssuerPublicKey, recover_icc_public_key, recover_issuer_public_key,
};
pub use signed_data::{
    CombinedSignature, transaction_data_hash_code, verify_combined_signature,
    verify_signed_dynamic_data, verify_signed_static_data,
};

/// The ODA method the card and terminal agreed on (EMV Book 3 §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OdaMethod {
    /// Static data authentication: signed static application data, tag `93`.
    Sda,
    /// Dynamic data authentication: INTERNAL AUTHENTICATE, signed dynamic data `9F4B`.
    Dda,
    /// Fast DDA (Visa Kernel 3, UnionPay Kernel 7): `9F4B` in the GPO response, with `9F69`.
    Fdda,
    /// Combined DDA / application cryptogram generation (Mastercard Kernel 2).
    Cda,
}

/// What the kernel hands to the authenticator: raw values of the card's data objects, and the
/// terminal data the signature covers. Absent objects are `None`.
#[derive(Debug, Clone, Copy)]
pub struct OdaInput<'a> {
    /// The method to perform.
    pub method: OdaMethod,
    /// The RID: the first five bytes of the selected AID (`4F`/`84`).
    pub rid: [u8; 5],
    /// `8F` certification authority public key index.
    pub ca_public_key_index: Option<u8>,
    /// `90` issuer public key certificate.
    pub issuer_public_key_certificate: Option<&'a [u8]>,
    /// `92` issuer public key remainder.
    pub issuer_public_key_remainder: Option<&'a [u8]>,
    /// `9F32` issuer public key exponent.
    pub issuer_public_key_exponent: Option<&'a [u8]>,
    /// `9F46` ICC public key certificate.
    pub icc_public_key_certificate: Option<&'a [u8]>,
    /// `9F47` ICC public key exponent.
    pub icc_public_key_exponent: Option<&'a [u8]>,
    /// `9F48` ICC public key remainder.
    pub icc_public_key_remainder: Option<&'a [u8]>,
    /// `5A` application PAN (compressed numeric, `F` padded), to check against the certificates.
    pub pan: Option<&'a [u8]>,
    /// The static data to be authenticated, built by the kernel per EMV Book 3 §10.3: the
    /// records the AFL flags (for SFI 1-10 without the `70` tag and length, for SFI 11-30 with
    /// them), then the AIP if `9F4A` lists `82`.
    pub static_data: &'a [u8],
    /// `93` signed static application data (SDA).
    pub signed_static_application_data: Option<&'a [u8]>,
    /// `9F4B` signed dynamic application data (DDA, fDDA, CDA).
    pub signed_dynamic_application_data: Option<&'a [u8]>,
    /// The terminal dynamic data the signature covers: for DDA the DDOL related data; for fDDA
    /// `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69`; for CDA the unpredictable number `9F37`.
    pub terminal_dynamic_data: &'a [u8],
    /// CDA only: the data the transaction data hash code covers.
    pub cda: Option<CdaInput<'a>>,
    /// `9A` transaction date, YYMMDD in BCD, for certificate expiry.
    pub transaction_date: [u8; 3],
}

/// The CDA-specific inputs (EMV Book 2 §6.6.2).
#[derive(Debug, Clone, Copy)]
pub struct CdaInput<'a> {
    /// The PDOL related data sent in GPO (values only, no `83` template).
    pub pdol_data: &'a [u8],
    /// The CDOL1 related data sent in GENERATE AC.
    pub cdol1_data: &'a [u8],
    /// The GENERATE AC response's TLV objects, in the order received, except `9F4B`.
    pub generate_ac_response_without_sdad: &'a [u8],
    /// `9F27` cryptogram information data as returned by the card.
    pub cryptogram_information_data: u8,
}

/// Why ODA failed, for the outcome and for testers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OdaFailure {
    /// No CA public key for the RID and index (or no `8F`).
    CaKeyNotFound,
    /// The CA public key for the RID and index expired before the transaction date (EMV Book 2
    /// §11.2.2: a terminal must not use a withdrawn key).
    CaKeyExpired,
    /// Mandatory ODA data is missing from the card (`90`, `9F32`, `9F46`, `9F4B`, ...).
    MissingData(&'static str),
    /// The issuer public key certificate failed a check (header, format, hash, issuer ID...).
    IssuerCertificate(&'static str),
    /// The issuer certificate has expired.
    IssuerCertificateExpired,
    /// The ICC public key certificate failed a check.
    IccCertificate(&'static str),
    /// The ICC certificate has expired.
    IccCertificateExpired,
    /// The signed (static or dynamic) data failed a check.
    Signature(&'static str),
}

impl core::fmt::Display for OdaMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Sda => "SDA",
            Self::Dda => "DDA",
            Self::Fdda => "fDDA",
            Self::Cda => "CDA",
        })
    }
}

/// The failed check in words, for the outcome's reason and testers' reports; each names the
/// EMV Book 2 step that failed. Never contains card data.
impl core::fmt::Display for OdaFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::CaKeyNotFound => {
                f.write_str("CA public key not found for the RID and 8F index (Book 2 §5.2)")
            }
            Self::CaKeyExpired => f.write_str("CA public key expired (Book 2 §11.2.2)"),
            Self::MissingData(what) => write!(f, "ICC data missing: {what}"),
            Self::IssuerCertificate(why) => write!(f, "issuer certificate 90: {why} (Book 2 §5.3)"),
            Self::IssuerCertificateExpired => {
                f.write_str("issuer certificate 90 expired (Book 2 §5.3 step 9)")
            }
            Self::IccCertificate(why) => write!(f, "ICC certificate 9F46: {why} (Book 2 §6.4)"),
            Self::IccCertificateExpired => {
                f.write_str("ICC certificate 9F46 expired (Book 2 §6.4 step 9)")
            }
            Self::Signature(why) => write!(f, "signed data: {why} (Book 2 §5.4, §6.5, §6.6)"),
        }
    }
}

/// The result of ODA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdaResult {
    /// The method that was attempted.
    pub method: OdaMethod,
    /// `Ok` when every check passed.
    pub status: Result<(), OdaFailure>,
    /// CDA: the application cryptogram recovered from the signed data, for `9F26`.
    pub recovered_cryptogram: Option<[u8; 8]>,
    /// SDA: the data authentication code (`9F45`); DDA/fDDA/CDA: the ICC dynamic number
    /// (`9F4C`).
    pub recovered_dynamic_number: Option<Vec<u8>>,
}

impl OdaResult {
    /// Whether ODA passed.
    pub fn passed(&self) -> bool {
        self.status.is_ok()
    }
}

/// Performs offline data authentication.
pub trait OfflineDataAuthenticator {
    /// Authenticates the card's data; `None` means ODA was not performed (no keys configured),
    /// which the kernel records as TVR byte 1 b8 "offline data authentication was not performed".
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult>;
}

/// The authenticator of a terminal with no CA keys: ODA is never performed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotPerformed;

impl OfflineDataAuthenticator for NotPerformed {
    fn authenticate(&self, _input: &OdaInput<'_>) -> Option<OdaResult> {
        None
    }
}
