//! EMV application cryptograms: ICC master key derivation, session keys, ARQC/TC/AAC and ARPC.
//!
//! CONTRACT (other modules code against these signatures; the bodies are being written):
//! the virtual cards in `hsm-sim` call [`derive_icc_master_key`] and
//! [`application_cryptogram`]; the host calls the same plus [`arpc`].

use super::key::TdesKey16;

/// The cryptogram version (CVN), which fixes the key derivation, the data and the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptogramVersion {
    /// Visa CVN 10 (`0A`): UDK directly, Book 2 minimum data ‖ CVR, ISO 9797-1 padding 1.
    VisaCvn10,
    /// Visa CVN 18 (`12`): EMV common session key, minimum data ‖ full IAD, padding 2.
    VisaCvn18,
    /// Mastercard CVN 16 (`10`): M/Chip session key derivation.
    MastercardCvn16,
    /// Mastercard CVN 17 (`11`): M/Chip session key derivation, counters in the data.
    MastercardCvn17,
    /// The generic EMV common session key (EMV Book 2 A1.3.1), padding method 2; UnionPay
    /// qUICS cards use this.
    EmvCsk,
}

/// Master key derivation options of EMV Book 2 Annex A1.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivationOption {
    /// Option A: PAN ‖ PSN, rightmost 16 digits (PANs of up to 16 digits).
    A,
    /// Option B: SHA-1 based, for PANs longer than 16 digits.
    B,
}

/// The Book 2 minimum data set for an application cryptogram, in its fixed order, plus the
/// issuer application data (IAD, tag `9F10`) from which CVR bytes and counters are taken.
#[derive(Debug, Clone, Copy)]
pub struct CryptogramInput<'a> {
    /// `9F02` amount, authorised.
    pub amount: [u8; 6],
    /// `9F03` amount, other.
    pub amount_other: [u8; 6],
    /// `9F1A` terminal country code.
    pub terminal_country: [u8; 2],
    /// `95` terminal verification results.
    pub tvr: [u8; 5],
    /// `5F2A` transaction currency code.
    pub currency: [u8; 2],
    /// `9A` transaction date (YYMMDD).
    pub date: [u8; 3],
    /// `9C` transaction type.
    pub transaction_type: u8,
    /// `9F37` unpredictable number.
    pub unpredictable_number: [u8; 4],
    /// `82` application interchange profile.
    pub aip: [u8; 2],
    /// `9F36` application transaction counter.
    pub atc: [u8; 2],
    /// `9F10` issuer application data, as the card returns it.
    pub issuer_application_data: &'a [u8],
}

/// Derives an ICC master key from the issuer master key (EMV Book 2 Annex A1.4).
pub fn derive_icc_master_key(
    issuer_master_key: &TdesKey16,
    pan_digits: &str,
    pan_sequence_number: u8,
    option: DerivationOption,
) -> Result<TdesKey16, CryptoError> {
    let _ = (issuer_master_key, pan_digits, pan_sequence_number, option);
    Err(CryptoError::NotImplemented)
}

/// Computes the 8-byte application cryptogram for `version` with the ICC master key.
pub fn application_cryptogram(
    version: CryptogramVersion,
    icc_master_key: &TdesKey16,
    input: &CryptogramInput<'_>,
) -> Result<[u8; 8], CryptoError> {
    let _ = (version, icc_master_key, input);
    Err(CryptoError::NotImplemented)
}

/// ARPC methods of EMV Book 2 §8.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpcMethod {
    /// Method 1: ARQC XOR (ARC ‖ 00…), 8-byte ARPC.
    Method1 {
        /// The 2-byte authorisation response code.
        response_code: [u8; 2],
    },
    /// Method 2: MAC over ARQC ‖ CSU ‖ proprietary data, 4-byte ARPC.
    Method2 {
        /// The 4-byte card status update.
        card_status_update: [u8; 4],
    },
}

/// Computes the ARPC for an ARQC.
pub fn arpc(
    version: CryptogramVersion,
    icc_master_key: &TdesKey16,
    atc: [u8; 2],
    arqc: [u8; 8],
    method: ArpcMethod,
) -> Result<Vec<u8>, CryptoError> {
    let _ = (version, icc_master_key, atc, arqc, method);
    Err(CryptoError::NotImplemented)
}

/// Errors from the cryptographic functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Placeholder while the module is written.
    #[error("not implemented yet")]
    NotImplemented,
    /// A PAN that is not 12-19 decimal digits.
    #[error("invalid PAN")]
    InvalidPan,
}
