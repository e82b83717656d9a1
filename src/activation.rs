//! The terminal's side of activation (`docs/enrolment.md`): from a one-time code to an
//! enrolment directory and a PIN pad holding its PIN key.
//!
//! 1. [`ActivationCode::parse`] splits `7Q4K-P9XM-4DKC-WZ2B-HN8Q` into the secret code and the
//!    host's fingerprint.
//! 2. [`DeviceKey::generate`] makes the device's P-256 key pair here; its private key never
//!    leaves this machine (it becomes the TLS client key, `terminal.key`).
//! 3. [`signed_request`] asks the PIN pad for its public key's bytes (given by the
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
use emv::enrolment;
pub use emv::enrolment::{ActivationRequest, ActivationResponse, PROOF_LABEL};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::acquirer::{MANIFEST_FILE, MacKey};

pub mod client;

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
        let raw = enrolment::normalize(text);
        if raw.len() != enrolment::CODE_CHARS + enrolment::FINGERPRINT_CHARS
            || !enrolment::is_base32(&raw)
        {
            return Err(ActivationError::BadCode);
        }
        let (code, fingerprint) = raw.split_at(enrolment::CODE_CHARS);
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
        enrolment::fingerprint(host_spki_sha256) == self.fingerprint
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

/// The signed request for `code`, from `device` for the PIN pad key `pin_pad_public_key`:
/// the device key signs [`enrolment::proof_message`].
pub fn signed_request(
    code: &ActivationCode,
    device: &DeviceKey,
    pin_pad_public_key: &[u8],
) -> Result<ActivationRequest, ActivationError> {
    let spki = device.spki_der()?;
    let message = enrolment::proof_message(&code.code, &spki, pin_pad_public_key);
    Ok(ActivationRequest {
        code: code.code.clone(),
        device_public_key: hex::encode(&spki),
        pin_pad_public_key: hex::encode(pin_pad_public_key),
        signature: hex::encode(device.sign(&message)),
    })
}

/// The whole activation as `softpos activate` and the GUI's activation screen run it: the PIN
/// pad's public key, the device key made here, the signed request to the host at `host`
/// (`HOST:PORT`, pinned by the code's fingerprint), the enrolment written into `dir`, the
/// wrapped PIN key handed to the pad, and the host's attestation key given to the pad to trust.
pub fn activate_with_pad(
    code: &ActivationCode,
    host: &str,
    dir: &Path,
    pad: &crate::pinpad::PinPadProcess,
) -> Result<Activated, ActivationError> {
    if dir.join(MANIFEST_FILE).exists() {
        return Err(ActivationError::AlreadyEnrolled(dir.display().to_string()));
    }
    let pad_error = |what: &str, e: crate::pinpad::PinEntryError| {
        ActivationError::PinPad(format!("{what}: {e}"))
    };
    let pad_key = pad
        .public_key()
        .map_err(|e| pad_error("asking for its key", e))?;
    let device = DeviceKey::generate()?;
    let request = signed_request(code, &device, &pad_key)?;
    let answer = client::post(host, code, &request)?;
    let activated = install(code, &device, &answer, dir)?;
    let installed = pad
        .install_wrapped_key(&activated.pin_key_wrapped)
        .map_err(|e| pad_error("installing the PIN key", e))?;
    if installed != activated.initial_ksn {
        return Err(ActivationError::PinPad(
            "the PIN pad installed a key of another KSN".into(),
        ));
    }
    if let Some(key) = &activated.attestation_key {
        pad.trust_attestation(&activated.terminal_id, key)
            .map_err(|e| pad_error("trusting the host's attestation key", e))?;
    }
    Ok(activated)
}

/// What an activation left: the terminal ID and the wrapped PIN key, for the PIN pad.
pub struct Activated {
    /// The terminal ID.
    pub terminal_id: String,
    /// The merchant.
    pub merchant: String,
    /// The PIN key wrapped for the pad: useless to anyone else.
    pub pin_key_wrapped: Vec<u8>,
    /// The PIN key's initial KSN (from the wrapped key's header).
    pub initial_ksn: [u8; 12],
    /// The host's attestation key (SEC1), for the pad to trust
    /// ([`crate::pinpad::PinPadProcess::trust_attestation`]); `None` from a host that does
    /// not attest.
    pub attestation_key: Option<Vec<u8>>,
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
    let initial_ksn = key_wrap::blob_ksn(&wrapped)
        .ok_or(bad("wrapped PIN key"))?
        .to_bytes();
    let attestation_key = match &answer.attestation_public_key {
        Some(h) => {
            let key = hex::decode(h).map_err(|_| bad("attestation key"))?;
            // A P-256 point, uncompressed, as the manifest and the PIN pad keep it.
            if key.len() != 65 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
                return Err(bad("attestation key"));
            }
            Some(key)
        }
        None => None,
    };
    let attestation_hex = attestation_key.as_ref().map(hex::encode_upper);
    if let Some(api) = &answer.api
        && (api.is_empty() || api.len() > 255 || api.chars().any(|c| c.is_whitespace()))
    {
        return Err(bad("API address"));
    }
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
        api: answer.api.as_deref(),
        attestation_public_key: attestation_hex.as_deref(),
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
        initial_ksn,
        attestation_key,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attestation_public_key: Option<&'a str>,
}

const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "terminal.pem";
const KEY_FILE: &str = "terminal.key";
const MAC_IK_FILE: &str = "mac-ik.hex";
