//! The DUKPT PIN initial key wrapped for one PIN pad: ECDH on P-256 with a fresh ephemeral key,
//! HKDF-SHA256, and AES-256 key wrap with padding (RFC 5649). Only the holder of the PIN pad's
//! private key can unwrap it; whoever carries the blob (the network, the terminal process, its
//! disk) learns nothing of the key and cannot change the KSN it is bound to.
//!
//! Blob (`docs/enrolment.md`):
//!
//! | Bytes | Content |
//! |---|---|
//! | 4 | `"SPWK"` |
//! | 1 | version `01` |
//! | 12 | the initial KSN |
//! | 65 | the ephemeral public key, SEC1 uncompressed |
//! | 24 or 40 | AES-256-KWP(KEK, initial key) |
//!
//! KEK = HKDF-SHA256(IKM = the ECDH shared x-coordinate, salt = `"softpos pin key wrap v1"`,
//! info = magic ‖ version ‖ KSN ‖ ephemeral public key ‖ the pad's public key), 32 bytes: the
//! KSN and both keys are bound, so a blob with another KSN, or unwrapped with another pad's
//! key, fails RFC 5649's integrity check.

use aes_kw::KwpAes256;
use aes_kw::cipher::KeyInit;
use p256::{PublicKey, SecretKey};
use sha256::Sha256;
use zeroize::Zeroizing;

use super::dukpt::Ksn;
use super::key::AesKey;

/// The first bytes of a wrapped PIN key.
pub const MAGIC: &[u8; 4] = b"SPWK";
/// The blob format's version.
pub const VERSION: u8 = 0x01;
/// Length of an uncompressed SEC1 P-256 public key.
pub const PUBLIC_KEY_LEN: usize = 65;
const HEADER_LEN: usize = 4 + 1 + 12;
const SALT: &[u8] = b"softpos pin key wrap v1";
/// The longest blob: an AES-256 initial key.
pub const MAX_BLOB_LEN: usize = HEADER_LEN + PUBLIC_KEY_LEN + 40;

/// Why a key could not be wrapped or unwrapped. Carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyWrapError {
    /// The PIN pad's public key is not a P-256 point.
    #[error("not a P-256 public key")]
    BadPublicKey,
    /// The blob is not a wrapped PIN key of this format.
    #[error("not a wrapped PIN key")]
    Malformed,
    /// The blob was wrapped for another PIN pad, or altered.
    #[error(
        "the wrapped PIN key does not open with this PIN pad's key (another device, or altered)"
    )]
    WrongKey,
    /// The OS random source failed.
    #[error("random source unavailable")]
    Random,
}

/// A fresh P-256 private key from the OS random source.
pub fn generate_secret_key() -> Result<SecretKey, KeyWrapError> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|_| KeyWrapError::Random)?;
        // Out of range (probability about 2^-32) or zero: draw again.
        if let Ok(key) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
}

/// The SEC1 uncompressed encoding (65 bytes) of `key`'s public key.
pub fn public_key_bytes(key: &SecretKey) -> [u8; PUBLIC_KEY_LEN] {
    encode_point(&key.public_key())
}

/// Wraps `initial_key` (16 or 32 bytes) and its `initial_ksn` for the PIN pad whose public key
/// is `recipient` (SEC1, compressed or not).
pub fn wrap(
    recipient: &[u8],
    initial_key: &AesKey,
    initial_ksn: Ksn,
) -> Result<Vec<u8>, KeyWrapError> {
    let recipient =
        PublicKey::from_sec1_bytes(recipient).map_err(|_| KeyWrapError::BadPublicKey)?;
    let ephemeral = generate_secret_key()?;
    let ephemeral_public = public_key_bytes(&ephemeral);
    let header = header(initial_ksn);
    let kek = derive_kek(
        &ephemeral,
        &recipient,
        &header,
        &ephemeral_public,
        &encode_point(&recipient),
    )?;
    let mut wrapped = [0u8; 48];
    let wrapped = KwpAes256::new((&*kek).into())
        .wrap_key(initial_key.expose_secret(), &mut wrapped)
        .map_err(|_| KeyWrapError::Malformed)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + PUBLIC_KEY_LEN + wrapped.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&ephemeral_public);
    blob.extend_from_slice(wrapped);
    Ok(blob)
}

/// The initial KSN a blob carries, without unwrapping it (`None` if it is not a blob). The KSN
/// is not secret; it is bound to the key, so a changed one fails [`unwrap`].
pub fn blob_ksn(blob: &[u8]) -> Option<Ksn> {
    let (header, _) = blob.split_first_chunk::<HEADER_LEN>()?;
    parse_header(header)
}

/// Unwraps a blob made by [`wrap`] with the PIN pad's private key `own`.
pub fn unwrap(own: &SecretKey, blob: &[u8]) -> Result<(AesKey, Ksn), KeyWrapError> {
    let (header, rest) = blob
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(KeyWrapError::Malformed)?;
    let ksn = parse_header(header).ok_or(KeyWrapError::Malformed)?;
    let (ephemeral_public, wrapped) = rest
        .split_first_chunk::<PUBLIC_KEY_LEN>()
        .ok_or(KeyWrapError::Malformed)?;
    if !matches!(wrapped.len(), 24 | 40) {
        return Err(KeyWrapError::Malformed);
    }
    let ephemeral =
        PublicKey::from_sec1_bytes(ephemeral_public).map_err(|_| KeyWrapError::Malformed)?;
    let kek = derive_kek(
        own,
        &ephemeral,
        header,
        ephemeral_public,
        &public_key_bytes(own),
    )?;
    let mut buf = Zeroizing::new([0u8; 40]);
    let key = KwpAes256::new((&*kek).into())
        .unwrap_key(wrapped, buf.as_mut())
        .map_err(|_| KeyWrapError::WrongKey)?;
    let key = AesKey::from_slice(key).ok_or(KeyWrapError::Malformed)?;
    Ok((key, ksn))
}

fn derive_kek(
    own: &SecretKey,
    other: &PublicKey,
    header: &[u8; HEADER_LEN],
    ephemeral_public: &[u8; PUBLIC_KEY_LEN],
    recipient_public: &[u8; PUBLIC_KEY_LEN],
) -> Result<Zeroizing<[u8; 32]>, KeyWrapError> {
    let shared = p256::ecdh::diffie_hellman(own.to_nonzero_scalar(), other.as_affine());
    let hkdf = shared.extract::<Sha256>(Some(SALT));
    let mut info = [0u8; HEADER_LEN + 2 * PUBLIC_KEY_LEN];
    info[..HEADER_LEN].copy_from_slice(header);
    info[HEADER_LEN..HEADER_LEN + PUBLIC_KEY_LEN].copy_from_slice(ephemeral_public);
    info[HEADER_LEN + PUBLIC_KEY_LEN..].copy_from_slice(recipient_public);
    let mut kek = Zeroizing::new([0u8; 32]);
    hkdf.expand(&info, kek.as_mut())
        .map_err(|_| KeyWrapError::Malformed)?;
    Ok(kek)
}

fn encode_point(key: &PublicKey) -> [u8; PUBLIC_KEY_LEN] {
    let mut out = [0u8; PUBLIC_KEY_LEN];
    let encoded = key.to_sec1_bytes();
    if encoded.len() == PUBLIC_KEY_LEN {
        out.copy_from_slice(&encoded);
    }
    out
}

fn header(ksn: Ksn) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(MAGIC);
    header[4] = VERSION;
    header[5..].copy_from_slice(&ksn.to_bytes());
    header
}

fn parse_header(header: &[u8; HEADER_LEN]) -> Option<Ksn> {
    let ksn: [u8; 12] = header[5..].try_into().ok()?;
    (&header[..4] == MAGIC && header[4] == VERSION).then(|| Ksn::from_bytes(ksn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ksn() -> Ksn {
        Ksn::from_bytes(hex_literal::hex!("123456789012345600000000"))
    }

    fn key() -> AesKey {
        AesKey::from_bytes_128(hex_literal::hex!("1273671EA26AC29AFA4D1084127652A1"))
    }

    #[test]
    fn the_pad_that_owns_the_key_unwraps_it() {
        let pad = generate_secret_key().unwrap();
        let blob = wrap(&public_key_bytes(&pad), &key(), ksn()).unwrap();
        assert_eq!(blob.len(), HEADER_LEN + PUBLIC_KEY_LEN + 24);
        assert_eq!(blob_ksn(&blob), Some(ksn()));
        let (unwrapped, unwrapped_ksn) = unwrap(&pad, &blob).unwrap();
        assert!(unwrapped == key());
        assert_eq!(unwrapped_ksn, ksn());
        let aes256 = AesKey::from_slice(&[7u8; 32]).unwrap();
        let blob = wrap(&public_key_bytes(&pad), &aes256, ksn()).unwrap();
        assert!(unwrap(&pad, &blob).unwrap().0 == aes256);
    }

    #[test]
    fn another_pad_cannot_unwrap_and_the_blob_holds_no_clear_key() {
        let pad = generate_secret_key().unwrap();
        let other = generate_secret_key().unwrap();
        let blob = wrap(&public_key_bytes(&pad), &key(), ksn()).unwrap();
        assert_eq!(unwrap(&other, &blob).err(), Some(KeyWrapError::WrongKey));
        assert!(!blob.windows(16).any(|w| w == key().expose_secret()));
        // Two wraps of one key for one pad differ (fresh ephemeral key each time).
        let again = wrap(&public_key_bytes(&pad), &key(), ksn()).unwrap();
        assert_ne!(blob, again);
    }

    #[test]
    fn an_altered_ksn_or_key_is_refused() {
        let pad = generate_secret_key().unwrap();
        let blob = wrap(&public_key_bytes(&pad), &key(), ksn()).unwrap();
        for at in [
            HEADER_LEN - 1,
            HEADER_LEN + PUBLIC_KEY_LEN + 3,
            blob.len() - 1,
        ] {
            let mut altered = blob.clone();
            altered[at] ^= 0x01;
            assert!(unwrap(&pad, &altered).is_err(), "byte {at}");
        }
    }

    #[test]
    fn malformed_blobs_are_errors_not_panics() {
        let pad = generate_secret_key().unwrap();
        let blob = wrap(&public_key_bytes(&pad), &key(), ksn()).unwrap();
        for len in 0..blob.len() {
            assert!(unwrap(&pad, &blob[..len]).is_err(), "length {len}");
        }
        let mut wrong_magic = blob.clone();
        wrong_magic[0] = b'X';
        assert_eq!(
            unwrap(&pad, &wrong_magic).err(),
            Some(KeyWrapError::Malformed)
        );
        assert_eq!(blob_ksn(&wrong_magic), None);
        assert_eq!(
            wrap(&[4u8; 65], &key(), ksn()).err(),
            Some(KeyWrapError::BadPublicKey)
        );
    }
}
