//! The PIN pad's own P-256 key pair, for the PIN initial key wrapped for this pad
//! (`emv::crypto::key_wrap`, `docs/enrolment.md`).
//!
//! `pad-key.sealed` in the store: `"SPPK"` ‖ version `01` ‖ nonce (12) ‖ ChaCha20-Poly1305
//! under the store's KEK of the 32-byte private scalar, with the magic and version as
//! associated data. It is made on first use ([`public_key`]) and never leaves the pad process:
//! the terminal gets the public key only, and hands the pad a wrapped key that only this file
//! opens ([`install_wrapped`]).

use std::path::Path;

use emv::crypto::dukpt::Ksn;
use emv::crypto::key_wrap::{self, KeyWrapError, PUBLIC_KEY_LEN};
use p256::SecretKey;
use zeroize::Zeroizing;

use super::sealed_file::{self, Kind};
use super::{KeystoreError, MACHINE_ID, create_dir, derive_kek, ensure_device_secret, lock};

/// The sealed private key's file.
pub const PAD_KEY_FILE: &str = "pad-key.sealed";
const KIND: Kind = Kind {
    magic: b"SPPK",
    version: 0x01,
};

/// The pad's public key (SEC1 uncompressed, 65 bytes); the key pair is made and sealed into
/// `dir` on first use.
pub fn public_key(dir: &Path) -> Result<[u8; PUBLIC_KEY_LEN], KeystoreError> {
    public_key_with(dir, Path::new(MACHINE_ID))
}

fn public_key_with(dir: &Path, machine_id: &Path) -> Result<[u8; PUBLIC_KEY_LEN], KeystoreError> {
    create_dir(dir)?;
    let _lock = lock(dir)?;
    ensure_device_secret(dir)?;
    let kek = derive_kek(dir, machine_id)?;
    let key = match open(dir, &kek)? {
        Some(key) => key,
        None => {
            let key = key_wrap::generate_secret_key().map_err(|_| KeystoreError::Random)?;
            let scalar = Zeroizing::new(key.to_bytes());
            sealed_file::write(dir, PAD_KEY_FILE, KIND, &kek, scalar.as_slice())?;
            key
        }
    };
    Ok(key_wrap::public_key_bytes(&key))
}

/// Unwraps `blob` (made by the host for this pad's public key) with the pad's private key and
/// installs the initial key it holds ([`super::Keystore::install`]). Returns the initial KSN.
/// A blob for another pad, an altered one, or a store without a pad key is refused
/// ([`KeystoreError::WrappedKey`]); a store with a key already refuses as installing does.
pub fn install_wrapped(dir: &Path, blob: &[u8]) -> Result<Ksn, KeystoreError> {
    install_wrapped_with(dir, blob, Path::new(MACHINE_ID))
}

fn install_wrapped_with(dir: &Path, blob: &[u8], machine_id: &Path) -> Result<Ksn, KeystoreError> {
    let (initial_key, initial_ksn) = {
        let _lock = lock(dir)?;
        let kek = derive_kek(dir, machine_id)?;
        let key = open(dir, &kek)?.ok_or(KeystoreError::WrappedKey(KeyWrapError::WrongKey))?;
        key_wrap::unwrap(&key, blob).map_err(KeystoreError::WrappedKey)?
    };
    super::Keystore::install_with(dir, &initial_key, initial_ksn, machine_id)?;
    Ok(initial_ksn)
}

/// The pad's private key, `None` if it was not made yet.
fn open(dir: &Path, kek: &[u8; 32]) -> Result<Option<SecretKey>, KeystoreError> {
    let Some(scalar) = sealed_file::read(dir, PAD_KEY_FILE, KIND, kek)? else {
        return Ok(None);
    };
    SecretKey::from_slice(&scalar)
        .map(Some)
        .map_err(|_| KeystoreError::Damaged(dir.join(PAD_KEY_FILE)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic in a test is a failure.

    use emv::crypto::dukpt::{KeyType, KeyUsage, derive_working_key};
    use emv::crypto::key::AesKey;

    use super::*;
    use crate::pinpad::keystore::Keystore;

    fn machine_id(dir: &Path, id: &str) -> std::path::PathBuf {
        let path = dir.join(format!("machine-id-{id}"));
        std::fs::write(&path, id).unwrap();
        path
    }

    fn initial() -> (AesKey, Ksn) {
        (
            AesKey::from_bytes_128(hex_literal::hex!("1273671EA26AC29AFA4D1084127652A1")),
            Ksn::from_bytes(hex_literal::hex!("123456789012345600000000")),
        )
    }

    #[test]
    fn the_pad_key_is_made_once_and_opens_only_its_own_wrapped_key() {
        let tmp = tempfile::tempdir().unwrap();
        let id = machine_id(tmp.path(), "a");
        let store = tmp.path().join("pad");
        let other_store = tmp.path().join("other");
        let public = public_key_with(&store, &id).unwrap();
        assert_eq!(public_key_with(&store, &id).unwrap(), public, "made once");
        let other_public = public_key_with(&other_store, &id).unwrap();
        assert_ne!(public, other_public);

        let (key, ksn) = initial();
        let blob = key_wrap::wrap(&public, &key, ksn).unwrap();
        // Another pad (another store on the same machine) cannot install it, and has no key.
        assert!(matches!(
            install_wrapped_with(&other_store, &blob, &id),
            Err(KeystoreError::WrappedKey(KeyWrapError::WrongKey))
        ));
        assert!(!crate::pinpad::keystore::is_installed(&other_store));

        assert_eq!(install_wrapped_with(&store, &blob, &id).unwrap(), ksn);
        let opened = Keystore::open_with(&store, &id).unwrap();
        let first = emv::crypto::dukpt::first_ksn(ksn.initial_key_id());
        let expected =
            derive_working_key(&key, first, KeyUsage::PinEncryption, KeyType::Aes128).unwrap();
        assert!(opened.pin_key(first).unwrap() == expected);
        // Once: a second installation would start the counter over.
        assert!(matches!(
            install_wrapped_with(&store, &blob, &id),
            Err(KeystoreError::AlreadyInstalled(_))
        ));
    }

    #[test]
    fn the_pad_key_does_not_open_on_another_machine_or_altered() {
        let tmp = tempfile::tempdir().unwrap();
        let a = machine_id(tmp.path(), "a");
        let b = machine_id(tmp.path(), "b");
        let store = tmp.path().join("pad");
        let public = public_key_with(&store, &a).unwrap();
        let (key, ksn) = initial();
        let blob = key_wrap::wrap(&public, &key, ksn).unwrap();
        assert!(matches!(
            install_wrapped_with(&store, &blob, &b),
            Err(KeystoreError::Damaged(_))
        ));
        let path = store.join(PAD_KEY_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            public_key_with(&store, &a),
            Err(KeystoreError::Damaged(_))
        ));
        assert!(!crate::pinpad::keystore::is_installed(&store));
    }
}
