//! The merchant's code end to end (`docs/qr-merchant-code.md` § Payment): the terminal through
//! the engine (the host's HTTPS API to open and wait, then the 0200 with DE 105 over mutual
//! TLS), the code drawn as a PNG picture, and the customer's wallet reading the picture and
//! paying over the host's API (`hsm_sim::wallet`, the functions behind `hsm-sim wallet
//! scan-and-pay`). Each payment is checked against the host's ledger and the settlement.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;
#[path = "support/wallet.rs"]
mod wallet;

use std::path::Path;
use std::time::Duration;

use emv::api::merchant_code::{PaymentStatus, PaymentView};
use emv::qr::merchant_payment::Payment;
use hsm_sim::host::Fault;
use hsm_sim::host::wallets::{self, WALLET_ACCOUNT_PAN};
use hsm_sim::wallet::api::{PayMerchantCode, WalletApi};
use hsm_sim::wallet::device::Device;
use hsm_sim::wallet::scan;
use softpos::engine::merchant_code::render_png;
use softpos::engine::{Engine, Event, TxStatus};
use softpos::host_api::HostApi;
use softpos::journal::{PaymentMethod, TxState};
use support::World;
use wallet::{Running, WALLET_PIN as PIN, enrol, refused_status, wallet_api};

/// The next code the terminal shows, drawn into `dir/code.png` and read back by the wallet's
/// camera.
fn next_code(showing: &Running, dir: &Path) -> Payment {
    showing.next(|event| {
        let Event::ShowMerchantCode {
            text, short_code, ..
        } = event
        else {
            return None;
        };
        assert_eq!(short_code.len(), 14, "{short_code}");
        let picture = dir.join("code.png");
        std::fs::write(&picture, render_png(&text, 6).unwrap()).unwrap();
        let payment = scan::scan_file(&picture, 2).unwrap();
        assert_eq!(short_code.replace(' ', ""), payment.token);
        Some(payment)
    })
}

fn show(engine: Engine, amount: u64) -> Running {
    Running::start(engine, move |engine, events| {
        engine.pay_merchant_code(amount, events)
    })
}

/// Where the host says payment `reference` stands, asked as the terminal.
fn host_status(world: &World, reference: &str) -> PaymentStatus {
    let host = HostApi::new(&world.credentials, Duration::from_secs(5)).unwrap();
    let path = format!(
        "/v1/merchant-codes/{reference}?terminal_id={}",
        support::TERMINAL
    );
    host.get::<PaymentView>(&path).unwrap().status
}

fn engine(world: &World) -> Engine {
    support::signed_on_engine(world, "", support::engine_settings(Duration::from_secs(5)))
}

/// A world whose terminal shows a code of `amount` (its host answer awaited `timeout`), read
/// from its picture by an enrolled wallet that has not paid yet.
struct Shown {
    world: World,
    /// The wallet's balance before.
    before: i64,
    api: WalletApi,
    showing: Running,
    payment: Payment,
    /// The wallet's signed consent to pay it.
    request: PayMerchantCode,
}

fn code_shown(amount: u64, timeout: Duration) -> Shown {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let wallet = enrol(&world, "wallet");
    let api = wallet_api(&world);
    let engine = support::signed_on_engine(&world, "", support::engine_settings(timeout));
    let showing = show(engine, amount);
    let payment = next_code(&showing, world.dir.path());
    let device = Device::load(&wallet, PIN).unwrap();
    let request = PayMerchantCode::scanned(&device, &payment);
    Shown {
        world,
        before,
        api,
        showing,
        payment,
        request,
    }
}

#[test]
fn the_wallet_pays_the_code_in_the_picture_and_the_terminal_completes_it_once() {
    let Shown {
        world,
        before,
        api,
        showing,
        payment,
        request,
    } = code_shown(1_250, Duration::from_secs(5));
    assert_eq!(payment.amount, 1_250);
    assert_eq!(payment.terminal_id, support::TERMINAL);
    let answer = api.pay_merchant_code(&request).unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    assert_eq!(answer.amount, 1_250);
    let (mut engine, result) = showing.finish();
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    let record = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(record.method, PaymentMethod::MerchantCode);
    assert_eq!(record.state, TxState::Done);
    assert_eq!(record.pan_masked, None, "no card number on the terminal");
    // The same signed request again: the token was spent, the payment is paid.
    let (status, _) = refused_status(api.pay_merchant_code(&request));
    assert_eq!(status, 409);
    let purchases: Vec<_> = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "purchase" && e.approved)
        .collect();
    assert_eq!(purchases.len(), 1, "{purchases:?}");
    assert_eq!(purchases[0].amount, 1_250);
    let report = engine.settle().unwrap();
    assert!(report.in_balance, "{report:?}");
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 1_250);
}

/// The host approved the 0200 and its answer was lost: the terminal reverses, and the host's
/// payment is then reversed too, so neither the wallet's money nor the payment's record says
/// "paid" (`docs/qr-merchant-code.md` § Payment).
#[test]
fn a_lost_answer_is_reversed_and_the_host_no_longer_calls_the_payment_paid() {
    let Shown {
        world,
        before,
        api,
        showing,
        payment,
        request,
    } = code_shown(990, Duration::from_millis(800));
    world.host().faults().set(Fault::DropResponse, 1);
    // The issuer approved: the wallet is told so before the answer goes astray.
    assert_eq!(
        api.pay_merchant_code(&request).unwrap().status,
        PaymentStatus::Paid
    );
    let (mut engine, result) = showing.finish();
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    let record = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(record.state, TxState::Reversed);
    let ledger = world.ledger();
    let purchases: Vec<_> = ledger.iter().filter(|e| e.kind == "purchase").collect();
    assert_eq!(purchases.len(), 1, "{purchases:?}");
    assert!(purchases[0].approved && purchases[0].reversed);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before);
    // The terminal's view of the payment at the host.
    assert_eq!(
        host_status(&world, &payment.reference),
        PaymentStatus::Reversed
    );
    // The same picture cannot be paid again: the payment is over.
    let (status, message) = refused_status(api.pay_merchant_code(&request));
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("reversed"), "{message}");
    let report = engine.settle().unwrap();
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debit_reversals, 1);
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
}

/// The merchant voids a paid code: the money goes back, and the host's payment says so.
#[test]
fn a_voided_payment_is_reversed_at_the_host() {
    let Shown {
        world,
        before,
        api,
        showing,
        payment,
        request,
    } = code_shown(450, Duration::from_secs(5));
    let answer = api.pay_merchant_code(&request).unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid);
    let (mut engine, sale) = showing.finish();
    assert_eq!(sale.status, TxStatus::Approved, "{}", sale.message);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 450);
    let void = engine.void_last(&mut |_| {}).unwrap();
    assert_eq!(void.status, TxStatus::Approved, "{}", void.message);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before);
    assert_eq!(
        host_status(&world, &payment.reference),
        PaymentStatus::Reversed
    );
    let report = engine.settle().unwrap();
    assert!(report.in_balance, "{report:?}");
}

#[test]
fn a_cancelled_code_cannot_be_paid_and_nothing_is_charged() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let wallet = enrol(&world, "wallet");
    let api = wallet_api(&world);
    let showing = show(engine(&world), 700);
    let payment = next_code(&showing, world.dir.path());
    showing.cancel.cancel();
    let (engine, result) = showing.finish();
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    let device = Device::load(&wallet, PIN).unwrap();
    let (status, message) =
        refused_status(api.pay_merchant_code(&PayMerchantCode::scanned(&device, &payment)));
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("cancelled"), "{message}");
    assert!(world.ledger().iter().all(|e| e.kind != "purchase"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before);
    let record = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(record.state, TxState::Aborted);
}

#[test]
fn requests_the_host_cannot_trust_spend_no_token() {
    let world = World::start();
    let wallet = enrol(&world, "wallet");
    let other = enrol(&world, "other-wallet");
    let api = wallet_api(&world);
    let showing = show(engine(&world), 990);
    let payment = next_code(&showing, world.dir.path());
    let device = Device::load(&wallet, PIN).unwrap();
    // A signature that does not cover what is sent: the amount changed after signing.
    let mut tampered = PayMerchantCode::scanned(&device, &payment);
    tampered.amount = Some(1);
    let (status, message) = refused_status(api.pay_merchant_code(&tampered));
    assert_eq!(status, 401, "{message}");
    // A code for another merchant (properly signed, but naming another terminal).
    let elsewhere = Payment {
        terminal_id: "T0000002".into(),
        ..payment.clone()
    };
    let (status, message) =
        refused_status(api.pay_merchant_code(&PayMerchantCode::scanned(&device, &elsewhere)));
    assert_eq!(status, 422, "{message}");
    assert!(message.contains("another merchant"), "{message}");
    // A revoked device.
    let revoked = Device::load(&other, PIN).unwrap();
    wallets::revoke(&world.dir.path().join("host"), revoked.id_hex()).unwrap();
    let (status, message) =
        refused_status(api.pay_merchant_code(&PayMerchantCode::scanned(&revoked, &payment)));
    assert_eq!(status, 403, "{message}");
    // The token is still good for the customer.
    let answer = api
        .pay_merchant_code(&PayMerchantCode::scanned(&device, &payment))
        .unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    let (_, result) = showing.finish();
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
}

#[test]
fn the_short_code_pays_like_the_picture() {
    let world = World::start();
    let wallet = enrol(&world, "wallet");
    let api = wallet_api(&world);
    let showing = show(engine(&world), 450);
    let payment = next_code(&showing, world.dir.path());
    let device = Device::load(&wallet, PIN).unwrap();
    let answer = api
        .pay_merchant_code(&PayMerchantCode::typed(&device, payment.token.clone()))
        .unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    assert_eq!(answer.reference, payment.reference);
    let (_, result) = showing.finish();
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
}
