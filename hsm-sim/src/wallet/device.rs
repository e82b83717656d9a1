//! The wallet's device key: an Ed25519 key pair made on the phone at enrolment, whose public
//! half the host certifies under the wallet CA. The secret half is stored sealed under a key
//! derived from the wallet PIN (Argon2id, then ChaCha20-Poly1305); the PIN never leaves the
//! phone. Wrong PINs are counted in the stored state; after [`MAX_PIN_TRIES`] in a row the
//! wallet is locked and must be enrolled again.
//!
//! The state is one file, `DIR/device.toml`, replaced atomically on every change.

use std::fs;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use emv::qr::offline_code::{DeviceCertificate, DeviceId, PayerToken};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Wrong PINs in a row after which the wallet locks.
pub const MAX_PIN_TRIES: u32 = 5;
/// The state file in the wallet's directory.
pub const STATE_FILE: &str = "device.toml";
/// The shortest PIN accepted at enrolment.
pub const MIN_PIN_DIGITS: usize = 4;

/// A wallet failure.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state file is malformed.
    #[error("the wallet's state is malformed: {0}")]
    Malformed(String),
    /// No wallet in this directory.
    #[error("no wallet enrolled in {0}")]
    NotEnrolled(PathBuf),
    /// A wallet is already enrolled here.
    #[error("a wallet is already enrolled in {0}")]
    AlreadyEnrolled(PathBuf),
    /// The PIN is wrong; `left` tries remain.
    #[error("wrong PIN ({left} tries left)")]
    WrongPin {
        /// Tries left before the wallet locks.
        left: u32,
    },
    /// Too many wrong PINs.
    #[error("the wallet is locked after {MAX_PIN_TRIES} wrong PINs; enrol it again")]
    Locked,
    /// A PIN of the wrong form.
    #[error("the PIN must be {MIN_PIN_DIGITS} to 12 digits")]
    BadPin,
    /// The host refused or failed the enrolment.
    #[error("enrolment failed: {0}")]
    Enrolment(String),
    /// The OS random source or the key derivation failed.
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
}

/// What is stored (secret key sealed).
#[derive(Clone, Serialize, Deserialize)]
struct State {
    device_id: String,
    public_key: String,
    payer_token: String,
    certificate: String,
    /// Argon2id salt (hex).
    salt: String,
    /// nonce ‖ ChaCha20-Poly1305 of the 32-byte secret key, associated data the device ID.
    sealed_key: String,
    failed_pins: u32,
    locked: bool,
    /// The offline code's counter: the last value used.
    counter: u32,
    /// The consumer-presented code's ATC: the last value used.
    atc: u16,
}

/// An unlocked device.
pub struct Device {
    dir: PathBuf,
    state: State,
    key: SigningKey,
    certificate: DeviceCertificate,
    payer_token: PayerToken,
    device_id: DeviceId,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("device_id", &self.state.device_id)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Makes a device key in `dir`, has `register` enrol its public key (returning the payer
    /// token and certificate), and stores the key sealed under `pin`.
    pub fn create(
        dir: &Path,
        pin: &str,
        register: impl FnOnce(
            DeviceId,
            &VerifyingKey,
        ) -> Result<(PayerToken, DeviceCertificate), String>,
    ) -> Result<Self, DeviceError> {
        check_pin(pin)?;
        let path = dir.join(STATE_FILE);
        if path.exists() {
            return Err(DeviceError::AlreadyEnrolled(dir.to_owned()));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|_| DeviceError::Crypto("random"))?;
        let mut device_id = [0u8; 8];
        getrandom::fill(&mut device_id).map_err(|_| DeviceError::Crypto("random"))?;
        let key = SigningKey::from_bytes(&seed);
        let (payer_token, certificate) =
            register(device_id, &key.verifying_key()).map_err(DeviceError::Enrolment)?;
        if certificate.device_key != key.verifying_key().to_bytes()
            || certificate.device_id != device_id
        {
            return Err(DeviceError::Enrolment(
                "the certificate is not for this device".to_owned(),
            ));
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| DeviceError::Crypto("random"))?;
        let kek = derive(pin, &salt)?;
        let sealed = seal(&kek, &device_id, seed.as_ref())?;
        let state = State {
            device_id: hex::encode_upper(device_id),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            payer_token: hex::encode(payer_token),
            certificate: hex::encode(certificate.to_bytes()),
            salt: hex::encode(salt),
            sealed_key: hex::encode(sealed),
            failed_pins: 0,
            locked: false,
            counter: 0,
            atc: 0,
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let device = Self {
            dir: dir.to_owned(),
            state,
            key,
            certificate,
            payer_token,
            device_id,
        };
        device.save()?;
        Ok(device)
    }

    /// Unlocks the wallet in `dir` with `pin`. A wrong PIN is counted (stored before this
    /// returns); the [`MAX_PIN_TRIES`]th in a row locks the wallet for good. A right PIN
    /// resets the count.
    pub fn load(dir: &Path, pin: &str) -> Result<Self, DeviceError> {
        let path = dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeviceError::NotEnrolled(dir.to_owned()));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        let mut state: State =
            toml::from_str(&text).map_err(|e| DeviceError::Malformed(e.to_string()))?;
        if state.locked || state.failed_pins >= MAX_PIN_TRIES {
            return Err(DeviceError::Locked);
        }
        let device_id: DeviceId = fixed(&state.device_id)?;
        let salt: [u8; 16] = fixed(&state.salt)?;
        let sealed =
            hex::decode(&state.sealed_key).map_err(|e| DeviceError::Malformed(e.to_string()))?;
        let opened = check_pin(pin).and_then(|()| {
            let kek = derive(pin, &salt)?;
            unseal(&kek, &device_id, &sealed).ok_or(DeviceError::WrongPin { left: 0 })
        });
        let seed = match opened {
            Ok(seed) => seed,
            Err(DeviceError::WrongPin { .. } | DeviceError::BadPin) => {
                state.failed_pins += 1;
                state.locked = state.failed_pins >= MAX_PIN_TRIES;
                write_state(dir, &state)?;
                if state.locked {
                    return Err(DeviceError::Locked);
                }
                return Err(DeviceError::WrongPin {
                    left: MAX_PIN_TRIES - state.failed_pins,
                });
            }
            Err(e) => return Err(e),
        };
        let seed = <[u8; 32]>::try_from(seed.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| DeviceError::Malformed("sealed key length".to_owned()))?;
        let key = SigningKey::from_bytes(&seed);
        let certificate = DeviceCertificate::parse(
            &hex::decode(&state.certificate).map_err(|e| DeviceError::Malformed(e.to_string()))?,
        )
        .map_err(|e| DeviceError::Malformed(e.to_string()))?;
        let payer_token = fixed(&state.payer_token)?;
        if state.failed_pins != 0 {
            state.failed_pins = 0;
            write_state(dir, &state)?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            state,
            key,
            certificate,
            payer_token,
            device_id,
        })
    }

    /// Signs `message` with the device key (Ed25519).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The signing key, for the code formats that sign with it.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The device's public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The device ID.
    pub fn id(&self) -> DeviceId {
        self.device_id
    }

    /// The device ID as 16 hex digits.
    pub fn id_hex(&self) -> &str {
        &self.state.device_id
    }

    /// The device certificate.
    pub fn certificate(&self) -> &DeviceCertificate {
        &self.certificate
    }

    /// The payer token.
    pub fn payer_token(&self) -> PayerToken {
        self.payer_token
    }

    /// Takes the next offline-code counter (stored before it is returned).
    pub fn next_counter(&mut self) -> Result<u32, DeviceError> {
        self.state.counter = self
            .state
            .counter
            .checked_add(1)
            .ok_or(DeviceError::Crypto("counter exhausted"))?;
        self.save()?;
        Ok(self.state.counter)
    }

    /// Takes the next consumer-presented ATC (stored before it is returned).
    pub fn next_atc(&mut self) -> Result<u16, DeviceError> {
        self.state.atc = self
            .state
            .atc
            .checked_add(1)
            .ok_or(DeviceError::Crypto("ATC exhausted"))?;
        self.save()?;
        Ok(self.state.atc)
    }

    fn save(&self) -> Result<(), DeviceError> {
        write_state(&self.dir, &self.state)
    }
}

fn check_pin(pin: &str) -> Result<(), DeviceError> {
    if (MIN_PIN_DIGITS..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(DeviceError::BadPin)
    }
}

/// Argon2id (19 MiB, 2 passes, 1 lane: the OWASP minimum) of the PIN.
fn derive(pin: &str, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, DeviceError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32))
        .map_err(|_| DeviceError::Crypto("argon2 parameters"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, &mut *out)
        .map_err(|_| DeviceError::Crypto("argon2"))?;
    Ok(out)
}

fn seal(kek: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, DeviceError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| DeviceError::Crypto("random"))?;
    let sealed = ChaCha20Poly1305::new(kek.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| DeviceError::Crypto("seal"))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

fn unseal(kek: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, ciphertext) = sealed.split_first_chunk::<12>()?;
    ChaCha20Poly1305::new(kek.into())
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

fn fixed<const N: usize>(text: &str) -> Result<[u8; N], DeviceError> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| DeviceError::Malformed(format!("expected {N} bytes of hex")))
}

fn write_state(dir: &Path, state: &State) -> Result<(), DeviceError> {
    let text = toml::to_string(state).map_err(|e| DeviceError::Malformed(e.to_string()))?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    fs::write(&tmp, text).map_err(io(&tmp))?;
    if let Ok(file) = fs::File::open(&tmp) {
        let _ = file.sync_all();
    }
    let path = dir.join(STATE_FILE);
    fs::rename(&tmp, &path).map_err(io(&path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DeviceError + '_ {
    move |source| DeviceError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(
        ca: &SigningKey,
    ) -> impl FnOnce(DeviceId, &VerifyingKey) -> Result<(PayerToken, DeviceCertificate), String> + '_
    {
        move |id, key| {
            Ok((
                [5; 16],
                DeviceCertificate::issue(ca, id, [5; 16], key, u32::MAX),
            ))
        }
    }

    #[test]
    fn the_key_opens_with_the_pin_and_signs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = SigningKey::from_bytes(&[1; 32]);
        let made =
            Device::create(dir.path(), "2468", register(&ca)).unwrap_or_else(|e| panic!("{e}"));
        let text = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap_or_default();
        assert!(
            !text.contains(&hex::encode(made.key.to_bytes())),
            "the key is stored in clear"
        );
        let loaded = Device::load(dir.path(), "2468").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.id(), made.id());
        let sig = ed25519_dalek::Signature::from_bytes(&loaded.sign(b"hello"));
        assert!(made.public_key().verify_strict(b"hello", &sig).is_ok());
        assert!(matches!(
            Device::create(dir.path(), "2468", register(&ca)),
            Err(DeviceError::AlreadyEnrolled(_))
        ));
    }

    #[test]
    fn wrong_pins_are_counted_and_lock_the_wallet() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ca = SigningKey::from_bytes(&[1; 32]);
        Device::create(dir.path(), "2468", register(&ca)).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            Device::load(dir.path(), "1111"),
            Err(DeviceError::WrongPin { left: 4 })
        ));
        // A right PIN resets the count.
        assert!(Device::load(dir.path(), "2468").is_ok());
        for left in (1..MAX_PIN_TRIES).rev() {
            assert!(matches!(
                Device::load(dir.path(), "1111"),
                Err(DeviceError::WrongPin { left: l }) if l == left
            ));
        }
        assert!(matches!(
            Device::load(dir.path(), "1111"),
            Err(DeviceError::Locked)
        ));
        assert!(matches!(
            Device::load(dir.path(), "2468"),
            Err(DeviceError::Locked)
        ));
    }
}
