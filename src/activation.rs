//! The terminal's side of activation (`docs/enrolment.md`): from a one-time code to an
//! enrolment directory and a PIN pad holding its PIN key.
//!
//! 1. [`ActivationCode::parse`] splits `7Q4K-P9XM-4DKC-WZ2B-HN8Q` into the secret code and the
//!    host's fingerprint.
//! 2. [`DeviceKey::generate`] makes the device's P-256 key pair here; its private key never
//!    leaves this machine (it becomes the TLS client key, `terminal.key`).
//! 3. [`ActivationRequest::new`] asks the PIN pad for its public key's bytes (given by the
//!    caller, [`crate::pinpad::PinPadProcess::public_key`]) and signs the code and both public
//!    keys with the device key.
//! 4. The request travels to the host over TLS pinned by the fingerprint.
//! 5. [`install`] checks the answer against the fingerprint, writes the enrolment directory
//!    (the layout of `docs/enrolment-bundle.md`, without any PIN key file) and hands the
//!    wrapped PIN key to the PIN pad, which alone can unwrap it.

use std::fs;
use std::path::Path;

use emv::crypto::dukpt::Ksn;
use emv::crypto::key::AesKey;
use emv::crypto::key_wrap;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::acquirer::{MANIFEST_FILE, MacKey};

pub mod client;

/// What the device key signs before the code and the keys (the host checks the same).
pub const PROOF_LABEL: &[u8] = b"softpos activation v1\0";

/// Crockford's base32 alphabet: no I, L, O, U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code as the merchant types it. `Debug` hides the secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode {
    code: String,
    fingerprint: String,
}

impl ActivationCode {
    /// Parses `CODE-FINGERPRINT`: 8 then 12 base32 characters, dashes and spaces anywhere,
    /// any case, `O` read as `0` and `I`/`L` as `1`.
    pub fn parse(text: &str) -> Result<Self, ActivationError> {
        let raw: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        if raw.len() != 20 || !raw.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(ActivationError::BadCode);
        }
        let (code, fingerprint) = raw.split_at(8);
        Ok(Self {
            code: code.to_owned(),
            fingerprint: fingerprint.to_owned(),
        })
    }

    /// The host fingerprint part (12 characters, no dashes).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the host key pin (SHA-256 of its SubjectPublicKeyInfo) is the one the code
    /// names.
    pub fn matches_host(&self, host_spki_sha256: &[u8; 32]) -> bool {
        fingerprint_of(host_spki_sha256) == self.fingerprint
    }

    /// Whether a host key (its DER SubjectPublicKeyInfo) is the one the code names.
    pub fn matches_host_key(&self, spki_der: &[u8]) -> bool {
        self.matches_host(&Sha256::digest(spki_der).into())
    }
}

impl std::fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationCode")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The first 60 bits of a host key pin in base32 (12 characters).
fn fingerprint_of(pin: &[u8; 32]) -> String {
    (0..12)
        .map(|i| {
            let bit = i * 5;
            let hi = u16::from(pin.get(bit / 8).copied().unwrap_or(0));
            let lo = u16::from(pin.get(bit / 8 + 1).copied().unwrap_or(0));
            let window = (hi << 8 | lo) >> (11 - bit % 8);
            char::from(ALPHABET[usize::from(window & 0x1F)])
        })
        .collect()
}

/// The device's P-256 key pair, made on this machine. No `Debug`; zeroized on drop.
pub struct DeviceKey(p256::SecretKey);

impl DeviceKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> Result<Self, ActivationError> {
        key_wrap::generate_secret_key()
            .map(Self)
            .map_err(|_| ActivationError::Random)
    }

    /// The public key's SubjectPublicKeyInfo (DER).
    pub fn spki_der(&self) -> Result<Vec<u8>, ActivationError> {
        self.0
            .public_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| ActivationError::Random)
    }

    /// The private key as PKCS#8 PEM (the TLS client key file).
    fn pkcs8_pem(&self) -> Result<Zeroizing<String>, ActivationError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| ActivationError::Random)
    }

    /// An ECDSA P-256 SHA-256 signature (DER) of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = SigningKey::from(&self.0).sign(message);
        signature.to_der().as_bytes().to_vec()
    }
}

/// What the terminal sends (JSON; the host's `ActivationRequest` reads the same fields).
#[derive(Clone, Serialize, Deserialize)]
pub struct ActivationRequest {
    /// The secret part of the code.
    pub code: String,
    /// The device key's SubjectPublicKeyInfo (DER, hex).
    pub device_public_key: String,
    /// The PIN pad's public key (SEC1, hex).
    pub pin_pad_public_key: String,
    /// The device key's signature (DER, hex) over [`PROOF_LABEL`] ‖ code ‖ device SPKI ‖ PIN
    /// pad key.
    pub signature: String,
}

impl ActivationRequest {
    /// The signed request for `code`, from `device` for the PIN pad key `pin_pad_public_key`.
    pub fn new(
        code: &ActivationCode,
        device: &DeviceKey,
        pin_pad_public_key: &[u8],
    ) -> Result<Self, ActivationError> {
        let spki = device.spki_der()?;
        let mut message = Vec::with_capacity(PROOF_LABEL.len() + 8 + spki.len() + 65);
        message.extend_from_slice(PROOF_LABEL);
        message.extend_from_slice(code.code.as_bytes());
        message.extend_from_slice(&spki);
        message.extend_from_slice(pin_pad_public_key);
        Ok(Self {
            code: code.code.clone(),
            device_public_key: hex::encode(&spki),
            pin_pad_public_key: hex::encode(pin_pad_public_key),
            signature: hex::encode(device.sign(&message)),
        })
    }
}

/// What the host answers (JSON).
#[derive(Clone, Serialize, Deserialize)]
pub struct ActivationResponse {
    /// The terminal ID (DE 41).
    pub terminal_id: String,
    /// The merchant the terminal belongs to.
    pub merchant: String,
    /// The client certificate (PEM) for the device key.
    pub certificate_pem: String,
    /// The host CA (PEM).
    pub ca_pem: String,
    /// The ISO 8583 host address.
    pub host: String,
    /// The name the host's certificate carries.
    pub server_name: String,
    /// SHA-256 of the host key's SubjectPublicKeyInfo (hex).
    pub host_spki_sha256: String,
    /// The MAC initial key (hex). Secret.
    pub mac_initial_key: String,
    /// Its initial KSN (hex).
    pub mac_initial_ksn: String,
    /// The PIN key wrapped for the PIN pad (hex).
    pub pin_key_wrapped: String,
}

impl std::fmt::Debug for ActivationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationResponse")
            .field("terminal_id", &self.terminal_id)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// What an activation left: the terminal ID and the wrapped PIN key, for the PIN pad.
pub struct Activated {
    /// The terminal ID.
    pub terminal_id: String,
    /// The merchant.
    pub merchant: String,
    /// The PIN key wrapped for the pad: useless to anyone else.
    pub pin_key_wrapped: Vec<u8>,
}

/// Why activation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// The code is not `XXXX-XXXX-XXXX-XXXX-XXXX` in base32.
    #[error("not an activation code: expected 20 characters like 7Q4K-P9XM-4DKC-WZ2B-HN8Q")]
    BadCode,
    /// The host's key is not the one the code names.
    #[error("the host's key does not match the activation code's fingerprint: wrong host?")]
    WrongHost,
    /// The host's answer is malformed.
    #[error("bad answer from the host: {0}")]
    BadAnswer(&'static str),
    /// The host refused (wrong, used or expired code; too many attempts).
    #[error("the host refused the activation: {0}")]
    Refused(String),
    /// The transport failed.
    #[error("cannot reach the host: {0}")]
    Transport(String),
    /// The PIN pad failed.
    #[error("the PIN pad: {0}")]
    PinPad(String),
    /// The enrolment directory already holds an enrolment.
    #[error("{0} already holds an enrolment: activate into a fresh directory")]
    AlreadyEnrolled(String),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The OS random source or the key encoding failed.
    #[error("cannot make the device key")]
    Random,
}

/// Checks `answer` against `code` and writes the enrolment directory `dir` (manifest, CA,
/// certificate, the device's private key, MAC key and its counter: the files
/// `crate::acquirer::TerminalCredentials::load` reads; no PIN key). Returns the wrapped PIN
/// key for the pad ([`crate::pinpad::PinPadProcess::install_wrapped_key`]).
pub fn install(
    code: &ActivationCode,
    device: &DeviceKey,
    answer: &ActivationResponse,
    dir: &Path,
) -> Result<Activated, ActivationError> {
    let bad = ActivationError::BadAnswer;
    let pin: [u8; 32] = hex::decode(&answer.host_spki_sha256)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(bad("host key pin"))?;
    if !code.matches_host(&pin) {
        return Err(ActivationError::WrongHost);
    }
    let id_ok = answer.terminal_id.len() == 8
        && answer
            .terminal_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !id_ok {
        return Err(bad("terminal ID"));
    }
    let mac_key = Zeroizing::new(hex::decode(&answer.mac_initial_key).map_err(|_| bad("MAC key"))?);
    AesKey::from_slice(&mac_key).ok_or(bad("MAC key"))?;
    let mac_ksn: [u8; 12] = hex::decode(&answer.mac_initial_ksn)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(bad("MAC KSN"))?;
    let wrapped = hex::decode(&answer.pin_key_wrapped).map_err(|_| bad("wrapped PIN key"))?;
    key_wrap::blob_ksn(&wrapped).ok_or(bad("wrapped PIN key"))?;
    if dir.join(MANIFEST_FILE).exists() {
        return Err(ActivationError::AlreadyEnrolled(dir.display().to_string()));
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ActivationError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let manifest = Manifest {
        terminal_id: &answer.terminal_id,
        host: &answer.host,
        server_name: &answer.server_name,
        host_spki_sha256: hex::encode(pin),
        ca: CA_FILE,
        certificate: CERT_FILE,
        key: KEY_FILE,
        mac_initial_key: MAC_IK_FILE,
        mac_initial_ksn: hex::encode_upper(mac_ksn),
    };
    let text = toml::to_string(&manifest).map_err(|_| bad("manifest"))?;
    let write = |name: &str, bytes: &[u8]| {
        crate::durable::replace(dir, name, bytes).map_err(io(&dir.join(name)))
    };
    write(CA_FILE, answer.ca_pem.as_bytes())?;
    write(CERT_FILE, answer.certificate_pem.as_bytes())?;
    write(KEY_FILE, device.pkcs8_pem()?.as_bytes())?;
    let mac_hex = Zeroizing::new(hex::encode_upper(mac_key.as_slice()));
    write(MAC_IK_FILE, mac_hex.as_bytes())?;
    MacKey::start_counter_in(dir, Ksn::from_bytes(mac_ksn)).map_err(|_| bad("MAC key counter"))?;
    // The manifest last: a directory without one is not an enrolment, and activating again
    // into it is allowed.
    write(MANIFEST_FILE, text.as_bytes())?;
    Ok(Activated {
        terminal_id: answer.terminal_id.clone(),
        merchant: answer.merchant.clone(),
        pin_key_wrapped: wrapped,
    })
}

#[derive(Serialize)]
struct Manifest<'a> {
    terminal_id: &'a str,
    host: &'a str,
    server_name: &'a str,
    host_spki_sha256: String,
    ca: &'a str,
    certificate: &'a str,
    key: &'a str,
    mac_initial_key: &'a str,
    mac_initial_ksn: String,
}

const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "terminal.pem";
const KEY_FILE: &str = "terminal.key";
const MAC_IK_FILE: &str = "mac-ik.hex";
