//! The host's wallet registry (`docs/qr-customer-code.md` §2): the wallet CA that certifies
//! device keys, the enrolled devices (`DATA/wallets/DEVICE.toml`: public key, payer token,
//! payment methods, status, highest counter), revocation, and the host's own check of a signed
//! offline code in a 0200 or 0220 (DE 104).
//!
//! Enrolment goes through the host's data directory (`hsm-sim wallet enroll --host-data`), as
//! `hsm-sim enroll` does for terminals; the terminal gets the CA's public key from
//! `DATA/wallet-ca.pub` as configuration.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{SigningKey, VerifyingKey};
use emv::qr::OFFLINE_CODE_FIELD;
use emv::qr::offline_code::{
    Check, DeviceCertificate, DeviceId, OfflineCode, OfflineCodeError, PayerToken,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::issuer::IdempotencyKey;
use super::pki;
use crate::iso8583::{Message, Mti};

/// The devices' directory in the host's data directory.
pub const WALLETS_DIR: &str = "wallets";
/// The wallet CA's signing key (hex, secret).
pub const CA_KEY_FILE: &str = "wallet-ca.key";
/// The wallet CA's public key (hex): what terminals are configured with.
pub const CA_PUBLIC_FILE: &str = "wallet-ca.pub";
/// The issuer's account behind every simulated wallet's card (a demo account,
/// `issuer::demo_accounts`).
pub const WALLET_ACCOUNT_PAN: &str = "4761739001090012";
/// How long a device certificate is valid: a year.
pub const CERTIFICATE_LIFETIME_SECS: u64 = 365 * 86_400;

/// A wallet registry failure.
#[derive(Debug, thiserror::Error)]
pub enum WalletRegistryError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is malformed.
    #[error("{0}")]
    Malformed(String),
    /// No such device.
    #[error("no enrolled device {0}")]
    UnknownDevice(String),
    /// The random source failed.
    #[error("the OS random source failed")]
    Random,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WalletRegistryError + '_ {
    move |source| WalletRegistryError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the host keeps of an enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device ID (16 hex digits).
    pub device_id: String,
    /// The device's Ed25519 public key (hex).
    pub public_key: String,
    /// The payer token (hex).
    pub payer_token: String,
    /// The payer's payment methods: method 1 is the first account.
    pub accounts: Vec<String>,
    /// `active` or `revoked`.
    pub status: String,
    /// The highest counter the host accepted.
    pub last_counter: Option<u32>,
    /// The request that carried it (DE 41, DE 11, DE 7, MTI class): a retransmission of the
    /// same request is let through to get its stored answer.
    pub last_request: Option<String>,
    /// The customer's alias for requests to pay (a phone number such as `+4915112345678`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// What the device gets at enrolment.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The payer token.
    pub payer_token: PayerToken,
    /// The device certificate.
    pub certificate: DeviceCertificate,
}

/// Serialises the read-modify-write of device records across connections.
static RECORDS: Mutex<()> = Mutex::new(());

/// The wallet CA's public key, creating the CA on first use.
pub fn ca_public_key(data_dir: &Path) -> Result<VerifyingKey, WalletRegistryError> {
    Ok(ca_signing_key(data_dir)?.verifying_key())
}

fn ca_signing_key(data_dir: &Path) -> Result<SigningKey, WalletRegistryError> {
    let _guard = RECORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = data_dir.join(CA_KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let bytes =
                Zeroizing::new(hex::decode(text.trim()).map_err(|e| {
                    WalletRegistryError::Malformed(format!("{}: {e}", path.display()))
                })?);
            let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                WalletRegistryError::Malformed(format!("{}: not 32 bytes", path.display()))
            })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(io(data_dir))?;
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|_| WalletRegistryError::Random)?;
            let key = SigningKey::from_bytes(&seed);
            let hex_seed = Zeroizing::new(hex::encode(seed.as_ref()));
            pki::write_secret(&path, hex_seed.as_bytes())
                .map_err(|e| WalletRegistryError::Malformed(e.to_string()))?;
            let public = data_dir.join(CA_PUBLIC_FILE);
            fs::write(&public, hex::encode(key.verifying_key().as_bytes())).map_err(io(&public))?;
            Ok(key)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

/// Registers a device key and issues its certificate (a new payer with the wallet account).
pub fn register(
    data_dir: &Path,
    device_id: DeviceId,
    device_key: &VerifyingKey,
) -> Result<Enrolment, WalletRegistryError> {
    let ca = ca_signing_key(data_dir)?;
    let mut payer_token = [0u8; 16];
    getrandom::fill(&mut payer_token).map_err(|_| WalletRegistryError::Random)?;
    let not_after = now().saturating_add(CERTIFICATE_LIFETIME_SECS);
    let certificate = DeviceCertificate::issue(
        &ca,
        device_id,
        payer_token,
        device_key,
        u32::try_from(not_after).unwrap_or(u32::MAX),
    );
    let record = DeviceRecord {
        device_id: hex::encode_upper(device_id),
        public_key: hex::encode(device_key.as_bytes()),
        payer_token: hex::encode(payer_token),
        accounts: vec![WALLET_ACCOUNT_PAN.to_owned()],
        status: ACTIVE.to_owned(),
        last_counter: None,
        last_request: None,
        alias: None,
    };
    let _guard = RECORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    save(data_dir, &record)?;
    Ok(Enrolment {
        payer_token,
        certificate,
    })
}

/// Revokes a device: its codes are refused from now on.
pub fn revoke(data_dir: &Path, device_id: &str) -> Result<(), WalletRegistryError> {
    let _guard = RECORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut record = load(data_dir, device_id)?
        .ok_or_else(|| WalletRegistryError::UnknownDevice(device_id.to_owned()))?;
    record.status = REVOKED.to_owned();
    save(data_dir, &record)
}

/// Gives the device `alias` (a phone number: `+` and 6 to 15 digits, spaces and dashes
/// ignored) for requests to pay; an alias another device has is refused.
pub fn set_alias(data_dir: &Path, device_id: &str, alias: &str) -> Result<(), WalletRegistryError> {
    let alias = normalise_alias(alias).ok_or_else(|| {
        WalletRegistryError::Malformed(format!("{alias:?} is not a phone number"))
    })?;
    let _guard = RECORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(other) = find_alias(data_dir, &alias)?
        && other.device_id != device_id.to_ascii_uppercase()
    {
        return Err(WalletRegistryError::Malformed(format!(
            "{alias} is another wallet's alias"
        )));
    }
    let mut record = load(data_dir, device_id)?
        .ok_or_else(|| WalletRegistryError::UnknownDevice(device_id.to_owned()))?;
    record.alias = Some(alias);
    save(data_dir, &record)
}

/// The active device a request to pay addressed to `alias` goes to: a phone number given with
/// [`set_alias`], or the wallet ID (the device ID) itself.
pub fn find_by_alias(
    data_dir: &Path,
    alias: &str,
) -> Result<Option<DeviceRecord>, WalletRegistryError> {
    let found = match normalise_alias(alias) {
        Some(phone) => find_alias(data_dir, &phone)?,
        None => load(data_dir, alias.trim())?,
    };
    Ok(found.filter(|r| r.status == ACTIVE))
}

fn find_alias(data_dir: &Path, alias: &str) -> Result<Option<DeviceRecord>, WalletRegistryError> {
    let dir = data_dir.join(WALLETS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        let Some(device) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if let Some(record) = load(data_dir, device)?
            && record.alias.as_deref() == Some(alias)
        {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// `+49 151-1234 5678` → `+4915112345678`; `None` for anything but `+` and 6 to 15 digits.
pub fn normalise_alias(text: &str) -> Option<String> {
    let kept: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = kept.strip_prefix('+')?;
    ((6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(kept)
}

/// The record of `device_id` (16 hex digits), if enrolled.
pub fn load(data_dir: &Path, device_id: &str) -> Result<Option<DeviceRecord>, WalletRegistryError> {
    if device_id.len() != 16 || !device_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let path = record_path(data_dir, device_id);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| WalletRegistryError::Malformed(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

fn save(data_dir: &Path, record: &DeviceRecord) -> Result<(), WalletRegistryError> {
    let dir = data_dir.join(WALLETS_DIR);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let text =
        toml::to_string(record).map_err(|e| WalletRegistryError::Malformed(e.to_string()))?;
    pki::write_secret(&record_path(data_dir, &record.device_id), text.as_bytes())
        .map_err(|e| WalletRegistryError::Malformed(e.to_string()))
}

fn record_path(data_dir: &Path, device_id: &str) -> PathBuf {
    data_dir
        .join(WALLETS_DIR)
        .join(format!("{}.toml", device_id.to_ascii_uppercase()))
}

/// The host's check of a request carrying an offline code (DE 104): the code's format,
/// certificate (wallet CA), signature and cap; for a 0200 its age too (a 0220's code was
/// accepted by the terminal while it was valid); the device's enrolment and status; its
/// counter (above the highest accepted, or the same request again); the payment method. On
/// success the payer's account goes into DE 2 and the request goes on like any other;
/// `Err(code)` is the DE 39 to answer. A request without DE 104 is left alone.
pub(crate) fn resolve_offline_code(
    data_dir: &Path,
    message: &mut Message,
    key: &IdempotencyKey,
) -> Result<(), &'static str> {
    let Some(bytes) = message.field(OFFLINE_CODE_FIELD) else {
        return Ok(());
    };
    if message.has(2) || message.has(35) || message.has(55) {
        return Err("30");
    }
    let code = OfflineCode::parse(bytes).map_err(|e| {
        tracing::warn!(error = %e, "malformed offline code");
        "30"
    })?;
    let ca = ca_public_key(data_dir).map_err(|e| {
        tracing::error!(error = %e, "wallet CA unavailable");
        "91"
    })?;
    let amount = message
        .text(4)
        .and_then(|a| a.parse::<u64>().ok())
        .ok_or("30")?;
    let currency = message
        .text(49)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or("30")?;
    let advice = key.mti_class == Mti::FINANCIAL_ADVICE;
    let check = Check {
        ca: &ca,
        now: if advice {
            u64::from(code.fields().issued_at)
        } else {
            now()
        },
        amount,
        currency,
        nonce: None,
    };
    code.verify(&check).map_err(|e| {
        tracing::warn!(error = %e, "offline code refused");
        match e {
            OfflineCodeError::Expired
            | OfflineCodeError::NotYetValid
            | OfflineCodeError::CertificateExpired => "54",
            OfflineCodeError::OverCap { .. } | OfflineCodeError::Currency => "13",
            _ => "05",
        }
    })?;
    let cert = code.certificate();
    let device_id = hex::encode_upper(cert.device_id);
    let _guard = RECORDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut record = match load(data_dir, &device_id) {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::warn!(device = %device_id, "offline code from an unknown device");
            return Err("14");
        }
        Err(e) => {
            tracing::error!(error = %e, "wallet registry unreadable");
            return Err("91");
        }
    };
    if record.status != ACTIVE {
        tracing::warn!(device = %device_id, "offline code from a revoked device");
        return Err("57");
    }
    if record.public_key != hex::encode(cert.device_key)
        || record.payer_token != hex::encode(cert.payer_token)
    {
        tracing::warn!(device = %device_id, "certificate does not match the enrolment");
        return Err("05");
    }
    let request = format!(
        "{}/{}/{}/{}",
        key.terminal_id, key.stan, key.transmission, key.mti_class
    );
    let counter = code.fields().counter;
    let retransmission =
        record.last_counter == Some(counter) && record.last_request.as_deref() == Some(&request);
    if !retransmission && !code.counter_is_new(record.last_counter) {
        tracing::warn!(device = %device_id, counter, "offline code replayed");
        return Err("05");
    }
    let account = usize::from(code.fields().method)
        .checked_sub(1)
        .and_then(|i| record.accounts.get(i))
        .cloned()
        .ok_or("57")?;
    if !retransmission {
        record.last_counter = Some(counter);
        record.last_request = Some(request);
        save(data_dir, &record).map_err(|e| {
            tracing::error!(error = %e, "wallet registry not written");
            "96"
        })?;
    }
    message.set(2, account);
    Ok(())
}

/// Why a wallet's signed consent is refused by the host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentRefused {
    /// No device with that ID is enrolled.
    #[error("this wallet is not enrolled")]
    UnknownDevice,
    /// The device was revoked.
    #[error("this wallet's device was revoked")]
    Revoked,
    /// The signature or its time is wrong.
    #[error(transparent)]
    Consent(#[from] crate::wallet::consent::ConsentError),
    /// The registry cannot be read.
    #[error(transparent)]
    Registry(#[from] WalletRegistryError),
}

/// Checks a wallet's signed consent to `purpose` with `fields`: the device is enrolled and
/// active and its key signed them recently. Gives the device's record.
pub fn check_consent(
    data_dir: &Path,
    consent: &crate::wallet::consent::Consent,
    purpose: &str,
    fields: &[&str],
) -> Result<DeviceRecord, ConsentRefused> {
    let record = load(data_dir, &consent.device_id)?.ok_or(ConsentRefused::UnknownDevice)?;
    if record.status != ACTIVE {
        return Err(ConsentRefused::Revoked);
    }
    let key = hex::decode(&record.public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| {
            WalletRegistryError::Malformed(format!("device {}: bad public key", record.device_id))
        })?;
    crate::wallet::consent::verify(consent, &key, purpose, fields, now())?;
    Ok(record)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

const ACTIVE: &str = "active";
const REVOKED: &str = "revoked";
