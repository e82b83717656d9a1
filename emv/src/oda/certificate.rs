//! Recovery and checks of the issuer public key certificate (EMV Book 2 §5.3, Table 6) and of
//! the ICC public key certificate (Book 2 §6.4, Table 14).
//!
//! A certificate is recovered with the signer's public key (X = S^e mod n) and must then pass,
//! in the order of Book 2: length, trailer `BC`, header `6A`, format (`02` issuer, `04` ICC),
//! hash (SHA-1 over the format byte through the key or its leftmost digits, then the key
//! remainder, the exponent and, for the ICC, the static data to be authenticated), issuer
//! identifier or PAN against `5A`, expiry against the transaction date, and the algorithm
//! indicators (`01` SHA-1, `01` RSA). Certificate revocation lists (Book 2 §5.3 step 10) are
//! not checked.

use sha1::{Digest, Sha1};

use super::OdaFailure;
use super::capk::{CaPublicKey, bcd_byte, bcd_date, full_year};
use super::rsa_key::RsaKey;

/// An issuer public key recovered from a checked issuer public key certificate (`90`).
#[derive(Debug, Clone)]
pub struct IssuerPublicKey {
    pub(crate) key: RsaKey,
    issuer_identifier: [u8; 4],
    expiry: [u8; 2],
    serial_number: [u8; 3],
}

impl IssuerPublicKey {
    /// The issuer identifier: the leftmost 3-8 PAN digits, `F`-padded.
    pub fn issuer_identifier(&self) -> [u8; 4] {
        self.issuer_identifier
    }

    /// The certificate expiry, MMYY in BCD.
    pub fn expiry(&self) -> [u8; 2] {
        self.expiry
    }

    /// The certificate serial number the CA assigned.
    pub fn serial_number(&self) -> [u8; 3] {
        self.serial_number
    }

    /// The key's modulus length in bytes (N_I).
    pub fn modulus_length(&self) -> usize {
        self.key.modulus_length()
    }
}

/// An ICC public key recovered from a checked ICC public key certificate (`9F46`).
#[derive(Debug, Clone)]
pub struct IccPublicKey {
    pub(crate) key: RsaKey,
    expiry: [u8; 2],
    serial_number: [u8; 3],
}

impl IccPublicKey {
    /// The certificate expiry, MMYY in BCD.
    pub fn expiry(&self) -> [u8; 2] {
        self.expiry
    }

    /// The certificate serial number the issuer assigned.
    pub fn serial_number(&self) -> [u8; 3] {
        self.serial_number
    }

    /// The key's modulus length in bytes (N_IC).
    pub fn modulus_length(&self) -> usize {
        self.key.modulus_length()
    }
}

/// EMV Book 2 §5.3: recovers the issuer public key from its certificate (`90`), remainder
/// (`92`, if any) and exponent (`9F32`), signed by `ca`, and checks it against the PAN (`5A`)
/// and the transaction date (`9A`, YYMMDD BCD).
pub fn recover_issuer_public_key(
    ca: &CaPublicKey,
    certificate: &[u8],
    remainder: Option<&[u8]>,
    exponent: &[u8],
    pan: &[u8],
    transaction_date: [u8; 3],
) -> Result<IssuerPublicKey, OdaFailure> {
    let recovered = recover_certificate(
        &ISSUER_CERTIFICATE,
        ca.rsa_key(),
        &Parts {
            certificate,
            remainder,
            exponent,
            static_data: &[],
            transaction_date,
        },
        |identifier| {
            to_array(identifier).is_ok_and(|id: [u8; 4]| issuer_identifier_matches(id, pan))
        },
    )?;
    Ok(IssuerPublicKey {
        key: recovered.key,
        issuer_identifier: to_array(&recovered.identity)?,
        expiry: recovered.expiry,
        serial_number: recovered.serial_number,
    })
}

/// EMV Book 2 §6.4: recovers the ICC public key from its certificate (`9F46`), remainder
/// (`9F48`, if any) and exponent (`9F47`), signed by the issuer, and checks it against the PAN
/// (`5A`), the static data to be authenticated and the transaction date.
pub fn recover_icc_public_key(
    issuer: &IssuerPublicKey,
    certificate: &[u8],
    remainder: Option<&[u8]>,
    exponent: &[u8],
    pan: &[u8],
    static_data: &[u8],
    transaction_date: [u8; 3],
) -> Result<IccPublicKey, OdaFailure> {
    let recovered = recover_certificate(
        &ICC_CERTIFICATE,
        &issuer.key,
        &Parts {
            certificate,
            remainder,
            exponent,
            static_data,
            transaction_date,
        },
        |certified| to_array(certified).is_ok_and(|pan_10: [u8; 10]| pan_matches(pan_10, pan)),
    )?;
    Ok(IccPublicKey {
        key: recovered.key,
        expiry: recovered.expiry,
        serial_number: recovered.serial_number,
    })
}

/// What differs between the issuer (Book 2 §5.3, Table 6) and the ICC (§6.4, Table 14) public
/// key certificates; everything else is one procedure, [`recover_certificate`].
struct CertificateKind {
    /// Format byte after the `6A` header: `02` issuer, `04` ICC.
    format: u8,
    /// Bytes besides the key field (N - 36 issuer, N - 42 ICC are left for the key).
    fixed_length: usize,
    /// Length of the identity field after the format: issuer identifier (4) or PAN (10).
    identity_length: usize,
    /// The failure of a check on this certificate.
    fail: fn(&'static str) -> OdaFailure,
    /// The failure of the expiry check (step 9).
    expired: OdaFailure,
    /// The tag of the key remainder, reported when it is missing.
    remainder_tag: &'static str,
    /// Messages naming the signer and the tags of this certificate.
    length_differs: &'static str,
    identity_differs: &'static str,
    exponent_length_differs: &'static str,
    key_too_long: &'static str,
}

const ISSUER_CERTIFICATE: CertificateKind = CertificateKind {
    format: 0x02,
    fixed_length: ISSUER_FIXED_LENGTH,
    identity_length: 4,
    fail: OdaFailure::IssuerCertificate,
    expired: OdaFailure::IssuerCertificateExpired,
    remainder_tag: "92",
    length_differs: "certificate length differs from the CA key's modulus length",
    identity_differs: "issuer identifier does not match the PAN",
    exponent_length_differs: "exponent length differs from 9F32",
    key_too_long: "issuer key longer than the CA key",
};

const ICC_CERTIFICATE: CertificateKind = CertificateKind {
    format: 0x04,
    fixed_length: ICC_FIXED_LENGTH,
    identity_length: 10,
    fail: OdaFailure::IccCertificate,
    expired: OdaFailure::IccCertificateExpired,
    remainder_tag: "9F48",
    length_differs: "certificate length differs from the issuer key's modulus length",
    identity_differs: "certified PAN differs from 5A",
    exponent_length_differs: "exponent length differs from 9F47",
    key_too_long: "ICC key longer than the issuer key",
};

/// The card's objects for one certificate, and the data its hash also covers.
struct Parts<'a> {
    certificate: &'a [u8],
    remainder: Option<&'a [u8]>,
    exponent: &'a [u8],
    /// The static data to be authenticated (ICC certificate only; empty for the issuer's).
    static_data: &'a [u8],
    transaction_date: [u8; 3],
}

/// A certified key and the certificate fields the callers keep.
struct CertifiedKey {
    key: RsaKey,
    identity: Vec<u8>,
    expiry: [u8; 2],
    serial_number: [u8; 3],
}

/// Book 2 §5.3 steps 1-12 / §6.4 steps 1-11, in that order: length, recovery, trailer, header,
/// format, hash, identity (issuer identifier or PAN, checked by `identity_matches`), expiry,
/// algorithm indicators, then the key itself.
fn recover_certificate(
    kind: &CertificateKind,
    signer: &RsaKey,
    parts: &Parts<'_>,
    identity_matches: impl Fn(&[u8]) -> bool,
) -> Result<CertifiedKey, OdaFailure> {
    let fail = kind.fail;
    if parts.certificate.len() != signer.modulus_length() {
        return Err(fail(kind.length_differs));
    }
    let recovered = signer
        .recover(parts.certificate)
        .ok_or(fail("certificate value not below modulus"))?;
    let body = check_frame(&recovered, kind.fixed_length, kind.format).map_err(fail)?;
    // Tables 6 and 14: format (1) identity (4 or 10) expiry (2) serial (3) hash alg (1)
    // key alg (1) key length (1) exponent length (1) key or its leftmost digits.
    let field =
        |range: core::ops::Range<usize>| body.get(range).ok_or(fail("certificate too short"));
    let at = 1 + kind.identity_length;
    let identity = field(1..at)?;
    let expiry: [u8; 2] = to_array(field(at..at + 2)?)?;
    let serial_number: [u8; 3] = to_array(field(at + 2..at + 5)?)?;
    let hash_algorithm = byte(body, at + 5)?;
    let key_algorithm = byte(body, at + 6)?;
    let key_length = usize::from(byte(body, at + 7)?);
    let exponent_length = usize::from(byte(body, at + 8)?);
    let key_part = field(at + 9..body.len())?;

    let modulus = assemble_modulus(key_part, parts.remainder, key_length).map_err(|e| match e {
        ModulusError::MissingRemainder => OdaFailure::MissingData(kind.remainder_tag),
        ModulusError::Inconsistent(why) => fail(why),
    })?;
    let mut hash = Sha1::new();
    hash.update(body);
    if let Some(remainder) = parts.remainder {
        hash.update(remainder);
    }
    hash.update(parts.exponent);
    hash.update(parts.static_data);
    if hash.finalize().as_slice() != hash_of(&recovered) {
        return Err(fail("hash does not match"));
    }
    if !identity_matches(identity) {
        return Err(fail(kind.identity_differs));
    }
    match certificate_expired(expiry, parts.transaction_date) {
        Some(false) => {}
        Some(true) => return Err(kind.expired.clone()),
        None => return Err(fail("expiry or transaction date is not a valid date")),
    }
    if hash_algorithm != SHA1_ALGORITHM || key_algorithm != RSA_ALGORITHM {
        return Err(fail("unknown hash or public key algorithm indicator"));
    }
    if exponent_length != parts.exponent.len() {
        return Err(fail(kind.exponent_length_differs));
    }
    if key_length > signer.modulus_length() {
        return Err(fail(kind.key_too_long));
    }
    let key = RsaKey::new(&modulus, parts.exponent).ok_or(fail("not a usable RSA key"))?;
    Ok(CertifiedKey {
        key,
        identity: identity.to_vec(),
        expiry,
        serial_number,
    })
}

/// Checks trailer, header and format of recovered data that has `fixed` bytes besides the key
/// field (header, fixed fields, hash and trailer), and returns the part the hash covers first:
/// from the format byte to just before the hash.
pub(crate) fn check_frame(
    recovered: &[u8],
    fixed: usize,
    format: u8,
) -> Result<&[u8], &'static str> {
    if recovered.len() <= fixed {
        return Err("recovered data too short for its format");
    }
    let Some((&trailer, rest)) = recovered.split_last() else {
        return Err("recovered data is empty");
    };
    if trailer != TRAILER {
        return Err("trailer is not BC");
    }
    if recovered.first() != Some(&HEADER) {
        return Err("header is not 6A");
    }
    if recovered.get(1) != Some(&format) {
        return Err("wrong format byte");
    }
    rest.get(1..rest.len().saturating_sub(HASH_LENGTH))
        .ok_or("recovered data too short")
}

/// The 20-byte hash just before the trailer.
pub(crate) fn hash_of(recovered: &[u8]) -> &[u8] {
    let end = recovered.len().saturating_sub(1);
    recovered
        .get(end.saturating_sub(HASH_LENGTH)..end)
        .unwrap_or(&[])
}

enum ModulusError {
    MissingRemainder,
    Inconsistent(&'static str),
}

/// The key's modulus from the certificate's key field and the remainder (Book 2 §5.3 step 12).
fn assemble_modulus(
    key_part: &[u8],
    remainder: Option<&[u8]>,
    key_length: usize,
) -> Result<Vec<u8>, ModulusError> {
    if key_length <= key_part.len() {
        // The whole key is in the certificate, padded with BB; a remainder has nothing to add.
        return match remainder {
            Some(r) if !r.is_empty() => {
                Err(ModulusError::Inconsistent("remainder present but key fits"))
            }
            _ => Ok(key_part.get(..key_length).unwrap_or_default().to_vec()),
        };
    }
    let remainder = remainder.ok_or(ModulusError::MissingRemainder)?;
    if key_part.len() + remainder.len() != key_length {
        return Err(ModulusError::Inconsistent(
            "remainder length does not complete the key",
        ));
    }
    Ok([key_part, remainder].concat())
}

/// Book 2 §5.3 step 8: the issuer identifier (3-8 leftmost PAN digits, `F`-padded) matches the
/// leftmost digits of the PAN.
fn issuer_identifier_matches(identifier: [u8; 4], pan: &[u8]) -> bool {
    let id_digits = nibbles(&identifier);
    let pan_digits = nibbles(pan);
    let significant = id_digits.iter().take_while(|&&d| d != 0x0F).count();
    if significant < 3 || id_digits.iter().skip(significant).any(|&d| d != 0x0F) {
        return false;
    }
    id_digits
        .iter()
        .take(significant)
        .zip(pan_digits.iter().chain(core::iter::repeat(&0x0F)))
        .all(|(a, b)| a == b && *b <= 9)
}

/// Book 2 §6.4 step 8: the PAN in the certificate (`F`-padded to 10 bytes) equals `5A`.
fn pan_matches(certified: [u8; 10], pan: &[u8]) -> bool {
    if pan.is_empty() || pan.len() > certified.len() {
        return false;
    }
    let mut padded = [0xFF; 10];
    padded[..pan.len()].copy_from_slice(pan);
    padded == certified
}

/// Whether a certificate expiring at the end of MMYY has expired on the transaction date;
/// `None` if either date is not valid BCD.
pub(crate) fn certificate_expired(expiry: [u8; 2], transaction_date: [u8; 3]) -> Option<bool> {
    let month = bcd_byte(expiry[0])?;
    let year = full_year(bcd_byte(expiry[1])?);
    if !(1..=12).contains(&month) {
        return None;
    }
    let (today_year, today_month, _) = bcd_date(transaction_date)?;
    Some((year, month) < (today_year, today_month))
}

fn nibbles(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect()
}

fn byte(body: &[u8], at: usize) -> Result<u8, OdaFailure> {
    body.get(at)
        .copied()
        .ok_or(OdaFailure::Signature("recovered data too short"))
}

fn to_array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], OdaFailure> {
    bytes
        .try_into()
        .map_err(|_| OdaFailure::Signature("recovered data too short"))
}

/// Recovered data header (Book 2 Tables 6, 7, 14, 17).
pub(crate) const HEADER: u8 = 0x6A;
/// Recovered data trailer.
pub(crate) const TRAILER: u8 = 0xBC;
/// SHA-1 hash length.
pub(crate) const HASH_LENGTH: usize = 20;
/// Hash algorithm indicator for SHA-1 (Book 2 Annex B2.3).
pub(crate) const SHA1_ALGORITHM: u8 = 0x01;
/// Public key algorithm indicator for RSA (Book 2 Annex B2.1).
const RSA_ALGORITHM: u8 = 0x01;
/// Issuer certificate bytes besides the key field: N_CA - 36 bytes are left for the key.
const ISSUER_FIXED_LENGTH: usize = 36;
/// ICC certificate bytes besides the key field: N_I - 42 bytes are left for the key.
const ICC_FIXED_LENGTH: usize = 42;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_identifier_is_compared_digit_by_digit_up_to_the_padding() {
        let pan = [0x49, 0x21, 0x82, 0x80, 0x94, 0x89, 0x67, 0x52];
        assert!(issuer_identifier_matches([0x49, 0x21, 0x82, 0xFF], &pan));
        assert!(issuer_identifier_matches([0x49, 0x21, 0x82, 0x80], &pan));
        assert!(issuer_identifier_matches([0x49, 0x2F, 0xFF, 0xFF], &pan));
        assert!(
            !issuer_identifier_matches([0x49, 0xFF, 0xFF, 0xFF], &pan),
            "fewer than 3"
        );
        assert!(!issuer_identifier_matches([0x49, 0x21, 0x83, 0xFF], &pan));
        assert!(
            !issuer_identifier_matches([0x49, 0x2F, 0x82, 0xFF], &pan),
            "digit after F"
        );
    }

    #[test]
    fn pan_is_compared_with_f_padding() {
        let mut certified = [0xFF; 10];
        certified[..8].copy_from_slice(&[0x49, 0x21, 0x82, 0x80, 0x94, 0x89, 0x67, 0x52]);
        assert!(pan_matches(
            certified,
            &[0x49, 0x21, 0x82, 0x80, 0x94, 0x89, 0x67, 0x52]
        ));
        assert!(!pan_matches(
            certified,
            &[0x49, 0x21, 0x82, 0x80, 0x94, 0x89, 0x67, 0x53]
        ));
        assert!(!pan_matches(certified, &[]));
    }

    #[test]
    fn certificate_is_valid_through_the_last_day_of_its_month() {
        assert_eq!(
            certificate_expired([0x12, 0x26], [0x26, 0x12, 0x31]),
            Some(false)
        );
        assert_eq!(
            certificate_expired([0x12, 0x26], [0x27, 0x01, 0x01]),
            Some(true)
        );
        assert_eq!(
            certificate_expired([0x02, 0x25], [0x23, 0x03, 0x01]),
            Some(false)
        );
        assert_eq!(certificate_expired([0x13, 0x25], [0x23, 0x03, 0x01]), None);
        assert_eq!(certificate_expired([0x02, 0x25], [0x23, 0x13, 0x01]), None);
    }
}
