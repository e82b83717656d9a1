//! One-time activation codes, and the activation they allow (`docs/enrolment.md`).
//!
//! `hsm-sim terminal add --merchant M1` makes a code such as `7Q4K-P9XM-4DKC-WZ2B-HN8Q`: the
//! first two groups are the secret one-time code (40 random bits, Crockford base32), the last
//! three the host's fingerprint (the first 60 bits of SHA-256 of the host key's
//! SubjectPublicKeyInfo, the pin the terminal keeps afterwards), so the terminal can check the
//! host before it sends anything. The host keeps only SHA-256 of the code
//! (`DATA/activations/HASH.toml`: merchant, expiry); a code works once (redeeming renames its
//! record, atomically, so two terminals never both win it) and expires (default 24 h). Wrong
//! codes are counted per source address ([`WrongCodeLimiter`]).
//!
//! The terminal sends its device public key (a P-256 SubjectPublicKeyInfo) with an ECDSA
//! signature over the code and both public keys (proof that it holds the key), and its PIN
//! pad's public key. It receives a client certificate for its device key, its terminal ID, the
//! MAC key for the link, and the PIN key wrapped for its PIN pad
//! ([`emv::crypto::key_wrap`]): never in clear.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use emv::crypto::dukpt::Ksn;
use emv::crypto::key::AesKey;
use emv::crypto::key_wrap;
pub use emv::enrolment::{ActivationRequest, ActivationResponse, PROOF_LABEL, proof_message};
use emv::enrolment::{CODE_CHARS, base32, normalize};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::enrol::{self, EnrolOptions};
use super::{HostError, pki};

/// How long a new code works, unless said otherwise.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Wrong codes allowed from one source address per [`WRONG_CODE_WINDOW`].
pub const MAX_WRONG_CODES: usize = 5;
/// The window over which wrong codes are counted.
pub const WRONG_CODE_WINDOW: Duration = Duration::from_secs(15 * 60);
const DIR: &str = "activations";

/// A code as the merchant receives it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The secret part, `XXXX-XXXX`.
    pub code: String,
    /// The host's fingerprint, `XXXX-XXXX-XXXX`.
    pub fingerprint: String,
    /// The merchant the terminal will belong to.
    pub merchant: String,
    /// When the code stops working.
    pub expires: SystemTime,
}

impl IssuedCode {
    /// The whole code to type: `CODE-FINGERPRINT`.
    pub fn full(&self) -> String {
        format!("{}-{}", self.code, self.fingerprint)
    }
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCode")
            .field("fingerprint", &self.fingerprint)
            .field("merchant", &self.merchant)
            .finish_non_exhaustive()
    }
}

/// Why an activation was refused. The wire answer names the kind only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// Unknown, used or expired code (one answer for all three: no oracle).
    #[error("wrong, used or expired activation code")]
    WrongCode,
    /// Too many wrong codes from this address lately.
    #[error("too many wrong activation codes from this address; try again later")]
    TooManyAttempts,
    /// The request is malformed (keys, signature).
    #[error("bad activation request: {0}")]
    BadRequest(&'static str),
    /// The host failed.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// Makes a code for a new terminal of `merchant`, valid for `validity`.
pub fn add_terminal(
    data_dir: &Path,
    merchant: &str,
    validity: Duration,
) -> Result<IssuedCode, HostError> {
    if merchant.is_empty() || merchant.len() > 64 || merchant.chars().any(char::is_control) {
        return Err(HostError::BadBundle(
            "merchant: 1-64 printable characters".into(),
        ));
    }
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).map_err(|e| HostError::Hsm(e.to_string()))?;
    let raw = base32(&random, CODE_CHARS);
    let expires = SystemTime::now() + validity;
    let record = CodeRecord {
        merchant: merchant.to_owned(),
        expires_unix: unix(expires),
    };
    let dir = data_dir.join(DIR);
    fs::create_dir_all(&dir).map_err(HostError::io(&dir))?;
    let text = toml::to_string(&record).map_err(|e| HostError::BadBundle(e.to_string()))?;
    pki::write_secret(&record_path(data_dir, &raw), text.as_bytes())?;
    Ok(IssuedCode {
        code: group(&raw),
        fingerprint: host_fingerprint(data_dir)?,
        merchant: merchant.to_owned(),
        expires,
    })
}

/// The host's fingerprint as carried in codes, `XXXX-XXXX-XXXX`.
pub fn host_fingerprint(data_dir: &Path) -> Result<String, HostError> {
    let pin = pki::host_key_pin(&pki::load_or_create_host_key(data_dir)?);
    Ok(fingerprint_of(&pin))
}

/// The fingerprint of a host key pin (SHA-256 of its SPKI).
pub fn fingerprint_of(host_spki_sha256: &[u8; 32]) -> String {
    group(&emv::enrolment::fingerprint(host_spki_sha256))
}

/// Counts wrong codes per source address.
#[derive(Debug, Default)]
pub struct WrongCodeLimiter {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl WrongCodeLimiter {
    /// Whether `source` may try a code now.
    pub fn allows(&mut self, source: IpAddr, now: Instant) -> bool {
        let entry = self.failures.entry(source).or_default();
        while entry
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WRONG_CODE_WINDOW)
        {
            entry.pop_front();
        }
        entry.len() < MAX_WRONG_CODES
    }

    /// Counts a wrong code from `source`.
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) {
        self.failures.entry(source).or_default().push_back(now);
    }
}

/// Activates a terminal: checks the limiter, the proof and the code (consuming it), then
/// enrols a new terminal for the device key, with the PIN key wrapped for the pad. `link_host`
/// is the ISO 8583 address the terminal is to use; the API route adds its own address and the
/// attestation key.
pub fn activate(
    data_dir: &Path,
    link_host: &str,
    request: &ActivationRequest,
    source: IpAddr,
    limiter: &mut WrongCodeLimiter,
) -> Result<ActivationResponse, ActivationError> {
    let now = Instant::now();
    if !limiter.allows(source, now) {
        return Err(ActivationError::TooManyAttempts);
    }
    let bad = ActivationError::BadRequest;
    let device_spki = hex::decode(&request.device_public_key).map_err(|_| bad("device key"))?;
    let pad_key = hex::decode(&request.pin_pad_public_key).map_err(|_| bad("PIN pad key"))?;
    let signature = hex::decode(&request.signature).map_err(|_| bad("signature"))?;
    let device = VerifyingKey::from_public_key_der(&device_spki).map_err(|_| bad("device key"))?;
    let signature = Signature::from_der(&signature).map_err(|_| bad("signature"))?;
    device
        .verify(
            &proof_message(&request.code, &device_spki, &pad_key),
            &signature,
        )
        .map_err(|_| bad("the signature does not match the device key"))?;
    if p256::PublicKey::from_sec1_bytes(&pad_key).is_err() {
        return Err(bad("PIN pad key"));
    }
    let record = match redeem(data_dir, &request.code)? {
        Some(r) => r,
        None => {
            limiter.record_failure(source, now);
            return Err(ActivationError::WrongCode);
        }
    };
    let terminal_id = next_terminal_id(data_dir)?;
    let issued = enrol::enroll_device(
        data_dir,
        &terminal_id,
        link_host,
        EnrolOptions::default(),
        &device_spki,
    )?;
    let dukpt = issued
        .dukpt
        .as_ref()
        .ok_or_else(|| HostError::Hsm("no PIN key issued".into()))?;
    let pin_key = AesKey::from_slice(&dukpt.initial_key)
        .ok_or_else(|| HostError::Hsm("PIN initial key length".into()))?;
    let wrapped = key_wrap::wrap(&pad_key, &pin_key, Ksn::from_bytes(dukpt.initial_ksn))
        .map_err(|e| HostError::Hsm(e.to_string()))?;
    let mac = issued
        .mac_key
        .as_ref()
        .ok_or_else(|| HostError::Hsm("no MAC key issued".into()))?;
    tracing::info!(
        terminal_id,
        merchant = record.merchant,
        "terminal activated"
    );
    Ok(ActivationResponse {
        terminal_id,
        merchant: record.merchant,
        certificate_pem: issued.certificate_pem.clone(),
        ca_pem: issued.ca_pem.clone(),
        host: issued.host.clone(),
        server_name: issued.server_name.clone(),
        host_spki_sha256: hex::encode(issued.host_spki_sha256),
        mac_initial_key: hex::encode_upper(mac.initial_key().expose_secret()),
        mac_initial_ksn: hex::encode_upper(mac.initial_ksn()),
        pin_key_wrapped: hex::encode_upper(wrapped),
        api: None,
        attestation_public_key: None,
    })
}

#[derive(Serialize, Deserialize)]
struct CodeRecord {
    merchant: String,
    expires_unix: u64,
}

/// Consumes the code: its record if it exists and has not expired, `None` otherwise. The
/// record is renamed first, so a code is redeemed once even by concurrent requests.
fn redeem(data_dir: &Path, code: &str) -> Result<Option<CodeRecord>, HostError> {
    let raw = normalize(code);
    if raw.len() != CODE_CHARS {
        return Ok(None);
    }
    let path = record_path(data_dir, &raw);
    let used = path.with_extension("used");
    match fs::rename(&path, &used) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io(&path)(e)),
    }
    let text = fs::read_to_string(&used).map_err(HostError::io(&used))?;
    let record: CodeRecord =
        toml::from_str(&text).map_err(|e| HostError::BadBundle(e.to_string()))?;
    Ok((unix(SystemTime::now()) < record.expires_unix).then_some(record))
}

/// The first free terminal ID `A0000001`, `A0000002`, … (enrolment records in `terminals/`).
fn next_terminal_id(data_dir: &Path) -> Result<String, HostError> {
    for n in 1..10_000_000u32 {
        let id = format!("A{n:07}");
        if enrol::TerminalRecord::load(data_dir, &id)?.is_none() {
            return Ok(id);
        }
    }
    Err(HostError::BadTerminalId)
}

fn record_path(data_dir: &Path, raw_code: &str) -> PathBuf {
    let hash = Sha256::digest(raw_code.as_bytes());
    data_dir
        .join(DIR)
        .join(format!("{}.toml", hex::encode(hash)))
}

/// Groups of four separated by dashes.
fn group(raw: &str) -> String {
    raw.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
