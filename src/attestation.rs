//! The terminal's side of attestation (`docs/attestation.md`): gathering the evidence of its
//! state, signing it with the device key over the host's nonce, and keeping the host's token
//! for its short life.
//!
//! The checks read the running system: the executables' SHA-256, `TracerPid` in
//! `/proc/self/status` (a debugger), `LD_PRELOAD`/`LD_AUDIT` and shared objects mapped from
//! outside the system library directories (`/proc/self/maps`), the effective user (root), the
//! display server, DMI vendor strings and the CPU's `hypervisor` flag (emulator or VM), and the
//! OS release. The host judges them ([`emv::attestation::Evidence`] is the contract); the
//! terminal judges nothing itself, so a patched terminal cannot skip a check, only lie, which
//! the binary hash and the policy are there to catch.
//!
//! Test builds (feature `attestation-hooks`) read [`SIMULATE_ENV`]: a comma-separated list of
//! `debugger`, `binary`, `expired`, `x11`, `root`, each faking one failed check, and `clean`,
//! which first clears what the machine itself shows. An [`Attestor`] of a test build can be
//! given such a list of its own. Without the feature neither exists.

mod attestor;

pub use attestor::{AttestationState, Attestor, RETRY_AFTER, TOKEN_MARGIN_SECS};

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use emv::attestation::{Evidence, NONCE_LEN, signed_message};
use emv::crypto::attestation_token::{self, TokenClaims, TokenError};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The variable naming the simulated failures (test builds only).
pub const SIMULATE_ENV: &str = "SOFTPOS_ATTESTATION_SIMULATE";

/// How long after it was built a build may run, unless the packaging set
/// `SOFTPOS_BUILD_EXPIRES_AT` (Unix seconds) at compile time.
pub const BUILD_LIFETIME_SECS: u64 = 180 * 86_400;

/// The terminal's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A merchant's terminal.
    Production,
    /// A tester's: the host's development policy may accept what production refuses.
    Development,
}

impl Profile {
    fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Development => "development",
        }
    }
}

/// Gathers the evidence of the running terminal; `pinpad` is the PIN pad's executable.
pub fn collect(profile: Profile, pinpad: &Path) -> Evidence {
    collect_with(profile, &BinaryHashes::of(pinpad))
}

/// The SHA-256s of the terminal's and the PIN pad's executables: read once per process, since
/// hashing tens of megabytes on every attestation would slow the sale that waits for it.
#[derive(Debug, Clone)]
pub struct BinaryHashes {
    terminal: String,
    pinpad: String,
}

impl BinaryHashes {
    /// Hashes the running executable and the PIN pad's `pinpad`.
    pub fn of(pinpad: &Path) -> Self {
        let exe = std::env::current_exe().ok();
        Self {
            terminal: exe.as_deref().map(file_sha256).unwrap_or_default(),
            pinpad: file_sha256(pinpad),
        }
    }
}

/// [`collect`] with the executables' hashes already taken.
pub fn collect_with(profile: Profile, hashes: &BinaryHashes) -> Evidence {
    let mut evidence = Evidence {
        binary_sha256: hashes.terminal.clone(),
        pinpad_sha256: hashes.pinpad.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        build_expires_at: build_expires_at(),
        debugger: traced(&read_text("/proc/self/status")),
        preload: ["LD_PRELOAD", "LD_AUDIT"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty())),
        unexpected_mappings: unexpected_mappings(&read_text("/proc/self/maps")),
        root: rustix::process::geteuid().is_root(),
        display: display().to_owned(),
        vm_hints: vm_hints(),
        os: os(),
        profile: profile.as_str().to_owned(),
    };
    simulate(&mut evidence);
    evidence
}

/// The evidence as sent (JSON) and the device key's signature (DER) over the nonce and it.
/// `device_key_pem` is the terminal's PKCS#8 private key (`terminal.key`).
pub fn sign(
    device_key_pem: &str,
    nonce: &[u8; NONCE_LEN],
    evidence: &Evidence,
) -> Result<(Vec<u8>, Vec<u8>), AttestationError> {
    let secret =
        p256::SecretKey::from_pkcs8_pem(device_key_pem).map_err(|_| AttestationError::DeviceKey)?;
    let json = serde_json::to_vec(evidence).map_err(|_| AttestationError::DeviceKey)?;
    let signature: Signature = SigningKey::from(&secret).sign(&signed_message(nonce, &json));
    Ok((json, signature.to_der().as_bytes().to_vec()))
}

/// Why the terminal cannot attest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The device key is missing or not a P-256 PKCS#8 key (terminals enrolled from a bundle
    /// have none: activate them).
    #[error("no usable device key: activate the terminal")]
    DeviceKey,
    /// The host refused the token: the terminal is blocked.
    #[error("terminal blocked, contact your provider")]
    Blocked,
    /// The host's token does not check.
    #[error("attestation token: {0}")]
    Token(#[from] TokenError),
    /// The monitoring service cannot be reached, or refused this exchange.
    #[error("the host's monitoring service: {0}")]
    Host(String),
}

/// The token in force, kept for its lifetime (it is fetched before the card is tapped).
#[derive(Default)]
pub struct TokenCache {
    token: Option<(Vec<u8>, TokenClaims)>,
}

impl TokenCache {
    /// Keeps `token` after checking it against the host's attestation key and the terminal ID.
    pub fn store(
        &mut self,
        token: &[u8],
        host_key: &[u8],
        terminal_id: &str,
    ) -> Result<TokenClaims, TokenError> {
        let claims = attestation_token::verify(token, host_key, terminal_id, unix_now())?;
        self.token = Some((token.to_vec(), claims.clone()));
        Ok(claims)
    }

    /// The token if it is still valid for at least `margin_secs` (so it outlives the
    /// transaction it is fetched for).
    pub fn valid(&self, margin_secs: u64) -> Option<&[u8]> {
        let (token, claims) = self.token.as_ref()?;
        (unix_now().saturating_add(margin_secs) < claims.expires_at).then_some(token.as_slice())
    }

    /// Forgets the token (the host blocked the terminal).
    pub fn clear(&mut self) {
        self.token = None;
    }
}

fn file_sha256(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let mut hash = Sha256::new();
    let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hash.update(buf.get(..n).unwrap_or_default()),
            Err(_) => return String::new(),
        }
    }
    hex::encode(hash.finalize())
}

fn build_expires_at() -> u64 {
    if let Some(at) = option_env!("SOFTPOS_BUILD_EXPIRES_AT").and_then(|s| s.parse().ok()) {
        return at;
    }
    env!("SOFTPOS_BUILD_UNIX")
        .parse::<u64>()
        .unwrap_or(0)
        .saturating_add(BUILD_LIFETIME_SECS)
}

/// Whether `/proc/self/status` names a tracer.
fn traced(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .is_some_and(|pid| pid.trim() != "0")
}

/// Shared objects mapped from outside the system's library directories.
fn unexpected_mappings(maps: &str) -> Vec<String> {
    const SYSTEM: [&str; 5] = [
        "/lib/",
        "/lib64/",
        "/usr/lib/",
        "/usr/lib64/",
        "/usr/local/lib/",
    ];
    let mut found: Vec<String> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/') && (path.ends_with(".so") || path.contains(".so.")))
        .filter(|path| !SYSTEM.iter().any(|dir| path.starts_with(dir)))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn display() -> &'static str {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    match (set("WAYLAND_DISPLAY"), set("DISPLAY")) {
        (_, true) => "x11",
        (true, false) => "wayland",
        (false, false) => "none",
    }
}

fn vm_hints() -> Vec<String> {
    const VENDORS: [&str; 8] = [
        "QEMU",
        "KVM",
        "VirtualBox",
        "innotek",
        "VMware",
        "Xen",
        "Bochs",
        "Microsoft Corporation",
    ];
    let mut hints = Vec::new();
    for file in [
        "/sys/class/dmi/id/sys_vendor",
        "/sys/class/dmi/id/product_name",
    ] {
        let text = read_text(file);
        if let Some(vendor) = VENDORS.iter().find(|v| text.contains(*v)) {
            hints.push(format!("DMI {vendor}"));
        }
    }
    let cpu = read_text("/proc/cpuinfo");
    if cpu
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
    {
        hints.push("CPU hypervisor flag".to_owned());
    }
    hints.dedup();
    hints
}

fn os() -> String {
    let release = read_text("/etc/os-release");
    let name = release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|n| n.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    format!(
        "{name}; Linux {}",
        read_text("/proc/sys/kernel/osrelease").trim()
    )
}

fn read_text(path: &str) -> String {
    let mut text = String::new();
    if let Ok(file) = File::open(path) {
        let _ = file.take(1 << 20).read_to_string(&mut text);
    }
    text
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(feature = "attestation-hooks")]
fn simulate(evidence: &mut Evidence) {
    if let Some(list) = std::env::var_os(SIMULATE_ENV) {
        apply_simulation(evidence, &list.to_string_lossy());
    }
}

/// Fakes the findings `list` names (comma-separated): `debugger`, `binary`, `expired`, `x11`,
/// `root`, each one failed check; `clean` first clears what the machine itself shows (root,
/// a debugger, X11, injected libraries, VM hints), so a test run as root in a container
/// starts from a clean report.
#[cfg(feature = "attestation-hooks")]
pub fn apply_simulation(evidence: &mut Evidence, list: &str) {
    for item in list.split(',') {
        match item.trim() {
            "clean" => {
                evidence.debugger = false;
                evidence.preload = false;
                evidence.unexpected_mappings.clear();
                evidence.root = false;
                evidence.display = "wayland".to_owned();
                evidence.vm_hints.clear();
            }
            "debugger" => evidence.debugger = true,
            "binary" => evidence.binary_sha256 = "0".repeat(64),
            "expired" => evidence.build_expires_at = unix_now().saturating_sub(1),
            "x11" => evidence.display = "x11".to_owned(),
            "root" => evidence.root = true,
            _ => {}
        }
    }
}

#[cfg(not(feature = "attestation-hooks"))]
fn simulate(_evidence: &mut Evidence) {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic in a test is a failure.

    use super::*;

    #[test]
    fn a_tracer_is_seen_in_the_status_file() {
        assert!(!traced("Name:\tsoftpos\nTracerPid:\t0\n"));
        assert!(traced("Name:\tsoftpos\nTracerPid:\t4242\n"));
        assert!(!traced(""));
    }

    #[test]
    fn only_libraries_outside_the_system_directories_are_unexpected() {
        let maps = "\
7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02-7f03 r-xp 00000000 08:01 2 /tmp/evil/libhook.so
7f04-7f05 r-xp 00000000 08:01 3 /home/x/.local/libspy.so.1
7f06-7f07 r-xp 00000000 08:01 4 /opt/softpos/bin/softpos
7f08-7f09 rw-p 00000000 00:00 0 [heap]
7f02-7f03 r--p 00000000 08:01 2 /tmp/evil/libhook.so
";
        assert_eq!(
            unexpected_mappings(maps),
            ["/home/x/.local/libspy.so.1", "/tmp/evil/libhook.so"]
        );
    }

    #[test]
    fn the_collected_evidence_describes_this_process() {
        let evidence = collect(Profile::Development, Path::new("/nonexistent"));
        assert_eq!(evidence.binary_sha256.len(), 64);
        assert_eq!(evidence.pinpad_sha256, "");
        assert_eq!(evidence.profile, "development");
        assert_eq!(evidence.root, rustix::process::geteuid().is_root());
        assert!(evidence.build_expires_at > unix_now());
        assert!(evidence.os.contains("Linux"));
    }

    #[test]
    fn the_signature_covers_the_nonce_and_the_evidence() {
        use p256::ecdsa::VerifyingKey;
        use p256::ecdsa::signature::Verifier;
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let secret = emv::crypto::key_wrap::generate_secret_key().unwrap();
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let evidence = collect(Profile::Production, Path::new("/nonexistent"));
        let nonce = [7u8; NONCE_LEN];
        let (json, signature) = sign(&pem, &nonce, &evidence).unwrap();
        let key = VerifyingKey::from(secret.public_key());
        let signature = Signature::from_der(&signature).unwrap();
        assert!(
            key.verify(&signed_message(&nonce, &json), &signature)
                .is_ok()
        );
        assert!(
            key.verify(&signed_message(&[8u8; NONCE_LEN], &json), &signature)
                .is_err()
        );
        assert!(matches!(
            sign("not a key", &nonce, &evidence),
            Err(AttestationError::DeviceKey)
        ));
    }
}
