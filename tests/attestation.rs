//! Attestation end to end (`docs/attestation.md`): terminals activated over the host's API
//! with a code, the engine proving the terminal's state before each transaction over HTTPS,
//! the ISO 8583 link refusing a money request without a valid token, and the production
//! policy blocking a terminal for each failed check, for good, until it is enrolled again.
//!
//! The findings are faked per engine with the test builds' hook
//! ([`softpos::engine::Engine::simulate_attestation`]); every engine starts from `clean`, so
//! the tests behave the same run as root in a container.
#![cfg(feature = "attestation-hooks")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/activation.rs"]
mod activation;
#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use activation::{Activated, activate};
use emv::api::attestation::{Attested, Challenge, ChallengeRequest, EvidenceSubmission};
use emv::crypto::attestation_token::TOKEN_FIELD;
use emv::iso8583::{Message, Mti};
use hsm_sim::host::attestation::{EvidenceRecord, Policy};
use hsm_sim::host::velocity::{self, VelocityLimits};
use hsm_sim::host::{blocklist, terminals};
use softpos::acquirer::{Acquirer, LinkSettings, transmission_now};
use softpos::attestation::{AttestationState, Profile, apply_simulation, collect, sign};
use softpos::engine::{Engine, EngineError, TxStatus};
use softpos::host_api::{HostApi, HostApiError};
use support::{TestPin, World};

/// The engine of `terminal`, signed on, faking `findings` on a clean report.
fn engine(terminal: &Activated, findings: &str) -> Engine {
    activation::engine(terminal, &format!("clean,{findings}"))
}

/// A sale of 12.34 on the in-process Visa card (no PIN at this amount).
fn sale(engine: &mut Engine, world: &World) -> Result<softpos::engine::TxResult, EngineError> {
    let mut card = support::in_process("visa");
    let mut pin = TestPin::new(&world.bundle, &[]);
    engine.sale(
        &mut card,
        &mut pin,
        1_234,
        softpos::engine::Tip::None,
        &mut |_| {},
    )
}

/// A purchase request (0200) of `terminal` with `token` in DE 106 (none for `None`): its DE 39.
fn purchase_answer(terminal: &Activated, stan: u32, token: Option<Vec<u8>>) -> String {
    let mut link = Acquirer::new(&terminal.credentials, LinkSettings::default()).unwrap();
    let mut request = Message::new(Mti::FINANCIAL_REQUEST)
        .with(3, "000000")
        .with(4, "000000000100")
        .with(7, transmission_now())
        .with(11, format!("{stan:06}"))
        .with(41, terminal.credentials.terminal_id.clone());
    if let Some(token) = token {
        request = request.with(TOKEN_FIELD, token);
    }
    let answer = link.exchange(&request).unwrap();
    answer.text(39).unwrap().to_owned()
}

/// One attestation over the API, with a clean report: the token.
fn attest_once(terminal: &Activated) -> Vec<u8> {
    let api = HostApi::new(&terminal.credentials, Duration::from_secs(5)).unwrap();
    let id = terminal.credentials.terminal_id.clone();
    let challenge: Challenge = api
        .post(
            "/v1/attestation/challenge",
            &ChallengeRequest {
                terminal_id: id.clone(),
            },
        )
        .unwrap();
    let nonce: [u8; 16] = hex::decode(&challenge.nonce).unwrap().try_into().unwrap();
    let evidence = softpos_clean_evidence();
    let (json, signature) = sign(&terminal.credentials.key_pem, &nonce, &evidence).unwrap();
    let submission = EvidenceSubmission {
        terminal_id: id,
        nonce: challenge.nonce,
        evidence: String::from_utf8(json).unwrap(),
        signature: hex::encode(signature),
    };
    let attested: Attested = api.post("/v1/attestation/evidence", &submission).unwrap();
    // The same nonce again: a replay, refused.
    let replay = api.post::<_, Attested>("/v1/attestation/evidence", &submission);
    assert!(
        matches!(&replay, Err(HostApiError::Refused { status: 401, message }) if message.contains("nonce")),
        "{replay:?}"
    );
    hex::decode(attested.token).unwrap()
}

/// What a clean production terminal reports (this process standing in for it).
fn softpos_clean_evidence() -> emv::attestation::Evidence {
    let mut evidence = collect(Profile::Production, std::path::Path::new("/nonexistent"));
    apply_simulation(&mut evidence, "clean");
    evidence
}

#[test]
fn an_activated_terminal_attests_before_its_sale_and_the_link_needs_the_token() {
    let world = World::start();
    let terminal = activate(&world, "shop");
    let id = terminal.credentials.terminal_id.clone();
    let mut engine = engine(&terminal, "");
    // Attested at sign-on already.
    let Some(AttestationState::Attested { .. }) = engine.attestation_state() else {
        panic!("{:?}", engine.attestation_state());
    };
    let approved = sale(&mut engine, &world).unwrap();
    assert_eq!(approved.status, TxStatus::Approved, "{}", approved.message);
    let Some(AttestationState::Attested { expires_at, .. }) = engine.attestation_state() else {
        panic!("{:?}", engine.attestation_state());
    };
    assert!(*expires_at > 0);
    let record = EvidenceRecord::load(world.host().data_dir(), &id)
        .unwrap()
        .expect("the host keeps the last evidence");
    assert!(record.failures.is_empty(), "{:?}", record.failures);
    // The second sale reuses the token: the host sees no new evidence.
    let second = sale(&mut engine, &world).unwrap();
    assert_eq!(second.status, TxStatus::Approved, "{}", second.message);
    let again = EvidenceRecord::load(world.host().data_dir(), &id)
        .unwrap()
        .unwrap();
    assert_eq!(again.at, record.at);

    // On the link: no token, or a token that is not the host's, is refused (58); a token
    // from the API passes this check (and the request then fails on its missing card).
    assert_eq!(purchase_answer(&terminal, 900_001, None), "58");
    let mut forged = attest_once(&terminal);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(purchase_answer(&terminal, 900_002, Some(forged)), "58");
    let token = attest_once(&terminal);
    assert_ne!(
        purchase_answer(&terminal, 900_003, Some(token.clone())),
        "58"
    );
    // Another terminal's token does not serve.
    let other = activate(&world, "other");
    assert_eq!(purchase_answer(&other, 900_004, Some(token)), "58");
    // A terminal enrolled from a bundle is not attested: its sales need no token.
    let mut bundle_engine =
        support::signed_on_engine(&world, "", support::engine_settings(Duration::from_secs(5)));
    assert_eq!(bundle_engine.attestation_state(), None);
    let (plain, _) = support::sale_on(&mut bundle_engine, &world, "visa", 1_234);
    assert_eq!(plain.status, TxStatus::Approved, "{}", plain.message);
}

#[test]
fn an_expired_token_is_refused_on_the_link() {
    let world = World::start();
    let terminal = activate(&world, "shop");
    Policy {
        token_lifetime_secs: 1,
        ..Policy::default()
    }
    .save(world.host().data_dir())
    .unwrap();
    let token = attest_once(&terminal);
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(purchase_answer(&terminal, 900_010, Some(token)), "58");
}

#[test]
fn each_failed_check_blocks_the_terminal_until_it_is_enrolled_again() {
    let world = World::start();
    // Only this build's binary is known, so a changed hash is an unknown binary.
    Policy {
        allowed_binaries: vec![softpos_clean_evidence().binary_sha256],
        ..Policy::default()
    }
    .save(world.host().data_dir())
    .unwrap();
    for finding in ["debugger", "binary", "expired", "x11", "root"] {
        let terminal = activate(&world, finding);
        let id = terminal.credentials.terminal_id.clone();
        let mut engine = engine(&terminal, finding);
        let blocked = sale(&mut engine, &world);
        assert!(
            matches!(blocked, Err(EngineError::Blocked)),
            "{finding}: {blocked:?}"
        );
        assert_eq!(engine.attestation_state(), Some(&AttestationState::Blocked));
        assert!(blocklist::is_blocked(world.host().data_dir(), &id).unwrap());
        let evidence = EvidenceRecord::load(world.host().data_dir(), &id)
            .unwrap()
            .unwrap();
        assert_eq!(
            evidence.failures.len(),
            1,
            "{finding}: {:?}",
            evidence.failures
        );
        // The cause gone, the terminal stays blocked: no token (and the host's revocation
        // list, checked above, refuses its link).
        engine.simulate_attestation("clean");
        let still = sale(&mut engine, &world);
        assert!(
            matches!(still, Err(EngineError::Blocked)),
            "{finding}: {still:?}"
        );
        assert!(
            engine.journal().recent(10).unwrap().is_empty(),
            "{finding}: nothing was journalled"
        );
    }
    // Enrolled again with a new code, the merchant sells again.
    let fresh = activate(&world, "again");
    let mut engine = engine(&fresh, "");
    let approved = sale(&mut engine, &world).unwrap();
    assert_eq!(approved.status, TxStatus::Approved, "{}", approved.message);
    // The operator's list (`hsm-sim terminals`): the bundle terminal, five blocked terminals
    // with the check each failed, and the new one, attested and active.
    let listed = terminals::list(world.host().data_dir()).unwrap();
    assert_eq!(listed.len(), 7, "{listed:?}");
    let bundle = listed
        .iter()
        .find(|t| t.terminal_id == support::TERMINAL)
        .unwrap();
    assert!(!bundle.activated && bundle.last_evidence.is_none());
    let blocked: Vec<_> = listed.iter().filter(|t| t.blocked).collect();
    assert_eq!(blocked.len(), 5, "{listed:?}");
    assert!(blocked.iter().all(|t| {
        t.activated
            && t.last_evidence
                .as_ref()
                .is_some_and(|e| e.failures.len() == 1)
    }));
    let last = listed
        .iter()
        .find(|t| t.terminal_id == fresh.credentials.terminal_id)
        .unwrap();
    assert!(!last.blocked);
    assert!(last.last_evidence.as_ref().unwrap().failures.is_empty());
}

#[test]
fn a_velocity_breach_raises_an_alert_and_can_suspend_the_terminal() {
    let world = World::start();
    Policy {
        velocity: VelocityLimits {
            transactions_per_minute: 2,
            suspend: true,
            ..VelocityLimits::default()
        },
        ..Policy::default()
    }
    .save(world.host().data_dir())
    .unwrap();
    let mut engine =
        support::signed_on_engine(&world, "", support::engine_settings(Duration::from_secs(5)));
    for _ in 0..3 {
        let (result, _) = support::sale_on(&mut engine, &world, "visa", 1_234);
        assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    }
    // The third sale in a minute went past the limit: an alert, and the terminal suspended.
    let alerts = velocity::alerts(world.host().data_dir(), support::TERMINAL).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].ends_with("3 transactions in the last minute"),
        "{alerts:?}"
    );
    assert!(blocklist::is_blocked(world.host().data_dir(), support::TERMINAL).unwrap());
    let listed = terminals::list(world.host().data_dir()).unwrap();
    let me = listed
        .iter()
        .find(|t| t.terminal_id == support::TERMINAL)
        .unwrap();
    assert!(me.blocked && me.alerts.len() == 1, "{me:?}");
    let (refused, _) = support::sale_on(&mut engine, &world, "visa", 1_234);
    assert_ne!(refused.status, TxStatus::Approved, "{}", refused.message);
}
