//! The engine with virtual cards in this process (`VirtualCardSource`) and the real hsm-sim
//! host over mutual TLS: card-approved offline sales (TC) queued and uploaded as 0220 advices,
//! the issuer's DE 55 (ARPC) recorded, settlement with a reversal the host missed, and the card
//! check (zero-amount account verification).
//!
//! The offline approvals come from the `visa-offline` card (`hsm_sim::card`, card risk
//! management of EMV Book C-3 §5.4): it answers a TC it computed with its own keys when the
//! reader's TTQ does not ask for an online cryptogram (byte 2 bit 8), which the kernel only
//! sends at or below the floor limit, so these tests raise the Visa floor limit to 50.00.
//! The card with fault `tc-despite-online` answers a TC even above it.
//!
//! The kernel-level premise is checked through pcscd with vsmartcard-vpcd
//! (`scripts/pcscd-up`); the vpcd reader is taken with the lock shared with
//! `tests/engine_pcsc.rs` and `tests/pcsc_e2e.rs`.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use emv::kernel::OutcomeKind;
use hsm_sim::host::{Fault, Host, HostConfig};
use softpos::engine::{Engine, EngineError, EngineSettings, Event, MerchantRisk, Tip, TxStatus};
use softpos::journal::TxState;
use support::{TestPin, VISA_PAN, World, plug, take_vpcd, unplug};

/// Visa with a 50.00 floor limit: at or below it the kernel lets the card approve offline.
const FLOOR_5000: &str = "[[aid]]\naid = \"A0000000031010\"\nfloor_limit = 5000\n";
/// The same, with the CVM required limit raised to 100.00, so that at 60.00 the TTQ asks for an
/// online cryptogram (byte 2 bit 8) but no CVM (bit 7): the card's answer depends on bit 8 only.
const FLOOR_5000_CVM_10000: &str =
    "[[aid]]\naid = \"A0000000031010\"\nfloor_limit = 5000\ncvm_required_limit = 10000\n";

fn engine(world: &World, overrides: &str, timeout: Duration) -> Engine {
    support::signed_on_engine(world, overrides, support::engine_settings(timeout))
}

fn journal_bytes(world: &World) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(world.terminal_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() && name.starts_with("journal") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

#[test]
fn the_offline_card_really_approves_offline_in_the_kernel() {
    // The premise of the tests below, checked on the kernel alone, through pcscd.
    let config = support::terminal_config(FLOOR_5000);
    let oda = support::simulator_oda();
    let request = softpos::tap::transaction_request(softpos::tap::Sale {
        amount: 1_234,
        currency_code: config.terminal.currency_code,
        transaction_type: 0x00,
    })
    .unwrap();
    let _turn = take_vpcd();
    let (mut reader, card) = plug("visa-offline");
    let tap = softpos::card_session::run_kernel(&mut reader, &config, oda.as_ref(), request, None);
    unplug(&reader, card);
    let tap = tap.unwrap();
    assert_eq!(
        tap.outcome.kind,
        OutcomeKind::Approved,
        "{}",
        tap.outcome.reason
    );
    assert!(tap.outcome.oda.as_ref().is_some_and(|r| r.passed()));
    assert!(tap.outcome.advice.is_some());
}

#[test]
fn card_approved_offline_sale_is_queued_and_uploaded_exactly_once() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, FLOOR_5000, Duration::from_secs(5));
    let (result, events) = support::sale_on(&mut engine, &world, "visa-offline", 1_234);
    assert_eq!(
        result.status,
        TxStatus::ApprovedOffline,
        "{}",
        result.message
    );
    assert!(events.contains(&Event::Approved {
        auth_code: None,
        offline: true
    }));
    assert!(
        !events.contains(&Event::Authorising),
        "an offline approval does not go to the host"
    );
    assert_eq!(result.masked_pan.as_deref(), Some("476173******0119"));
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::AdvicePending);
    assert_eq!(rec.mti.as_deref(), Some("0220"));
    // Nothing reached the host yet; the PAN is sealed, never in clear.
    assert!(world.ledger().iter().all(|e| e.kind != "advice"));
    assert_eq!(world.balance(VISA_PAN), before);
    let bytes = journal_bytes(&world);
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(VISA_PAN.as_bytes()), "full PAN in the journal");
    // Uploaded once; a second flush sends nothing.
    let advice = support::assert_advice_uploaded_once(&mut engine, &world, result.id, 1_234);
    assert_eq!(Some(advice.stan), rec.stan.map(|s| format!("{s:06}")));
    assert_eq!(world.balance(VISA_PAN), before - 1_234);
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
    // In the batch, and the host agrees.
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debits, 1);
    assert_eq!(report.totals.debits_amount, 1_234);
    assert_eq!(report.host_totals, Some(report.totals));
}

#[test]
fn card_approved_offline_above_the_floor_limit_is_declined_and_not_queued() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, FLOOR_5000_CVM_10000, Duration::from_secs(5));
    // 60.00 > the 50.00 floor limit: the TTQ asks for an online cryptogram, and a card that
    // still answers a TC is not trusted with it.
    let (result, events) = support::sale_on(&mut engine, &world, "tc-despite-online", 6_000);
    assert_eq!(result.status, TxStatus::Declined, "{}", result.message);
    assert!(
        result.message.contains("offline limits"),
        "{}",
        result.message
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Approved { .. })));
    assert_eq!(engine.journal().advice_queue().unwrap().0, 0);
    assert_eq!(engine.flush_pending(), 0);
    assert_eq!(world.balance(VISA_PAN), before);
    assert!(world.ledger().iter().all(|e| e.kind != "advice"));
}

#[test]
fn the_offline_card_goes_online_above_the_floor_limit_and_nothing_is_queued() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, FLOOR_5000_CVM_10000, Duration::from_secs(5));
    // 60.00 > the 50.00 floor limit: the honest card answers an ARQC; the terminal goes online
    // (it asks for the PIN there), and the host approves.
    let mut reader = support::in_process("visa-offline");
    let mut pin = TestPin::new(&world.bundle, &[support::DEMO_PIN]);
    let mut events = Vec::new();
    let result = engine
        .sale(&mut reader, &mut pin, 6_000, Tip::None, &mut |e| {
            events.push(e)
        })
        .expect("sale runs");
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert!(events.contains(&Event::Authorising));
    assert_eq!(engine.journal().advice_queue().unwrap().0, 0);
    assert!(world.ledger().iter().all(|e| e.kind != "advice"));
    assert_eq!(world.balance(VISA_PAN), before - 6_000);
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn card_approved_offline_beyond_the_queue_cap_is_declined() {
    let mut world = World::start();
    let before = world.balance(VISA_PAN);
    let address = world.host().local_addr();
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = Duration::from_secs(2);
    settings.offline.max_count = 1;
    let mut engine = support::signed_on_engine(&world, FLOOR_5000, settings);
    // The host is down, so the first advice stays queued; the cap is one advice.
    world.host.take().expect("host").shutdown();
    let (first, _) = support::sale_on(&mut engine, &world, "visa-offline", 1_000);
    assert_eq!(first.status, TxStatus::ApprovedOffline, "{}", first.message);
    let (second, _) = support::sale_on(&mut engine, &world, "visa-offline", 1_000);
    assert_eq!(second.status, TxStatus::Declined, "{}", second.message);
    assert_eq!(engine.journal().advice_queue().unwrap().0, 1);
    // The host comes back: the one queued advice is uploaded, once.
    world.host =
        Some(Host::start(HostConfig::new(world.dir.path().join("host")).listen(address)).unwrap());
    assert_eq!(engine.flush_pending(), 0);
    assert_eq!(world.balance(VISA_PAN), before - 1_000);
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn issuer_authentication_data_of_the_answer_is_recorded() {
    let world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(5));
    let (result, _) = support::sale_on(&mut engine, &world, "visa", 1_234);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    let issuer = rec.issuer_data.expect("issuer data recorded");
    // hsm-sim answers 91 (ARPC): the terminal's TTQ offers no Issuer Update, so it is
    // recorded and no second tap is asked for.
    assert!(issuer.starts_with("91 ("), "{issuer}");
    assert!(issuer.contains("not for this card"), "{issuer}");
}

#[test]
fn settlement_pushes_a_reversal_the_host_missed_and_balances() {
    let mut world = World::start();
    let before = world.balance(VISA_PAN);
    let address = world.host().local_addr();
    let mut engine = engine(&world, "", Duration::from_millis(800));
    // The host approves but its answer is lost; while the terminal reverses, the host is down.
    world.host().faults().set(Fault::DropResponse, 1);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let host_slot = &mut world.host;
    let mut reader = support::in_process("visa");
    let result = engine
        .sale(&mut reader, &mut pin, 1_234, Tip::None, &mut |e| {
            if e == Event::Reversing
                && let Some(host) = host_slot.take()
            {
                host.shutdown();
            }
        })
        .unwrap();
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::ReversalPending);
    // The host has the approval and no reversal: its batch would differ from the terminal's.
    assert_eq!(world.balance(VISA_PAN), before - 1_234);
    // Settlement while the host is still down: refused, naming the pending reversal.
    let err = engine.settle().unwrap_err();
    let EngineError::PendingBeforeSettlement(list) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(list.0.len(), 1);
    assert_eq!(list.0[0].id, result.id);
    let text = err.to_string();
    assert!(
        text.contains(&format!("transaction {}", result.id)) && text.contains("reversal"),
        "{text}"
    );
    // The host is back: settlement sends the reversal first, then totals that balance.
    world.host =
        Some(Host::start(HostConfig::new(world.dir.path().join("host")).listen(address)).unwrap());
    let report = engine.settle().expect("settlement");
    assert_eq!(report.pushed, vec![result.id]);
    assert!(report.transactions.contains(&result.id));
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.host_totals, Some(report.totals));
    assert_eq!(report.totals.debits, 0);
    assert_eq!(report.totals.debit_reversals, 1);
    assert_eq!(report.totals.debit_reversals_amount, 1_234);
    assert_eq!(world.balance(VISA_PAN), before);
    let reversals = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "reversal")
        .count();
    assert_eq!(reversals, 1);
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn card_check_verifies_the_card_without_charging_it() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(5));
    let mut pin = TestPin::new(&world.bundle, &[]);
    let mut reader = support::in_process("visa");
    let result = engine
        .card_check(&mut reader, &mut pin, &mut |_| {})
        .expect("card check runs");
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert!(
        matches!(result.response_code.as_deref(), Some("85" | "00")),
        "{:?}",
        result.response_code
    );
    assert_eq!(result.amount, 0);
    assert_eq!(world.balance(VISA_PAN), before);
    let ledger = world.ledger();
    let checks: Vec<_> = ledger.iter().filter(|e| e.kind == "verification").collect();
    assert_eq!(checks.len(), 1, "{ledger:?}");
    assert_eq!(checks[0].amount, 0);
    // Not part of the batch.
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debits, 0);
}

/// The host down and a card that asks for its issuer (ARQC): by default nothing is accepted
/// offline, whatever the floor limit (store-and-forward is for card approvals, TC, only).
#[test]
fn host_down_an_arqc_is_not_accepted_offline_by_default() {
    let mut world = World::start();
    let mut engine = engine(&world, FLOOR_5000, Duration::from_secs(2));
    world.host.take().expect("host").shutdown();
    let (result, events) = support::sale_on(&mut engine, &world, "visa", 1_234);
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    assert!(
        !events.iter().any(|e| matches!(
            e,
            Event::Approved { .. } | Event::OfflineAtMerchantRisk { .. }
        )),
        "{events:?}"
    );
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Aborted);
    assert!(!rec.approved);
    assert_eq!(engine.journal().advice_queue().unwrap().0, 0);
}

/// Merchant-risk acceptance enabled: ARQCs are accepted offline within its own caps
/// (per-transaction amount, count, total), reported as such, and uploaded once when the host
/// is back.
#[test]
fn host_down_an_arqc_is_accepted_at_the_merchants_risk_only_when_enabled_and_within_caps() {
    let mut world = World::start();
    let before = world.balance(VISA_PAN);
    let address = world.host().local_addr();
    let mut settings = support::engine_settings(Duration::from_secs(2));
    settings.merchant_risk = MerchantRisk {
        enabled: true,
        max_amount: 2_000,
        max_count: 2,
        max_total: 3_000,
    };
    let mut engine = support::signed_on_engine(&world, FLOOR_5000, settings);
    world.host.take().expect("host").shutdown();
    let (first, events) = support::sale_on(&mut engine, &world, "visa", 1_234);
    assert_eq!(
        first.status,
        TxStatus::ApprovedAtMerchantRisk,
        "{}",
        first.message
    );
    assert!(
        first.message.contains("merchant's risk"),
        "{}",
        first.message
    );
    let at = events
        .iter()
        .position(|e| *e == Event::OfflineAtMerchantRisk { amount: 1_234 })
        .expect("the screen is told");
    assert_eq!(
        events.get(at + 1),
        Some(&Event::Approved {
            auth_code: None,
            offline: true
        })
    );
    let rec = engine.journal().get(first.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::AdvicePending);
    // Above the per-transaction cap (though below the floor limit): not accepted.
    let (over, _) = support::sale_on(&mut engine, &world, "visa", 2_500);
    assert_eq!(over.status, TxStatus::Aborted, "{}", over.message);
    // A second within the caps, then the count cap (2) is reached.
    let (second, _) = support::sale_on(&mut engine, &world, "visa", 1_500);
    assert_eq!(second.status, TxStatus::ApprovedAtMerchantRisk);
    let (third, _) = support::sale_on(&mut engine, &world, "visa", 100);
    assert_eq!(third.status, TxStatus::Aborted, "{}", third.message);
    assert_eq!(engine.journal().merchant_risk_queue().unwrap(), (2, 2_734));
    // The host is back: each advice is uploaded once and counted in the batch.
    world.host =
        Some(Host::start(HostConfig::new(world.dir.path().join("host")).listen(address)).unwrap());
    assert_eq!(engine.flush_pending(), 0);
    assert_eq!(engine.flush_pending(), 0);
    let advices: Vec<_> = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "advice" && e.approved)
        .collect();
    assert_eq!(advices.len(), 2, "{advices:?}");
    assert_eq!(world.balance(VISA_PAN), before - 2_734);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debits_amount, 2_734);
}

/// The total cap on merchant-risk acceptances holds on its own.
#[test]
fn merchant_risk_acceptances_stop_at_their_total() {
    let mut world = World::start();
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = Duration::from_secs(2);
    settings.merchant_risk = MerchantRisk {
        enabled: true,
        max_amount: 2_000,
        max_count: 10,
        max_total: 2_500,
    };
    let mut engine = support::signed_on_engine(&world, FLOOR_5000, settings);
    world.host.take().expect("host").shutdown();
    let (first, _) = support::sale_on(&mut engine, &world, "visa", 2_000);
    assert_eq!(first.status, TxStatus::ApprovedAtMerchantRisk);
    let (second, _) = support::sale_on(&mut engine, &world, "visa", 600);
    assert_eq!(second.status, TxStatus::Aborted, "{}", second.message);
    let (third, _) = support::sale_on(&mut engine, &world, "visa", 500);
    assert_eq!(third.status, TxStatus::ApprovedAtMerchantRisk);
}
