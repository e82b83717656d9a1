//! Engine operations with the virtual card in this process (no pcscd, no shared reader) and
//! the real hsm-sim host over mutual TLS: what the journal, the host's ledger and settlement
//! say after each operation.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use hsm_sim::host::Fault;
use softpos::engine::{Engine, EngineError, Event, Tip, TxStatus};
use softpos::journal::{TxKind, TxState};
use softpos::reader::VirtualCardSource;
use support::{TestPin, VISA_PAN, World};

fn engine(world: &World) -> Engine {
    support::signed_on_engine(world, "", support::engine_settings(Duration::from_secs(10)))
}

fn card(profile: &str) -> VirtualCardSource {
    VirtualCardSource::new(softpos::demo::virtual_card(profile).expect("profile"))
}

#[test]
fn a_completion_that_cannot_be_built_is_aborted_and_settlement_still_runs() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let preauth = engine
        .preauth(&mut card("visa"), &mut pin, 3_000, &mut |_| {})
        .expect("preauth");
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    // The sealed PAN the completion needs is gone: its request cannot be built.
    engine.journal().forget_pan(preauth.id).unwrap();
    let mut events = Vec::new();
    let completed = engine.complete(preauth.id, 2_500, &mut |e| events.push(e));
    assert!(
        matches!(completed, Err(EngineError::NotCompletable(id)) if id == preauth.id),
        "{completed:?}"
    );
    assert!(!events.contains(&Event::Authorising), "{events:?}");
    // The completion's row is aborted, never `sent`: nothing waits for the host.
    let rows = engine.journal().all().unwrap();
    let completion = rows
        .iter()
        .find(|r| r.kind == TxKind::Completion)
        .expect("the completion's row");
    assert_eq!(completion.state, TxState::Aborted);
    assert!(!completion.approved);
    assert!(engine.journal().unfinished().unwrap().is_empty());
    assert!(world.ledger().iter().all(|e| e.kind != "completion"));
    // Settlement runs and balances; the hold stays, as the host has it.
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert!(report.transactions.contains(&completion.id));
    assert_eq!(world.balance(VISA_PAN), before - 3_000);
}

#[test]
fn a_settlement_whose_answer_is_lost_is_repeated_and_the_host_closes_one_batch() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world);
    engine
        .acquirer_mut()
        .set_response_timeout(Duration::from_millis(800));
    let mut pin = TestPin::new(&world.bundle, &[]);
    let sale = engine
        .sale(&mut card("visa"), &mut pin, 1_200, Tip::None, &mut |_| {})
        .expect("sale");
    assert_eq!(sale.status, TxStatus::Approved, "{}", sale.message);
    let batch = engine.journal().batch_number().unwrap();
    // The host closes its batch, and its 0510 is lost.
    world.host().faults().set(Fault::DropResponse, 1);
    assert!(matches!(engine.settle(), Err(EngineError::Acquirer(_))));
    let unclosed = engine
        .journal()
        .unclosed_settlement()
        .unwrap()
        .expect("the settlement stays sent");
    assert_eq!(unclosed.batch, batch);
    assert_eq!(engine.journal().open_batch_ids().unwrap(), vec![sale.id]);
    // The next settle repeats the same 0500; the host answers it as the first time.
    let report = engine.settle().expect("the repeat");
    assert_eq!(report.batch, batch);
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.transactions, vec![sale.id]);
    assert_eq!(report.totals.debits_amount, 1_200);
    assert!(engine.journal().unclosed_settlement().unwrap().is_none());
    assert_eq!(
        engine.journal().get(sale.id).unwrap().unwrap().batch,
        Some(batch)
    );
    // The next batch is empty on both sides.
    let next = engine.settle().expect("the next settlement");
    assert_eq!(next.batch, batch + 1);
    assert!(next.in_balance, "{next:?}");
    assert!(next.transactions.is_empty());
    assert_eq!(world.balance(VISA_PAN), before - 1_200);
}

#[test]
fn refunds_of_a_sale_never_exceed_it_and_name_it_in_de90() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let sale = engine
        .sale(&mut card("visa"), &mut pin, 3_000, Tip::None, &mut |_| {})
        .unwrap();
    assert_eq!(sale.status, TxStatus::Approved, "{}", sale.message);
    // Two partial refunds up to the sale's amount.
    for amount in [1_000, 2_000] {
        let refund = engine
            .refund(
                &mut card("visa"),
                &mut pin,
                amount,
                Some(sale.id),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(refund.status, TxStatus::Approved, "{}", refund.message);
    }
    assert_eq!(engine.journal().refunded_of(sale.id).unwrap(), 3_000);
    // A third is refused before anything is read or sent.
    let rows = engine.journal().all().unwrap().len();
    let mut events = Vec::new();
    let third = engine.refund(&mut card("visa"), &mut pin, 1, Some(sale.id), &mut |e| {
        events.push(e)
    });
    assert!(
        matches!(third, Err(EngineError::NotRefundable(id)) if id == sale.id),
        "{third:?}"
    );
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(engine.journal().all().unwrap().len(), rows);
    // The host saw two refunds, both naming the sale (DE 90), and nothing else.
    let ledger = world.ledger();
    let host_sale = ledger.iter().find(|e| e.kind == "purchase").unwrap();
    let refunds: Vec<_> = ledger.iter().filter(|e| e.kind == "refund").collect();
    assert_eq!(refunds.len(), 2, "{refunds:?}");
    assert!(
        refunds
            .iter()
            .all(|r| r.approved && r.original_id == Some(host_sale.id)),
        "{refunds:?}"
    );
    assert_eq!(world.balance(VISA_PAN), before);
    // A voided refund gives its room back, on both sides.
    let void = engine.void_last(&mut |_| {}).unwrap();
    assert_eq!(void.status, TxStatus::Approved, "{}", void.message);
    assert_eq!(engine.journal().refunded_of(sale.id).unwrap(), 1_000);
    let again = engine
        .refund(
            &mut card("visa"),
            &mut pin,
            2_000,
            Some(sale.id),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(again.status, TxStatus::Approved, "{}", again.message);
    assert_eq!(world.balance(VISA_PAN), before);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
}
