//! The PIN pad's own reader of the enrolment bundle (`docs/enrolment-bundle.md`): the AES
//! DUKPT PIN initial key and its initial KSN, which `softpos-pinpad install-key` seals into
//! the key store. It reads the manifest's PIN key entries and the one file they name, never the
//! terminal's TLS key or MAC key: those belong to the acquirer link
//! (`crate::acquirer::TerminalCredentials`), which in turn never reads this one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use emv::crypto::dukpt::Ksn;
use emv::crypto::key::AesKey;
use serde::Deserialize;
use zeroize::Zeroizing;

/// The PIN pad's AES DUKPT initial key (X9.24-3-2017) and initial KSN. No `Debug`; the key is
/// zeroized on drop.
pub struct PinInitialKey {
    /// The initial key, secret.
    pub initial_key: AesKey,
    /// The initial KSN (counter 0).
    pub initial_ksn: Ksn,
    /// The bundle's file that holds the key in clear, which installing destroys.
    pub file: PathBuf,
}

/// Reads the PIN initial key of the bundle in `dir`; `None` if the bundle has none.
pub fn load(dir: &Path) -> Result<Option<PinInitialKey>, PinKeyError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read(&manifest_path)?;
    let manifest: Manifest = toml::from_str(&text).map_err(|source| PinKeyError::Manifest {
        path: manifest_path,
        source,
    })?;
    let (Some(name), Some(ksn)) = (&manifest.dukpt_initial_key, &manifest.dukpt_initial_ksn) else {
        return Ok(None);
    };
    // Only a plain name inside the bundle, and never the acquirer link's secrets.
    let plain = !name.is_empty()
        && !LINK_SECRET_FILES.contains(&name.as_str())
        && Path::new(name).file_name() == Some(name.as_ref());
    if !plain {
        return Err(PinKeyError::BadFileName(name.clone()));
    }
    let file = dir.join(name);
    let ik_hex = Zeroizing::new(match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PinKeyError::Consumed(file));
        }
        Err(source) => return Err(PinKeyError::Io { path: file, source }),
    });
    let bytes = Zeroizing::new(hex::decode(ik_hex.trim()).map_err(|_| PinKeyError::BadKey)?);
    let initial_key = AesKey::from_slice(&bytes).ok_or(PinKeyError::BadKey)?;
    let initial_ksn = hex::decode(ksn)
        .ok()
        .and_then(|k| <[u8; 12]>::try_from(k).ok())
        .map(Ksn::from_bytes)
        .ok_or(PinKeyError::BadKey)?;
    Ok(Some(PinInitialKey {
        initial_key,
        initial_ksn,
        file,
    }))
}

/// Why the PIN key cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinKeyError {
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
    /// The manifest names a PIN key file that is not there: installing the key destroys it, so
    /// this bundle's key was installed already (or the file was removed).
    #[error(
        "the bundle's PIN key {0} is gone: it was installed already (installing destroys it); \
         a key is installed once"
    )]
    Consumed(PathBuf),
    /// The manifest names a file outside the bundle, or one of the acquirer link's secrets.
    #[error("the manifest names a file the PIN pad does not read: {0:?}")]
    BadFileName(String),
    /// The initial key or KSN is malformed.
    #[error("the bundle's PIN key is malformed")]
    BadKey,
}

/// The manifest fields the PIN pad reads; everything else is ignored.
#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    dukpt_initial_key: Option<String>,
    #[serde(default)]
    dukpt_initial_ksn: Option<String>,
}

fn read(path: &Path) -> Result<String, PinKeyError> {
    fs::read_to_string(path).map_err(|source| PinKeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

const MANIFEST_FILE: &str = "terminal.toml";
/// The terminal's TLS key and MAC key, which the PIN pad never reads.
const LINK_SECRET_FILES: [&str; 2] = ["terminal.key", "mac-ik.hex"];
