//! The customer's signed offline code (`docs/qr-customer-code.md` §2): made by a wallet whose
//! phone has no network, checked by the terminal without the host (format, age, the device
//! certificate under the wallet CA, the device signature, the amount cap, the merchant's
//! nonce), then again by the host.
//!
//! Binary layout (all integers big-endian), then the text `SPOC1:` followed by the bytes in
//! base64url without padding:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version, `01` |
//! | 1 | 1 | flags: bit 0 a merchant nonce follows the fixed part; other bits 0 |
//! | 2 | 1 | payment method, `01`-`FF` (the payer's method chosen in the wallet) |
//! | 3 | 4 | counter, per device, strictly increasing |
//! | 7 | 4 | issue time, seconds since 1970-01-01 UTC |
//! | 11 | 2 | validity, seconds (1 to [`MAX_VALIDITY_SECS`]) |
//! | 13 | 2 | currency, ISO 4217 numeric |
//! | 15 | 4 | amount cap, minor units |
//! | 19 | 8 | merchant nonce (only when flag bit 0 is set) |
//! | 19/27 | 129 | device certificate ([`DeviceCertificate`]) |
//! | 148/156 | 64 | Ed25519 signature by the device key over [`CODE_DOMAIN`] ‖ every byte before it |
//!
//! The certificate (129 bytes): version `01`; the wallet CA's key ID (4 bytes, the first four
//! of SHA-256 of its public key); device ID (8); payer token (16); the device's Ed25519
//! public key (32); not-after (4, seconds since 1970); the CA's Ed25519 signature (64) over
//! [`CERTIFICATE_DOMAIN`] ‖ the 65 bytes before it.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The text prefix of an offline code (the rest is base64url without padding).
pub const TEXT_PREFIX: &str = "SPOC1:";
/// The format version.
pub const VERSION: u8 = 1;
/// The certificate format version.
pub const CERTIFICATE_VERSION: u8 = 1;
/// Signed before the code's bytes by the device key (domain separation).
pub const CODE_DOMAIN: &[u8] = b"softpos offline code v1\0";
/// Signed before the certificate's bytes by the wallet CA.
pub const CERTIFICATE_DOMAIN: &[u8] = b"softpos wallet certificate v1\0";
/// The validity a wallet gives a code unless told otherwise.
pub const DEFAULT_VALIDITY_SECS: u16 = 120;
/// The longest validity accepted.
pub const MAX_VALIDITY_SECS: u16 = 900;
/// How far in the future an issue time may be (clocks differ).
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
/// The size of a certificate.
pub const CERTIFICATE_LEN: usize = 129;
/// The size of a code without a nonce (with one: 8 more).
pub const CODE_LEN: usize = FIXED_LEN + CERTIFICATE_LEN + SIGNATURE_LEN;
/// The longest text accepted.
pub const MAX_TEXT_CHARS: usize = 400;

const FIXED_LEN: usize = 19;
const NONCE_LEN: usize = 8;
const SIGNATURE_LEN: usize = 64;
const CERT_SIGNED_LEN: usize = CERTIFICATE_LEN - SIGNATURE_LEN;
const FLAG_NONCE: u8 = 0x01;

/// A device ID (8 bytes, chosen at enrolment).
pub type DeviceId = [u8; 8];
/// A payer token (16 bytes, issued by the host; no card number).
pub type PayerToken = [u8; 16];
/// A merchant nonce (8 bytes).
pub type Nonce = [u8; 8];

/// The ID of a wallet CA key: the first four bytes of SHA-256 of its public key.
pub fn ca_key_id(ca: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::digest(ca.as_bytes());
    let mut id = [0; 4];
    id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    id
}

/// A device certificate: the wallet CA vouches that a device key belongs to a payer.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    /// The wallet CA key's ID ([`ca_key_id`]).
    pub ca_key_id: [u8; 4],
    /// The device.
    pub device_id: DeviceId,
    /// The payer.
    pub payer_token: PayerToken,
    /// The device's public key.
    pub device_key: [u8; 32],
    /// Not valid after (seconds since 1970, UTC).
    pub not_after: u32,
    /// The CA's signature.
    pub signature: [u8; 64],
}

impl DeviceCertificate {
    /// Issues a certificate with the wallet CA's key.
    pub fn issue(
        ca: &SigningKey,
        device_id: DeviceId,
        payer_token: PayerToken,
        device_key: &VerifyingKey,
        not_after: u32,
    ) -> Self {
        let mut cert = Self {
            ca_key_id: ca_key_id(&ca.verifying_key()),
            device_id,
            payer_token,
            device_key: device_key.to_bytes(),
            not_after,
            signature: [0; 64],
        };
        let signed = [CERTIFICATE_DOMAIN, &cert.to_bytes()[..CERT_SIGNED_LEN]].concat();
        cert.signature = ca.sign(&signed).to_bytes();
        cert
    }

    /// The 129 bytes.
    pub fn to_bytes(&self) -> [u8; CERTIFICATE_LEN] {
        let mut out = [0; CERTIFICATE_LEN];
        let mut w = Writer(&mut out, 0);
        w.put(&[CERTIFICATE_VERSION]);
        w.put(&self.ca_key_id);
        w.put(&self.device_id);
        w.put(&self.payer_token);
        w.put(&self.device_key);
        w.put(&self.not_after.to_be_bytes());
        w.put(&self.signature);
        out
    }

    /// Parses 129 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, OfflineCodeError> {
        let mut r = Reader(bytes);
        if r.take::<1>()? != [CERTIFICATE_VERSION] {
            return Err(OfflineCodeError::CertificateVersion);
        }
        let cert = Self {
            ca_key_id: r.take()?,
            device_id: r.take()?,
            payer_token: r.take()?,
            device_key: r.take()?,
            not_after: u32::from_be_bytes(r.take()?),
            signature: r.take()?,
        };
        if !r.0.is_empty() {
            return Err(OfflineCodeError::Length);
        }
        Ok(cert)
    }

    /// Checks the CA's key ID and signature and the not-after date.
    pub fn verify(&self, ca: &VerifyingKey, now: u64) -> Result<VerifyingKey, OfflineCodeError> {
        if self.ca_key_id != ca_key_id(ca) {
            return Err(OfflineCodeError::UnknownCa);
        }
        let signed = [CERTIFICATE_DOMAIN, &self.to_bytes()[..CERT_SIGNED_LEN]].concat();
        ca.verify_strict(&signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| OfflineCodeError::BadCertificate)?;
        if now > u64::from(self.not_after) {
            return Err(OfflineCodeError::CertificateExpired);
        }
        VerifyingKey::from_bytes(&self.device_key).map_err(|_| OfflineCodeError::BadCertificate)
    }
}

impl fmt::Debug for DeviceCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCertificate")
            .field("device_id", &hex::encode_upper(self.device_id))
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// What the wallet chooses for a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeFields {
    /// The payer's payment method (1-255).
    pub method: u8,
    /// The device's counter.
    pub counter: u32,
    /// Issue time (seconds since 1970).
    pub issued_at: u32,
    /// Validity (seconds).
    pub validity_secs: u16,
    /// ISO 4217 numeric.
    pub currency: u16,
    /// The largest amount the code pays (minor units).
    pub amount_cap: u32,
    /// The merchant's nonce, when the wallet was given one.
    pub nonce: Option<Nonce>,
}

/// A parsed offline code (not yet verified: see [`OfflineCode::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OfflineCode {
    fields: CodeFields,
    certificate: DeviceCertificate,
    bytes: Vec<u8>,
}

/// What the terminal (or host) knows when it checks a code.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The wallet CA's public key.
    pub ca: &'a VerifyingKey,
    /// Now (seconds since 1970).
    pub now: u64,
    /// The amount to pay (minor units).
    pub amount: u64,
    /// The terminal's currency.
    pub currency: u16,
    /// The nonce this merchant showed the customer, if any.
    pub nonce: Option<Nonce>,
}

impl OfflineCode {
    /// Signs `fields` with the device key; `certificate` must be the device's.
    pub fn sign(
        fields: CodeFields,
        certificate: DeviceCertificate,
        device: &SigningKey,
    ) -> Result<Self, OfflineCodeError> {
        check_fields(&fields)?;
        let mut bytes = Vec::with_capacity(CODE_LEN + NONCE_LEN);
        bytes.push(VERSION);
        bytes.push(if fields.nonce.is_some() {
            FLAG_NONCE
        } else {
            0
        });
        bytes.push(fields.method);
        bytes.extend(fields.counter.to_be_bytes());
        bytes.extend(fields.issued_at.to_be_bytes());
        bytes.extend(fields.validity_secs.to_be_bytes());
        bytes.extend(fields.currency.to_be_bytes());
        bytes.extend(fields.amount_cap.to_be_bytes());
        if let Some(nonce) = fields.nonce {
            bytes.extend(nonce);
        }
        bytes.extend(certificate.to_bytes());
        let signature = device.sign(&[CODE_DOMAIN, &bytes].concat());
        bytes.extend(signature.to_bytes());
        Ok(Self {
            fields,
            certificate,
            bytes,
        })
    }

    /// Parses the text form (`SPOC1:` + base64url).
    pub fn parse_text(text: &str) -> Result<Self, OfflineCodeError> {
        let text = text.trim();
        if text.len() > MAX_TEXT_CHARS {
            return Err(OfflineCodeError::Length);
        }
        let body = text
            .strip_prefix(TEXT_PREFIX)
            .ok_or(OfflineCodeError::NotAnOfflineCode)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OfflineCodeError::Base64)?;
        Self::parse(&bytes)
    }

    /// Parses the binary form.
    pub fn parse(bytes: &[u8]) -> Result<Self, OfflineCodeError> {
        let mut r = Reader(bytes);
        let [version, flags, method] = r.take()?;
        if version != VERSION {
            return Err(OfflineCodeError::Version(version));
        }
        if flags & !FLAG_NONCE != 0 {
            return Err(OfflineCodeError::Flags(flags));
        }
        let fields = CodeFields {
            method,
            counter: u32::from_be_bytes(r.take()?),
            issued_at: u32::from_be_bytes(r.take()?),
            validity_secs: u16::from_be_bytes(r.take()?),
            currency: u16::from_be_bytes(r.take()?),
            amount_cap: u32::from_be_bytes(r.take()?),
            nonce: if flags & FLAG_NONCE != 0 {
                Some(r.take()?)
            } else {
                None
            },
        };
        check_fields(&fields)?;
        let certificate = DeviceCertificate::parse(r.slice(CERTIFICATE_LEN)?)?;
        let _signature: [u8; SIGNATURE_LEN] = r.take()?;
        if !r.0.is_empty() {
            return Err(OfflineCodeError::Length);
        }
        Ok(Self {
            fields,
            certificate,
            bytes: bytes.to_vec(),
        })
    }

    /// The fields.
    pub fn fields(&self) -> &CodeFields {
        &self.fields
    }

    /// The device certificate.
    pub fn certificate(&self) -> &DeviceCertificate {
        &self.certificate
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(&self.bytes))
    }

    /// Everything that can be checked without the device's counter history: the certificate
    /// under `check.ca`, the device signature, the age, the currency, the amount cap and the
    /// merchant nonce. The counter is the caller's ([`OfflineCode::counter_is_new`]).
    pub fn verify(&self, check: &Check<'_>) -> Result<(), OfflineCodeError> {
        let device = self.certificate.verify(check.ca, check.now)?;
        let split = self.bytes.len().saturating_sub(SIGNATURE_LEN);
        let (signed, signature) = self.bytes.split_at(split);
        let signature =
            <[u8; SIGNATURE_LEN]>::try_from(signature).map_err(|_| OfflineCodeError::Length)?;
        device
            .verify_strict(
                &[CODE_DOMAIN, signed].concat(),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| OfflineCodeError::BadSignature)?;
        let issued = u64::from(self.fields.issued_at);
        if issued > check.now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(OfflineCodeError::NotYetValid);
        }
        if check.now > issued + u64::from(self.fields.validity_secs) {
            return Err(OfflineCodeError::Expired);
        }
        if self.fields.currency != check.currency {
            return Err(OfflineCodeError::Currency);
        }
        if check.amount > u64::from(self.fields.amount_cap) {
            return Err(OfflineCodeError::OverCap {
                cap: self.fields.amount_cap,
            });
        }
        match (check.nonce, self.fields.nonce) {
            (Some(expected), Some(got)) if expected != got => Err(OfflineCodeError::NonceMismatch),
            (Some(_), None) => Err(OfflineCodeError::NonceMismatch),
            _ => Ok(()),
        }
    }

    /// Whether the device signature matches the device key in the code's own certificate: the
    /// bytes are the ones the device signed, so the code was read without error. It says nothing
    /// about trust; that is [`OfflineCode::verify`]'s (the certificate under the wallet CA).
    pub fn is_intact(&self) -> bool {
        let Ok(device) = VerifyingKey::from_bytes(&self.certificate.device_key) else {
            return false;
        };
        let split = self.bytes.len().saturating_sub(SIGNATURE_LEN);
        let (signed, signature) = self.bytes.split_at(split);
        let Ok(signature) = <[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        device
            .verify_strict(
                &[CODE_DOMAIN, signed].concat(),
                &Signature::from_bytes(&signature),
            )
            .is_ok()
    }

    /// Whether the code's counter is above the highest seen for its device.
    pub fn counter_is_new(&self, highest_seen: Option<u32>) -> bool {
        highest_seen.is_none_or(|seen| self.fields.counter > seen)
    }
}

impl fmt::Debug for OfflineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OfflineCode")
            .field("fields", &self.fields)
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

fn check_fields(fields: &CodeFields) -> Result<(), OfflineCodeError> {
    if fields.method == 0 {
        return Err(OfflineCodeError::Method);
    }
    if fields.validity_secs == 0 || fields.validity_secs > MAX_VALIDITY_SECS {
        return Err(OfflineCodeError::Validity(fields.validity_secs));
    }
    Ok(())
}

/// Why an offline code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfflineCodeError {
    /// Text without the `SPOC1:` prefix.
    #[error("not an offline code (no SPOC1: prefix)")]
    NotAnOfflineCode,
    /// Not base64url.
    #[error("the offline code is not base64url")]
    Base64,
    /// Too short, too long.
    #[error("the offline code has the wrong length")]
    Length,
    /// Another format version.
    #[error("offline code version {0} is not supported")]
    Version(u8),
    /// Unknown flags.
    #[error("the offline code has unknown flags {0:#04x}")]
    Flags(u8),
    /// Payment method 0.
    #[error("the offline code names no payment method")]
    Method,
    /// A validity of 0 or above the maximum.
    #[error("the offline code's validity of {0} s is not allowed")]
    Validity(u16),
    /// Another certificate version.
    #[error("the device certificate's version is not supported")]
    CertificateVersion,
    /// The certificate names another CA.
    #[error("the device certificate is not from the wallet CA this terminal trusts")]
    UnknownCa,
    /// The CA's signature does not verify.
    #[error("the device certificate's signature is not valid")]
    BadCertificate,
    /// The certificate is past its not-after date.
    #[error("the device certificate has expired")]
    CertificateExpired,
    /// The device signature does not verify.
    #[error("the offline code's signature is not valid")]
    BadSignature,
    /// Issued in the future.
    #[error("the offline code is issued in the future (check the clocks)")]
    NotYetValid,
    /// Past its validity.
    #[error("the offline code has expired; ask for a new one")]
    Expired,
    /// Another currency.
    #[error("the offline code is for another currency")]
    Currency,
    /// The amount is above the code's cap.
    #[error("the amount is above the offline code's cap ({cap} minor units)")]
    OverCap {
        /// The cap.
        cap: u32,
    },
    /// Bound to another merchant's nonce (or to none when one was shown).
    #[error("the offline code was made for another merchant (nonce mismatch)")]
    NonceMismatch,
    /// The device's counter did not move forward.
    #[error("the offline code was already used (counter not new)")]
    Replayed,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], OfflineCodeError> {
        if self.0.len() < n {
            return Err(OfflineCodeError::Length);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], OfflineCodeError> {
        let s = self.slice(N)?;
        <[u8; N]>::try_from(s).map_err(|_| OfflineCodeError::Length)
    }
}

struct Writer<'a>(&'a mut [u8], usize);

impl Writer<'_> {
    fn put(&mut self, data: &[u8]) {
        if let Some(dst) = self.0.get_mut(self.1..self.1 + data.len()) {
            dst.copy_from_slice(data);
        }
        self.1 += data.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn ok<T, E: fmt::Debug>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    const NOW: u32 = 1_800_000_000;

    fn fields() -> CodeFields {
        CodeFields {
            method: 1,
            counter: 7,
            issued_at: NOW,
            validity_secs: DEFAULT_VALIDITY_SECS,
            currency: 978,
            amount_cap: 5_000,
            nonce: Some([9; 8]),
        }
    }

    fn code_with(ca: &SigningKey, device: &SigningKey, fields: CodeFields) -> OfflineCode {
        let cert =
            DeviceCertificate::issue(ca, [1; 8], [2; 16], &device.verifying_key(), NOW + 86_400);
        ok(OfflineCode::sign(fields, cert, device))
    }

    fn check(ca: &VerifyingKey) -> Check<'_> {
        Check {
            ca,
            now: u64::from(NOW) + 10,
            amount: 1_250,
            currency: 978,
            nonce: Some([9; 8]),
        }
    }

    #[test]
    fn a_signed_code_round_trips_and_verifies() {
        let (ca, device) = (key(1), key(2));
        let code = code_with(&ca, &device, fields());
        assert_eq!(code.as_bytes().len(), CODE_LEN + 8);
        let text = code.to_text();
        assert!(text.len() < MAX_TEXT_CHARS, "{}", text.len());
        let back = ok(OfflineCode::parse_text(&text));
        assert_eq!(back, code);
        ok(back.verify(&check(&ca.verifying_key())));
        assert!(back.counter_is_new(None) && back.counter_is_new(Some(6)));
        assert!(!back.counter_is_new(Some(7)));
    }

    #[test]
    fn the_layout_is_as_documented() {
        let (ca, device) = (key(1), key(2));
        let code = code_with(&ca, &device, fields());
        let b = code.as_bytes();
        assert_eq!(
            &b[..19],
            &hex_literal::hex!("01 01 01 00000007 6B49D200 0078 03D2 00001388")
        );
        assert_eq!(&b[19..27], &[9; 8]);
        assert_eq!(b[27], CERTIFICATE_VERSION);
        assert_eq!(&b[28..32], &ca_key_id(&ca.verifying_key()));
        assert_eq!(&b[32..40], &[1; 8]);
        assert_eq!(&b[40..56], &[2; 16]);
        assert_eq!(&b[56..88], device.verifying_key().as_bytes());
        assert_eq!(&b[88..92], &(NOW + 86_400).to_be_bytes());
        let signed = [CODE_DOMAIN, &b[..156]].concat();
        let sig = Signature::from_bytes(&ok(<[u8; 64]>::try_from(&b[156..])));
        ok(device.verifying_key().verify_strict(&signed, &sig));
    }

    #[test]
    fn each_bad_code_is_refused_for_its_reason() {
        let (ca, device) = (key(1), key(2));
        let pk = ca.verifying_key();
        let code = code_with(&ca, &device, fields());
        // A flipped bit in the signed part.
        let mut bytes = code.as_bytes().to_vec();
        bytes[6] ^= 1;
        let tampered = ok(OfflineCode::parse(&bytes));
        assert_eq!(
            tampered.verify(&check(&pk)),
            Err(OfflineCodeError::BadSignature)
        );
        // A certificate from another CA; one whose CA key ID is right but signature wrong.
        let other = code_with(&key(3), &device, fields());
        assert_eq!(other.verify(&check(&pk)), Err(OfflineCodeError::UnknownCa));
        let mut forged = code.certificate().clone();
        forged.signature[0] ^= 1;
        let forged = ok(OfflineCode::sign(fields(), forged, &device));
        assert_eq!(
            forged.verify(&check(&pk)),
            Err(OfflineCodeError::BadCertificate)
        );
        // Expired, from the future.
        let mut late = check(&pk);
        late.now = u64::from(NOW) + 121;
        assert_eq!(code.verify(&late), Err(OfflineCodeError::Expired));
        let mut early = check(&pk);
        early.now = u64::from(NOW) - 61;
        assert_eq!(code.verify(&early), Err(OfflineCodeError::NotYetValid));
        // Another merchant, above the cap, another currency.
        let mut elsewhere = check(&pk);
        elsewhere.nonce = Some([8; 8]);
        assert_eq!(
            code.verify(&elsewhere),
            Err(OfflineCodeError::NonceMismatch)
        );
        let mut big = check(&pk);
        big.amount = 5_001;
        assert_eq!(
            code.verify(&big),
            Err(OfflineCodeError::OverCap { cap: 5_000 })
        );
        let mut usd = check(&pk);
        usd.currency = 840;
        assert_eq!(code.verify(&usd), Err(OfflineCodeError::Currency));
        // Malformed.
        assert_eq!(
            OfflineCode::parse(&bytes[..100]),
            Err(OfflineCodeError::Length)
        );
        assert_eq!(
            OfflineCode::parse_text("hQVDUFYwMQ=="),
            Err(OfflineCodeError::NotAnOfflineCode)
        );
        assert_eq!(
            OfflineCode::parse_text("SPOC1:***"),
            Err(OfflineCodeError::Base64)
        );
        let mut v2 = code.as_bytes().to_vec();
        v2[0] = 2;
        assert_eq!(OfflineCode::parse(&v2), Err(OfflineCodeError::Version(2)));
    }

    #[test]
    fn a_code_is_intact_exactly_when_its_device_signature_holds() {
        let (ca, device) = (key(1), key(2));
        let code = code_with(&ca, &device, fields());
        assert!(code.is_intact());
        // Intact says nothing about trust: a certificate from another CA is still intact.
        assert!(code_with(&key(3), &device, fields()).is_intact());
        // Any flipped bit (fields, certificate, signature) breaks it.
        for at in [6, 60, code.as_bytes().len() - 1] {
            let mut bytes = code.as_bytes().to_vec();
            bytes[at] ^= 1;
            assert!(!ok(OfflineCode::parse(&bytes)).is_intact(), "bit at {at}");
        }
    }
}
