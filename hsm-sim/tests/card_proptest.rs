//! No C-APDU makes a virtual card panic or answer without a status word, in any profile and in
//! any session state (security requirement B1: malformed input is an error, never a crash).

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

use emv::{CardTransport, Command};
use hsm_sim::card::{Profile, VirtualCard};
use proptest::prelude::*;

/// Brings a card to a state: 0 idle, 1 PPSE selected, 2 application selected, 3 after GPO.
fn card_in_state(profile: &Profile, state: u8) -> VirtualCard {
    let mut card = VirtualCard::new(profile.clone()).with_atc(0);
    if state >= 1 {
        let _ = card.transmit(&Command::select_by_name(b"2PAY.SYS.DDF01"));
    }
    if state >= 2 {
        let _ = card.transmit(&Command::select_by_name(profile.aid()));
    }
    if state >= 3 {
        let length = pdol_data_length(profile.pdol());
        let mut template = vec![0x83, u8::try_from(length).unwrap()];
        template.resize(2 + length, 0x00);
        let _ = card.transmit(&Command::get_processing_options(template));
    }
    card
}

/// The data length a DOL asks for (tags of one or two bytes, one-byte lengths).
fn pdol_data_length(dol: &[u8]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < dol.len() {
        i += if dol[i] & 0x1F == 0x1F { 2 } else { 1 };
        total += usize::from(dol[i]);
        i += 1;
    }
    total
}

fn assert_answers(card: &mut VirtualCard, apdu: &[u8]) {
    let reply = card.process(apdu);
    assert!(
        reply.bytes.len() >= 2,
        "every answer ends with a status word"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(index in 0usize..64, state in 0u8..4, apdu in proptest::collection::vec(any::<u8>(), 0..300)) {
        let profile = &Profile::all()[index % Profile::all().len()];
        let mut card = card_in_state(profile, state);
        assert_answers(&mut card, &apdu);
    }

    #[test]
    fn plausible_headers(
        index in 0usize..64,
        state in 0u8..4,
        cla in prop::sample::select(vec![0x00u8, 0x80, 0x84, 0xFF]),
        ins in prop::sample::select(vec![0xA4u8, 0xA8, 0xB2, 0xAE, 0xCA, 0xC0, 0x88, 0x00]),
        p1 in any::<u8>(),
        p2 in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..255),
        le in proptest::option::of(any::<u8>()),
    ) {
        let profile = &Profile::all()[index % Profile::all().len()];
        let mut card = card_in_state(profile, state);
        let command = Command::new(cla, ins, p1, p2, data, le);
        assert_answers(&mut card, &command.serialize());
        // And the card keeps answering afterwards (or is gone, for the vanishing profile).
        let next = card.transmit(&Command::get_data(0x9F36));
        prop_assert!(next.is_ok() || card.is_removed());
    }
}
