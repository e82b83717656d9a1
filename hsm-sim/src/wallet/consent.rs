//! A wallet's signed consent (`docs/wallet-api.md` § Signed consent): what the customer agrees
//! to on their own phone, after unlocking the device key with their PIN, signed with that key
//! so the host knows the enrolled device agreed. The PIN never leaves the phone; the host sees
//! the device ID, the time and an Ed25519 signature over the request's own fields.

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::device::Device;

/// The purpose of a consent to pay a merchant's code.
pub const PAY_MERCHANT_CODE: &str = "softpos-wallet/pay-merchant-code/1";
/// The purpose of a signed look at the wallet's requests to pay (no fields).
pub const INBOX: &str = "softpos-wallet/inbox/1";
/// The purpose of an answer to a request to pay (fields: reference, `confirm` or `refuse`).
pub const ANSWER_REQUEST: &str = "softpos-wallet/answer-request/1";

/// How far a consent's time may be from the host's clock.
pub const MAX_SKEW_SECS: u64 = 120;

/// The consent part of a wallet's request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The enrolled device (16 hex digits).
    pub device_id: String,
    /// When the customer agreed (Unix seconds).
    pub signed_at: u64,
    /// The Ed25519 signature (128 hex digits) over [`signing_input`].
    pub signature: String,
}

/// The bytes a consent signs: `purpose`, a zero byte, then each field as a 2-byte big-endian
/// length and its UTF-8 bytes, then `signed_at` as 8 bytes big-endian. Lengths make the
/// encoding unambiguous whatever the fields contain.
pub fn signing_input(purpose: &str, fields: &[&str], signed_at: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(purpose.len() + 1 + fields.len() * 18 + 8);
    out.extend_from_slice(purpose.as_bytes());
    out.push(0);
    for field in fields {
        let bytes = field.as_bytes();
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
    }
    out.extend_from_slice(&signed_at.to_be_bytes());
    out
}

/// The device's consent to `purpose` with `fields`, at `signed_at`.
pub fn sign(device: &Device, purpose: &str, fields: &[&str], signed_at: u64) -> Consent {
    let signature = device.sign(&signing_input(purpose, fields, signed_at));
    Consent {
        device_id: device.id_hex().to_owned(),
        signed_at,
        signature: hex::encode(signature),
    }
}

/// Why a consent is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The signature is malformed or does not verify under the device's key.
    #[error("the wallet's signature does not verify")]
    BadSignature,
    /// Signed too long ago, or in the future.
    #[error("the wallet's consent is too old or from the future: check the phone's clock")]
    Stale,
}

/// Checks `consent` against the device's public key, for `purpose` and `fields`, at `now`.
pub fn verify(
    consent: &Consent,
    key: &VerifyingKey,
    purpose: &str,
    fields: &[&str],
    now: u64,
) -> Result<(), ConsentError> {
    if consent.signed_at.abs_diff(now) > MAX_SKEW_SECS {
        return Err(ConsentError::Stale);
    }
    let bytes = hex::decode(&consent.signature).map_err(|_| ConsentError::BadSignature)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| ConsentError::BadSignature)?;
    key.verify(
        &signing_input(purpose, fields, consent.signed_at),
        &signature,
    )
    .map_err(|_| ConsentError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_separates_fields_by_length() {
        let a = signing_input(PAY_MERCHANT_CODE, &["ab", "c"], 7);
        let b = signing_input(PAY_MERCHANT_CODE, &["a", "bc"], 7);
        assert_ne!(a, b);
        let mut expected = PAY_MERCHANT_CODE.as_bytes().to_vec();
        expected.extend_from_slice(&[0, 0, 2, b'a', b'b', 0, 1, b'c', 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(a, expected);
    }
}
