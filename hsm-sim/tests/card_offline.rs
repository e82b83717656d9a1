//! Card risk management of the `visa-offline` card (EMV Book C-3 §5.4, Visa VCPS; shared docs
//! §2.1): a TC in the GPO response when the reader's TTQ allows an offline approval and the
//! amount fits the available offline spending amount, an ARQC otherwise. The cryptogram is
//! checked against the simulated issuer's keys (`hsm_sim::hsm::test_keys`, EMV Book 2 §8.1),
//! and the fDDA signature against the simulator CA by the kernel's own authenticator.

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

#[path = "support/terminal.rs"]
mod terminal;
#[path = "support/tlv.rs"]
mod tlv_support;

use emv::Command;
use emv::tlv::{self, Tag};
use hex_literal::hex;
use hsm_sim::card::{Profile, VirtualCard};
use terminal::{DATE, UN, ok, pdol_data};
/// TTQ `27004000` (`assets/terminal.toml`): qVSDC, online PIN, signature, ODA for online;
/// byte 2 bit 8 (online cryptogram required) clear.
const TTQ_OFFLINE_OK: [u8; 4] = hex!("27004000");
/// The same TTQ with byte 2 bit 8 set, as the kernel sends it above its floor limit.
const TTQ_ONLINE: [u8; 4] = hex!("27804000");

/// SELECT PPSE, SELECT AID, GPO: the GPO response's objects.
fn gpo(card: &mut VirtualCard, ttq: [u8; 4], amount: [u8; 6]) -> Vec<u8> {
    card.power_cycle();
    let aid = card.profile().aid().to_vec();
    ok(card, &Command::select_by_name(b"2PAY.SYS.DDF01"));
    ok(card, &Command::select_by_name(&aid));
    ok(
        card,
        &Command::get_processing_options(tlv::encode_primitive(
            Tag::new(0x83),
            &pdol_data(ttq, amount),
        )),
    )
}

fn get(gpo: &[u8], tag: u32) -> Vec<u8> {
    tlv_support::find(gpo, tag).unwrap()
}

/// The AC the issuer expects for this GPO (the host's keys, Book 2 §8.1, CVN 18).
fn expected_cryptogram(profile: &Profile, gpo: &[u8], amount: [u8; 6]) -> [u8; 8] {
    let atc: [u8; 2] = get(gpo, 0x9F36).try_into().unwrap();
    terminal::expected_cryptogram(profile, amount, atc, &get(gpo, 0x9F10))
}

#[test]
fn visa_offline_answers_a_real_tc_when_the_reader_allows_it() {
    let mut card = VirtualCard::from_profile("visa-offline")
        .unwrap()
        .with_atc(0x0200);
    let amount = hex!("000000001234");
    let answer = gpo(&mut card, TTQ_OFFLINE_OK, amount);
    assert_eq!(get(&answer, 0x9F27), [0x40], "TC");
    // CVR byte 2 (IAD byte 5) 90: TC in the first AC, second GENERATE AC not requested.
    assert_eq!(get(&answer, 0x9F10), hex!("06011203900000"));
    let profile = card.profile().clone();
    assert_eq!(
        get(&answer, 0x9F26),
        expected_cryptogram(&profile, &answer, amount)
    );
    assert_eq!(card.offline_available(), 10_000 - 1_234);
    // fDDA data is there (the kernel checks the signature in the engine tests).
    assert!(tlv_support::find(&answer, 0x9F4B).is_some());
}

#[test]
fn visa_offline_goes_online_when_the_reader_asks_for_it() {
    let mut card = VirtualCard::from_profile("visa-offline")
        .unwrap()
        .with_atc(0x0300);
    let amount = hex!("000000001234");
    let answer = gpo(&mut card, TTQ_ONLINE, amount);
    assert_eq!(get(&answer, 0x9F27), [0x80], "ARQC");
    assert_eq!(get(&answer, 0x9F10), hex!("06011203A00000"));
    let profile = card.profile().clone();
    assert_eq!(
        get(&answer, 0x9F26),
        expected_cryptogram(&profile, &answer, amount)
    );
    assert_eq!(card.offline_available(), 10_000);
}

#[test]
fn visa_offline_spends_its_offline_amount_then_goes_online() {
    let mut card = VirtualCard::from_profile("visa-offline")
        .unwrap()
        .with_atc(0x0400);
    // 60.00 fits the 100.00; then 40.01 does not fit the 40.00 left; 40.00 does.
    let answer = gpo(&mut card, TTQ_OFFLINE_OK, hex!("000000006000"));
    assert_eq!(get(&answer, 0x9F27), [0x40]);
    let answer = gpo(&mut card, TTQ_OFFLINE_OK, hex!("000000004001"));
    assert_eq!(get(&answer, 0x9F27), [0x80]);
    assert_eq!(card.offline_available(), 4_000);
    let answer = gpo(&mut card, TTQ_OFFLINE_OK, hex!("000000004000"));
    assert_eq!(get(&answer, 0x9F27), [0x40]);
    assert_eq!(card.offline_available(), 0);
}

#[test]
fn the_online_visa_card_never_answers_a_tc() {
    let mut card = VirtualCard::from_profile("visa").unwrap().with_atc(0x0500);
    let answer = gpo(&mut card, TTQ_OFFLINE_OK, hex!("000000000100"));
    assert_eq!(get(&answer, 0x9F27), [0x80]);
    assert_eq!(card.offline_available(), 0);
}

#[test]
fn tc_despite_online_ignores_the_ttq_but_not_its_offline_amount() {
    let mut card = VirtualCard::from_profile("tc-despite-online")
        .unwrap()
        .with_atc(0x0600);
    let amount = hex!("000000006000");
    let answer = gpo(&mut card, TTQ_ONLINE, amount);
    assert_eq!(get(&answer, 0x9F27), [0x40]);
    let profile = card.profile().clone();
    assert_eq!(
        get(&answer, 0x9F26),
        expected_cryptogram(&profile, &answer, amount)
    );
    let answer = gpo(&mut card, TTQ_ONLINE, hex!("000000010001"));
    assert_eq!(get(&answer, 0x9F27), [0x80]);
}

/// A purchase of `amount` on 2026-11-21.
fn request(amount: u64) -> emv::kernel::TransactionRequest {
    emv::kernel::TransactionRequest {
        amount,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: DATE,
        time: hex!("120000"),
        unpredictable_number: UN,
    }
}

/// Runs the kernel in process on a card of `profile` with the simulator CA keys and the
/// embedded terminal configuration plus `overrides`.
fn kernel_tap(profile: &str, overrides: &str, amount: u64) -> emv::kernel::Outcome {
    let keys =
        emv::oda::CaKeyStore::from_str(include_str!("../../assets/capk/simulator.toml")).unwrap();
    let oda = emv::oda::Authenticator::new(keys);
    let config = emv::config::TerminalConfig::default_embedded()
        .unwrap()
        .with_overrides(overrides)
        .unwrap();
    let mut card = VirtualCard::from_profile(profile).unwrap();
    emv::kernel::run(&mut card, &config, &oda, request(amount), None).unwrap()
}

/// Visa with a 50.00 floor limit: at or below it Kernel 3 leaves TTQ byte 2 bit 8 clear.
const FLOOR_5000: &str = "[[aid]]\naid = \"A0000000031010\"\nfloor_limit = 5000\n";

#[test]
fn kernel_3_approves_the_offline_card_with_fdda_at_or_below_the_floor_limit() {
    let outcome = kernel_tap("visa-offline", FLOOR_5000, 1_234);
    assert_eq!(
        outcome.kind,
        emv::kernel::OutcomeKind::Approved,
        "{}",
        outcome.reason
    );
    assert!(outcome.oda.as_ref().is_some_and(|r| r.passed()));
    // Above the floor limit the same card asks for online authorisation.
    let outcome = kernel_tap("visa-offline", FLOOR_5000, 5_001);
    assert_eq!(
        outcome.kind,
        emv::kernel::OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
}

#[test]
fn the_outcome_reason_names_the_failed_oda_check() {
    // Kernel 3, fDDA (ARQC: the embedded floor limit 0 sends every tap online).
    let outcome = kernel_tap("oda-expired-issuer-cert", "", 1_234);
    assert!(
        outcome
            .reason
            .contains("fDDA failed: issuer certificate 90 expired (Book 2 §5.3 step 9)"),
        "{}",
        outcome.reason
    );
    // Kernel 2, CDA.
    let outcome = kernel_tap("oda-tampered-record", "", 1_234);
    assert!(
        outcome
            .reason
            .contains("CDA failed: ICC certificate 9F46: hash does not match"),
        "{}",
        outcome.reason
    );
}
