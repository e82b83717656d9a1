//! Kernel 2 (Mastercard M/Chip) on APDU transcripts.
//!
//! Golden input: the real Debit Mastercard exchanges (PPSE, SELECT, GPO, four records) in
//! `tests/data/kernel/mastercard_mchip.txt` (MichaelsPlayground/TalkToYourCreditCardPart6
//! `logfile.md`; a deactivated card). That log stops before GENERATE AC, so the GENERATE AC
//! command expected here is computed by hand from the card's CDOL1 (EMV Book 3 §5.4) and the
//! GENERATE AC responses are built from Book 3 §6.5.5.4 / Book C-2 (`77{9F27, 9F36, 9F4B,
//! 9F10}` with CDA, `77{9F27, 9F36, 9F26, 9F10}` without): they are NOT from a card.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "kernel_support/transcript.rs"]
mod transcript;

use std::cell::RefCell;

use emv::config::TerminalConfig;
use emv::kernel::{self, Cvm, KernelId, OutcomeKind, TransactionRequest, UiMessage};
use emv::oda::{
    NotPerformed, OdaFailure, OdaInput, OdaMethod, OdaResult, OfflineDataAuthenticator,
};
use emv::tlv::{self, Tag, Tlv};
use hex_literal::hex;
use transcript::{Exchange, ScriptedCard};

const MASTERCARD: &str = include_str!("data/kernel/mastercard_mchip.txt");

fn request(amount: u64) -> TransactionRequest {
    TransactionRequest {
        amount,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: hex!("230301"),
        time: hex!("111009"),
        unpredictable_number: hex!("38393031"),
    }
}

/// CDOL1 of the card (record SFI 2 #1): 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 9F35 9F45 9F4C 9F34
/// 9F21 9F7C, 66 bytes, with the default terminal (country 276, type 22, floor limit 0).
fn expected_cdol1_data(amount_bcd: [u8; 6], tvr: [u8; 5], cvm_results: [u8; 3]) -> Vec<u8> {
    let mut data = Vec::new();
    data.extend_from_slice(&amount_bcd);
    data.extend_from_slice(&[0; 6]);
    data.extend_from_slice(&hex!("0276"));
    data.extend_from_slice(&tvr);
    data.extend_from_slice(&hex!("0978 230301 00 38393031 22"));
    data.extend_from_slice(&[0; 2 + 8]);
    data.extend_from_slice(&cvm_results);
    data.extend_from_slice(&hex!("111009"));
    data.extend_from_slice(&[0; 20]);
    assert_eq!(data.len(), 66);
    data
}

fn generate_ac_command(p1: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80, 0xAE, p1, 0x00, 66];
    out.extend_from_slice(data);
    out.push(0x00);
    out
}

fn template_77(objects: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let children = objects
        .iter()
        .map(|(t, v)| Tlv::primitive(Tag::new(*t), v.clone()).unwrap())
        .collect();
    let mut out = Tlv::constructed(Tag::new(0x77), children)
        .unwrap()
        .to_bytes()
        .unwrap();
    out.extend_from_slice(&hex!("9000"));
    out
}

const IAD: [u8; 18] = hex!("0110A00003220000000000000000000000FF");

/// The CDA answer: no cryptogram in the clear.
fn cda_response() -> Vec<u8> {
    template_77(&[
        (0x9F27, vec![0x80]),
        (0x9F36, hex!("0001").to_vec()),
        (0x9F4B, vec![0x5A; 128]),
        (0x9F10, IAD.to_vec()),
    ])
}

fn with_generate_ac(command: Vec<u8>, response: Vec<u8>) -> Vec<Exchange> {
    let mut exchanges = transcript::parse(MASTERCARD);
    exchanges.push(Exchange { command, response });
    exchanges
}

struct Recording {
    answer: Option<OdaResult>,
    seen: RefCell<Vec<Seen>>,
}

/// The CDA input: method, PDOL data, CDOL1 data, GENERATE AC response without 9F4B, CID,
/// static data.
struct Seen(OdaMethod, Vec<u8>, Vec<u8>, Vec<u8>, u8, Vec<u8>);

impl OfflineDataAuthenticator for Recording {
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult> {
        let cda = input.cda.unwrap();
        self.seen.borrow_mut().push(Seen(
            input.method,
            cda.pdol_data.to_vec(),
            cda.cdol1_data.to_vec(),
            cda.generate_ac_response_without_sdad.to_vec(),
            cda.cryptogram_information_data,
            input.static_data.to_vec(),
        ));
        self.answer.clone()
    }
}

fn run(
    exchanges: Vec<Exchange>,
    config: &TerminalConfig,
    oda: &dyn OfflineDataAuthenticator,
    amount: u64,
) -> kernel::Outcome {
    let mut card = ScriptedCard::new(exchanges);
    let outcome = kernel::run(&mut card, config, oda, request(amount), None).unwrap();
    assert!(
        card.script.is_empty(),
        "the whole transcript was used: {}",
        outcome.reason
    );
    outcome
}

#[test]
fn arqc_with_cda_recovers_the_cryptogram_for_de55() {
    let config = TerminalConfig::default_embedded().unwrap();
    // TVR: floor limit 0 exceeded (byte 4 b8). CVM list, below the CVM limit: rule 1F03.
    let cdol1 = expected_cdol1_data(hex!("000000001000"), hex!("0000008000"), hex!("1F0302"));
    let exchanges = with_generate_ac(generate_ac_command(0x90, &cdol1), cda_response());
    let oda = Recording {
        answer: Some(OdaResult {
            method: OdaMethod::Cda,
            status: Ok(()),
            recovered_cryptogram: Some(hex!("16AFBA13C52FB173")),
            recovered_dynamic_number: Some(hex!("4CC2FB1FAFB30915").to_vec()),
        }),
        seen: RefCell::new(Vec::new()),
    };
    let outcome = run(exchanges, &config, &oda, 1_000);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.kernel, Some(KernelId::Mastercard));
    assert_eq!(outcome.cvm, Cvm::NoCvm);
    assert_eq!(outcome.tvr, hex!("0000008000"));
    assert_eq!(
        outcome.card.cvm_list,
        Some(hex!("000000000000000042031E031F03").to_vec())
    );
    assert_eq!(
        outcome.card.masked_pan.as_ref().unwrap().as_str(),
        "537505******0110"
    );
    let seen = oda.seen.borrow();
    let Seen(method, pdol, cdol, without_sdad, cid, static_data) = &seen[0];
    assert_eq!(*method, OdaMethod::Cda);
    assert!(pdol.is_empty(), "no PDOL: GPO sent 83 00");
    assert_eq!(cdol, &cdol1);
    let mut expected = hex!("9F270180 9F36020001 9F1012").to_vec();
    expected.extend_from_slice(&IAD);
    assert_eq!(without_sdad, &expected);
    assert_eq!(*cid, 0x80);
    // AFL 08010100 10010101 20010200: only SFI 2 record 1 is signed (value of its 70), then
    // the AIP because 9F4A lists 82.
    assert_eq!(static_data.len(), 0xA6 + 2);
    assert_eq!(&static_data[..5], &hex!("9F42020978"));
    assert_eq!(&static_data[static_data.len() - 2..], &hex!("1980"));
    let online = outcome.online.unwrap();
    let de55 = tlv::parse(&online.icc_data).unwrap();
    let get = |tag: u32| {
        tlv::find(&de55, Tag::new(tag))
            .and_then(Tlv::bytes)
            .map(<[u8]>::to_vec)
    };
    assert_eq!(get(0x9F26), Some(hex!("16AFBA13C52FB173").to_vec()));
    assert_eq!(get(0x9F10), Some(IAD.to_vec()));
    assert_eq!(get(0x9F34), Some(hex!("1F0302").to_vec()));
    assert_eq!(get(0x9F66), None, "no TTQ for Kernel 2");
    assert_eq!(online.expiry_yymm, "2403");
}

#[test]
fn cda_not_performed_cannot_go_online() {
    let config = TerminalConfig::default_embedded().unwrap();
    let cdol1 = expected_cdol1_data(hex!("000000001000"), hex!("0000008000"), hex!("1F0302"));
    let exchanges = with_generate_ac(generate_ac_command(0x90, &cdol1), cda_response());
    let outcome = run(exchanges, &config, &NotPerformed, 1_000);
    assert_eq!(outcome.kind, OutcomeKind::Declined);
    assert_eq!(outcome.tvr[0], 0x80, "ODA not performed");
    assert!(
        outcome.reason.contains("CDA was not performed"),
        "{}",
        outcome.reason
    );
}

#[test]
fn cda_failure_sets_tvr_and_declines() {
    let config = TerminalConfig::default_embedded().unwrap();
    let cdol1 = expected_cdol1_data(hex!("000000001000"), hex!("0000008000"), hex!("1F0302"));
    let exchanges = with_generate_ac(generate_ac_command(0x90, &cdol1), cda_response());
    let oda = Recording {
        answer: Some(OdaResult {
            method: OdaMethod::Cda,
            status: Err(OdaFailure::Signature("hash")),
            recovered_cryptogram: None,
            recovered_dynamic_number: None,
        }),
        seen: RefCell::new(Vec::new()),
    };
    let outcome = run(exchanges, &config, &oda, 1_000);
    assert_eq!(outcome.kind, OutcomeKind::Declined);
    assert_eq!(outcome.tvr[0], 0x04, "CDA failed");
}

#[test]
fn terminal_without_cda_asks_plain_arqc_and_goes_online() {
    let config =
        TerminalConfig::from_user_toml("[terminal]\nterminal_capabilities = \"0068C0\"\n").unwrap();
    // ODA not performed (byte 1 b8) and floor limit exceeded.
    let cdol1 = expected_cdol1_data(hex!("000000001000"), hex!("8000008000"), hex!("1F0302"));
    let response = template_77(&[
        (0x9F27, vec![0x80]),
        (0x9F36, hex!("0001").to_vec()),
        (0x9F26, hex!("1122334455667788").to_vec()),
        (0x9F10, IAD.to_vec()),
    ]);
    let exchanges = with_generate_ac(generate_ac_command(0x80, &cdol1), response);
    let outcome = run(exchanges, &config, &NotPerformed, 1_000);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert!(outcome.oda.is_none());
    let online = outcome.online.unwrap();
    let de55 = tlv::parse(&online.icc_data).unwrap();
    assert_eq!(
        tlv::find(&de55, Tag::new(0x9F26)).and_then(Tlv::bytes),
        Some(&hex!("1122334455667788")[..])
    );
}

#[test]
fn above_the_cvm_limit_the_cvm_list_asks_online_pin() {
    let config = TerminalConfig::default_embedded().unwrap();
    // 60.00 ≥ 50.00: DF8118 (online PIN, signature) → rule 42 03; TVR byte 3 b3 online PIN.
    let cdol1 = expected_cdol1_data(hex!("000000006000"), hex!("0000048000"), hex!("420300"));
    let exchanges = with_generate_ac(generate_ac_command(0x90, &cdol1), cda_response());
    let oda = Recording {
        answer: Some(OdaResult {
            method: OdaMethod::Cda,
            status: Ok(()),
            recovered_cryptogram: Some([0x42; 8]),
            recovered_dynamic_number: None,
        }),
        seen: RefCell::new(Vec::new()),
    };
    let outcome = run(exchanges, &config, &oda, 6_000);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.cvm, Cvm::OnlinePin);
    assert_eq!(outcome.ui_message, UiMessage::EnterPin);
}

#[test]
fn aac_is_declined_and_gpo_error_selects_next() {
    let config = TerminalConfig::default_embedded().unwrap();
    let cdol1 = expected_cdol1_data(hex!("000000001000"), hex!("0000008000"), hex!("1F0302"));
    let response = template_77(&[
        (0x9F27, vec![0x00]),
        (0x9F36, hex!("0001").to_vec()),
        (0x9F26, hex!("1122334455667788").to_vec()),
        (0x9F10, IAD.to_vec()),
    ]);
    let exchanges = with_generate_ac(generate_ac_command(0x90, &cdol1), response);
    let outcome = run(exchanges, &config, &NotPerformed, 1_000);
    assert_eq!(outcome.kind, OutcomeKind::Declined);
    assert!(outcome.reason.contains("AAC"), "{}", outcome.reason);

    let mut exchanges = transcript::parse(MASTERCARD);
    exchanges.truncate(3);
    exchanges[2].response = hex!("6985").to_vec();
    let outcome = run(exchanges, &config, &NotPerformed, 1_000);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(
        outcome.reason.contains("GPO answered 6985"),
        "{}",
        outcome.reason
    );
}

#[test]
fn mag_stripe_only_card_ends_the_application() {
    let config = TerminalConfig::default_embedded().unwrap();
    let mut exchanges = transcript::parse(MASTERCARD);
    exchanges.truncate(3);
    // AIP byte 2 b8 cleared: mag-stripe mode only.
    exchanges[2].response = hex!("771282021900940c0801010010010101200102009000").to_vec();
    let outcome = run(exchanges, &config, &NotPerformed, 1_000);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("mag-stripe"), "{}", outcome.reason);
}

#[test]
fn generate_ac_torn_is_try_again() {
    let config = TerminalConfig::default_embedded().unwrap();
    let exchanges = transcript::parse(MASTERCARD);
    let mut card = ScriptedCard::new(exchanges);
    let outcome = kernel::run(&mut card, &config, &NotPerformed, request(1_000), None).unwrap();
    assert_eq!(outcome.kind, OutcomeKind::TryAgain);
    assert!(outcome.reason.contains("GENERATE AC"), "{}", outcome.reason);
}

#[test]
fn kernel_2_picks_the_limit_after_gpo() {
    // DF8124 20.00, DF8125 100.00: a 30.00 tap on a card without on-device CVM (AIP 1980) is
    // refused by Kernel 2 after GPO; pre-processing lets it through (below DF8125).
    let config = TerminalConfig::from_user_toml(
        "[[aid]]\naid = \"A0000000041010\"\ntransaction_limit = 2000\n\
         transaction_limit_on_device_cvm = 10000\n",
    )
    .unwrap();
    let mut exchanges = transcript::parse(MASTERCARD);
    exchanges.truncate(3);
    let outcome = run(exchanges, &config, &NotPerformed, 3_000);
    assert_eq!(
        outcome.kind,
        OutcomeKind::TryAnotherInterface,
        "{}",
        outcome.reason
    );
    assert!(outcome.reason.contains("DF8124"), "{}", outcome.reason);
}
