//! Verification of signed application data: SDA's signed static application data (`93`, EMV
//! Book 2 §5.4, Table 7), DDA's and fDDA's signed dynamic application data (`9F4B`, Book 2
//! §6.5, Table 17) and CDA's (Book 2 §6.6, Table 22).

use sha1::{Digest, Sha1};

use super::certificate::{HASH_LENGTH, IccPublicKey, IssuerPublicKey, SHA1_ALGORITHM};
use super::certificate::{check_frame, hash_of};
use super::{CdaInput, OdaFailure};

/// SDA, Book 2 §5.4: verifies the signed static application data (`93`) with the issuer key
/// over the static data to be authenticated, and returns the data authentication code
/// (`9F45`).
pub fn verify_signed_static_data(
    issuer: &IssuerPublicKey,
    signed_static_application_data: &[u8],
    static_data: &[u8],
) -> Result<[u8; 2], OdaFailure> {
    use OdaFailure::Signature as Fail;
    let key = &issuer.key;
    if signed_static_application_data.len() != key.modulus_length() {
        return Err(Fail(
            "93 length differs from the issuer key's modulus length",
        ));
    }
    let recovered = key
        .recover(signed_static_application_data)
        .ok_or(Fail("93 value not below modulus"))?;
    // Table 7: format 03 (1) hash alg (1) DAC (2) pad BB...
    let body = check_frame(&recovered, SSAD_FIXED_LENGTH, 0x03).map_err(Fail)?;
    let mut hash = Sha1::new();
    hash.update(body);
    hash.update(static_data);
    if hash.finalize().as_slice() != hash_of(&recovered) {
        return Err(Fail("93 hash does not match"));
    }
    if body.get(1) != Some(&SHA1_ALGORITHM) {
        return Err(Fail("93 hash algorithm is not SHA-1"));
    }
    body.get(2..4)
        .and_then(|dac| dac.try_into().ok())
        .ok_or(Fail("93 too short"))
}

/// DDA and fDDA, Book 2 §6.5.2: verifies the signed dynamic application data (`9F4B`) with the
/// ICC key over the terminal dynamic data, and returns the ICC dynamic data (its first byte is
/// the length of the ICC dynamic number `9F4C`, which follows).
///
/// `formats` lists the accepted signed data formats: `05` for DDA and CDA; Visa fDDA cards sign
/// with format `95` (the Lloyds golden vector), so the fDDA caller accepts both.
pub fn verify_signed_dynamic_data(
    icc: &IccPublicKey,
    signed_dynamic_application_data: &[u8],
    terminal_dynamic_data: &[u8],
    formats: &[u8],
) -> Result<Vec<u8>, OdaFailure> {
    use OdaFailure::Signature as Fail;
    let key = &icc.key;
    if signed_dynamic_application_data.len() != key.modulus_length() {
        return Err(Fail(
            "9F4B length differs from the ICC key's modulus length",
        ));
    }
    let recovered = key
        .recover(signed_dynamic_application_data)
        .ok_or(Fail("9F4B value not below modulus"))?;
    let format = *recovered.get(1).ok_or(Fail("9F4B too short"))?;
    if !formats.contains(&format) {
        return Err(Fail("9F4B has an unexpected signed data format"));
    }
    // Table 17: format (1) hash alg (1) L_DD (1) ICC dynamic data (L_DD) pad BB...
    let body = check_frame(&recovered, SDAD_FIXED_LENGTH, format).map_err(Fail)?;
    let dynamic_length = usize::from(*body.get(2).ok_or(Fail("9F4B too short"))?);
    let dynamic_data = body
        .get(3..3 + dynamic_length)
        .ok_or(Fail("9F4B ICC dynamic data length too long"))?;
    let mut hash = Sha1::new();
    hash.update(body);
    hash.update(terminal_dynamic_data);
    if hash.finalize().as_slice() != hash_of(&recovered) {
        return Err(Fail("9F4B hash does not match"));
    }
    if body.get(1) != Some(&SHA1_ALGORITHM) {
        return Err(Fail("9F4B hash algorithm is not SHA-1"));
    }
    Ok(dynamic_data.to_vec())
}

/// What CDA recovers from the signed dynamic application data (Book 2 §6.6.2, Table 19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CombinedSignature {
    /// ICC dynamic number (`9F4C`).
    pub icc_dynamic_number: Vec<u8>,
    /// Cryptogram information data (`9F27`) as signed.
    pub cryptogram_information_data: u8,
    /// The application cryptogram, for `9F26`.
    pub application_cryptogram: [u8; 8],
    /// The transaction data hash code the card signed.
    pub transaction_data_hash_code: [u8; 20],
}

/// CDA, Book 2 §6.6.2: verifies the signed dynamic application data of a GENERATE AC response
/// over the unpredictable number (`9F37`), checks the signed CID against `9F27` and the
/// transaction data hash code against the terminal's own, and returns what was recovered.
pub fn verify_combined_signature(
    icc: &IccPublicKey,
    signed_dynamic_application_data: &[u8],
    unpredictable_number: &[u8],
    cda: &CdaInput<'_>,
) -> Result<CombinedSignature, OdaFailure> {
    use OdaFailure::Signature as Fail;
    let dynamic = verify_signed_dynamic_data(
        icc,
        signed_dynamic_application_data,
        unpredictable_number,
        &[DYNAMIC_FORMAT],
    )?;
    let signature = parse_combined(&dynamic).ok_or(Fail("CDA ICC dynamic data too short"))?;
    if signature.cryptogram_information_data != cda.cryptogram_information_data {
        return Err(Fail("CDA signed CID differs from 9F27"));
    }
    if signature.transaction_data_hash_code != transaction_data_hash_code(cda) {
        return Err(Fail("CDA transaction data hash code does not match"));
    }
    Ok(signature)
}

/// The transaction data hash code of Book 2 §6.6.1: SHA-1 over the PDOL related data, the
/// CDOL1 related data and the GENERATE AC response's data objects except `9F4B`, in the order
/// received. The card signs it; the terminal computes it from what it sent and received.
pub fn transaction_data_hash_code(cda: &CdaInput<'_>) -> [u8; 20] {
    let mut hash = Sha1::new();
    hash.update(cda.pdol_data);
    hash.update(cda.cdol1_data);
    hash.update(cda.generate_ac_response_without_sdad);
    hash.finalize().into()
}

/// ICC dynamic data of CDA: IDN length (1) IDN CID (1) AC (8) TDHC (20).
fn parse_combined(dynamic: &[u8]) -> Option<CombinedSignature> {
    let (&idn_length, rest) = dynamic.split_first()?;
    let idn_length = usize::from(idn_length);
    let icc_dynamic_number = rest.get(..idn_length)?.to_vec();
    let rest = rest.get(idn_length..)?;
    let (&cid, rest) = rest.split_first()?;
    let application_cryptogram: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    let transaction_data_hash_code: [u8; HASH_LENGTH] =
        rest.get(8..8 + HASH_LENGTH)?.try_into().ok()?;
    Some(CombinedSignature {
        icc_dynamic_number,
        cryptogram_information_data: cid,
        application_cryptogram,
        transaction_data_hash_code,
    })
}

/// Signed data format of DDA and CDA signed dynamic application data (Book 2 Table 17).
pub(crate) const DYNAMIC_FORMAT: u8 = 0x05;
/// Signed data format Visa fDDA cards use (VCPS; the Lloyds golden vector).
pub(crate) const VISA_FDDA_FORMAT: u8 = 0x95;
/// `93` bytes besides the pad: header, format, hash alg, DAC, hash, trailer.
const SSAD_FIXED_LENGTH: usize = 26;
/// `9F4B` bytes besides dynamic data and pad: header, format, hash alg, L_DD, hash, trailer.
const SDAD_FIXED_LENGTH: usize = 25;
