//! The terminal's link credentials, read from its enrolment bundle directory
//! (`docs/enrolment-bundle.md`): terminal ID, host address, TLS server name, the pin of the
//! host's key, the host CA (the only trust anchor), the terminal's certificate and private key,
//! and the MAC key with its counter.
//!
//! The bundle also holds the PIN pad's PIN key (`dukpt-ik.hex`). That key is the PIN pad's
//! alone: this loader never opens that file, and [`TerminalCredentials`] has no place for it.
//! The PIN pad reads it with its own loader (`crate::pinpad::pin_key`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use emv::crypto::dukpt::Ksn;
use emv::crypto::key::AesKey;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::mac_counter::{MacKey, MacKeyError};

/// What the terminal process needs to reach its acquirer. `Debug` shows no key.
#[derive(Clone)]
pub struct TerminalCredentials {
    /// The terminal ID (DE 41), 8 characters `A-Z0-9`.
    pub terminal_id: String,
    /// The host's address, `HOST:PORT`.
    pub host: String,
    /// The address of the host's HTTPS API (`docs/host-api.md`), `HOST:PORT`, when the bundle
    /// names one. Its certificate is the host's: same CA, server name and key pin.
    pub api: Option<String>,
    /// The TLS server name the host's certificate must carry (the host's name or address).
    pub server_name: String,
    /// SHA-256 of the host key's SubjectPublicKeyInfo: the link refuses a host whose
    /// certificate certifies another key, even one the CA signed (rule D5).
    pub host_spki_sha256: [u8; 32],
    /// The host CA certificate (PEM): the only trust anchor.
    pub ca_pem: String,
    /// The terminal's client certificate (PEM).
    pub certificate_pem: String,
    /// The terminal's private key (PEM), secret.
    pub key_pem: Zeroizing<String>,
    /// The MAC key with its counter, unless the terminal was enrolled without MAC.
    pub mac_key: Option<MacKey>,
    /// The host's attestation key (SEC1 uncompressed), for a terminal enrolled by activation:
    /// such a terminal proves its state before each transaction (`docs/attestation.md`), with
    /// its client key as the device key.
    pub attestation_key: Option<Vec<u8>>,
}

impl TerminalCredentials {
    /// Reads the credentials from the bundle in `dir`: `terminal.toml` and the files it names
    /// for the CA, the certificate, the private key and the MAC key. The MAC key's counter is
    /// `mac-ksn.state` in `dir`. The PIN key file is never opened.
    pub fn load(dir: &Path) -> Result<Self, CredentialsError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest: Manifest = toml::from_str(&read(&manifest_path)?).map_err(|source| {
            CredentialsError::Manifest {
                path: manifest_path.clone(),
                source,
            }
        })?;
        check_terminal_id(&manifest.terminal_id)?;
        let host_spki_sha256 = manifest
            .host_spki_sha256
            .as_deref()
            .ok_or(CredentialsError::NoHostPin)
            .and_then(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or(CredentialsError::BadHostPin)
            })?;
        let file = |name: &str| -> Result<PathBuf, CredentialsError> {
            // Only plain names inside the bundle, and never the PIN pad's key.
            let plain = !name.is_empty()
                && name != PIN_KEY_FILE
                && Path::new(name).file_name() == Some(name.as_ref());
            if plain {
                Ok(dir.join(name))
            } else {
                Err(CredentialsError::BadFileName(name.to_owned()))
            }
        };
        let mac_key = match (&manifest.mac_initial_key, &manifest.mac_initial_ksn) {
            (Some(name), Some(ksn)) => {
                let ik_hex = Zeroizing::new(read(&file(name)?)?);
                let bytes = Zeroizing::new(
                    hex::decode(ik_hex.trim()).map_err(|_| CredentialsError::BadMacKey)?,
                );
                let initial_key = AesKey::from_slice(&bytes).ok_or(CredentialsError::BadMacKey)?;
                let initial_ksn = hex::decode(ksn)
                    .ok()
                    .and_then(|k| <[u8; 12]>::try_from(k).ok())
                    .map(Ksn::from_bytes)
                    .ok_or(CredentialsError::BadMacKey)?;
                Some(MacKey::with_counter_in(initial_key, initial_ksn, dir)?)
            }
            (None, None) => None,
            _ => return Err(CredentialsError::BadMacKey),
        };
        let attestation_key = match &manifest.attestation_public_key {
            Some(h) => Some(
                hex::decode(h)
                    .ok()
                    .filter(|k| k.len() == 65 && k.first() == Some(&4))
                    .ok_or(CredentialsError::BadAttestationKey)?,
            ),
            None => None,
        };
        Ok(Self {
            ca_pem: read(&file(&manifest.ca)?)?,
            certificate_pem: read(&file(&manifest.certificate)?)?,
            key_pem: Zeroizing::new(read(&file(&manifest.key)?)?),
            terminal_id: manifest.terminal_id,
            host: manifest.host,
            api: manifest.api,
            server_name: manifest.server_name,
            host_spki_sha256,
            mac_key,
            attestation_key,
        })
    }
}

impl std::fmt::Debug for TerminalCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalCredentials")
            .field("terminal_id", &self.terminal_id)
            .field("host", &self.host)
            .field("api", &self.api)
            .field("server_name", &self.server_name)
            .field("host_spki_sha256", &hex::encode(self.host_spki_sha256))
            .field("mac_key", &self.mac_key)
            .field("attests", &self.attestation_key.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the credentials cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// A bundle file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `terminal.toml` is not a bundle manifest.
    #[error("{path} is not an enrolment bundle manifest")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The cause.
        #[source]
        source: toml::de::Error,
    },
    /// The terminal ID is not 8 characters `A-Z0-9`.
    #[error("the terminal ID must be 8 characters A-Z0-9")]
    BadTerminalId,
    /// The manifest names a file outside the bundle directory, or the PIN pad's key.
    #[error("the manifest names a file the terminal does not read: {0:?}")]
    BadFileName(String),
    /// The manifest has no `host_spki_sha256`: a bundle from before host key pinning. The
    /// terminal refuses it rather than trust any certificate the CA signed.
    #[error("the bundle pins no host key (host_spki_sha256): enrol the terminal again")]
    NoHostPin,
    /// `host_spki_sha256` is not 64 hex digits.
    #[error("the bundle's host key pin (host_spki_sha256) is not 64 hex digits")]
    BadHostPin,
    /// The MAC initial key or KSN is malformed, or only one of them is named.
    #[error("the bundle's MAC key is malformed")]
    BadMacKey,
    /// `attestation_public_key` is not a P-256 point (SEC1 uncompressed, hex).
    #[error("the bundle's attestation key is malformed")]
    BadAttestationKey,
    /// The MAC key cannot be used (its counter file).
    #[error("the bundle's MAC key cannot be used")]
    MacKey(#[from] MacKeyError),
}

/// The manifest fields the terminal reads; the PIN key's entries are ignored.
#[derive(Deserialize)]
struct Manifest {
    terminal_id: String,
    host: String,
    #[serde(default)]
    api: Option<String>,
    server_name: String,
    #[serde(default)]
    host_spki_sha256: Option<String>,
    ca: String,
    certificate: String,
    key: String,
    #[serde(default)]
    mac_initial_key: Option<String>,
    #[serde(default)]
    mac_initial_ksn: Option<String>,
    #[serde(default)]
    attestation_public_key: Option<String>,
}

fn read(path: &Path) -> Result<String, CredentialsError> {
    fs::read_to_string(path).map_err(|source| CredentialsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn check_terminal_id(id: &str) -> Result<(), CredentialsError> {
    let ok = id.len() == 8
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then_some(()).ok_or(CredentialsError::BadTerminalId)
}

/// The bundle's manifest.
pub const MANIFEST_FILE: &str = "terminal.toml";
/// The PIN pad's key file, which the terminal never reads.
const PIN_KEY_FILE: &str = "dukpt-ik.hex";
