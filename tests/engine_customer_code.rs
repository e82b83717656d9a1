//! The customer's codes end to end (`docs/qr-customer-code.md`): the terminal side through the
//! engine, the real hsm-sim host over mutual TLS, and the customer's side through the wallet
//! simulator (`hsm_sim::wallet`, the functions behind `hsm-sim wallet ...`, whose binary has
//! its own tests in `hsm-sim/tests/wallet_cli.rs`). Each payment is checked against the host's
//! ledger and the settlement.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use emv::qr::offline_code::{CodeFields, DeviceCertificate, OfflineCode};
use hsm_sim::host::wallets::{self, WALLET_ACCOUNT_PAN};
use hsm_sim::host::{Host, HostConfig};
use hsm_sim::wallet::device::Device;
use hsm_sim::wallet::offline::OfflineRequest;
use hsm_sim::wallet::{cpm, offline};
use softpos::engine::{Engine, EngineError, EngineSettings, TxStatus};
use softpos::journal::{PaymentMethod, TxState};
use support::World;

const PIN: &str = "2468";
const EUR: u16 = 978;

fn host_dir(world: &World) -> PathBuf {
    world.dir.path().join("host")
}

/// Enrols a wallet at the world's host; returns its directory.
fn enrol(world: &World) -> PathBuf {
    let dir = world.dir.path().join("wallet");
    let host = host_dir(world);
    Device::create(&dir, PIN, |id, key| {
        wallets::register(&host, id, key)
            .map(|e| (e.payer_token, e.certificate))
            .map_err(|e| e.to_string())
    })
    .unwrap();
    dir
}

fn cpm_code(wallet: &PathBuf) -> String {
    let mut device = Device::load(wallet, PIN).unwrap();
    cpm::show_code(&mut device, EUR).unwrap()
}

fn request(cap: u32) -> OfflineRequest {
    OfflineRequest {
        method: 1,
        amount_cap: cap,
        currency: EUR,
        validity_secs: 120,
        nonce: None,
        issued_at: None,
    }
}

fn offline_code(wallet: &PathBuf, request: &OfflineRequest) -> String {
    let mut device = Device::load(wallet, PIN).unwrap();
    offline::show_code(&mut device, request).unwrap()
}

fn settings(world: &World, timeout: Duration) -> EngineSettings {
    let mut settings = support::engine_settings(timeout);
    settings.wallet_ca = Some(wallets::ca_public_key(&host_dir(world)).unwrap().to_bytes());
    settings
}

fn engine(world: &World) -> Engine {
    support::signed_on_engine(world, "", settings(world, Duration::from_secs(5)))
}

fn pay(engine: &mut Engine, code: &str, amount: u64) -> softpos::engine::TxResult {
    engine.pay_code(code, amount, None, &mut |_| {}).unwrap()
}

fn refused(engine: &mut Engine, code: &str, amount: u64) -> String {
    match engine.pay_code(code, amount, None, &mut |_| {}) {
        Err(EngineError::Code(why)) => why,
        other => panic!("expected a refused code, got {other:?}"),
    }
}

fn settle_in_balance(engine: &mut Engine) {
    let report = engine.settle().unwrap();
    assert!(report.in_balance, "{report:?}");
}

#[test]
fn a_consumer_presented_code_is_authorised_online_and_its_replay_is_declined() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let wallet = enrol(&world);
    let mut engine = engine(&world);
    let code = cpm_code(&wallet);
    let paid = pay(&mut engine, &code, 1_250);
    assert_eq!(paid.status, TxStatus::Approved, "{}", paid.message);
    let rec = engine.journal().get(paid.id).unwrap().unwrap();
    assert_eq!(rec.method, PaymentMethod::CustomerCode);
    assert_eq!(rec.pan_masked.as_deref(), Some("476173******0012"));
    // The same code again (same ATC): the issuer declines it.
    let replay = pay(&mut engine, &code, 1_250);
    assert_eq!(replay.status, TxStatus::Declined, "{}", replay.message);
    assert_eq!(replay.response_code.as_deref(), Some("05"));
    // A new code is good.
    let again = pay(&mut engine, &cpm_code(&wallet), 300);
    assert_eq!(again.status, TxStatus::Approved, "{}", again.message);
    let purchases: Vec<_> = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "purchase" && e.approved)
        .collect();
    assert_eq!(purchases.len(), 2, "{purchases:?}");
    settle_in_balance(&mut engine);
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 1_550);
}

#[test]
fn bad_consumer_presented_payloads_are_refused_before_anything_is_journalled() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let world = World::start();
    let wallet = enrol(&world);
    let mut engine = engine(&world);
    let good = b64.decode(cpm_code(&wallet)).unwrap();
    // A length that lies (the 61 template claims more than there is).
    let mut lying = good.clone();
    lying[8] = 0x7F;
    assert!(refused(&mut engine, &b64.encode(&lying), 100).contains("BER-TLV"));
    // An RFU tag.
    let mut rfu = good.clone();
    rfu.extend([0x86, 0x01, 0x00]);
    assert!(refused(&mut engine, &b64.encode(&rfu), 100).contains("does not define"));
    // 10 kB.
    assert!(refused(&mut engine, &"A".repeat(10_240), 100).contains("too long"));
    // A control character in the label ("VISA WALLET" becomes "VISA\x1BWALLET").
    let at = good.windows(11).position(|w| w == b"VISA WALLET").unwrap();
    let mut control = good.clone();
    control[at + 4] = 0x1B;
    assert!(refused(&mut engine, &b64.encode(&control), 100).contains("control character"));
    // Not base64.
    assert!(refused(&mut engine, "hQVD*UFYw", 100).contains("base64"));
    assert!(engine.journal().all().unwrap().is_empty());
}

#[test]
fn an_offline_code_is_checked_here_and_by_the_host_and_used_once() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let wallet = enrol(&world);
    let mut engine = engine(&world);
    let code = offline_code(&wallet, &request(5_000));
    let paid = pay(&mut engine, &code, 1_999);
    assert_eq!(paid.status, TxStatus::Approved, "{}", paid.message);
    let rec = engine.journal().get(paid.id).unwrap().unwrap();
    assert_eq!(rec.method, PaymentMethod::OfflineCode);
    assert_eq!(rec.pan_masked, None, "no card number on the terminal");
    // The terminal remembers the device's counter: the same code is refused here.
    assert!(refused(&mut engine, &code, 1_999).contains("already used"));
    // Above its cap.
    let small = offline_code(&wallet, &request(1_000));
    assert!(refused(&mut engine, &small, 1_001).contains("cap"));
    settle_in_balance(&mut engine);
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 1_999);
}

#[test]
fn offline_codes_that_fail_a_check_are_refused_and_nothing_is_charged() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let wallet = enrol(&world);
    let mut engine = engine(&world);
    // A bad device signature: one bit of the amount cap flipped.
    let good = OfflineCode::parse_text(&offline_code(&wallet, &request(5_000))).unwrap();
    let mut bytes = good.as_bytes().to_vec();
    bytes[18] ^= 0x01;
    let tampered = OfflineCode::parse(&bytes).unwrap().to_text();
    assert!(refused(&mut engine, &tampered, 100).contains("signature"));
    // A certificate from another CA (the same device key, certified elsewhere).
    let device = Device::load(&wallet, PIN).unwrap();
    let other_ca = SigningKey::from_bytes(&[42; 32]);
    let cert = DeviceCertificate::issue(
        &other_ca,
        device.id(),
        device.payer_token(),
        &device.public_key(),
        u32::MAX,
    );
    let now = u32::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let fields = CodeFields {
        method: 1,
        counter: 1_000,
        issued_at: now,
        validity_secs: 120,
        currency: EUR,
        amount_cap: 5_000,
        nonce: None,
    };
    let foreign = hsm_sim_sign(fields, cert, &device);
    assert!(refused(&mut engine, &foreign, 100).contains("wallet CA"));
    // Expired: issued 10 minutes ago with the default 120 s validity.
    let mut old = request(5_000);
    old.issued_at = Some(now - 600);
    assert!(refused(&mut engine, &offline_code(&wallet, &old), 100).contains("expired"));
    // Made for another merchant's nonce.
    let mut elsewhere = request(5_000);
    elsewhere.nonce = Some([1; 8]);
    let code = offline_code(&wallet, &elsewhere);
    let why = match engine.pay_code(&code, 100, Some([2; 8]), &mut |_| {}) {
        Err(EngineError::Code(why)) => why,
        other => panic!("{other:?}"),
    };
    assert!(why.contains("another merchant"), "{why}");
    assert!(engine.journal().all().unwrap().is_empty());
    // A revoked device: the terminal cannot know, the host declines it.
    wallets::revoke(&host_dir(&world), device.id_hex()).unwrap();
    let revoked = pay(&mut engine, &offline_code(&wallet, &request(5_000)), 100);
    assert_eq!(revoked.status, TxStatus::Declined, "{}", revoked.message);
    assert_eq!(revoked.response_code.as_deref(), Some("57"));
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
}

/// Signs a code with the device's key through the wallet's own path but another certificate.
fn hsm_sim_sign(fields: CodeFields, cert: DeviceCertificate, device: &Device) -> String {
    // The device signs the bytes the format defines; the signature is the device's real one.
    let unsigned = OfflineCode::sign(fields, cert, &SigningKey::from_bytes(&[0; 32])).unwrap();
    let signed_part = &unsigned.as_bytes()[..unsigned.as_bytes().len() - 64];
    let signature = device.sign(&[emv::qr::offline_code::CODE_DOMAIN, signed_part].concat());
    let bytes = [signed_part, &signature].concat();
    OfflineCode::parse(&bytes).unwrap().to_text()
}

#[test]
fn host_down_an_offline_code_is_accepted_within_the_cap_and_uploaded_once() {
    let mut world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let address = world.host().local_addr();
    let wallet = enrol(&world);
    let mut settings = settings(&world, Duration::from_secs(2));
    settings.offline_code_cap = 1_500;
    let mut engine = support::signed_on_engine(&world, "", settings);
    world.host.take().unwrap().shutdown();
    // Within the cap: accepted and queued.
    let accepted = pay(&mut engine, &offline_code(&wallet, &request(5_000)), 1_200);
    assert_eq!(
        accepted.status,
        TxStatus::ApprovedOffline,
        "{}",
        accepted.message
    );
    let rec = engine.journal().get(accepted.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::AdvicePending);
    // Above it: nothing charged.
    let above = pay(&mut engine, &offline_code(&wallet, &request(5_000)), 1_600);
    assert_eq!(above.status, TxStatus::Aborted, "{}", above.message);
    // A consumer-presented code needs the issuer: nothing charged either.
    let cpm = pay(&mut engine, &cpm_code(&wallet), 100);
    assert_eq!(cpm.status, TxStatus::Aborted, "{}", cpm.message);
    world.host = Some(Host::start(HostConfig::new(host_dir(&world)).listen(address)).unwrap());
    support::assert_advice_uploaded_once(&mut engine, &world, accepted.id, 1_200);
    settle_in_balance(&mut engine);
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 1_200);
}

#[test]
fn the_host_can_refuse_an_offline_acceptance_at_upload_and_that_is_recorded() {
    let mut world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let address = world.host().local_addr();
    let wallet = enrol(&world);
    let mut engine =
        support::signed_on_engine(&world, "", settings(&world, Duration::from_secs(2)));
    world.host.take().unwrap().shutdown();
    let accepted = pay(&mut engine, &offline_code(&wallet, &request(5_000)), 900);
    assert_eq!(
        accepted.status,
        TxStatus::ApprovedOffline,
        "{}",
        accepted.message
    );
    // The device is revoked before the terminal is back online.
    let device = Device::load(&wallet, PIN).unwrap();
    wallets::revoke(&host_dir(&world), device.id_hex()).unwrap();
    world.host = Some(Host::start(HostConfig::new(host_dir(&world)).listen(address)).unwrap());
    assert_eq!(engine.flush_pending(), 0);
    let rec = engine.journal().get(accepted.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Done);
    assert!(!rec.approved);
    assert!(
        rec.result
            .as_deref()
            .unwrap_or("")
            .contains("refused by the host at upload")
    );
    assert_eq!(rec.response_code.as_deref(), Some("57"));
    // Uploaded once: nothing more goes out.
    assert_eq!(engine.flush_pending(), 0);
    settle_in_balance(&mut engine);
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before);
}
