//! Entry Point (EMV Contactless Book B §3.1-3.3): the three limit comparisons at, below and
//! above the limit, zero amount, status check, candidate ordering, and the outcomes the Entry
//! Point decides alone. The PPSE layouts follow the real Visa and Mastercard traces in
//! `tests/data/kernel/`.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "kernel_support/transcript.rs"]
mod transcript;

use emv::apdu::Response;
use emv::config::TerminalConfig;
use emv::entry_point::{
    self, DirectoryEntry, cvm_required_limit_reached, floor_limit_exceeded, pre_process,
    transaction_limit_reached,
};
use emv::kernel::{KernelId, OutcomeKind, Step, Transaction, TransactionRequest, UiMessage};
use emv::oda::NotPerformed;
use hex_literal::hex;

fn request(amount: u64) -> TransactionRequest {
    TransactionRequest {
        amount,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: hex!("230301"),
        time: hex!("120000"),
        unpredictable_number: hex!("01020304"),
    }
}

#[test]
fn transaction_limit_is_reached_at_the_limit() {
    assert!(!transaction_limit_reached(9_999, Some(10_000)));
    assert!(transaction_limit_reached(10_000, Some(10_000)));
    assert!(transaction_limit_reached(10_001, Some(10_000)));
    assert!(!transaction_limit_reached(u64::MAX, None));
}

#[test]
fn floor_limit_is_exceeded_only_above_the_limit() {
    assert!(!floor_limit_exceeded(9_999, Some(10_000)));
    assert!(!floor_limit_exceeded(10_000, Some(10_000)));
    assert!(floor_limit_exceeded(10_001, Some(10_000)));
    assert!(
        floor_limit_exceeded(1, Some(0)),
        "floor limit 0: always online"
    );
    assert!(!floor_limit_exceeded(0, Some(0)));
}

#[test]
fn cvm_required_limit_is_reached_at_the_limit() {
    assert!(!cvm_required_limit_reached(4_999, Some(5_000)));
    assert!(cvm_required_limit_reached(5_000, Some(5_000)));
    assert!(cvm_required_limit_reached(5_001, Some(5_000)));
}

fn visa() -> emv::config::AidConfig {
    let config = TerminalConfig::default_embedded().unwrap();
    config.aid_for(&hex!("A0000000031010")).unwrap().clone()
}

#[test]
fn pre_processing_sets_the_ttq() {
    let aid = visa(); // TTQ 27004000, limits 1000.00 / 50.00 / floor 0.
    let below = pre_process(&aid, 4_999, 2);
    assert_eq!(
        below.ttq,
        Some(hex!("27804000")),
        "floor limit 0 exceeded: online cryptogram"
    );
    assert!(!below.cvm_required_limit_exceeded);
    let at = pre_process(&aid, 5_000, 2);
    assert_eq!(at.ttq, Some(hex!("27C04000")), "CVM required at the limit");
    let limit = pre_process(&aid, 100_000, 2);
    assert!(limit.contactless_application_not_allowed);
    assert!(!pre_process(&aid, 99_999, 2).contactless_application_not_allowed);
}

#[test]
fn zero_amount_rules() {
    let mut aid = visa();
    let zero = pre_process(&aid, 0, 2);
    assert!(zero.zero_amount && !zero.contactless_application_not_allowed);
    assert_eq!(
        zero.ttq.map(|t| t[1] & 0x80),
        Some(0x80),
        "zero amount goes online"
    );
    // An offline-only reader (TTQ byte 1 b4) cannot do a zero amount.
    aid.ttq = Some(emv::config::Hex(hex!("2E004000")));
    assert!(pre_process(&aid, 0, 2).contactless_application_not_allowed);
    aid.ttq = Some(emv::config::Hex(hex!("26004000")));
    aid.zero_amount_allowed = false;
    assert!(pre_process(&aid, 0, 2).contactless_application_not_allowed);
}

#[test]
fn status_check_is_one_unit_of_currency() {
    let mut aid = visa();
    aid.status_check = true;
    aid.floor_limit = None;
    let one_unit = pre_process(&aid, 100, 2);
    assert!(one_unit.status_check_requested);
    assert_eq!(one_unit.ttq.map(|t| t[1]), Some(0x80));
    let other = pre_process(&aid, 101, 2);
    assert!(!other.status_check_requested);
    assert_eq!(other.ttq.map(|t| t[1]), Some(0x00));
    aid.status_check = false;
    assert!(!pre_process(&aid, 100, 2).status_check_requested);
}

fn entry(aid: &[u8], priority: Option<u8>, position: usize) -> DirectoryEntry {
    DirectoryEntry {
        adf_name: aid.to_vec(),
        label: None,
        priority,
        kernel_identifier: None,
        extended_selection: None,
        position,
    }
}

#[test]
fn candidates_are_ordered_by_priority_then_ppse_order() {
    let config = TerminalConfig::default_embedded().unwrap();
    let ind = entry_point::pre_process_all(&config, &request(1_000)).unwrap();
    let entries = vec![
        entry(&hex!("A000000333010101"), None, 0),
        entry(&hex!("A0000000041010"), Some(2), 1),
        entry(&hex!("A0000000031010"), Some(1), 2),
        entry(&hex!("A000000333010102"), Some(2), 3),
        entry(&hex!("A000000099999999"), Some(1), 4),
    ];
    let candidates = entry_point::build_candidates(&entries, &config, &ind);
    let kernels: Vec<KernelId> = candidates.iter().map(|c| c.kernel).collect();
    assert_eq!(
        kernels,
        vec![
            KernelId::Visa,
            KernelId::Mastercard,
            KernelId::UnionPay,
            KernelId::UnionPay
        ]
    );
    assert_eq!(
        candidates[2].adf_name,
        hex!("A000000333010102"),
        "tie: PPSE order"
    );
    // A requested kernel that differs from the combination's kernel is not a match.
    let mut wrong = entry(&hex!("A0000000031010"), None, 0);
    wrong.kernel_identifier = Some(vec![0x02]);
    assert!(entry_point::build_candidates(&[wrong], &config, &ind).is_empty());
}

#[test]
fn every_aid_not_allowed_is_try_another_interface() {
    let config = TerminalConfig::default_embedded().unwrap();
    let mut transaction = Transaction::new(&config, &NotPerformed, request(100_000));
    match transaction.start() {
        Step::Done(outcome) => {
            assert_eq!(outcome.kind, OutcomeKind::TryAnotherInterface);
            assert_eq!(outcome.ui_message, UiMessage::InsertOrSwipeCard);
        }
        Step::Transmit(command) => panic!("nothing may be sent: {command:?}"),
    }
}

fn respond(transaction: &mut Transaction<'_>, bytes: &[u8]) -> Step {
    transaction.handle(Response::from_bytes(bytes).unwrap())
}

#[test]
fn empty_candidate_list_is_end_application() {
    let config = TerminalConfig::default_embedded().unwrap();
    let mut transaction = Transaction::new(&config, &NotPerformed, request(1_000));
    assert!(matches!(transaction.start(), Step::Transmit(_)));
    // A PPSE with one unknown AID (Amex RID, not configured).
    let ppse = hex!("6F1E840E325041592E5359532E4444463031A50CBF0C0961074F05A0000000259000");
    match respond(&mut transaction, &ppse) {
        Step::Done(outcome) => {
            assert_eq!(outcome.kind, OutcomeKind::EndApplication);
            assert_eq!(outcome.ui_message, UiMessage::TryAnotherCard);
            assert_eq!(outcome.kernel, None);
        }
        Step::Transmit(command) => panic!("unexpected {command:?}"),
    }
}

#[test]
fn failed_select_moves_to_the_next_candidate() {
    let config = TerminalConfig::default_embedded().unwrap();
    let mut transaction = Transaction::new(&config, &NotPerformed, request(1_000));
    assert!(matches!(transaction.start(), Step::Transmit(_)));
    // Mastercard priority 1, Visa priority 2 (layout of the traces' PPSE).
    let ppse = hex!(
        "6F31840E325041592E5359532E4444463031A51FBF0C1C610C4F07A0000000041010870101
         610C4F07A0000000031010870102 9000"
    );
    let Step::Transmit(first) = respond(&mut transaction, &ppse) else {
        panic!("select")
    };
    assert_eq!(first.data.as_bytes(), hex!("A0000000041010"));
    let Step::Transmit(second) = respond(&mut transaction, &hex!("6A82")) else {
        panic!("select next")
    };
    assert_eq!(second.data.as_bytes(), hex!("A0000000031010"));
    match respond(&mut transaction, &hex!("6A82")) {
        Step::Done(outcome) => {
            assert_eq!(outcome.kind, OutcomeKind::EndApplication);
            assert!(outcome.reason.contains("6A82"), "{}", outcome.reason);
        }
        Step::Transmit(command) => panic!("unexpected {command:?}"),
    }
    // Using the driver after the end is an outcome, not a panic.
    assert!(matches!(
        respond(&mut transaction, &hex!("9000")),
        Step::Done(_)
    ));
}
