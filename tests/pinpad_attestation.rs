//! The PIN pad checks the attestation token itself (`docs/attestation.md` § The PIN pad),
//! through its pipe protocol in test input mode: once it trusts a host's key for a terminal,
//! it takes a PIN only with a valid token of that host for that terminal, and a refusal uses
//! no KSN. The trust is set once.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::time::{SystemTime, UNIX_EPOCH};

use emv::crypto::attestation_token;
use emv::crypto::key_wrap::{generate_secret_key, public_key_bytes};
use p256::ecdsa::SigningKey;
use softpos::pinpad::keystore::attestation_trust;
use softpos::pinpad::{PinEntry, PinEntryError, PinPadProcess, PinRequest};

#[path = "pinpad_support/harness.rs"]
mod harness;
use harness::{Terminal, random_pan, request};

const TERMINAL_ID: &str = "A0000001";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn refused_unattested(result: Result<softpos::pinpad::EncryptedPin, PinEntryError>) {
    assert!(
        matches!(&result, Err(PinEntryError::Unavailable(m)) if m.contains("attestation")),
        "{result:?}"
    );
}

#[test]
fn a_trusting_pad_takes_a_pin_only_with_a_valid_token() {
    let terminal = Terminal::enrolled();
    let host = generate_secret_key().unwrap();
    let signer = SigningKey::from(&host);
    let pad = PinPadProcess::new(terminal.config(""));
    pad.trust_attestation(TERMINAL_ID, &public_key_bytes(&host))
        .unwrap();
    let trusted = attestation_trust::load(terminal.store.path())
        .unwrap()
        .unwrap();
    assert_eq!(trusted.terminal_id, TERMINAL_ID);
    // Set once: another key is refused, and the first stays.
    let other_host = generate_secret_key().unwrap();
    let again = pad.trust_attestation(TERMINAL_ID, &public_key_bytes(&other_host));
    assert!(
        matches!(&again, Err(PinEntryError::Unavailable(m)) if m.contains("installed already")),
        "{again:?}"
    );
    assert_eq!(
        attestation_trust::load(terminal.store.path()).unwrap(),
        Some(trusted)
    );

    let before = terminal.last_ksn();
    let pan = random_pan();
    let t = now();
    let valid = attestation_token::issue(&signer, TERMINAL_ID, t, t + 120).unwrap();
    let expired = attestation_token::issue(&signer, TERMINAL_ID, t - 300, t - 1).unwrap();
    let other_terminal = attestation_token::issue(&signer, "A0000002", t, t + 120).unwrap();
    let other_signer = SigningKey::from(&other_host);
    let forged = attestation_token::issue(&other_signer, TERMINAL_ID, t, t + 120).unwrap();
    for token in [
        None,
        Some(&expired[..]),
        Some(&other_terminal[..]),
        Some(&forged[..]),
        Some(&valid[..10]),
    ] {
        let request = PinRequest {
            attestation_token: token,
            ..request(&pan)
        };
        let result = PinPadProcess::new(terminal.config("1234K")).collect(&request);
        refused_unattested(result);
    }
    assert_eq!(terminal.last_ksn(), before, "a refused entry uses no KSN");

    let request = PinRequest {
        attestation_token: Some(&valid),
        ..request(&pan)
    };
    let encrypted = PinPadProcess::new(terminal.config("1234K"))
        .collect(&request)
        .unwrap();
    assert_eq!(
        terminal.pin_at_host(&encrypted, pan.expose_digits()),
        [1, 2, 3, 4]
    );
}

#[test]
fn a_pad_without_trust_asks_for_no_token() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let encrypted = PinPadProcess::new(terminal.config("4321K"))
        .collect(&request(&pan))
        .unwrap();
    assert_eq!(
        terminal.pin_at_host(&encrypted, pan.expose_digits()),
        [4, 3, 2, 1]
    );
}
