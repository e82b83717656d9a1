//! Offline data authentication of the virtual cards, checked by the kernel's own authenticator
//! (`emv::oda`) with the shipped test CA keys, which hold the simulator CA (`D0`): fDDA for the
//! Visa, wallet and UnionPay cards, CDA for Mastercard. Cryptograms recovered from a CDA
//! signature are compared with the shared `emv::crypto::cryptogram` functions (round trip).

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

#[path = "support/terminal.rs"]
mod terminal;
#[path = "support/tlv.rs"]
mod tlv_support;

use emv::oda::{
    Authenticator, CaKeyStore, CdaInput, OdaFailure, OdaInput, OdaMethod, OdaResult,
    OfflineDataAuthenticator,
};
use emv::tlv::{self, Tag};
use emv::{CardTransport, Command, StatusWord};
use hex_literal::hex;
use hsm_sim::card::{Profile, VirtualCard};
use terminal::{CURRENCY, DATE, UN, expected_cryptogram, ok, pdol_data};

const AMOUNT: [u8; 6] = hex!("000000002500");

/// PDOL data for the qVSDC/qUICS PDOL with TTQ `37000080` (ODA for online, fDDA).
fn qvsdc_pdol_data() -> Vec<u8> {
    pdol_data(hex!("37000080"), AMOUNT)
}

/// CDOL1 data for the Mastercard CDOL1 (see `Profile::cdol1`).
fn cdol1_data() -> Vec<u8> {
    [
        &AMOUNT[..],
        &[0; 6],
        &CURRENCY,
        &[0; 5],
        &CURRENCY,
        &DATE,
        &[0x00],
        &UN,
        &[0x22],
        &[0; 2],
        &[0; 8],
        &hex!("1F0302"),
    ]
    .concat()
}

/// What the terminal collected: every primitive object of the GPO response and records, and
/// the static data of the records the AFL flags (EMV Book 3 §10.3), then the AIP.
struct Collected {
    objects: Vec<(u32, Vec<u8>)>,
    static_data: Vec<u8>,
}

impl Collected {
    fn get(&self, tag: u32) -> Option<&[u8]> {
        self.objects
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }
}

fn tap(card: &mut VirtualCard, pdol_data: &[u8]) -> Collected {
    let aid = card.profile().aid();
    ok(card, &Command::select_by_name(b"2PAY.SYS.DDF01"));
    ok(card, &Command::select_by_name(aid));
    let gpo = ok(
        card,
        &Command::get_processing_options(tlv::encode_primitive(Tag::new(0x83), pdol_data)),
    );
    let mut objects: Vec<(u32, Vec<u8>)> = tlv_support::flatten(&gpo);
    let afl = tlv_support::find(&gpo, 0x94).unwrap();
    let mut static_data = Vec::new();
    for entry in afl.chunks(4) {
        let sfi = entry[0] >> 3;
        for (i, number) in (entry[1]..=entry[2]).enumerate() {
            let record = ok(card, &Command::read_record(sfi, number));
            let (_, template_value) = tlv::raw_object(&record).unwrap();
            if i < usize::from(entry[3]) {
                static_data.extend_from_slice(template_value);
            }
            objects.extend(tlv_support::flatten(&record));
        }
    }
    let aip = objects.iter().find(|(t, _)| *t == 0x82).unwrap().1.clone();
    let collected = Collected {
        objects,
        static_data,
    };
    assert_eq!(
        collected.get(0x9F4A),
        Some(&[0x82][..]),
        "the AIP is signed too"
    );
    let mut static_data = collected.static_data.clone();
    static_data.extend_from_slice(&aip);
    Collected {
        static_data,
        ..collected
    }
}

fn authenticate(
    card: &Collected,
    rid: &[u8],
    method: OdaMethod,
    terminal: &[u8],
    cda: Option<CdaInput<'_>>,
) -> OdaResult {
    authenticate_on(card, rid, method, terminal, cda, DATE)
}

fn authenticate_on(
    card: &Collected,
    rid: &[u8],
    method: OdaMethod,
    terminal: &[u8],
    cda: Option<CdaInput<'_>>,
    transaction_date: [u8; 3],
) -> OdaResult {
    let input = OdaInput {
        method,
        rid: rid.try_into().unwrap(),
        ca_public_key_index: card.get(0x8F).map(|v| v[0]),
        issuer_public_key_certificate: card.get(0x90),
        issuer_public_key_remainder: card.get(0x92),
        issuer_public_key_exponent: card.get(0x9F32),
        icc_public_key_certificate: card.get(0x9F46),
        icc_public_key_exponent: card.get(0x9F47),
        icc_public_key_remainder: card.get(0x9F48),
        pan: card.get(0x5A),
        static_data: &card.static_data,
        signed_static_application_data: card.get(0x93),
        signed_dynamic_application_data: card.get(0x9F4B),
        terminal_dynamic_data: terminal,
        cda,
        transaction_date,
    };
    let authenticator = Authenticator::new(CaKeyStore::embedded_test().unwrap());
    authenticator
        .authenticate(&input)
        .expect("the simulator CA key is in the test store")
}

fn fdda(name: &str) {
    let mut card = VirtualCard::from_profile(name).unwrap().with_atc(0x0041);
    let rid = card.profile().rid();
    let collected = tap(&mut card, &qvsdc_pdol_data());
    let card_auth = collected.get(0x9F69).unwrap();
    assert_eq!(card_auth[0], 0x01, "fDDA version 01");
    assert_eq!(
        &card_auth[5..],
        collected.get(0x9F6C).unwrap(),
        "9F69 ends with the CTQ"
    );
    let terminal = [&UN[..], &AMOUNT, &CURRENCY, card_auth].concat();
    let result = authenticate(&collected, rid, OdaMethod::Fdda, &terminal, None);
    assert_eq!(result.status, Ok(()), "{name}");
    assert_eq!(
        result.recovered_dynamic_number,
        Some(hex!("0042").to_vec()),
        "02 ‖ ATC"
    );

    // Signed over this amount: another amount fails.
    let other = [&UN[..], &hex!("000000009999"), &CURRENCY, card_auth].concat();
    let result = authenticate(&collected, rid, OdaMethod::Fdda, &other, None);
    assert!(result.status.is_err(), "{name}");
}

#[test]
fn visa_fdda_verifies() {
    fdda("visa");
}

#[test]
fn wallet_fdda_verifies() {
    fdda("wallet");
}

#[test]
fn unionpay_fdda_verifies() {
    fdda("unionpay");
}

#[test]
fn mastercard_cda_verifies_and_carries_the_arqc() {
    cda("mastercard");
}

#[test]
fn mastercard_wallet_cda_verifies_and_carries_the_arqc() {
    cda("wallet-mastercard");
}

fn cda(name: &str) {
    let (result, iad, profile) = cda_result(name, &cdol1_data());
    assert_eq!(result.status, Ok(()), "{name}");

    let expected = expected_cryptogram(&profile, AMOUNT, hex!("0101"), &iad);
    assert_eq!(result.recovered_cryptogram, Some(expected));
}

/// One CDA tap with `cdol1` as the terminal's CDOL1 data: the result, the IAD and the profile.
fn cda_result(name: &str, cdol1: &[u8]) -> (OdaResult, Vec<u8>, Profile) {
    let mut card = VirtualCard::from_profile(name).unwrap().with_atc(0x0100);
    let profile: Profile = card.profile().clone();
    let collected = tap(&mut card, &[]);
    let cdol1 = cdol1.to_vec();
    let answer = ok(&mut card, &Command::generate_ac(0x80 | 0x10, cdol1.clone()));
    let template = tlv_support::objects(&answer);
    assert_eq!(template[0].tag(), Tag::new(0x77));
    let children = template[0].children();
    let tags: Vec<u32> = children.iter().map(|c| c.tag().number()).collect();
    assert_eq!(
        tags,
        [0x9F27, 0x9F36, 0x9F4B, 0x9F10],
        "no 9F26 in the clear"
    );
    let without: Vec<u8> = children
        .iter()
        .filter(|c| c.tag() != Tag::new(0x9F4B))
        .flat_map(|c| c.to_bytes().unwrap())
        .collect();
    let signed = tlv_support::find(&answer, 0x9F4B).unwrap();
    let iad = tlv_support::find(&answer, 0x9F10).unwrap();
    let mut objects = collected.objects.clone();
    objects.push((0x9F4B, signed));
    let collected = Collected {
        objects,
        ..collected
    };
    let cda = CdaInput {
        pdol_data: &[],
        cdol1_data: &cdol1,
        generate_ac_response_without_sdad: &without,
        cryptogram_information_data: 0x80,
    };
    let result = authenticate(&collected, profile.rid(), OdaMethod::Cda, &UN, Some(cda));
    assert_eq!(collected.get(0x82), Some(&profile.aip()[..]));
    (result, iad, profile)
}

#[test]
fn an_aac_is_never_signed() {
    let mut card = VirtualCard::from_profile("mastercard").unwrap().with_atc(0);
    tap(&mut card, &[]);
    let answer = ok(
        &mut card,
        &Command::generate_ac(0x10, cdol1_data()), /* AAC, CDA requested */
    );
    assert!(tlv_support::find(&answer, 0x9F4B).is_none());
    assert!(tlv_support::find(&answer, 0x9F26).is_some());
}

/// One fDDA tap of `name`: the collected data, the terminal dynamic data and the RID.
fn fdda_tap(name: &str) -> (Collected, Vec<u8>, Vec<u8>) {
    let mut card = VirtualCard::from_profile(name).unwrap().with_atc(0x0041);
    let rid = card.profile().rid().to_vec();
    let collected = tap(&mut card, &qvsdc_pdol_data());
    let card_auth = collected.get(0x9F69).unwrap().to_vec();
    let terminal = [&UN[..], &AMOUNT, &CURRENCY, &card_auth].concat();
    (collected, terminal, rid)
}

// The ODA fault profiles (docs/hsm-sim.md "Virtual cards"): each fails exactly the check it
// is named after, and each is otherwise a good card (the tests show the chain passes once the
// defect is taken out).

#[test]
fn expired_issuer_certificate_fails_on_its_expiry_only() {
    let (collected, terminal, rid) = fdda_tap("oda-expired-issuer-cert");
    let result = authenticate(&collected, &rid, OdaMethod::Fdda, &terminal, None);
    assert_eq!(result.status, Err(OdaFailure::IssuerCertificateExpired));
    // On a date before the end of 12/2020 the same chain verifies.
    let result = authenticate_on(
        &collected,
        &rid,
        OdaMethod::Fdda,
        &terminal,
        None,
        hex!("201231"),
    );
    assert_eq!(result.status, Ok(()));
}

#[test]
fn unknown_ca_index_fails_before_any_certificate() {
    let (collected, terminal, rid) = fdda_tap("oda-unknown-ca-index");
    assert_eq!(rid, hex!("A000000333"), "a UnionPay card");
    assert_eq!(collected.get(0x8F), Some(&[0xD1][..]));
    let result = authenticate(&collected, &rid, OdaMethod::Fdda, &terminal, None);
    assert_eq!(result.status, Err(OdaFailure::CaKeyNotFound));
    // The certificates are the simulator CA's (D0): with that index the chain verifies.
    let mut objects = collected.objects.clone();
    for (tag, value) in &mut objects {
        if *tag == 0x8F {
            *value = vec![0xD0];
        }
    }
    let fixed = Collected {
        objects,
        static_data: collected.static_data.clone(),
    };
    let result = authenticate(&fixed, &rid, OdaMethod::Fdda, &terminal, None);
    assert_eq!(result.status, Ok(()));
}

#[test]
fn bad_fdda_signature_fails_the_signed_data_hash() {
    let (collected, terminal, rid) = fdda_tap("oda-bad-fdda-signature");
    let result = authenticate(&collected, &rid, OdaMethod::Fdda, &terminal, None);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("9F4B hash does not match"))
    );
    // The card signed its 9F69 with the card unpredictable number's first byte inverted.
    let mut signed = terminal.clone();
    signed[UN.len() + AMOUNT.len() + CURRENCY.len() + 1] ^= 0xFF;
    let result = authenticate(&collected, &rid, OdaMethod::Fdda, &signed, None);
    assert_eq!(result.status, Ok(()));
}

#[test]
fn tampered_record_fails_the_icc_certificate_hash() {
    let (result, _, profile) = cda_result("oda-tampered-record", &cdol1_data());
    assert_eq!(profile.scheme(), hsm_sim::card::Scheme::Mastercard);
    assert_eq!(
        result.status,
        Err(OdaFailure::IccCertificate("hash does not match"))
    );
    let record = profile.records().into_iter().find(|r| r.sfi == 2).unwrap();
    assert_eq!(
        tlv_support::find(&record.bytes, 0x5F25),
        Some(hex!("200101").to_vec()),
        "served effective date"
    );
    let good = Profile::by_name("mastercard").unwrap().records();
    let good_record = good.iter().find(|r| r.sfi == 2).unwrap();
    assert_eq!(
        tlv_support::find(&good_record.bytes, 0x5F25),
        Some(hex!("210101").to_vec()),
        "signed effective date"
    );
}

#[test]
fn cda_over_the_wrong_amount_fails_the_transaction_data_hash() {
    let (result, _, _) = cda_result("oda-cda-wrong-amount", &cdol1_data());
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature(
            "CDA transaction data hash code does not match"
        ))
    );
    assert_eq!(result.recovered_cryptogram, None);
    // The card hashed 0.01 instead of the amount sent; a terminal that had sent 0.01 would
    // not see the difference, so the card falls back to 0.02 then.
    let mut one_cent = cdol1_data();
    one_cent[..6].copy_from_slice(&hex!("000000000001"));
    let (result, _, _) = cda_result("oda-cda-wrong-amount", &one_cent);
    assert!(result.status.is_err());
}

#[test]
fn oda_fault_profiles_keep_their_good_twin_except_for_the_fault() {
    for (fault, twin) in [
        ("oda-expired-issuer-cert", "visa"),
        ("oda-unknown-ca-index", "unionpay"),
        ("oda-tampered-record", "mastercard"),
        ("oda-bad-fdda-signature", "visa"),
        ("oda-cda-wrong-amount", "mastercard"),
    ] {
        let faulty = Profile::by_name(fault).unwrap();
        let good = Profile::by_name(twin).unwrap();
        assert!(faulty.fault().unwrap().is_oda_fault(), "{fault}");
        assert_eq!(faulty.aid(), good.aid(), "{fault}");
        assert_eq!(faulty.pan_digits(), good.pan_digits(), "{fault}");
        assert_eq!(faulty.aip(), good.aip(), "{fault}");
        assert_eq!(faulty.afl(), good.afl(), "{fault}");
    }
}

// The legacy profiles: contact-era SDA and DDA data that verify with the kernel's own SDA and
// DDA code (docs/hsm-sim.md, "Legacy profiles"). Kernel 3 itself never runs them.

#[test]
fn legacy_sda_signed_static_data_verifies() {
    let mut card = VirtualCard::from_profile("legacy-sda")
        .unwrap()
        .with_atc(0x0041);
    let rid = card.profile().rid().to_vec();
    let collected = tap(&mut card, &qvsdc_pdol_data());
    assert_eq!(
        collected.get(0x82),
        Some(&hex!("4000")[..]),
        "AIP: SDA only"
    );
    assert!(collected.get(0x9F4B).is_none(), "no fDDA in GPO");
    assert!(collected.get(0x9F46).is_none(), "no ICC key");
    let result = authenticate(&collected, &rid, OdaMethod::Sda, &[], None);
    assert_eq!(result.status, Ok(()));
    assert_eq!(result.recovered_dynamic_number, Some(hex!("DAC1").to_vec()));

    // The static data are signed: one changed byte fails the 93 hash.
    let mut tampered = collected.static_data.clone();
    tampered[2] ^= 0x01;
    let tampered = Collected {
        objects: collected.objects.clone(),
        static_data: tampered,
    };
    let result = authenticate(&tampered, &rid, OdaMethod::Sda, &[], None);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("93 hash does not match"))
    );
}

#[test]
fn legacy_dda_internal_authenticate_verifies() {
    let mut card = VirtualCard::from_profile("legacy-dda")
        .unwrap()
        .with_atc(0x0041);
    let rid = card.profile().rid().to_vec();
    let collected = tap(&mut card, &qvsdc_pdol_data());
    assert!(collected.get(0x9F4B).is_none(), "no fDDA in GPO");
    assert_eq!(collected.get(0x9F49), Some(&hex!("9F3704")[..]), "DDOL");
    let answer = ok(&mut card, &Command::internal_authenticate(UN.to_vec()));
    let signed = tlv_support::find(&answer, 0x80).unwrap();
    let mut objects = collected.objects.clone();
    objects.push((0x9F4B, signed));
    let collected = Collected {
        objects,
        static_data: collected.static_data,
    };
    let result = authenticate(&collected, &rid, OdaMethod::Dda, &UN, None);
    assert_eq!(result.status, Ok(()));
    assert_eq!(
        result.recovered_dynamic_number.map(|n| n.len()),
        Some(8),
        "8-byte ICC dynamic number"
    );
    // Signed over this unpredictable number only.
    let result = authenticate(&collected, &rid, OdaMethod::Dda, &hex!("00000000"), None);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("9F4B hash does not match"))
    );
}

#[test]
fn internal_authenticate_is_refused_where_it_does_not_belong() {
    // Not a DDA card.
    let mut visa = VirtualCard::from_profile("visa").unwrap().with_atc(0);
    tap(&mut visa, &qvsdc_pdol_data());
    let response = visa
        .transmit(&Command::internal_authenticate(UN.to_vec()))
        .unwrap();
    assert_eq!(response.status, StatusWord::InstructionNotSupported);
    // Before GPO, and with a DDOL data length other than 4.
    let mut dda = VirtualCard::from_profile("legacy-dda").unwrap().with_atc(0);
    let aid = dda.profile().aid();
    ok(&mut dda, &Command::select_by_name(aid));
    let response = dda
        .transmit(&Command::internal_authenticate(UN.to_vec()))
        .unwrap();
    assert_eq!(response.status, StatusWord::ConditionsNotSatisfied);
    tap(&mut dda, &qvsdc_pdol_data());
    let response = dda
        .transmit(&Command::internal_authenticate(vec![0; 5]))
        .unwrap();
    assert_eq!(response.status, StatusWord::WrongLength);
}
