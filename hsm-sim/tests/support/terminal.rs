//! What the card tests play as the terminal: one set of terminal data (date, unpredictable
//! number, currency and country 0978), the qVSDC/qUICS PDOL data built from it, a command that
//! must succeed, and the application cryptogram the simulated issuer expects (EMV Book 2 §8.1,
//! the keys of `hsm_sim::hsm::test_keys`).

use emv::crypto::cryptogram::{
    CryptogramInput, DerivationOption, application_cryptogram, derive_icc_master_key,
};
use emv::{CardTransport, Command, StatusWord};
use hex_literal::hex;
use hsm_sim::card::{Profile, VirtualCard};
use hsm_sim::hsm::test_keys;

pub(crate) const DATE: [u8; 3] = hex!("261121");
pub(crate) const UN: [u8; 4] = hex!("CAFEBABE");
pub(crate) const CURRENCY: [u8; 2] = hex!("0978");

/// PDOL data for the qVSDC/qUICS PDOL: TTQ, amount, other amount, country, TVR, currency,
/// date, type, UN.
pub(crate) fn pdol_data(ttq: [u8; 4], amount: [u8; 6]) -> Vec<u8> {
    [
        &ttq[..],
        &amount,
        &[0; 6],
        &CURRENCY,
        &[0; 5],
        &CURRENCY,
        &DATE,
        &[0x00],
        &UN,
    ]
    .concat()
}

/// Sends `command` and returns the response data; any status but `9000` fails the test.
pub(crate) fn ok(card: &mut VirtualCard, command: &Command) -> Vec<u8> {
    let response = card.transmit(command).unwrap();
    assert_eq!(response.status, StatusWord::Success, "{command:?}");
    response.data.to_vec()
}

/// The AC the issuer expects from `profile` for a purchase of `amount` with this terminal
/// data, the card's `atc` and its IAD `9F10`.
pub(crate) fn expected_cryptogram(
    profile: &Profile,
    amount: [u8; 6],
    atc: [u8; 2],
    iad: &[u8],
) -> [u8; 8] {
    let imk = test_keys::imk_ac_for_rid(profile.rid()).unwrap();
    let key = derive_icc_master_key(&imk, profile.pan_digits(), 1, DerivationOption::A).unwrap();
    let input = CryptogramInput {
        amount,
        amount_other: [0; 6],
        terminal_country: CURRENCY,
        tvr: [0; 5],
        currency: CURRENCY,
        date: DATE,
        transaction_type: 0x00,
        unpredictable_number: UN,
        aip: profile.aip(),
        atc,
        issuer_application_data: iad,
    };
    application_cryptogram(profile.cryptogram_version(), &key, &input).unwrap()
}
