//! Failures of the link after the request was written: a proxy between the terminal and the
//! real hsm-sim host corrupts the host's TLS record carrying the answer. The host has applied
//! the request; the terminal's TLS layer rejects the record. Whatever the error's kind, the
//! request may have reached the host, so a sale is reversed and a void or completion repeated
//! (never journalled "nothing was charged").

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;
#[path = "support/tls_proxy.rs"]
mod tls_proxy;

use std::time::Duration;

use softpos::engine::{Engine, Event, Tip, TxStatus};
use softpos::journal::{TxKind, TxState};
use support::{TestPin, VISA_PAN, World};
use tls_proxy::CorruptingProxy;

/// An engine that reaches the host through `proxy`, signed on (the connection stays open).
fn engine_via(world: &World, proxy: &CorruptingProxy) -> Engine {
    let mut credentials = world.credentials.clone();
    credentials.host = proxy.addr();
    let settings = support::engine_settings(Duration::from_secs(10));
    let mut engine = support::open_engine(world, &credentials, "", settings);
    engine.sign_on().expect("sign-on");
    engine
}

#[test]
fn a_corrupt_answer_to_a_sale_is_reversed_and_the_journal_says_so() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let proxy = CorruptingProxy::start(world.host().local_addr());
    let mut engine = engine_via(&world, &proxy);
    proxy.corrupt_next_answer();
    let (result, events) = support::sale_on(&mut engine, &world, "visa", 1_500);
    assert_eq!(proxy.corrupted(), 1, "the answer was corrupted");
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert!(events.contains(&Event::Reversing), "{events:?}");
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Reversed, "{:?}", rec.result);
    assert!(!rec.approved);
    assert!(
        rec.result.as_deref().unwrap_or("").contains("reversed"),
        "{:?}",
        rec.result
    );
    // The host approved the sale, then undid it on the reversal.
    let ledger = world.ledger();
    let sale = ledger
        .iter()
        .find(|e| e.kind == "purchase" && Some(e.stan.as_str()) == stan(&rec).as_deref())
        .expect("the host has the sale");
    assert!(sale.approved && sale.reversed, "{sale:?}");
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn a_corrupt_answer_to_a_void_or_a_completion_is_repeated_not_dropped() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let proxy = CorruptingProxy::start(world.host().local_addr());
    let mut engine = engine_via(&world, &proxy);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let card = || support::in_process("visa");
    // A void whose answer is corrupted: left sent, then repeated by recovery.
    let sale = engine
        .sale(&mut card(), &mut pin, 1_100, Tip::None, &mut |_| {})
        .unwrap();
    assert_eq!(sale.status, TxStatus::Approved, "{}", sale.message);
    proxy.corrupt_next_answer();
    let void = engine.void_last(&mut |_| {}).unwrap();
    assert_eq!(proxy.corrupted(), 1);
    assert_eq!(void.status, TxStatus::Reversed, "{}", void.message);
    let row = engine.journal().get(void.id).unwrap().unwrap();
    assert_eq!(row.state, TxState::Sent, "not aborted: {:?}", row.result);
    let report = engine.recover().unwrap();
    assert_eq!(report.confirmed, vec![void.id], "{report:?}");
    let row = engine.journal().get(void.id).unwrap().unwrap();
    assert!(row.state == TxState::Done && row.approved, "{row:?}");
    assert!(engine.journal().get(sale.id).unwrap().unwrap().voided);
    // A completion whose answer is corrupted: the same.
    let preauth = engine
        .preauth(&mut card(), &mut pin, 2_000, &mut |_| {})
        .unwrap();
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    proxy.corrupt_next_answer();
    let completion = engine.complete(preauth.id, 1_800, &mut |_| {}).unwrap();
    assert_eq!(proxy.corrupted(), 2);
    assert_eq!(
        completion.status,
        TxStatus::Reversed,
        "{}",
        completion.message
    );
    let row = engine.journal().get(completion.id).unwrap().unwrap();
    assert_eq!(row.state, TxState::Sent, "not aborted: {:?}", row.result);
    let report = engine.recover().unwrap();
    assert_eq!(report.confirmed, vec![completion.id], "{report:?}");
    let row = engine.journal().get(completion.id).unwrap().unwrap();
    assert!(row.state == TxState::Done && row.approved, "{row:?}");
    assert_eq!(row.kind, TxKind::Completion);
    assert!(engine.journal().get(preauth.id).unwrap().unwrap().completed);
    // The host agrees: the sale voided, one completion of 18.00 posted.
    let ledger = world.ledger();
    assert_eq!(ledger.iter().filter(|e| e.kind == "void").count(), 1);
    let completions: Vec<_> = ledger.iter().filter(|e| e.kind == "completion").collect();
    assert_eq!(completions.len(), 1, "{completions:?}");
    assert!(completions[0].approved);
    assert_eq!(world.balance(VISA_PAN), before - 1_800);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
}

fn stan(rec: &softpos::journal::TxRecord) -> Option<String> {
    rec.stan.map(|s| format!("{s:06}"))
}
