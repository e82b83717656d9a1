//! What a terminal tells the host's monitoring service about itself (`docs/attestation.md`):
//! the evidence, and what its device key signs. Gathering it is the terminal's job
//! (`softpos::attestation`), judging it the host's (`hsm_sim::host::attestation`); this module
//! is the contract between them, with no I/O.

use serde::{Deserialize, Serialize};

/// What the device key signs before the nonce and the evidence.
pub const EVIDENCE_LABEL: &[u8] = b"softpos evidence v1\0";
/// A server nonce's length.
pub const NONCE_LEN: usize = 16;

/// The terminal's state, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// SHA-256 of the terminal's executable (hex).
    pub binary_sha256: String,
    /// SHA-256 of the PIN pad's executable (hex).
    pub pinpad_sha256: String,
    /// The terminal's version.
    pub version: String,
    /// When this build stops being allowed to run (Unix seconds).
    pub build_expires_at: u64,
    /// A debugger or tracer is attached (`TracerPid` of `/proc/self/status`).
    pub debugger: bool,
    /// `LD_PRELOAD` (or `LD_AUDIT`) is set.
    pub preload: bool,
    /// Mapped libraries outside the system's library directories.
    pub unexpected_mappings: Vec<String>,
    /// The process runs as root.
    pub root: bool,
    /// The display server: `wayland`, `x11` or `none`.
    pub display: String,
    /// Hints of an emulator or virtual machine (DMI vendor, hypervisor CPU flag).
    pub vm_hints: Vec<String>,
    /// The operating system and kernel.
    pub os: String,
    /// The terminal's profile: `production` or `development`.
    pub profile: String,
}

/// The bytes the device key signs: [`EVIDENCE_LABEL`] ‖ nonce ‖ the evidence as sent (JSON).
pub fn signed_message(nonce: &[u8; NONCE_LEN], evidence_json: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(EVIDENCE_LABEL.len() + NONCE_LEN + evidence_json.len());
    message.extend_from_slice(EVIDENCE_LABEL);
    message.extend_from_slice(nonce);
    message.extend_from_slice(evidence_json);
    message
}
