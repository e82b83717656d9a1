//! The attestation key the PIN pad trusts (`docs/attestation.md` § The PIN pad): the host's
//! token key and the terminal ID its tokens must name, set once at activation. From then on
//! the pad takes a PIN only with a valid token, which it checks itself.
//!
//! `attestation.sealed` in the store: `"SPAK"` ‖ version `01` ‖ nonce (12) ‖ ChaCha20-Poly1305
//! under the store's KEK of terminal ID (8) ‖ key (SEC1 uncompressed, 65), with the magic and
//! version as associated data. Nothing in it is secret; the seal keeps it from being changed
//! without the device secret.

use std::path::Path;

use emv::crypto::key_wrap::PUBLIC_KEY_LEN;

use super::sealed_file::{self, Kind};
use super::{KeystoreError, MACHINE_ID, create_dir, derive_kek, ensure_device_secret, lock};

/// The sealed trust's file.
pub const TRUST_FILE: &str = "attestation.sealed";
const KIND: Kind = Kind {
    magic: b"SPAK",
    version: 0x01,
};
const TERMINAL_ID_LEN: usize = 8;

/// Whose tokens the pad accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationTrust {
    /// The terminal the tokens must name.
    pub terminal_id: String,
    /// The host's token key (SEC1 uncompressed).
    pub host_key: [u8; PUBLIC_KEY_LEN],
}

/// Seals `trust` into the store `dir`, once: a store that trusts a key refuses another
/// ([`KeystoreError::AlreadyInstalled`]), as it refuses a second PIN key.
pub fn install(dir: &Path, trust: &AttestationTrust) -> Result<(), KeystoreError> {
    install_with(dir, trust, Path::new(MACHINE_ID))
}

/// The trust sealed in `dir`, `None` when none was set (a pad enrolled from a bundle).
pub fn load(dir: &Path) -> Result<Option<AttestationTrust>, KeystoreError> {
    load_with(dir, Path::new(MACHINE_ID))
}

fn install_with(
    dir: &Path,
    trust: &AttestationTrust,
    machine_id: &Path,
) -> Result<(), KeystoreError> {
    let id_ok = trust.terminal_id.len() == TERMINAL_ID_LEN
        && trust
            .terminal_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !id_ok || p256::PublicKey::from_sec1_bytes(&trust.host_key).is_err() {
        return Err(KeystoreError::InvalidKey);
    }
    create_dir(dir)?;
    let _lock = lock(dir)?;
    let path = dir.join(TRUST_FILE);
    if path.exists() {
        return Err(KeystoreError::AlreadyInstalled(path));
    }
    ensure_device_secret(dir)?;
    let kek = derive_kek(dir, machine_id)?;
    let mut plain = Vec::with_capacity(TERMINAL_ID_LEN + PUBLIC_KEY_LEN);
    plain.extend_from_slice(trust.terminal_id.as_bytes());
    plain.extend_from_slice(&trust.host_key);
    sealed_file::write(dir, TRUST_FILE, KIND, &kek, &plain)
}

fn load_with(dir: &Path, machine_id: &Path) -> Result<Option<AttestationTrust>, KeystoreError> {
    if !dir.join(TRUST_FILE).exists() {
        return Ok(None);
    }
    let kek = derive_kek(dir, machine_id)?;
    let Some(plain) = sealed_file::read(dir, TRUST_FILE, KIND, &kek)? else {
        return Ok(None);
    };
    let damaged = || KeystoreError::Damaged(dir.join(TRUST_FILE));
    let (id, key) = plain
        .split_at_checked(TERMINAL_ID_LEN)
        .ok_or_else(damaged)?;
    Ok(Some(AttestationTrust {
        terminal_id: String::from_utf8(id.to_vec()).map_err(|_| damaged())?,
        host_key: key.try_into().map_err(|_| damaged())?,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic in a test is a failure.

    use super::*;

    fn trust() -> AttestationTrust {
        let key = emv::crypto::key_wrap::generate_secret_key().unwrap();
        AttestationTrust {
            terminal_id: "A0000001".to_owned(),
            host_key: emv::crypto::key_wrap::public_key_bytes(&key),
        }
    }

    #[test]
    fn the_trust_is_set_once_and_a_changed_file_is_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let id = tmp.path().join("machine-id");
        std::fs::write(&id, "a").unwrap();
        let store = tmp.path().join("pad");
        assert_eq!(load_with(&store, &id).unwrap(), None);
        let first = trust();
        install_with(&store, &first, &id).unwrap();
        assert_eq!(load_with(&store, &id).unwrap(), Some(first.clone()));
        assert!(matches!(
            install_with(&store, &trust(), &id),
            Err(KeystoreError::AlreadyInstalled(_))
        ));
        assert_eq!(load_with(&store, &id).unwrap(), Some(first));
        // One bit changed in the sealed file: refused, not trusted.
        let path = store.join(TRUST_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            load_with(&store, &id),
            Err(KeystoreError::Damaged(_))
        ));
    }

    #[test]
    fn a_bad_terminal_id_or_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let id = tmp.path().join("machine-id");
        std::fs::write(&id, "a").unwrap();
        let store = tmp.path().join("pad");
        let bad_id = AttestationTrust {
            terminal_id: "a0000001".to_owned(),
            ..trust()
        };
        let bad_key = AttestationTrust {
            host_key: [4; PUBLIC_KEY_LEN],
            ..trust()
        };
        for bad in [bad_id, bad_key] {
            assert!(matches!(
                install_with(&store, &bad, &id),
                Err(KeystoreError::InvalidKey)
            ));
        }
        assert!(!store.join(TRUST_FILE).exists());
    }
}
