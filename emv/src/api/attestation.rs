//! Attestation on the host's API (`docs/attestation.md` § The exchange): the terminal asks for
//! a nonce, then sends its evidence signed over it with its device key, and gets a short-lived
//! token. Both requests need the terminal's client certificate.

use serde::{Deserialize, Serialize};

/// `POST /v1/attestation/challenge`: ask for a nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRequest {
    /// The terminal (DE 41); its client certificate must name it.
    pub terminal_id: String,
}

/// The answer to [`ChallengeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The nonce (hex, [`crate::attestation::NONCE_LEN`] bytes): answerable once, within 60 s.
    pub nonce: String,
}

/// `POST /v1/attestation/evidence`: the signed evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSubmission {
    /// The terminal (DE 41).
    pub terminal_id: String,
    /// The nonce of the challenge (hex).
    pub nonce: String,
    /// The evidence ([`crate::attestation::Evidence`]) as JSON text: the exact bytes signed.
    pub evidence: String,
    /// ECDSA P-256 SHA-256 by the device key over [`crate::attestation::signed_message`]
    /// (DER, hex).
    pub signature: String,
}

/// The answer to an accepted [`EvidenceSubmission`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attested {
    /// The token ([`crate::crypto::attestation_token`], hex).
    pub token: String,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
    /// What the merchant should know: the build expires soon, or checks that failed in the
    /// development profile.
    #[serde(default)]
    pub warnings: Vec<String>,
}
