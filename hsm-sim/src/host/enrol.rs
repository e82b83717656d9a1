//! Terminal enrolment: the bundle a terminal (or a third-party test client) needs to connect —
//! client certificate and key, host CA, host address, and the AES DUKPT initial key and KSN.
//!
//! On disk (`hsm-sim enroll --out DIR`): `terminal.toml` (terminal ID, host address, TLS server
//! name, initial KSN), `ca.pem`, `terminal.pem`, and the secrets `terminal.key` and
//! `dukpt-ik.hex`, both mode 0600.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::security::{HsmSecurity, SecurityModule};
use super::{HostError, pki};

/// A terminal's enrolment bundle. `Debug` shows no key.
#[derive(Clone)]
pub struct EnrolmentBundle {
    /// The terminal ID (DE 41), 8 characters `A-Z0-9`.
    pub terminal_id: String,
    /// The host's address, `IP:PORT`.
    pub host: String,
    /// The TLS server name to verify (`localhost`).
    pub server_name: String,
    /// The host CA certificate (PEM): the only trust anchor.
    pub ca_pem: String,
    /// The terminal's client certificate (PEM).
    pub certificate_pem: String,
    /// The terminal's private key (PEM), secret.
    pub key_pem: Zeroizing<String>,
    /// The AES DUKPT initial key and KSN, if the HSM issued them.
    pub dukpt: Option<DukptInitialKey>,
}

/// A terminal's AES DUKPT initial key (X9.24-3-2017) and initial KSN.
#[derive(Clone)]
pub struct DukptInitialKey {
    /// The initial key, secret.
    pub initial_key: Zeroizing<Vec<u8>>,
    /// The 12-byte initial KSN.
    pub initial_ksn: [u8; 12],
}

/// Issues a bundle for `terminal_id` from the host's data directory (CA and HSM).
pub fn enroll(
    data_dir: &Path,
    terminal_id: &str,
    host: &str,
) -> Result<EnrolmentBundle, HostError> {
    pki::check_terminal_id(terminal_id)?;
    let ca = pki::HostCa::load_or_create(data_dir)?;
    let (certificate_pem, key_pem) = ca.issue_terminal(terminal_id)?;
    let security = HsmSecurity::load_or_create(data_dir)?;
    let dukpt = match security.create_terminal_key(terminal_id) {
        Ok(k) => Some(DukptInitialKey {
            initial_key: k.initial_key,
            initial_ksn: k.initial_ksn,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "bundle without DUKPT key");
            None
        }
    };
    Ok(EnrolmentBundle {
        terminal_id: terminal_id.to_owned(),
        host: host.to_owned(),
        server_name: "localhost".to_owned(),
        ca_pem: ca.cert_pem().to_owned(),
        certificate_pem,
        key_pem,
        dukpt,
    })
}

impl EnrolmentBundle {
    /// Writes the bundle into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<(), HostError> {
        fs::create_dir_all(dir).map_err(HostError::io(dir))?;
        let manifest = Manifest {
            terminal_id: self.terminal_id.clone(),
            host: self.host.clone(),
            server_name: self.server_name.clone(),
            ca: CA_FILE.to_owned(),
            certificate: CERT_FILE.to_owned(),
            key: KEY_FILE.to_owned(),
            dukpt_initial_key: self.dukpt.as_ref().map(|_| IK_FILE.to_owned()),
            dukpt_initial_ksn: self
                .dukpt
                .as_ref()
                .map(|d| hex::encode_upper(d.initial_ksn)),
        };
        let text = toml::to_string(&manifest).map_err(|e| HostError::BadBundle(e.to_string()))?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            fs::write(&path, bytes).map_err(HostError::io(&path))
        };
        write(MANIFEST_FILE, text.as_bytes())?;
        write(CA_FILE, self.ca_pem.as_bytes())?;
        write(CERT_FILE, self.certificate_pem.as_bytes())?;
        pki::write_secret(&dir.join(KEY_FILE), self.key_pem.as_bytes())?;
        if let Some(d) = &self.dukpt {
            let ik = Zeroizing::new(hex::encode_upper(d.initial_key.as_slice()));
            pki::write_secret(&dir.join(IK_FILE), ik.as_bytes())?;
        }
        Ok(())
    }

    /// Loads a bundle written by [`EnrolmentBundle::write`].
    pub fn load(dir: &Path) -> Result<Self, HostError> {
        let read = |name: &str| {
            let path = dir.join(name);
            fs::read_to_string(&path).map_err(HostError::io(&path))
        };
        let manifest: Manifest = toml::from_str(&read(MANIFEST_FILE)?)
            .map_err(|e| HostError::BadBundle(e.to_string()))?;
        pki::check_terminal_id(&manifest.terminal_id)?;
        let dukpt = match (&manifest.dukpt_initial_key, &manifest.dukpt_initial_ksn) {
            (Some(file), Some(ksn)) => {
                let ik_hex = Zeroizing::new(read(file)?);
                let initial_key = Zeroizing::new(
                    hex::decode(ik_hex.trim())
                        .map_err(|_| HostError::BadBundle("DUKPT initial key".into()))?,
                );
                let initial_ksn = hex::decode(ksn)
                    .ok()
                    .and_then(|k| <[u8; 12]>::try_from(k).ok())
                    .ok_or_else(|| HostError::BadBundle("DUKPT KSN".into()))?;
                Some(DukptInitialKey {
                    initial_key,
                    initial_ksn,
                })
            }
            _ => None,
        };
        Ok(Self {
            terminal_id: manifest.terminal_id,
            host: manifest.host,
            server_name: manifest.server_name,
            ca_pem: read(&manifest.ca)?,
            certificate_pem: read(&manifest.certificate)?,
            key_pem: Zeroizing::new(read(&manifest.key)?),
            dukpt,
        })
    }
}

impl std::fmt::Debug for EnrolmentBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentBundle")
            .field("terminal_id", &self.terminal_id)
            .field("host", &self.host)
            .field("server_name", &self.server_name)
            .field(
                "dukpt",
                &self.dukpt.as_ref().map(|_| "<initial key redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    terminal_id: String,
    host: String,
    server_name: String,
    ca: String,
    certificate: String,
    key: String,
    dukpt_initial_key: Option<String>,
    dukpt_initial_ksn: Option<String>,
}

const MANIFEST_FILE: &str = "terminal.toml";
const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "terminal.pem";
const KEY_FILE: &str = "terminal.key";
const IK_FILE: &str = "dukpt-ik.hex";
