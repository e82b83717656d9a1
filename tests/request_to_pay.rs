//! Requests to pay end to end (`docs/request-to-pay.md`): the terminal through the engine (the
//! host's HTTPS API to send the request and wait, then the 0200 with DE 105 over mutual TLS),
//! the customer's side through the wallet's client of the API (`hsm_sim::wallet::api`, the
//! functions behind `hsm-sim wallet inbox|confirm|decline`). Each path is checked against the
//! host's ledger; a confirmed one appears in the settlement.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;
#[path = "support/wallet.rs"]
mod wallet;

use std::time::Duration;

use emv::api::merchant_code::PaymentStatus;
use hsm_sim::host::wallets::{self, WALLET_ACCOUNT_PAN};
use hsm_sim::wallet::api::InboxItem;
use hsm_sim::wallet::device::Device;
use softpos::engine::{Engine, Event, TxStatus};
use softpos::journal::{PaymentMethod, TxState};
use support::World;
use wallet::{Running, WALLET_PIN, enrol, refused_status, wallet_api};

const PHONE: &str = "+49 151 1234 5678";

fn engine(world: &World) -> Engine {
    support::signed_on_engine(world, "", support::engine_settings(Duration::from_secs(5)))
}

/// A wallet enrolled with the alias [`PHONE`]; its unlocked device.
fn customer(world: &World) -> Device {
    let dir = enrol(world, "wallet");
    let device = Device::load(&dir, WALLET_PIN).unwrap();
    wallets::set_alias(&world.dir.path().join("host"), device.id_hex(), PHONE).unwrap();
    device
}

fn request(engine: Engine, alias: &'static str, amount: u64) -> Running {
    Running::start(engine, move |engine, events| {
        engine.request_to_pay(alias, amount, events)
    })
}

/// Waits until the terminal says the request went out, then until the wallet's inbox has it.
fn delivered(running: &Running, world: &World, device: &Device) -> InboxItem {
    running.next(|e| matches!(e, Event::RequestSent { .. }).then_some(()));
    let mut inbox = wallet_api(world).inbox(device).unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    inbox.remove(0)
}

#[test]
fn the_customer_confirms_on_the_phone_and_the_terminal_completes_the_payment() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let device = customer(&world);
    let running = request(engine(&world), PHONE, 2_150);
    let item = delivered(&running, &world, &device);
    // The phone shows the merchant and the amount.
    assert_eq!(item.amount, 2_150);
    assert_eq!(item.merchant, "softpos demo shop");
    assert_eq!(item.terminal_id, support::TERMINAL);
    let answer = wallet_api(&world)
        .answer(&device, &item.reference, true)
        .unwrap();
    assert_eq!(answer.status, PaymentStatus::Paid, "{answer:?}");
    let (mut engine, result) = running.finish();
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    let record = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(record.method, PaymentMethod::RequestToPay);
    assert_eq!(record.state, TxState::Done);
    // Answered once: a second answer is refused, and the inbox is empty.
    let (status, _) = refused_status(wallet_api(&world).answer(&device, &item.reference, true));
    assert_eq!(status, 409);
    assert!(wallet_api(&world).inbox(&device).unwrap().is_empty());
    let report = engine.settle().unwrap();
    assert!(report.in_balance, "{report:?}");
    support::assert_journal_consistent(engine.journal(), &world, WALLET_ACCOUNT_PAN, before);
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before - 2_150);
}

#[test]
fn a_refusal_an_unknown_alias_and_a_cancel_charge_nothing() {
    let world = World::start();
    let before = world.balance(WALLET_ACCOUNT_PAN);
    let device = customer(&world);

    // The customer refuses.
    let running = request(engine(&world), PHONE, 800);
    let item = delivered(&running, &world, &device);
    let answer = wallet_api(&world)
        .answer(&device, &item.reference, false)
        .unwrap();
    assert_eq!(answer.status, PaymentStatus::Refused);
    let (engine, result) = running.finish();
    assert_eq!(result.status, TxStatus::Aborted);
    assert!(result.message.contains("refused"), "{}", result.message);

    // Nobody has this number: said at once.
    let mut engine = engine;
    let unknown = engine
        .request_to_pay("+1 555 0100 999", 800, &mut |_| {})
        .unwrap();
    assert_eq!(unknown.status, TxStatus::Aborted);
    assert!(
        unknown.message.contains("no wallet has this"),
        "{}",
        unknown.message
    );

    // The merchant cancels; the customer's late confirmation is refused.
    let running = request(engine, PHONE, 800);
    let item = delivered(&running, &world, &device);
    running.cancel.cancel();
    let (engine, result) = running.finish();
    assert_eq!(result.status, TxStatus::Aborted);
    let (status, message) =
        refused_status(wallet_api(&world).answer(&device, &item.reference, true));
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("cancelled"), "{message}");

    // Another wallet cannot answer someone else's request.
    let running = request(engine, PHONE, 800);
    let item = delivered(&running, &world, &device);
    let other = Device::load(&enrol(&world, "other"), WALLET_PIN).unwrap();
    let (status, _) = refused_status(wallet_api(&world).answer(&other, &item.reference, true));
    assert_eq!(status, 404);
    running.cancel.cancel();
    let (engine, _) = running.finish();

    assert!(world.ledger().iter().all(|e| e.kind != "purchase"));
    assert_eq!(world.balance(WALLET_ACCOUNT_PAN), before);
    assert!(
        engine
            .journal()
            .all()
            .unwrap()
            .iter()
            .all(|r| r.state == TxState::Aborted)
    );
}
