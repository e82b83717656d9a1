//! Terminal enrolment: the bundle a terminal (or a third-party test client) needs to connect —
//! client certificate and key, host CA, host address, the AES DUKPT PIN initial key and KSN
//! (for the PIN pad), and the AES DUKPT MAC initial key and KSN (for the acquirer link).
//!
//! On disk (`hsm-sim enroll --out DIR`): `terminal.toml` (terminal ID, host address, TLS server
//! name, initial KSNs), `ca.pem`, `terminal.pem`, and the secrets `terminal.key`,
//! `dukpt-ik.hex` (PIN key) and `mac-ik.hex` (MAC key), all mode 0600, plus the MAC key's
//! counter `mac-ksn.state` (0600, [`super::mac::MacKey`]). `docs/enrolment-bundle.md` is the
//! layout; the terminal and its PIN pad read it with loaders of their own, each reading only
//! its own keys. [`EnrolmentBundle::load`] reads all of it, for the simulator's test clients.
//!
//! The host keeps a record of each enrolment in its data directory (`terminals/TID.toml`:
//! the PIN and MAC initial key IDs and whether MACs are required), which it reads when a
//! terminal connects ([`TerminalRecord`]); enrolling a terminal again replaces it, so the old
//! keys stop working.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use emv::crypto::key::AesKey;

use super::mac::MacKey;
use super::security::{HsmSecurity, SecurityModule};
use super::{HostError, pki};

/// A terminal's enrolment bundle. `Debug` shows no key.
#[derive(Clone)]
pub struct EnrolmentBundle {
    /// The terminal ID (DE 41), 8 characters `A-Z0-9`.
    pub terminal_id: String,
    /// The host's address, `IP:PORT`.
    pub host: String,
    /// The address of the host's HTTPS API (`docs/host-api.md`), `IP:PORT`, if known: a
    /// running host ([`super::HostHandle::enroll`]) or `hsm-sim enroll --api` sets it.
    pub api: Option<String>,
    /// The TLS server name to verify: the host part of [`EnrolmentBundle::host`], one of the
    /// names the host's certificate carries ([`pki::HOST_NAMES`]).
    pub server_name: String,
    /// SHA-256 of the host key's SubjectPublicKeyInfo: the terminal refuses a host whose
    /// certificate, even one the CA signed, certifies another key (rule D5).
    pub host_spki_sha256: [u8; 32],
    /// The host CA certificate (PEM): the only trust anchor.
    pub ca_pem: String,
    /// The terminal's client certificate (PEM).
    pub certificate_pem: String,
    /// The terminal's private key (PEM), secret.
    pub key_pem: Zeroizing<String>,
    /// The AES DUKPT PIN initial key and KSN, if the HSM issued them. For the PIN pad only.
    pub dukpt: Option<DukptInitialKey>,
    /// The AES DUKPT MAC initial key with its counter, unless the terminal was enrolled
    /// without MAC ([`EnrolOptions::mac`]). For the acquirer link only.
    pub mac_key: Option<MacKey>,
}

/// Enrolment choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrolOptions {
    /// Issue a MAC key, and make the host require a MAC on every request of this terminal
    /// except 0800 (`docs/iso8583.md` §6). Default `true`; `false` (`hsm-sim enroll --no-mac`)
    /// is for test clients that do not MAC: the host then accepts their requests without MAC.
    pub mac: bool,
}

impl Default for EnrolOptions {
    fn default() -> Self {
        Self { mac: true }
    }
}

/// What the host remembers of an enrolment (`DATA/terminals/TID.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRecord {
    /// The terminal ID.
    pub terminal_id: String,
    /// Initial key ID (16 hex digits) of the PIN key: DE 63 must name it.
    pub pin_key_id: Option<String>,
    /// Initial key ID (16 hex digits) of the MAC key: DE 61 must name it.
    pub mac_key_id: Option<String>,
    /// Whether every request but 0800 must carry a MAC.
    pub mac_required: bool,
    /// The device key's SubjectPublicKeyInfo (DER, hex) of a terminal enrolled by activation:
    /// it signs the terminal's attestation evidence (`super::attestation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
}

impl TerminalRecord {
    /// The record of `terminal_id` in the host's data directory, if it was enrolled by this
    /// version of the host (older enrolments have none: MACs optional, any key of the HSM).
    pub fn load(data_dir: &Path, terminal_id: &str) -> Result<Option<Self>, HostError> {
        pki::check_terminal_id(terminal_id)?;
        let path = record_path(data_dir, terminal_id);
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|e| HostError::BadBundle(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io(&path)(e)),
        }
    }

    fn save(&self, data_dir: &Path) -> Result<(), HostError> {
        let dir = data_dir.join(RECORDS_DIR);
        fs::create_dir_all(&dir).map_err(HostError::io(&dir))?;
        let text = toml::to_string(self).map_err(|e| HostError::BadBundle(e.to_string()))?;
        pki::write_secret(&record_path(data_dir, &self.terminal_id), text.as_bytes())
    }

    /// Whether `ksn` (DE 63) is under this terminal's PIN key (`true` when no PIN key is on
    /// record).
    pub fn is_pin_key(&self, ksn: &[u8; 12]) -> bool {
        key_id_matches(self.pin_key_id.as_deref(), ksn)
    }

    /// Whether `ksn` (DE 61) is under this terminal's MAC key (`false` when it has none).
    pub fn is_mac_key(&self, ksn: &[u8; 12]) -> bool {
        self.mac_key_id.is_some() && key_id_matches(self.mac_key_id.as_deref(), ksn)
    }
}

fn key_id_matches(on_record: Option<&str>, ksn: &[u8; 12]) -> bool {
    on_record
        .is_none_or(|id| id.eq_ignore_ascii_case(&hex::encode(ksn.get(..8).unwrap_or_default())))
}

fn record_path(data_dir: &Path, terminal_id: &str) -> std::path::PathBuf {
    data_dir
        .join(RECORDS_DIR)
        .join(format!("{terminal_id}.toml"))
}

/// A terminal's AES DUKPT initial key (X9.24-3-2017) and initial KSN.
#[derive(Clone)]
pub struct DukptInitialKey {
    /// The initial key, secret.
    pub initial_key: Zeroizing<Vec<u8>>,
    /// The 12-byte initial KSN.
    pub initial_ksn: [u8; 12],
}

/// Issues a bundle for `terminal_id` from the host's data directory (CA and HSM), with a MAC
/// key ([`EnrolOptions::default`]).
pub fn enroll(
    data_dir: &Path,
    terminal_id: &str,
    host: &str,
) -> Result<EnrolmentBundle, HostError> {
    enroll_with(data_dir, terminal_id, host, EnrolOptions::default())
}

/// Issues a bundle for `terminal_id` with `options`, and records the enrolment for the host
/// ([`TerminalRecord`]).
pub fn enroll_with(
    data_dir: &Path,
    terminal_id: &str,
    host: &str,
    options: EnrolOptions,
) -> Result<EnrolmentBundle, HostError> {
    enroll_inner(data_dir, terminal_id, host, options, None)
}

/// Enrols `terminal_id` for a device key the terminal made itself (activation,
/// `super::activation`): the certificate certifies `device_spki` (a DER SubjectPublicKeyInfo)
/// and the returned bundle's [`EnrolmentBundle::key_pem`] is empty, since the private key never
/// left the device.
pub fn enroll_device(
    data_dir: &Path,
    terminal_id: &str,
    host: &str,
    options: EnrolOptions,
    device_spki: &[u8],
) -> Result<EnrolmentBundle, HostError> {
    enroll_inner(data_dir, terminal_id, host, options, Some(device_spki))
}

fn enroll_inner(
    data_dir: &Path,
    terminal_id: &str,
    host: &str,
    options: EnrolOptions,
    device_spki: Option<&[u8]>,
) -> Result<EnrolmentBundle, HostError> {
    pki::check_terminal_id(terminal_id)?;
    let server_name = server_name_of(host)?;
    let ca = pki::HostCa::load_or_create(data_dir)?;
    let host_spki_sha256 = pki::host_key_pin(&pki::load_or_create_host_key(data_dir)?);
    let (certificate_pem, key_pem) = match device_spki {
        Some(spki) => (
            ca.issue_terminal_for_key(terminal_id, spki)?,
            Zeroizing::new(String::new()),
        ),
        None => ca.issue_terminal(terminal_id)?,
    };
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
    let mac_key = if options.mac {
        // A second initial key of its own (fresh derivation ID): the MAC key never shares a
        // key, a KSN or a counter with the PIN pad's key.
        let k = security
            .create_terminal_key(terminal_id)
            .map_err(|e| HostError::Hsm(e.to_string()))?;
        let ik = AesKey::from_slice(&k.initial_key)
            .ok_or_else(|| HostError::Hsm("MAC initial key length".into()))?;
        Some(MacKey::new(ik, k.initial_ksn)?)
    } else {
        None
    };
    TerminalRecord {
        terminal_id: terminal_id.to_owned(),
        pin_key_id: dukpt
            .as_ref()
            .map(|d| hex::encode_upper(d.initial_ksn.get(..8).unwrap_or_default())),
        mac_key_id: mac_key
            .as_ref()
            .map(|k| hex::encode_upper(k.initial_key_id())),
        mac_required: options.mac,
        device_key: device_spki.map(hex::encode),
    }
    .save(data_dir)?;
    Ok(EnrolmentBundle {
        terminal_id: terminal_id.to_owned(),
        host: host.to_owned(),
        api: None,
        server_name,
        host_spki_sha256,
        ca_pem: ca.cert_pem().to_owned(),
        certificate_pem,
        key_pem,
        dukpt,
        mac_key,
    })
}

impl EnrolmentBundle {
    /// Writes the bundle into `dir` (created if needed). From then on the MAC key's counter
    /// lives in `dir` (for this bundle and its clones too).
    pub fn write(&self, dir: &Path) -> Result<(), HostError> {
        fs::create_dir_all(dir).map_err(HostError::io(dir))?;
        let manifest = Manifest {
            terminal_id: self.terminal_id.clone(),
            host: self.host.clone(),
            api: self.api.clone(),
            server_name: self.server_name.clone(),
            host_spki_sha256: Some(hex::encode(self.host_spki_sha256)),
            ca: CA_FILE.to_owned(),
            certificate: CERT_FILE.to_owned(),
            key: KEY_FILE.to_owned(),
            dukpt_initial_key: self.dukpt.as_ref().map(|_| IK_FILE.to_owned()),
            dukpt_initial_ksn: self
                .dukpt
                .as_ref()
                .map(|d| hex::encode_upper(d.initial_ksn)),
            mac_initial_key: self.mac_key.as_ref().map(|_| MAC_IK_FILE.to_owned()),
            mac_initial_ksn: self
                .mac_key
                .as_ref()
                .map(|k| hex::encode_upper(k.initial_ksn())),
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
        if let Some(k) = &self.mac_key {
            let ik = Zeroizing::new(hex::encode_upper(k.initial_key().expose_secret()));
            pki::write_secret(&dir.join(MAC_IK_FILE), ik.as_bytes())?;
            k.persist_in(dir)?;
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
        let mac_key = match (&manifest.mac_initial_key, &manifest.mac_initial_ksn) {
            (Some(file), Some(ksn)) => {
                let ik_hex = Zeroizing::new(read(file)?);
                let bytes = Zeroizing::new(
                    hex::decode(ik_hex.trim())
                        .map_err(|_| HostError::BadBundle("MAC initial key".into()))?,
                );
                let initial_key = AesKey::from_slice(&bytes)
                    .ok_or_else(|| HostError::BadBundle("MAC initial key length".into()))?;
                let initial_ksn = hex::decode(ksn)
                    .ok()
                    .and_then(|k| <[u8; 12]>::try_from(k).ok())
                    .ok_or_else(|| HostError::BadBundle("MAC KSN".into()))?;
                let key = MacKey::new(initial_key, initial_ksn)?;
                key.use_file_in(dir);
                Some(key)
            }
            _ => None,
        };
        Ok(Self {
            terminal_id: manifest.terminal_id,
            host: manifest.host,
            api: manifest.api,
            server_name: manifest.server_name,
            host_spki_sha256: manifest
                .host_spki_sha256
                .as_deref()
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| HostError::BadBundle("no host key pin (host_spki_sha256)".into()))?,
            ca_pem: read(&manifest.ca)?,
            certificate_pem: read(&manifest.certificate)?,
            key_pem: Zeroizing::new(read(&manifest.key)?),
            dukpt,
            mac_key,
        })
    }
}

impl std::fmt::Debug for EnrolmentBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentBundle")
            .field("terminal_id", &self.terminal_id)
            .field("host", &self.host)
            .field("api", &self.api)
            .field("server_name", &self.server_name)
            .field(
                "dukpt",
                &self.dukpt.as_ref().map(|_| "<initial key redacted>"),
            )
            .field("mac_key", &self.mac_key)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    terminal_id: String,
    host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api: Option<String>,
    server_name: String,
    #[serde(default)]
    host_spki_sha256: Option<String>,
    ca: String,
    certificate: String,
    key: String,
    dukpt_initial_key: Option<String>,
    dukpt_initial_ksn: Option<String>,
    #[serde(default)]
    mac_initial_key: Option<String>,
    #[serde(default)]
    mac_initial_ksn: Option<String>,
}

/// The host part of a `HOST:PORT` address (`[::1]:8583` → `::1`), which must be one of the
/// names on the host's certificate.
fn server_name_of(host: &str) -> Result<String, HostError> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if pki::HOST_NAMES.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(HostError::BadBundle(format!(
            "the host's certificate names {}, not {name:?}: enrol with one of them",
            pki::HOST_NAMES.join(", ")
        )))
    }
}

const MANIFEST_FILE: &str = "terminal.toml";
const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "terminal.pem";
const KEY_FILE: &str = "terminal.key";
const IK_FILE: &str = "dukpt-ik.hex";
const MAC_IK_FILE: &str = "mac-ik.hex";
pub(crate) const RECORDS_DIR: &str = "terminals";
