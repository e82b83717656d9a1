//! The exchange with the host's monitoring service (`docs/attestation.md` § The exchange), and
//! the token kept for its lifetime: [`Attestor::token`] is called before each transaction,
//! before the card is tapped, so a sale pays for the exchange only when the token is about to
//! expire.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use emv::api::attestation::{Attested, Challenge, ChallengeRequest, EvidenceSubmission};
use emv::attestation::NONCE_LEN;
use zeroize::Zeroizing;

use super::{AttestationError, BinaryHashes, Profile, TokenCache, collect_with, sign};
use crate::acquirer::TerminalCredentials;
use crate::host_api::{HostApi, HostApiError};

/// How long a token must still be valid for a transaction to start with it: long enough for a
/// tap, a PIN and the authorisation.
pub const TOKEN_MARGIN_SECS: u64 = 45;

/// After the service could not be reached, how long transactions go on without asking it
/// again: a courier without a network should not wait for a timeout before every tap.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where the terminal stands with the monitoring service, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationState {
    /// No token asked for yet.
    Unknown,
    /// A valid token until `expires_at` (Unix seconds), with the host's warnings (the build
    /// expires soon, development-profile findings).
    Attested {
        /// When the token expires.
        expires_at: u64,
        /// What the merchant should know.
        warnings: Vec<String>,
    },
    /// The host blocked the terminal: no transactions until the provider acts.
    Blocked,
    /// The service could not be asked (the reason); the host refuses online requests without
    /// a token, so only offline approvals remain.
    Unavailable(String),
}

/// A terminal enrolled by activation proving its state to its host.
pub struct Attestor {
    api: HostApi,
    terminal_id: String,
    device_key_pem: Zeroizing<String>,
    host_key: Vec<u8>,
    profile: Profile,
    pinpad: PathBuf,
    hashes: Option<BinaryHashes>,
    cache: TokenCache,
    state: AttestationState,
    /// When the service last could not be reached.
    unreachable_since: Option<Instant>,
    /// Test builds: findings to fake in every evidence (`super::apply_simulation`).
    #[cfg(feature = "attestation-hooks")]
    simulated: Option<String>,
}

impl Attestor {
    /// The attestor of a terminal with `credentials`, or `None` when they carry no attestation
    /// key (a terminal enrolled from a bundle: its host does not attest it). `pinpad` is the
    /// PIN pad's executable, whose hash the evidence carries.
    pub fn new(
        credentials: &TerminalCredentials,
        api: HostApi,
        profile: Profile,
        pinpad: PathBuf,
    ) -> Option<Self> {
        Some(Self {
            host_key: credentials.attestation_key.clone()?,
            api,
            terminal_id: credentials.terminal_id.clone(),
            device_key_pem: credentials.key_pem.clone(),
            profile,
            pinpad,
            hashes: None,
            cache: TokenCache::default(),
            state: AttestationState::Unknown,
            unreachable_since: None,
            #[cfg(feature = "attestation-hooks")]
            simulated: None,
        })
    }

    /// Test builds: fakes the findings `list` names in every evidence from now on (as
    /// [`super::SIMULATE_ENV`] does for a whole process), and forgets the cached token.
    #[cfg(feature = "attestation-hooks")]
    pub fn simulate(&mut self, list: &str) {
        self.simulated = Some(list.to_owned());
        self.forget_token();
    }

    /// A token valid for at least [`TOKEN_MARGIN_SECS`]: the cached one, or a fresh exchange
    /// (evidence gathered now, signed over the host's nonce). Within [`RETRY_AFTER`] of the
    /// service being unreachable it is not asked again: the answer is the same error at once.
    pub fn token(&mut self) -> Result<Vec<u8>, AttestationError> {
        if let Some(token) = self.cache.valid(TOKEN_MARGIN_SECS) {
            return Ok(token.to_vec());
        }
        if let (Some(since), AttestationState::Unavailable(why)) =
            (self.unreachable_since, &self.state)
            && since.elapsed() < RETRY_AFTER
        {
            return Err(AttestationError::Host(why.clone()));
        }
        self.exchange()
            .inspect(|_| self.unreachable_since = None)
            .inspect_err(|e| {
                self.cache.clear();
                self.state = match e {
                    AttestationError::Blocked => AttestationState::Blocked,
                    other => AttestationState::Unavailable(other.to_string()),
                };
                self.unreachable_since = matches!(e, AttestationError::Host(_)).then(Instant::now);
            })
    }

    /// Forgets the cached token: the next [`Attestor::token`] attests afresh (after the host
    /// changed its policy, say).
    pub fn forget_token(&mut self) {
        self.cache.clear();
        self.unreachable_since = None;
    }

    /// Where the terminal stands (the last exchange's outcome).
    pub fn state(&self) -> &AttestationState {
        &self.state
    }

    fn exchange(&mut self) -> Result<Vec<u8>, AttestationError> {
        let challenge: Challenge = self
            .api
            .post(
                "/v1/attestation/challenge",
                &ChallengeRequest {
                    terminal_id: self.terminal_id.clone(),
                },
            )
            .map_err(refusal)?;
        let nonce: [u8; NONCE_LEN] = hex::decode(&challenge.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| AttestationError::Host("a malformed nonce".to_owned()))?;
        let hashes = self
            .hashes
            .get_or_insert_with(|| BinaryHashes::of(&self.pinpad));
        #[allow(unused_mut)] // Test builds change it.
        let mut evidence = collect_with(self.profile, hashes);
        #[cfg(feature = "attestation-hooks")]
        if let Some(list) = &self.simulated {
            super::apply_simulation(&mut evidence, list);
        }
        let (json, signature) = sign(&self.device_key_pem, &nonce, &evidence)?;
        let evidence = String::from_utf8(json).map_err(|_| AttestationError::DeviceKey)?;
        let attested: Attested = self
            .api
            .post(
                "/v1/attestation/evidence",
                &EvidenceSubmission {
                    terminal_id: self.terminal_id.clone(),
                    nonce: challenge.nonce,
                    evidence,
                    signature: hex::encode(signature),
                },
            )
            .map_err(refusal)?;
        let token = hex::decode(&attested.token)
            .map_err(|_| AttestationError::Host("a malformed token".to_owned()))?;
        let claims = self
            .cache
            .store(&token, &self.host_key, &self.terminal_id)?;
        for warning in &attested.warnings {
            tracing::warn!(%warning, "attestation");
        }
        self.state = AttestationState::Attested {
            expires_at: claims.expires_at,
            warnings: attested.warnings,
        };
        Ok(token)
    }
}

/// 403 from the attestation routes means blocked (or revoked); anything else is the service
/// being unavailable or refusing this exchange.
fn refusal(e: HostApiError) -> AttestationError {
    match e {
        HostApiError::Refused { status: 403, .. } => AttestationError::Blocked,
        other => AttestationError::Host(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A panic in a test is a failure.

    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An attestor whose API is a listener that counts connections and closes them.
    fn unreachable() -> (Attestor, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let api = HostApi::with_config(
            &address,
            "localhost",
            Arc::new(config),
            Duration::from_secs(5),
        )
        .unwrap();
        let credentials = TerminalCredentials {
            terminal_id: "A0000001".to_owned(),
            host: address.clone(),
            api: Some(address),
            server_name: "localhost".to_owned(),
            host_spki_sha256: [0; 32],
            ca_pem: String::new(),
            certificate_pem: String::new(),
            key_pem: Zeroizing::new(String::new()),
            mac_key: None,
            attestation_key: Some(vec![4; 65]),
        };
        let attestor =
            Attestor::new(&credentials, api, Profile::Production, PathBuf::new()).unwrap();
        (attestor, connections)
    }

    #[test]
    fn an_unreachable_service_is_not_asked_again_at_every_sale() {
        let (mut attestor, connections) = unreachable();
        assert!(matches!(attestor.token(), Err(AttestationError::Host(_))));
        assert!(matches!(attestor.state(), AttestationState::Unavailable(_)));
        let asked = connections.load(Ordering::SeqCst);
        assert!(asked >= 1);
        for _ in 0..5 {
            assert!(matches!(attestor.token(), Err(AttestationError::Host(_))));
        }
        assert_eq!(connections.load(Ordering::SeqCst), asked, "not asked again");
        // Forgetting the token (a policy change, a tester's "check now") asks at once.
        attestor.forget_token();
        assert!(attestor.token().is_err());
        assert!(connections.load(Ordering::SeqCst) > asked);
    }
}
