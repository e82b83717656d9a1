//! The terminal's device key and the sealing of the few values the journal must keep secret
//! for a while (a PAN for a later completion or advice upload).
//!
//! The device key is 16 random bytes in `device.key` (hex, mode 0600) next to the journal.
//! Sealing is encrypt-then-MAC: AES-128 in counter mode (NIST SP 800-38A §6.5) under an
//! encryption key, then AES-CMAC (NIST SP 800-38B) under a separate MAC key over nonce and
//! ciphertext; both keys are derived from the device key with AES-CMAC as a PRF
//! (NIST SP 800-108 counter-mode KDF, one block). Layout: nonce (12) ‖ ciphertext ‖ tag (16).

use std::io::Write as _;
use std::path::Path;

use aes::Aes128;
use cipher::{Block, BlockCipherEncrypt, KeyInit};
use emv::crypto::key::AesKey;
use emv::crypto::mac::{aes_cmac, verify_aes_cmac};
use zeroize::Zeroizing;

use super::JournalError;

/// Loads the device key from `path`, creating it (16 random bytes, mode 0600) on first use.
pub fn load_or_create_device_key(path: &Path) -> Result<AesKey, JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    match read_key_text(path) {
        Ok(text) => {
            let bytes = Zeroizing::new(
                hex::decode(text.trim())
                    .map_err(|_| JournalError::BadDeviceKey(path.to_path_buf()))?,
            );
            AesKey::from_slice(&bytes).ok_or_else(|| JournalError::BadDeviceKey(path.to_path_buf()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 16]);
            getrandom::fill(key.as_mut_slice()).map_err(|_| JournalError::Random)?;
            let text = Zeroizing::new(hex::encode(key.as_slice()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(AesKey::from_bytes_128(*key))
        }
        Err(e) => Err(io(e)),
    }
}

/// The device key file's text, wiped when dropped (it is the key in hex).
fn read_key_text(path: &Path) -> std::io::Result<Zeroizing<String>> {
    std::fs::read_to_string(path).map(Zeroizing::new)
}

/// Seals `plaintext` under `device_key`.
pub fn seal(device_key: &AesKey, plaintext: &[u8]) -> Result<Vec<u8>, JournalError> {
    let (enc, mac) = derive(device_key);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| JournalError::Random)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    if let Some(body) = out.get_mut(NONCE_LEN..) {
        ctr(&enc, nonce, body);
    }
    let tag = aes_cmac(&mac, &out);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a value sealed by [`seal`]; fails if it was altered or sealed under another key.
pub fn open(device_key: &AesKey, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, JournalError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(JournalError::Sealed);
    }
    let (enc, mac) = derive(device_key);
    let (covered, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    if !verify_aes_cmac(&mac, covered, tag) {
        return Err(JournalError::Sealed);
    }
    let (nonce, body) = covered.split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let mut plain = Zeroizing::new(body.to_vec());
    ctr(&enc, nonce_bytes, &mut plain);
    Ok(plain)
}

fn derive(device_key: &AesKey) -> (AesKey, AesKey) {
    let kdf = |label: &[u8]| {
        let mut input = vec![0x01];
        input.extend_from_slice(label);
        input.extend_from_slice(&[0x00, 0x00, 0x80]);
        AesKey::from_bytes_128(aes_cmac(device_key, &input))
    };
    (kdf(b"softpos seal enc"), kdf(b"softpos seal mac"))
}

fn ctr(key: &AesKey, nonce: [u8; NONCE_LEN], data: &mut [u8]) {
    let Ok(cipher) = Aes128::new_from_slice(key.expose_secret()) else {
        return;
    };
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let mut counter = [0u8; 16];
        let index = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
        for (c, b) in counter.iter_mut().zip(nonce.iter().chain(index.iter())) {
            *c = *b;
        }
        let mut block = Block::<Aes128>::from(counter);
        cipher.encrypt_block(&mut block);
        for (d, k) in chunk.iter_mut().zip(block.iter()) {
            *d ^= k;
        }
    }
}

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_key_text_is_wiped_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("device.key");
        let key = load_or_create_device_key(&path).expect("created");
        // The hex read back is held in a `Zeroizing` buffer (a type check: it is wiped on drop).
        let text: Zeroizing<String> = read_key_text(&path).expect("read");
        assert_eq!(text.len(), 32);
        let again = load_or_create_device_key(&path).expect("loaded");
        assert_eq!(again.expose_secret(), key.expose_secret());
    }

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let key = AesKey::from_bytes_128([0x11; 16]);
        let sealed = seal(&key, b"4761739001010119").expect("seal");
        assert_eq!(sealed.len(), 12 + 16 + 16);
        assert!(!sealed.windows(16).any(|w| w == b"4761739001010119"));
        assert_eq!(
            open(&key, &sealed).expect("open").as_slice(),
            b"4761739001010119"
        );
        let mut bad = sealed.clone();
        bad[14] ^= 1;
        assert!(open(&key, &bad).is_err());
        let other = AesKey::from_bytes_128([0x22; 16]);
        assert!(open(&other, &sealed).is_err());
        assert_ne!(
            seal(&key, b"4761739001010119").expect("seal"),
            sealed,
            "fresh nonce"
        );
    }
}
