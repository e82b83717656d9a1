//! Scripted exchanges with every virtual card profile, in process through `CardTransport`:
//! SELECT PPSE → SELECT AID → GPO → READ RECORD (per the AFL) → GENERATE AC (Mastercard).
//!
//! The terminal data follow the Lloyds qVSDC trace of the shared docs §5 (amount 10.00 EUR,
//! date 2023-03-01). Cryptograms are checked by recomputing them with the shared
//! `emv::crypto::cryptogram` functions from the data the card returned (a round trip, no
//! hard-coded values).

// Test helpers: an unwrap that fails is a test failure.
#![allow(clippy::unwrap_used)]

use emv::crypto::cryptogram::{
    CryptoError, CryptogramInput, DerivationOption, application_cryptogram, derive_icc_master_key,
};
use emv::tlv::{self, Tag, TlvError, TlvErrorKind};
use emv::{CardTransport, Command, StatusWord, TransportError};
use hex_literal::hex;
use hsm_sim::card::{Fault, Profile, Scheme, VirtualCard};
use hsm_sim::hsm::test_keys;

#[path = "support/tlv.rs"]
mod tlv_support;

const PPSE: &[u8] = b"2PAY.SYS.DDF01";
/// TTQ 36 00 00 00: qVSDC, contact, online PIN and signature supported, no CVM required.
const TTQ_NO_CVM: [u8; 4] = hex!("36000000");
/// TTQ 36 40 00 00: the same reader above its CVM required limit.
const TTQ_CVM: [u8; 4] = hex!("36400000");
/// TTQ 32 40 00 00: CVM required, signature but no online PIN.
const TTQ_CVM_NO_PIN: [u8; 4] = hex!("32400000");
/// TTQ 36 40 40 00: CVM required, CDCVM supported.
const TTQ_CVM_CDCVM: [u8; 4] = hex!("36404000");
const AMOUNT_10: [u8; 6] = hex!("000000001000");
const AMOUNT_100: [u8; 6] = hex!("000000010000");

/// The terminal data a PDOL or CDOL1 may ask for.
struct Terminal {
    ttq: [u8; 4],
    amount: [u8; 6],
    unpredictable_number: [u8; 4],
}

impl Terminal {
    fn new(ttq: [u8; 4], amount: [u8; 6]) -> Self {
        Self {
            ttq,
            amount,
            unpredictable_number: hex!("38393031"),
        }
    }

    fn value(&self, tag: u32, length: usize) -> Vec<u8> {
        let value: Vec<u8> = match tag {
            0x9F66 => self.ttq.to_vec(),
            0x9F02 => self.amount.to_vec(),
            0x9F03 => vec![0; 6],
            0x9F1A | 0x5F2A => hex!("0978").to_vec(),
            0x95 => vec![0; 5],
            0x9A => hex!("230301").to_vec(),
            0x9C => vec![0x00],
            0x9F37 => self.unpredictable_number.to_vec(),
            0x9F35 => vec![0x22],
            0x9F34 => hex!("1F0302").to_vec(),
            _ => vec![0; length],
        };
        assert_eq!(value.len(), length, "tag {tag:X}");
        value
    }

    /// DOL related data for `dol` (EMV Book 3 §5.4), written independently of the card's reader.
    fn dol_data(&self, dol: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < dol.len() {
            let mut tag = u32::from(dol[i]);
            i += 1;
            if tag & 0x1F == 0x1F {
                tag = (tag << 8) | u32::from(dol[i]);
                i += 1;
            }
            let length = usize::from(dol[i]);
            i += 1;
            out.extend(self.value(tag, length));
        }
        out
    }
}

fn ok(card: &mut VirtualCard, command: &Command) -> Vec<u8> {
    let response = card.transmit(command).expect("the card answers");
    assert_eq!(response.status, StatusWord::Success, "{command:?}");
    response.data.to_vec()
}

fn status(card: &mut VirtualCard, command: &Command) -> StatusWord {
    card.transmit(command).expect("the card answers").status
}

fn find(data: &[u8], tag: u32) -> Vec<u8> {
    tlv_support::find(data, tag).unwrap_or_else(|| panic!("tag {tag:X} missing"))
}

fn gpo_command(profile: &Profile, terminal: &Terminal) -> Command {
    let data = terminal.dol_data(profile.pdol());
    Command::get_processing_options(tlv::encode_primitive(Tag::new(0x83), &data))
}

/// The expected cryptogram, computed from what the card returned.
fn expected_cryptogram(
    profile: &Profile,
    dol: &[u8],
    terminal: &Terminal,
    atc: [u8; 2],
    iad: &[u8],
) -> Result<[u8; 8], CryptoError> {
    let imk = test_keys::imk_ac_for_rid(profile.rid()).expect("a simulated issuer");
    let key = derive_icc_master_key(
        &imk,
        profile.pan_digits(),
        profile.pan_sequence_number(),
        DerivationOption::A,
    )?;
    let data = terminal.dol_data(dol);
    // Read back from the DOL data the way the kernel would, by position.
    let field = |tag: u32| -> Vec<u8> {
        let mut offset = 0;
        let mut i = 0;
        while i < dol.len() {
            let mut t = u32::from(dol[i]);
            i += 1;
            if t & 0x1F == 0x1F {
                t = (t << 8) | u32::from(dol[i]);
                i += 1;
            }
            let length = usize::from(dol[i]);
            i += 1;
            if t == tag {
                return data[offset..offset + length].to_vec();
            }
            offset += length;
        }
        panic!("{tag:X} not in the DOL")
    };
    let input = CryptogramInput {
        amount: field(0x9F02).try_into().unwrap(),
        amount_other: field(0x9F03).try_into().unwrap(),
        terminal_country: field(0x9F1A).try_into().unwrap(),
        tvr: field(0x95).try_into().unwrap(),
        currency: field(0x5F2A).try_into().unwrap(),
        date: field(0x9A).try_into().unwrap(),
        transaction_type: field(0x9C)[0],
        unpredictable_number: field(0x9F37).try_into().unwrap(),
        aip: profile.aip(),
        atc,
        issuer_application_data: iad,
    };
    application_cryptogram(profile.cryptogram_version(), &key, &input)
}

/// SELECT PPSE and SELECT AID, checking the FCI structures; returns the application FCI.
fn select(card: &mut VirtualCard) -> Vec<u8> {
    let profile = card.profile().clone();
    let ppse = ok(card, &Command::select_by_name(PPSE));
    assert_eq!(
        tlv_support::objects(&ppse).len(),
        1,
        "one 6F template, nothing after"
    );
    assert_eq!(find(&ppse, 0x84), PPSE);
    let entry = find(&ppse, 0x61);
    assert_eq!(find(&entry, 0x4F), profile.aid());
    assert_eq!(find(&entry, 0x50), profile.label().as_bytes());
    assert_eq!(find(&entry, 0x87), [0x01]);
    assert_eq!(find(&entry, 0x9F2A), [profile.kernel_id()]);

    let fci = ok(card, &Command::select_by_name(profile.aid()));
    assert_eq!(find(&fci, 0x84), profile.aid());
    let proprietary = find(&fci, 0xA5);
    assert_eq!(find(&proprietary, 0x50), profile.label().as_bytes());
    assert_eq!(find(&proprietary, 0x5F2D), b"en");
    match tlv_support::find(&proprietary, 0x9F38) {
        Some(pdol) => assert_eq!(pdol, profile.pdol()),
        None => assert!(profile.pdol().is_empty()),
    }
    fci
}

/// Reads every record the AFL lists and checks each is one `70` template with unique tags.
fn read_records(card: &mut VirtualCard, afl: &[u8]) -> Vec<u8> {
    assert_eq!(afl.len() % 4, 0, "AFL entries are 4 bytes");
    let mut all = Vec::new();
    for entry in afl.chunks(4) {
        let sfi = entry[0] >> 3;
        for number in entry[1]..=entry[2] {
            let record = ok(card, &Command::read_record(sfi, number));
            let objects = tlv_support::objects(&record);
            assert_eq!(objects.len(), 1);
            assert_eq!(objects[0].tag(), Tag::new(0x70));
            all.extend_from_slice(&tlv_support::value(&objects[0]));
        }
    }
    let flat = tlv_support::flatten(&all);
    let mut tags: Vec<u32> = flat.iter().map(|(tag, _)| *tag).collect();
    tags.sort_unstable();
    let count = tags.len();
    tags.dedup();
    assert_eq!(tags.len(), count, "no tag twice across the records");
    all
}

fn quick_tap(name: &str, ttq: [u8; 4], amount: [u8; 6], atc: u16) -> Vec<u8> {
    let mut card = VirtualCard::from_profile(name).unwrap().with_atc(atc);
    let profile = card.profile().clone();
    let terminal = Terminal::new(ttq, amount);
    select(&mut card);
    let response = card.transmit(&gpo_command(&profile, &terminal)).unwrap();
    assert_eq!(response.status, StatusWord::Success);
    assert_eq!(card.atc(), atc + 1, "the tap is counted");
    response.data.to_vec()
}

#[test]
fn visa_qvsdc_tap() {
    let profile = Profile::by_name("visa").unwrap();
    assert_eq!(profile.scheme(), Scheme::Visa);
    let gpo = quick_tap("visa", TTQ_CVM, AMOUNT_10, 0x0041);
    let objects = tlv_support::objects(&gpo);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].tag(), Tag::new(0x77), "format 2");
    for tag in [
        0x82, 0x94, 0x57, 0x5F34, 0x9F10, 0x9F26, 0x9F27, 0x9F36, 0x9F6C, 0x9F6E,
    ] {
        find(&gpo, tag);
    }
    assert_eq!(find(&gpo, 0x9F36), hex!("0042"));
    assert_eq!(find(&gpo, 0x9F27), [0x80], "ARQC");
    assert_eq!(
        find(&gpo, 0x9F10),
        hex!("06011203A00000"),
        "IAD format 0, CVN 18"
    );
    assert_eq!(find(&gpo, 0x9F6C), hex!("8000"), "online PIN");
    assert_eq!(find(&gpo, 0x57), profile.track2());
    let terminal = Terminal::new(TTQ_CVM, AMOUNT_10);
    let expected = expected_cryptogram(
        &profile,
        profile.pdol(),
        &terminal,
        hex!("0042"),
        &find(&gpo, 0x9F10),
    )
    .unwrap();
    assert_eq!(find(&gpo, 0x9F26), expected);
}

#[test]
fn visa_records_and_atc() {
    let mut card = VirtualCard::from_profile("visa").unwrap().with_atc(0x00FF);
    let profile = card.profile().clone();
    let terminal = Terminal::new(TTQ_NO_CVM, AMOUNT_10);
    select(&mut card);
    let gpo = card.transmit(&gpo_command(&profile, &terminal)).unwrap();
    assert!(gpo.is_success());
    let afl = find(&gpo.data, 0x94);
    assert_eq!(afl, profile.afl());
    let records = read_records(&mut card, &afl);
    assert_eq!(find(&records, 0x5A), hex!("4761739001010119"));
    assert_eq!(find(&records, 0x5F24), hex!("281231"));
    assert_eq!(find(&records, 0x5F28).len(), 2);
    assert_eq!(find(&records, 0x9F07), hex!("FF00"));
    assert_eq!(
        ok(&mut card, &Command::get_data(0x9F36)),
        hex!("9F36020100")
    );

    // A second tap counts on.
    card.power_cycle();
    select(&mut card);
    let _ = card.transmit(&gpo_command(&profile, &terminal)).unwrap();
    assert_eq!(card.atc(), 0x0101);
    assert_eq!(card.taps(), 2);
}

#[test]
fn visa_ctq_follows_ttq_and_amount() {
    let gpo = quick_tap("visa", TTQ_NO_CVM, AMOUNT_10, 1);
    assert_eq!(find(&gpo, 0x9F6C), hex!("0000"), "no CVM");
    let gpo = quick_tap("visa", TTQ_CVM_NO_PIN, AMOUNT_100, 1);
    assert_eq!(find(&gpo, 0x9F6C), hex!("4000"), "signature");
    let gpo = quick_tap("visa", TTQ_CVM_CDCVM, AMOUNT_100, 1);
    assert_eq!(
        find(&gpo, 0x9F6C),
        hex!("8000"),
        "a plastic card cannot do CDCVM"
    );
}

#[test]
fn wallet_performs_consumer_device_cvm() {
    let profile = Profile::by_name("wallet").unwrap();
    assert!(profile.is_consumer_device());
    let gpo = quick_tap("wallet", TTQ_CVM_CDCVM, AMOUNT_100, 7);
    assert_eq!(find(&gpo, 0x9F6C), hex!("0080"), "CDCVM performed");
    assert_eq!(find(&gpo, 0x9F6E)[0], 0x23, "form factor: mobile phone");
    // Above the phone's own limit even if the reader does not ask for a CVM.
    let gpo = quick_tap("wallet", hex!("36004000"), AMOUNT_100, 7);
    assert_eq!(find(&gpo, 0x9F6C), hex!("0080"));
    let gpo = quick_tap("wallet", hex!("36004000"), AMOUNT_10, 7);
    assert_eq!(find(&gpo, 0x9F6C), hex!("0000"));
    // A reader without CDCVM support gets online PIN.
    let gpo = quick_tap("wallet", TTQ_CVM, AMOUNT_100, 7);
    assert_eq!(find(&gpo, 0x9F6C), hex!("8000"));
}

#[test]
fn mastercard_wallet_offers_on_device_cvm() {
    let mut card = VirtualCard::from_profile("wallet-mastercard")
        .unwrap()
        .with_atc(0);
    let profile = card.profile().clone();
    assert!(profile.is_consumer_device());
    select(&mut card);
    let gpo = ok(
        &mut card,
        &gpo_command(&profile, &Terminal::new(TTQ_NO_CVM, AMOUNT_100)),
    );
    let aip = find(&gpo, 0x82);
    assert_eq!(
        aip[0] & 0x02,
        0x02,
        "on-device cardholder verification supported"
    );
    let records = read_records(&mut card, &find(&gpo, 0x94));
    assert_eq!(find(&records, 0x5A), hex!("5413330089010442"));
}

#[test]
fn unionpay_quics_tap() {
    let profile = Profile::by_name("unionpay").unwrap();
    assert_eq!(profile.kernel_id(), 0x07);
    assert!(!profile.pdol().is_empty(), "Kernel 7 requires a PDOL");
    let mut card = VirtualCard::new(profile.clone()).with_atc(0x1233);
    select(&mut card);
    let terminal = Terminal::new(TTQ_CVM, AMOUNT_10);
    let gpo = card.transmit(&gpo_command(&profile, &terminal)).unwrap();
    assert!(gpo.is_success());
    let iad = find(&gpo.data, 0x9F10);
    assert_eq!(&iad[..3], &hex!("070101"));
    assert_eq!(find(&gpo.data, 0x9F36), hex!("1234"));
    let expected =
        expected_cryptogram(&profile, profile.pdol(), &terminal, hex!("1234"), &iad).unwrap();
    assert_eq!(find(&gpo.data, 0x9F26), expected);
    assert_eq!(find(&gpo.data, 0x9F6C), hex!("8000"));
    let afl = find(&gpo.data, 0x94);
    let records = read_records(&mut card, &afl);
    assert_eq!(find(&records, 0x5A), hex!("6210948000000029"));
    assert_eq!(find(&records, 0x5F28), hex!("0156"));
}

#[test]
fn mastercard_mchip_tap() {
    let mut card = VirtualCard::from_profile("mastercard")
        .unwrap()
        .with_atc(0x0009);
    let profile = card.profile().clone();
    let fci = select(&mut card);
    assert_eq!(tlv_support::find(&fci, 0x9F38), None, "no PDOL");
    let terminal = Terminal::new(TTQ_NO_CVM, AMOUNT_100);
    let gpo = ok(&mut card, &gpo_command(&profile, &terminal));
    assert_eq!(
        gpo,
        tlv::encode_template(
            Tag::new(0x77),
            &[
                tlv::encode_primitive(Tag::new(0x82), &hex!("1980")),
                tlv::encode_primitive(Tag::new(0x94), &profile.afl())
            ]
            .concat()
        )
    );
    let aip = find(&gpo, 0x82);
    assert_eq!(aip[0] & 0x01, 0x01, "CDA supported");
    assert_eq!(aip[1] & 0x80, 0x80, "EMV mode");
    assert_eq!(card.atc(), 0x000A);

    let records = read_records(&mut card, &find(&gpo, 0x94));
    for tag in [
        0x5A, 0x57, 0x5F24, 0x5F25, 0x5F28, 0x5F34, 0x8C, 0x8D, 0x8E, 0x9F07, 0x9F08, 0x9F0D,
        0x9F0E, 0x9F0F, 0x9F42,
    ] {
        find(&records, tag);
    }
    assert_eq!(find(&records, 0x5A), hex!("5413330089010434"));
    let cdol1 = find(&records, 0x8C);
    assert_eq!(cdol1, profile.cdol1());
    let cvm_list = find(&records, 0x8E);
    assert_eq!(&cvm_list[8..], &hex!("42031F03"), "online PIN, then no CVM");

    // GENERATE AC: ARQC without CDA, so the AC comes in the clear (CDA: tests/card_oda.rs).
    let cdol_data = terminal.dol_data(&cdol1);
    assert_eq!(cdol_data.len(), 43);
    let generate = Command::generate_ac(0x80, cdol_data.clone());
    let answer = ok(&mut card, &generate);
    assert_eq!(tlv_support::objects(&answer)[0].tag(), Tag::new(0x77));
    assert_eq!(find(&answer, 0x9F27), [0x80]);
    assert_eq!(find(&answer, 0x9F36), hex!("000A"));
    let iad = find(&answer, 0x9F10);
    assert_eq!(iad.len(), 18);
    assert_eq!(iad[1], 0x10, "CVN 16");
    let expected = expected_cryptogram(&profile, &cdol1, &terminal, hex!("000A"), &iad).unwrap();
    assert_eq!(find(&answer, 0x9F26), expected);
    // Only one GENERATE AC per tap.
    assert_eq!(
        status(&mut card, &generate),
        StatusWord::ConditionsNotSatisfied
    );
}

#[test]
fn mastercard_aac_request_gives_an_aac() {
    let mut card = VirtualCard::from_profile("mastercard").unwrap().with_atc(0);
    let profile = card.profile().clone();
    let terminal = Terminal::new(TTQ_NO_CVM, AMOUNT_10);
    select(&mut card);
    ok(&mut card, &gpo_command(&profile, &terminal));
    let answer = ok(
        &mut card,
        &Command::generate_ac(0x00, terminal.dol_data(profile.cdol1())),
    );
    assert_eq!(find(&answer, 0x9F27), [0x00]);
    assert_eq!(
        find(&answer, 0x9F10)[2],
        0x80,
        "CVR: AAC in the first GENERATE AC"
    );
}

#[test]
fn gpo_checks_the_pdol_length() {
    let mut card = VirtualCard::from_profile("visa").unwrap().with_atc(0);
    select(&mut card);
    let short = Command::get_processing_options(tlv::encode_primitive(Tag::new(0x83), &[0; 32]));
    assert_eq!(status(&mut card, &short), StatusWord::WrongLength);
    let no_template = Command::get_processing_options(vec![0; 35]);
    assert_eq!(status(&mut card, &no_template), StatusWord::WrongLength);
    assert_eq!(card.atc(), 0, "a refused GPO is not a tap");
}

#[test]
fn commands_out_of_order_and_unknown_ones_are_refused() {
    let mut card = VirtualCard::from_profile("mastercard").unwrap().with_atc(0);
    let profile = card.profile().clone();
    let terminal = Terminal::new(TTQ_NO_CVM, AMOUNT_10);
    assert_eq!(
        status(&mut card, &gpo_command(&profile, &terminal)),
        StatusWord::ConditionsNotSatisfied
    );
    assert_eq!(
        status(&mut card, &Command::read_record(1, 1)),
        StatusWord::ConditionsNotSatisfied
    );
    assert_eq!(
        status(&mut card, &Command::select_by_name(&hex!("A0000000031010"))),
        StatusWord::FileNotFound
    );
    select(&mut card);
    let generate = Command::generate_ac(0x80, terminal.dol_data(profile.cdol1()));
    assert_eq!(
        status(&mut card, &generate),
        StatusWord::ConditionsNotSatisfied,
        "before GPO"
    );
    assert_eq!(
        status(&mut card, &Command::read_record(1, 9)),
        StatusWord::RecordNotFound
    );
    assert_eq!(
        status(&mut card, &Command::read_record(5, 1)),
        StatusWord::FileNotFound
    );
    assert_eq!(
        status(&mut card, &Command::get_data(0x9F17)),
        StatusWord::ReferencedDataNotFound
    );
    assert_eq!(
        status(&mut card, &Command::new(0x80, 0x10, 0, 0, vec![], None)),
        StatusWord::InstructionNotSupported
    );
    assert_eq!(
        status(&mut card, &Command::new(0x84, 0xA4, 4, 0, vec![], None)),
        StatusWord::ClassNotSupported
    );
    assert_eq!(
        status(
            &mut card,
            &Command::new(0x80, 0xA4, 4, 0, PPSE.to_vec(), None)
        ),
        StatusWord::ClassNotSupported
    );
    assert_eq!(
        status(
            &mut card,
            &Command::new(0x00, 0xA4, 0, 0, PPSE.to_vec(), None)
        ),
        StatusWord::IncorrectP1P2
    );
    assert_eq!(
        status(&mut card, &Command::select_next_by_name(PPSE)),
        StatusWord::FileNotFound
    );
    let mut visa = VirtualCard::from_profile("visa").unwrap();
    select(&mut visa);
    let generate = Command::generate_ac(0x80, vec![0; 43]);
    assert_eq!(
        status(&mut visa, &generate),
        StatusWord::InstructionNotSupported,
        "qVSDC has no GENERATE AC"
    );
}

#[test]
fn partial_aid_selects_the_application() {
    let mut card = VirtualCard::from_profile("visa").unwrap();
    let fci = ok(&mut card, &Command::select_by_name(&hex!("A000000003")));
    assert_eq!(find(&fci, 0x84), hex!("A0000000031010"));
}

#[test]
fn cards_of_one_profile_share_the_atc() {
    // The fault profiles are the Visa card with one defect: same PAN and PSN, same counter.
    // Other tests may tap it concurrently, so only compare, never expect exact values.
    let mut first = VirtualCard::from_profile("select-6a82").unwrap();
    let second = VirtualCard::from_profile("gpo-6985").unwrap();
    assert_eq!(first.atc(), second.atc());
    let profile = Profile::by_name("visa").unwrap();
    let mut visa = VirtualCard::new(profile.clone());
    select(&mut visa);
    let before = visa.atc();
    let _ = visa.transmit(&gpo_command(
        &profile,
        &Terminal::new(TTQ_NO_CVM, AMOUNT_10),
    ));
    assert!(visa.atc() > before);
    assert!(first.atc() > before, "the other card sees the new ATC");
    let _ = ok(&mut first, &Command::select_by_name(PPSE));
}

// Fault profiles.

#[test]
fn select_6a82_fault() {
    let mut card = VirtualCard::from_profile("select-6a82").unwrap();
    assert_eq!(card.profile().fault(), Some(Fault::SelectNotFound));
    let ppse = ok(&mut card, &Command::select_by_name(PPSE));
    let aid = find(&ppse, 0x4F);
    assert_eq!(
        status(&mut card, &Command::select_by_name(&aid)),
        StatusWord::FileNotFound
    );
}

#[test]
fn gpo_6985_fault() {
    let mut card = VirtualCard::from_profile("gpo-6985").unwrap().with_atc(5);
    let profile = card.profile().clone();
    select(&mut card);
    let gpo = gpo_command(&profile, &Terminal::new(TTQ_NO_CVM, AMOUNT_10));
    assert_eq!(status(&mut card, &gpo), StatusWord::ConditionsNotSatisfied);
}

#[test]
fn vanish_after_gpo_fault() {
    let mut card = VirtualCard::from_profile("vanish-after-gpo")
        .unwrap()
        .with_atc(5);
    let profile = card.profile().clone();
    select(&mut card);
    let gpo = card.transmit(&gpo_command(
        &profile,
        &Terminal::new(TTQ_NO_CVM, AMOUNT_10),
    ));
    assert!(gpo.is_ok(), "GPO itself is answered");
    assert!(card.is_removed());
    assert!(matches!(
        card.transmit(&Command::read_record(1, 1)),
        Err(TransportError::CardRemoved)
    ));
    assert!(matches!(
        card.transmit(&Command::select_by_name(PPSE)),
        Err(TransportError::CardRemoved)
    ));
    card.power_cycle();
    ok(&mut card, &Command::select_by_name(PPSE));
}

#[test]
fn duplicate_tags_fault() {
    let mut card = VirtualCard::from_profile("duplicate-tags").unwrap();
    select(&mut card);
    let record = ok(&mut card, &Command::read_record(1, 1));
    let flat = tlv_support::flatten(&record);
    assert_eq!(flat.iter().filter(|(tag, _)| *tag == 0x5A).count(), 2);
}

#[test]
fn length_past_end_fault() {
    let mut card = VirtualCard::from_profile("length-past-end").unwrap();
    select(&mut card);
    let record = ok(&mut card, &Command::read_record(1, 1));
    let (tag, inner) = tlv::raw_object(&record).expect("the 70 template itself is consistent");
    assert_eq!(tag, Tag::new(0x70));
    // The 5A is the last object: its value would start 8 bytes before the end of the record.
    assert_eq!(
        tlv::parse(inner),
        Err(TlvError::new(
            TlvErrorKind::LengthExceedsData,
            inner.len() - 8
        ))
    );
}

#[test]
fn truncated_tlv_fault() {
    let mut card = VirtualCard::from_profile("truncated-tlv").unwrap();
    let profile = card.profile().clone();
    select(&mut card);
    let response = card
        .transmit(&gpo_command(
            &profile,
            &Terminal::new(TTQ_NO_CVM, AMOUNT_10),
        ))
        .unwrap();
    assert_eq!(response.status, StatusWord::Success);
    let (tag, inner) =
        tlv::raw_object(&response.data).expect("the 77 template itself is consistent");
    assert_eq!(tag, Tag::new(0x77));
    assert_eq!(
        tlv::parse(inner).map_err(|e| e.kind),
        Err(TlvErrorKind::Truncated),
        "the input ends inside a tag"
    );
}

#[test]
fn every_profile_answers_ppse_and_select() {
    for profile in Profile::all() {
        let mut card = VirtualCard::new(profile.clone());
        if profile.fault() == Some(Fault::SelectNotFound) {
            continue;
        }
        select(&mut card);
        // The independent parser of iso7816-tlv agrees on the PPSE structure.
        card.power_cycle();
        let ppse = ok(&mut card, &Command::select_by_name(PPSE));
        let parsed = iso7816_tlv::ber::Tlv::from_bytes(&ppse).expect("BER-TLV");
        assert_eq!(parsed.to_vec(), ppse, "{}", profile.name());
    }
}

#[test]
fn long_responses_are_split_with_61xx() {
    // No profile answers more than 256 bytes today; the GET RESPONSE path answers 6985 when
    // nothing is pending.
    let mut card = VirtualCard::from_profile("visa").unwrap();
    assert_eq!(
        status(&mut card, &Command::get_response(0)),
        StatusWord::ConditionsNotSatisfied
    );
}
