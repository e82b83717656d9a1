#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use p256::ecdsa::signature::Signer;
use p256::pkcs8::EncodePublicKey;

use super::*;
use crate::host::enrol::{self, EnrolOptions};

const TID: &str = "A0000001";
const GOOD_BINARY: &str = "aa11";

struct Terminal {
    device: SigningKey,
}

impl Terminal {
    fn enrol(data: &Path, tid: &str) -> Self {
        let secret = key_wrap::generate_secret_key().unwrap();
        let spki = secret.public_key().to_public_key_der().unwrap();
        enrol::enroll_device(
            data,
            tid,
            "127.0.0.1:8583",
            EnrolOptions::default(),
            spki.as_bytes(),
        )
        .unwrap();
        Self {
            device: SigningKey::from(&secret),
        }
    }

    fn attest(
        &self,
        service: &AttestationService,
        tid: &str,
        evidence: &Evidence,
    ) -> Result<Granted, AttestError> {
        let nonce = service.challenge(tid).unwrap();
        self.attest_with(service, tid, &nonce, evidence)
    }

    fn attest_with(
        &self,
        service: &AttestationService,
        tid: &str,
        nonce: &[u8; NONCE_LEN],
        evidence: &Evidence,
    ) -> Result<Granted, AttestError> {
        let json = serde_json::to_vec(evidence).unwrap();
        let signature: Signature = self.device.sign(&signed_message(nonce, &json));
        service.attest(tid, nonce, &json, signature.to_der().as_bytes())
    }
}

fn good() -> Evidence {
    Evidence {
        binary_sha256: GOOD_BINARY.to_owned(),
        pinpad_sha256: "bb22".to_owned(),
        version: "0.1.0".to_owned(),
        build_expires_at: unix_now() + 90 * 86_400,
        debugger: false,
        preload: false,
        unexpected_mappings: Vec::new(),
        root: false,
        display: "wayland".to_owned(),
        vm_hints: Vec::new(),
        os: "Linux 6.1".to_owned(),
        profile: "production".to_owned(),
    }
}

fn setup() -> (tempfile::TempDir, AttestationService, Terminal) {
    let data = tempfile::tempdir().unwrap();
    let terminal = Terminal::enrol(data.path(), TID);
    Policy {
        allowed_binaries: vec![GOOD_BINARY.to_owned()],
        ..Policy::default()
    }
    .save(data.path())
    .unwrap();
    let service = AttestationService::load_or_create(data.path()).unwrap();
    (data, service, terminal)
}

#[test]
fn good_evidence_gets_a_short_lived_token_and_a_nonce_works_once() {
    let (_data, service, terminal) = setup();
    let nonce = service.challenge(TID).unwrap();
    let granted = terminal
        .attest_with(&service, TID, &nonce, &good())
        .unwrap();
    let now = unix_now();
    let claims =
        attestation_token::verify(&granted.token, &service.public_key(), TID, now).unwrap();
    assert!((now + 119..=now + 120).contains(&claims.expires_at));
    assert!(granted.warnings.is_empty(), "{:?}", granted.warnings);
    assert_eq!(
        attestation_token::verify(&granted.token, &service.public_key(), TID, now + 120),
        Err(attestation_token::TokenError::Expired)
    );
    // The same nonce again: a replay.
    assert!(matches!(
        terminal.attest_with(&service, TID, &nonce, &good()),
        Err(AttestError::BadNonce)
    ));
    // A nonce issued to another terminal does not serve this one.
    let theirs = service.challenge("A0000002").unwrap();
    assert!(matches!(
        terminal.attest_with(&service, TID, &theirs, &good()),
        Err(AttestError::BadNonce)
    ));
}

#[test]
fn evidence_signed_by_another_key_is_refused() {
    let (_data, service, _terminal) = setup();
    let elsewhere = tempfile::tempdir().unwrap();
    let impostor = Terminal::enrol(elsewhere.path(), TID);
    assert!(matches!(
        impostor.attest(&service, TID, &good()),
        Err(AttestError::BadSignature)
    ));
}

/// A change that makes evidence fail one check.
type Spoil = fn(&mut Evidence);

#[test]
fn each_failed_check_blocks_the_terminal_until_the_operator_or_a_new_enrolment() {
    let cases: [(&str, Spoil); 5] = [
        ("debugger", |e| e.debugger = true),
        ("binary hash", |e| e.binary_sha256 = "ff00".to_owned()),
        ("expired build", |e| e.build_expires_at = unix_now() - 1),
        ("X11 in production", |e| e.display = "x11".to_owned()),
        ("root", |e| e.root = true),
    ];
    for (name, spoil) in cases {
        let (data, service, terminal) = setup();
        let mut bad = good();
        spoil(&mut bad);
        assert!(
            matches!(
                terminal.attest(&service, TID, &bad),
                Err(AttestError::Blocked)
            ),
            "{name}"
        );
        assert!(blocklist::is_blocked(data.path(), TID).unwrap(), "{name}");
        let record = EvidenceRecord::load(data.path(), TID).unwrap().unwrap();
        assert_eq!(record.failures.len(), 1, "{name}: {:?}", record.failures);
        // The cause gone, still blocked.
        assert!(
            matches!(
                terminal.attest(&service, TID, &good()),
                Err(AttestError::Blocked)
            ),
            "{name}"
        );
        // A new enrolment (a new terminal ID) attests; so does this one once unblocked.
        let again = Terminal::enrol(data.path(), "A0000002");
        assert!(
            again.attest(&service, "A0000002", &good()).is_ok(),
            "{name}"
        );
        blocklist::unblock(data.path(), TID).unwrap();
        assert!(terminal.attest(&service, TID, &good()).is_ok(), "{name}");
    }
}

#[test]
fn the_development_profile_reports_and_the_policy_changes_at_the_host() {
    let (data, service, terminal) = setup();
    let mut x11 = good();
    x11.display = "x11".to_owned();
    x11.profile = "development".to_owned();
    Policy {
        profile: Profile::Development,
        ..Policy::load(data.path()).unwrap()
    }
    .save(data.path())
    .unwrap();
    let granted = terminal.attest(&service, TID, &x11).unwrap();
    assert!(granted.warnings.iter().any(|w| w.contains("X11")));
    assert!(!blocklist::is_blocked(data.path(), TID).unwrap());
    // Back to production at the host: the same evidence now blocks.
    Policy {
        profile: Profile::Production,
        ..Policy::load(data.path()).unwrap()
    }
    .save(data.path())
    .unwrap();
    assert!(matches!(
        terminal.attest(&service, TID, &x11),
        Err(AttestError::Blocked)
    ));
}

#[test]
fn a_build_close_to_its_expiry_warns() {
    let (_data, service, terminal) = setup();
    let mut soon = good();
    soon.build_expires_at = unix_now() + 3 * 86_400 - 10;
    let granted = terminal.attest(&service, TID, &soon).unwrap();
    assert!(
        granted
            .warnings
            .iter()
            .any(|w| w.contains("expires in 3 days")),
        "{:?}",
        granted.warnings
    );
}
