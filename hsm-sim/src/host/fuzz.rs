//! The body of the host's fuzz target (`fuzz/fuzz_targets/host_request.rs`, run with
//! `scripts/fuzz host_request`): a request body as the host reads it off the wire goes through
//! the host's own steps up to the issuer's ledger, which is left out. A body that does not
//! decode gets the host's format-error answer; one that decodes and has a known MTI is turned
//! into an issuer request (`request::validate`: mandatory elements, DE 55, DE 63 key binding,
//! the PIN block checked by an in-memory HSM on the public test keys, the ARQC), and every
//! answer it leads to must encode. Panics only on a bug. The committed corpus is replayed by
//! `tests/fuzz_corpora.rs` through this same function.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use super::enrol::TerminalRecord;
use super::issuer::{self, IdempotencyKey};
use super::security::{HsmSecurity, SecurityModule};
use super::{freshness, request, server};
use crate::hsm::Hsm;
use crate::iso8583::{Message, mac::MacParts};

/// Runs one request body through the host's decoding and validation.
pub fn request(body: &[u8]) {
    let Ok(message) = Message::decode(body) else {
        if let Some(answer) = server::format_error_for_raw(body) {
            assert!(Message::decode(&answer).is_ok(), "format-error answer");
        }
        return;
    };
    let mti = message.mti();
    if !server::KNOWN_REQUESTS.contains(&mti) {
        return;
    }
    let _ = MacParts::of(body);
    let field = issuer::mac_field(&message);
    assert!(field == 64 || field == 128);
    if let Some(transmission) = message.text(7) {
        let _ = freshness::applies_to(mti)
            && freshness::is_fresh(transmission, SystemTime::now(), Duration::from_secs(300));
    }
    let key = IdempotencyKey {
        terminal_id: message.text(41).unwrap_or_default().to_owned(),
        stan: message.text(11).unwrap_or_default().to_owned(),
        transmission: message.text(7).unwrap_or_default().to_owned(),
        mti_class: mti.original(),
    };
    let record = TerminalRecord {
        terminal_id: key.terminal_id.clone(),
        pin_key_id: Some(PIN_KEY_ID.to_owned()),
        mac_key_id: None,
        mac_required: false,
        device_key: None,
    };
    let security = HsmSecurity::new(Hsm::with_test_keys());
    let code = match request::validate(
        &security,
        pin_verification_values(),
        message.clone(),
        key,
        Some(&record),
        None,
    ) {
        Ok(_) => "00",
        Err(code) => code,
    };
    let answer = issuer::response(&message, code);
    let encoded = answer
        .encode()
        .expect("the answer to a decoded request encodes");
    assert!(Message::decode(&encoded).is_ok(), "the answer decodes");
}

/// The PIN verification values of the demo accounts for the demo PIN, under the test keys.
fn pin_verification_values() -> &'static HashMap<String, Zeroizing<Vec<u8>>> {
    static VALUES: OnceLock<HashMap<String, Zeroizing<Vec<u8>>>> = OnceLock::new();
    VALUES.get_or_init(|| {
        let security = HsmSecurity::new(Hsm::with_test_keys());
        issuer::demo_accounts()
            .into_iter()
            .filter_map(|account| {
                let pvv = security
                    .pin_verification_value(&account.pan, issuer::DEMO_PIN)
                    .ok()?;
                Some((account.pan, Zeroizing::new(pvv)))
            })
            .collect()
    })
}

/// The PIN key the fuzzed terminal is enrolled with (initial key ID of the seeds' DE 63).
const PIN_KEY_ID: &str = "2222222222222222";
