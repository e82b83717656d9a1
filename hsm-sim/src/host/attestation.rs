//! The host's attestation and monitoring service (`docs/attestation.md`).
//!
//! A terminal asks for a nonce ([`AttestationService::challenge`]), signs its evidence
//! ([`emv::attestation::Evidence`]) over it with its device key, and gets a short-lived token
//! ([`emv::crypto::attestation_token`]) if the policy accepts the evidence. A nonce works once
//! and for [`NONCE_LIFETIME`]. The policy (`DATA/attestation-policy.toml`, [`Policy`]) is read
//! on every attestation, so the host changes it without touching terminals. In the production
//! profile a failed check blocks the terminal (the revocation list, [`super::blocklist`]): no
//! more tokens and its link refused, until the operator unblocks it or the merchant enrols it
//! again with a new code. In the development profile failures are reported and tokens issued.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use emv::attestation::{Evidence, NONCE_LEN, signed_message};
use emv::crypto::{attestation_token, key_wrap};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::enrol::TerminalRecord;
use super::{HostError, blocklist, pki};

/// How long a nonce may be answered.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(60);
/// The policy file in the host's data directory.
pub const POLICY_FILE: &str = "attestation-policy.toml";
const KEY_FILE: &str = "attestation.key";
const EVIDENCE_DIR: &str = "evidence";

/// The monitoring policy. Every field has a default, so a partial file works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// `production` (a failure blocks) or `development` (failures are reported only).
    pub profile: Profile,
    /// How long a token is valid, in seconds (default 120).
    pub token_lifetime_secs: u64,
    /// The accepted SHA-256s (hex) of the terminal's executable; empty: any.
    pub allowed_binaries: Vec<String>,
    /// Whether an X11 display is accepted (never in production by default).
    pub allow_x11: bool,
    /// Whether emulator or VM hints are accepted.
    pub allow_vm: bool,
    /// Days before a build's expiry from which its status warns.
    pub expiry_warning_days: u64,
    /// Velocity monitoring's thresholds (`[velocity]`).
    pub velocity: super::velocity::VelocityLimits,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            profile: Profile::Production,
            token_lifetime_secs: 120,
            allowed_binaries: Vec::new(),
            allow_x11: false,
            allow_vm: true,
            expiry_warning_days: 7,
            velocity: super::velocity::VelocityLimits::default(),
        }
    }
}

impl Policy {
    /// The policy in `data_dir` (the defaults if there is no file).
    pub fn load(data_dir: &Path) -> Result<Self, HostError> {
        let path = data_dir.join(POLICY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| HostError::BadBundle(format!("{POLICY_FILE}: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(HostError::io(&path)(e)),
        }
    }

    /// Writes the policy into `data_dir`.
    pub fn save(&self, data_dir: &Path) -> Result<(), HostError> {
        let text = toml::to_string(self).map_err(|e| HostError::BadBundle(e.to_string()))?;
        let path = data_dir.join(POLICY_FILE);
        fs::write(&path, text).map_err(HostError::io(&path))
    }

    /// The checks `evidence` fails at Unix time `now`, in words; empty if none.
    pub fn failures(&self, evidence: &Evidence, now: u64) -> Vec<String> {
        let mut failed = Vec::new();
        if evidence.debugger {
            failed.push("a debugger is attached".to_owned());
        }
        if evidence.preload {
            failed.push("libraries are injected (LD_PRELOAD)".to_owned());
        }
        if !evidence.unexpected_mappings.is_empty() {
            failed.push(format!(
                "unexpected libraries mapped: {}",
                evidence.unexpected_mappings.join(", ")
            ));
        }
        if evidence.root {
            failed.push("the terminal runs as root".to_owned());
        }
        if evidence.display == "x11" && !self.allow_x11 {
            failed.push("X11 display".to_owned());
        }
        if !evidence.vm_hints.is_empty() && !self.allow_vm {
            failed.push(format!("emulator or VM: {}", evidence.vm_hints.join(", ")));
        }
        if now >= evidence.build_expires_at {
            failed.push("the build has expired".to_owned());
        }
        let known = self.allowed_binaries.is_empty()
            || self
                .allowed_binaries
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&evidence.binary_sha256));
        if !known {
            failed.push("unknown binary".to_owned());
        }
        if self.profile == Profile::Production && evidence.profile != "production" {
            failed.push(format!("terminal profile {}", evidence.profile));
        }
        failed
    }
}

/// The policy's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Failures block the terminal.
    Production,
    /// Failures are reported; tokens are issued.
    Development,
}

/// Why no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// Unknown, used or expired nonce (a replay).
    #[error("unknown, used or expired nonce")]
    BadNonce,
    /// The evidence's signature is not the terminal's device key's.
    #[error("the evidence is not signed by the terminal's device key")]
    BadSignature,
    /// The terminal is not enrolled by activation (no device key on record).
    #[error("terminal {0} has no device key: activate it")]
    NotEnrolled(String),
    /// The evidence is not JSON of the expected shape.
    #[error("malformed evidence")]
    Malformed,
    /// The terminal is blocked: contact your provider.
    #[error("terminal blocked, contact your provider")]
    Blocked,
    /// The host failed.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// A token, with what the terminal should know.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The token.
    pub token: [u8; attestation_token::TOKEN_LEN],
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// Warnings for the merchant (the build expires soon; development-profile failures).
    pub warnings: Vec<String>,
}

/// The last evidence of a terminal and its verdict (`DATA/evidence/TID.toml`), for
/// `hsm-sim terminals`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// When it was judged (Unix seconds).
    pub at: u64,
    /// The checks it failed.
    pub failures: Vec<String>,
    /// The evidence.
    pub evidence: Evidence,
}

impl EvidenceRecord {
    /// The last record of `terminal_id`, if any.
    pub fn load(data_dir: &Path, terminal_id: &str) -> Result<Option<Self>, HostError> {
        let path = evidence_path(data_dir, terminal_id);
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|e| HostError::BadBundle(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io(&path)(e)),
        }
    }
}

/// The service: its signing key and the outstanding nonces.
pub struct AttestationService {
    data_dir: PathBuf,
    key: SigningKey,
    nonces: Mutex<HashMap<[u8; NONCE_LEN], (String, Instant)>>,
}

impl AttestationService {
    /// The service of `data_dir`; its token key (`attestation.key`, 0600) is made on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, HostError> {
        let path = data_dir.join(KEY_FILE);
        let secret = if path.exists() {
            let bytes = Zeroizing::new(fs::read(&path).map_err(HostError::io(&path))?);
            p256::SecretKey::from_slice(&bytes)
                .map_err(|_| HostError::BadBundle(format!("{KEY_FILE} is damaged")))?
        } else {
            fs::create_dir_all(data_dir).map_err(HostError::io(data_dir))?;
            let secret =
                key_wrap::generate_secret_key().map_err(|e| HostError::Hsm(e.to_string()))?;
            pki::write_secret(&path, secret.to_bytes().as_slice())?;
            secret
        };
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            key: SigningKey::from(&secret),
            nonces: Mutex::new(HashMap::new()),
        })
    }

    /// The public key that checks tokens (SEC1 uncompressed): the terminal and its PIN pad
    /// keep it.
    pub fn public_key(&self) -> Vec<u8> {
        p256::PublicKey::from(self.key.verifying_key())
            .to_sec1_bytes()
            .into_vec()
    }

    /// A fresh nonce for `terminal_id`, valid once for [`NONCE_LIFETIME`].
    pub fn challenge(&self, terminal_id: &str) -> Result<[u8; NONCE_LEN], HostError> {
        pki::check_terminal_id(terminal_id)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| HostError::Hsm(e.to_string()))?;
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        nonces.retain(|_, (_, at)| now.saturating_duration_since(*at) < NONCE_LIFETIME);
        nonces.insert(nonce, (terminal_id.to_owned(), now));
        Ok(nonce)
    }

    /// Judges `evidence_json` signed (`signature`, DER) over `nonce` by `terminal_id`'s device
    /// key, under the current policy. The nonce is consumed whatever the outcome.
    pub fn attest(
        &self,
        terminal_id: &str,
        nonce: &[u8; NONCE_LEN],
        evidence_json: &[u8],
        signature: &[u8],
    ) -> Result<Granted, AttestError> {
        let issued = self
            .nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(nonce);
        match issued {
            Some((tid, at)) if tid == terminal_id && at.elapsed() < NONCE_LIFETIME => {}
            _ => return Err(AttestError::BadNonce),
        }
        let record = TerminalRecord::load(&self.data_dir, terminal_id)?
            .ok_or_else(|| AttestError::NotEnrolled(terminal_id.to_owned()))?;
        let spki = record
            .device_key
            .as_deref()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| AttestError::NotEnrolled(terminal_id.to_owned()))?;
        let device =
            VerifyingKey::from_public_key_der(&spki).map_err(|_| AttestError::BadSignature)?;
        let signature = Signature::from_der(signature).map_err(|_| AttestError::BadSignature)?;
        device
            .verify(&signed_message(nonce, evidence_json), &signature)
            .map_err(|_| AttestError::BadSignature)?;
        let evidence: Evidence =
            serde_json::from_slice(evidence_json).map_err(|_| AttestError::Malformed)?;
        if blocklist::is_blocked(&self.data_dir, terminal_id)? {
            return Err(AttestError::Blocked);
        }
        let policy = Policy::load(&self.data_dir)?;
        let now = unix_now();
        let failures = policy.failures(&evidence, now);
        self.record(terminal_id, now, &failures, evidence.clone())?;
        if !failures.is_empty() && policy.profile == Profile::Production {
            blocklist::block(&self.data_dir, terminal_id)?;
            tracing::warn!(
                terminal_id,
                ?failures,
                "attestation failed: terminal blocked"
            );
            return Err(AttestError::Blocked);
        }
        let mut warnings = failures;
        let warn_from = evidence
            .build_expires_at
            .saturating_sub(policy.expiry_warning_days.saturating_mul(86_400));
        if now >= warn_from {
            let days = evidence
                .build_expires_at
                .saturating_sub(now)
                .div_ceil(86_400);
            warnings.push(format!(
                "this build expires in {days} days: update the terminal"
            ));
        }
        let expires_at = now.saturating_add(policy.token_lifetime_secs);
        let token = attestation_token::issue(&self.key, terminal_id, now, expires_at)
            .map_err(|_| AttestError::Malformed)?;
        Ok(Granted {
            token,
            expires_at,
            warnings,
        })
    }

    fn record(
        &self,
        terminal_id: &str,
        at: u64,
        failures: &[String],
        evidence: Evidence,
    ) -> Result<(), HostError> {
        let dir = self.data_dir.join(EVIDENCE_DIR);
        fs::create_dir_all(&dir).map_err(HostError::io(&dir))?;
        let record = EvidenceRecord {
            at,
            failures: failures.to_vec(),
            evidence,
        };
        let text = toml::to_string(&record).map_err(|e| HostError::BadBundle(e.to_string()))?;
        let path = evidence_path(&self.data_dir, terminal_id);
        fs::write(&path, text).map_err(HostError::io(&path))
    }
}

fn evidence_path(data_dir: &Path, terminal_id: &str) -> PathBuf {
    data_dir
        .join(EVIDENCE_DIR)
        .join(format!("{terminal_id}.toml"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) mod link;

#[cfg(test)]
mod tests;
