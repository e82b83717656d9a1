//! Kernel 3 (Visa qVSDC) on APDU transcripts.
//!
//! Golden input: the real Lloyds Visa Debit trace in `tests/data/kernel/visa_lloyds_qvsdc.txt`
//! (MichaelsPlayground/AndroidCrypto, "APDU Commands and Responses for a Visa Card (here:
//! Lloyds Bank)"; a deactivated card). The terminal is configured as the recording terminal was
//! (TTQ 27000000, country and currency 0978, date 230301, UN 38393031), so every command must
//! match the recorded bytes. Variants (other CIDs, CTQs, status words, malformed records) are
//! built from that trace by editing the GPO or a record, as EMV Book C-3 describes them; each
//! test says which object it changed.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "kernel_support/transcript.rs"]
mod transcript;

use std::cell::RefCell;

use emv::apdu::StatusWord;
use emv::config::TerminalConfig;
use emv::kernel::{
    self, Cvm, KernelId, OutcomeKind, Start, TraceEvent, TransactionRequest, UiMessage,
};
use emv::oda::{
    NotPerformed, OdaFailure, OdaInput, OdaMethod, OdaResult, OfflineDataAuthenticator,
};
use emv::tlv::{self, Tag, Tlv};
use emv::transport::TransportError;
use hex_literal::hex;
use transcript::{Exchange, ScriptedCard, replace_response};

const LLOYDS: &str = include_str!("data/kernel/visa_lloyds_qvsdc.txt");

/// The Lloyds GPO response objects (inside `77`), in card order.
fn lloyds_gpo_objects() -> Vec<(u32, Vec<u8>)> {
    vec![
        (0x82, hex!("2000").to_vec()),
        (0x94, hex!("10030600").to_vec()),
        (
            0x57,
            hex!("4921828094896752D25022013650000000000F").to_vec(),
        ),
        (0x9F10, hex!("06040A03A02000").to_vec()),
        (0x9F26, hex!("569F946D585CB013").to_vec()),
        (0x9F27, hex!("80").to_vec()),
        (0x9F36, hex!("03A4").to_vec()),
        (0x9F4B, vec![0xAB; 128]),
        (0x9F6C, hex!("1600").to_vec()),
    ]
}

fn template(tag: u32, objects: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let children = objects
        .iter()
        .map(|(t, v)| Tlv::primitive(Tag::new(*t), v.clone()).unwrap())
        .collect();
    let mut out = Tlv::constructed(Tag::new(tag), children)
        .unwrap()
        .to_bytes()
        .unwrap();
    out.extend_from_slice(&hex!("9000"));
    out
}

fn gpo_with(change: impl FnOnce(&mut Vec<(u32, Vec<u8>)>)) -> Vec<u8> {
    let mut objects = lloyds_gpo_objects();
    change(&mut objects);
    template(0x77, &objects)
}

fn set(objects: &mut [(u32, Vec<u8>)], tag: u32, value: &[u8]) {
    objects.iter_mut().find(|(t, _)| *t == tag).unwrap().1 = value.to_vec();
}

/// The recording terminal: TTQ 27000000, country = currency = 0978, no floor limit reached.
fn lloyds_terminal() -> TerminalConfig {
    TerminalConfig::from_user_toml(
        r#"
        [terminal]
        country_code = 978
        [[aid]]
        aid = "A0000000031010"
        ttq = "27000000"
        floor_limit = 100000
        "#,
    )
    .unwrap()
}

fn lloyds_request() -> TransactionRequest {
    TransactionRequest {
        amount: 1_000,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: hex!("230301"),
        time: hex!("111009"),
        unpredictable_number: hex!("38393031"),
    }
}

fn run_with(
    exchanges: Vec<Exchange>,
    oda: &dyn OfflineDataAuthenticator,
) -> (kernel::Outcome, ScriptedCard) {
    let config = lloyds_terminal();
    let mut card = ScriptedCard::new(exchanges);
    let outcome = kernel::run(&mut card, &config, oda, lloyds_request(), None).unwrap();
    (outcome, card)
}

/// An authenticator that records its input and answers a fixed result.
struct Recording {
    answer: Option<Result<(), OdaFailure>>,
    seen: RefCell<Vec<Seen>>,
}

/// What the authenticator was given: method, static data, terminal dynamic data, CA key index.
struct Seen(OdaMethod, Vec<u8>, Vec<u8>, Option<u8>);

impl OfflineDataAuthenticator for Recording {
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult> {
        self.seen.borrow_mut().push(Seen(
            input.method,
            input.static_data.to_vec(),
            input.terminal_dynamic_data.to_vec(),
            input.ca_public_key_index,
        ));
        self.answer.clone().map(|status| OdaResult {
            method: input.method,
            status,
            recovered_cryptogram: None,
            recovered_dynamic_number: None,
        })
    }
}

#[test]
fn lloyds_trace_gives_an_online_request_with_de55() {
    let exchanges = transcript::parse(LLOYDS);
    let (outcome, card) = run_with(exchanges.clone(), &NotPerformed);
    assert_eq!(
        card.sent.len(),
        exchanges.len(),
        "every recorded command was sent"
    );
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.kernel, Some(KernelId::Visa));
    assert_eq!(outcome.cvm, Cvm::NoCvm);
    assert_eq!(outcome.ui_message, UiMessage::Authorising);
    // fDDA was wanted (TTQ byte 1 b1) but not performed: TVR byte 1 b8.
    assert_eq!(outcome.tvr, hex!("8000000000"));
    assert_eq!(
        outcome.card.masked_pan.as_ref().unwrap().as_str(),
        "492182******6752"
    );
    assert_eq!(outcome.card.expiry_yymm.as_deref(), Some("2502"));
    assert_eq!(outcome.card.label.as_deref(), Some("VISA DEBIT"));
    assert_eq!(outcome.card.aip, Some(hex!("2000")));
    assert_eq!(outcome.card.records.len(), 6, "FCI, GPO and four records");
    let online = outcome.online.as_ref().unwrap();
    assert_eq!(online.pan.expose_digits(), "4921828094896752");
    assert_eq!(online.expiry_yymm, "2502");
    assert_eq!(online.pan_sequence_number, Some(0));
    let de55 = tlv::parse(&online.icc_data).unwrap();
    let get = |tag: u32| {
        tlv::find(&de55, Tag::new(tag))
            .and_then(Tlv::bytes)
            .map(<[u8]>::to_vec)
    };
    assert_eq!(get(0x9F26), Some(hex!("569F946D585CB013").to_vec()));
    assert_eq!(get(0x9F27), Some(vec![0x80]));
    assert_eq!(get(0x9F10), Some(hex!("06040A03A02000").to_vec()));
    assert_eq!(get(0x9F36), Some(hex!("03A4").to_vec()));
    assert_eq!(get(0x9F37), Some(hex!("38393031").to_vec()));
    assert_eq!(get(0x9F02), Some(hex!("000000001000").to_vec()));
    assert_eq!(get(0x95), Some(hex!("8000000000").to_vec()));
    assert_eq!(get(0x82), Some(hex!("2000").to_vec()));
    assert_eq!(get(0x84), Some(hex!("A0000000031010").to_vec()));
    assert_eq!(get(0x9F34), Some(hex!("1F0002").to_vec()));
    assert_eq!(get(0x9F66), Some(hex!("27000000").to_vec()));
    assert_eq!(get(0x5A), None, "no PAN in DE 55");
    assert_eq!(get(0x57), None, "no track 2 in DE 55");
    let with_counter = online.icc_data_with_sequence_counter(1_234);
    assert!(with_counter.ends_with(&hex!("9F410400001234")));
    assert!(!format!("{outcome:?}").contains("4921828094896752"));
}

#[test]
fn fdda_input_is_built_from_the_trace() {
    let oda = Recording {
        answer: Some(Ok(())),
        seen: RefCell::new(Vec::new()),
    };
    let (outcome, _) = run_with(transcript::parse(LLOYDS), &oda);
    let seen = oda.seen.borrow();
    assert_eq!(seen.len(), 1);
    let Seen(method, static_data, dynamic, index) = &seen[0];
    assert_eq!(*method, OdaMethod::Fdda);
    // AFL 10 03 06 00: no record is signed, and 9F4A is absent.
    assert!(static_data.is_empty());
    // 9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69 (shared docs §3, fDDA).
    assert_eq!(
        dynamic.as_slice(),
        hex!("38393031 000000001000 0978 01B4CBA8D61600")
    );
    assert_eq!(*index, Some(0x09));
    assert_eq!(outcome.tvr, [0; 5], "fDDA passed: TVR clean");
    assert!(outcome.oda.as_ref().is_some_and(OdaResult::passed));
}

#[test]
fn fdda_failure_on_arqc_is_noted_and_still_goes_online() {
    let oda = Recording {
        answer: Some(Err(OdaFailure::Signature("hash"))),
        seen: RefCell::new(Vec::new()),
    };
    let (outcome, _) = run_with(transcript::parse(LLOYDS), &oda);
    assert_eq!(outcome.kind, OutcomeKind::OnlineRequest);
    assert_eq!(outcome.tvr[0], 0x08, "DDA failed");
    assert!(outcome.reason.contains("fDDA failed"), "{}", outcome.reason);
}

fn lloyds_with_gpo(gpo: Vec<u8>) -> Vec<Exchange> {
    let mut exchanges = transcript::parse(LLOYDS);
    replace_response(&mut exchanges, &hex!("80A8"), gpo);
    exchanges
}

#[test]
fn offline_tc_with_fdda_passed_is_approved() {
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F27, &[0x40])));
    let oda = Recording {
        answer: Some(Ok(())),
        seen: RefCell::new(Vec::new()),
    };
    let (outcome, _) = run_with(exchanges, &oda);
    assert_eq!(outcome.kind, OutcomeKind::Approved, "{}", outcome.reason);
    assert_eq!(outcome.ui_message, UiMessage::Approved);
    assert!(outcome.online.is_none());
}

#[test]
fn offline_tc_without_oda_follows_the_ctq() {
    // CTQ 1600: switch interface if ODA fails.
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F27, &[0x40])));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(
        outcome.kind,
        OutcomeKind::TryAnotherInterface,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.tvr[0], 0x80);
    // CTQ 2000: go online if ODA fails.
    let exchanges = lloyds_with_gpo(gpo_with(|o| {
        set(o, 0x9F27, &[0x40]);
        set(o, 0x9F6C, &hex!("2000"));
    }));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    // CTQ 0000: decline.
    let exchanges = lloyds_with_gpo(gpo_with(|o| {
        set(o, 0x9F27, &[0x40]);
        set(o, 0x9F6C, &hex!("0000"));
    }));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::Declined, "{}", outcome.reason);
}

#[test]
fn aac_is_declined() {
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F27, &[0x00])));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::Declined);
    assert_eq!(outcome.ui_message, UiMessage::NotAuthorised);
}

#[test]
fn ctq_cvms_are_honoured() {
    // CTQ byte 2 b8: consumer device CVM performed (phone wallet).
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F6C, &hex!("1680"))));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.cvm, Cvm::ConsumerDevice);
    // CTQ byte 1 b8: online PIN required (TTQ 27 supports it).
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F6C, &hex!("9600"))));
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.cvm, Cvm::OnlinePin);
    assert_eq!(outcome.ui_message, UiMessage::EnterPin);
    assert_eq!(outcome.online.unwrap().cvm_results, hex!("020000"));
}

#[test]
fn gpo_status_words_map_to_outcomes() {
    let (outcome, _) = run_with(lloyds_with_gpo(hex!("6984").to_vec()), &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::TryAnotherInterface);
    let (outcome, _) = run_with(lloyds_with_gpo(hex!("6986").to_vec()), &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::TryAgain);
    assert_eq!(outcome.ui_message, UiMessage::SeePhone);
    assert_eq!(outcome.restart, Some(Start::B));
    // 6985: Select Next; the only candidate is gone, so End Application.
    let (outcome, _) = run_with(lloyds_with_gpo(hex!("6985").to_vec()), &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("6985"), "{}", outcome.reason);
}

#[test]
fn card_removed_after_gpo_is_try_again() {
    let mut exchanges = transcript::parse(LLOYDS);
    exchanges.truncate(3);
    let config = lloyds_terminal();
    let mut card = ScriptedCard::new(exchanges);
    card.script
        .push_back(transcript::Step::Fail(TransportError::CardRemoved));
    let outcome = kernel::run(&mut card, &config, &NotPerformed, lloyds_request(), None).unwrap();
    assert_eq!(outcome.kind, OutcomeKind::TryAgain);
    assert_eq!(outcome.restart, Some(Start::B));
    assert!(outcome.reason.contains("READ RECORD"), "{}", outcome.reason);
    assert!(outcome.reason.contains("removed"), "{}", outcome.reason);
}

#[test]
fn duplicate_track2_in_a_record_ends_the_application() {
    let mut exchanges = transcript::parse(LLOYDS);
    let record = template(
        0x70,
        &[
            (0x9F47, vec![0x03]),
            (
                0x57,
                hex!("4921828094896752D25022013650000000000F").to_vec(),
            ),
            (0x5F24, hex!("250228").to_vec()),
        ],
    );
    replace_response(&mut exchanges, &hex!("00B2061400"), record);
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("57 twice"), "{}", outcome.reason);
    assert_eq!(outcome.kernel, Some(KernelId::Visa));
    assert_eq!(
        outcome.card.label.as_deref(),
        Some("VISA DEBIT"),
        "what was read is kept"
    );
    assert!(outcome.online.is_none());
}

#[test]
fn pan_mismatch_and_missing_expiry_end_the_application() {
    let mut exchanges = transcript::parse(LLOYDS);
    // 5A with another (Luhn-valid) PAN than track 2.
    let record = template(
        0x70,
        &[
            (0x5A, hex!("4111111111111111").to_vec()),
            (0x5F24, hex!("250228").to_vec()),
        ],
    );
    replace_response(&mut exchanges, &hex!("00B2061400"), record);
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("differ"), "{}", outcome.reason);

    let mut exchanges = transcript::parse(LLOYDS);
    let record = template(0x70, &[(0x5A, hex!("4921828094896752").to_vec())]);
    replace_response(&mut exchanges, &hex!("00B2061400"), record);
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("5F24"), "{}", outcome.reason);
}

#[test]
fn malformed_and_oversized_responses_end_cleanly() {
    let mut exchanges = transcript::parse(LLOYDS);
    replace_response(
        &mut exchanges,
        &hex!("00B2041400"),
        hex!("5A84FFFFFFFF9000").to_vec(),
    );
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("malformed"), "{}", outcome.reason);

    let mut exchanges = transcript::parse(LLOYDS);
    let mut big = vec![0x70, 0x82, 0x01, 0x2A];
    big.extend(std::iter::repeat_n(0u8, 298));
    big.extend_from_slice(&hex!("9000"));
    replace_response(&mut exchanges, &hex!("00B2041400"), big);
    let (outcome, _) = run_with(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("at most 256"), "{}", outcome.reason);
}

#[test]
fn trace_is_decoded_and_redacted() {
    let config = lloyds_terminal();
    let mut card = ScriptedCard::new(transcript::parse(LLOYDS));
    let mut events = Vec::new();
    let mut hook = |event: TraceEvent| events.push(event);
    let outcome = kernel::run(
        &mut card,
        &config,
        &NotPerformed,
        lloyds_request(),
        Some(&mut hook),
    )
    .unwrap();
    assert_eq!(outcome.kind, OutcomeKind::OnlineRequest);
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    assert!(
        text.contains("Application Cryptogram: 569F946D585CB013"),
        "{text}"
    );
    assert!(text.contains("Track 2 Equivalent Data: REDACTED"), "{text}");
    assert!(text.contains("492182******6752"), "{text}");
    assert!(!text.contains("4921828094896752"), "{text}");
    assert!(!text.to_lowercase().contains("4921828094896752"), "{text}");
    let commands = events
        .iter()
        .filter(|e| matches!(e, TraceEvent::Command { .. }))
        .count();
    let responses = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraceEvent::Response {
                    status: StatusWord::Success,
                    ..
                }
            )
        })
        .count();
    assert_eq!((commands, responses), (7, 7));
}

#[test]
fn expired_card_offline_follows_the_ctq() {
    // The same tap on 2026-01-01: the card expired 2025-02-28 (5F24). The GPO command carries
    // the date (9A in the PDOL), so the expected command changes with it.
    let run_on = |gpo: Vec<u8>| {
        let mut exchanges = lloyds_with_gpo(gpo);
        let gpo_command = exchanges
            .iter_mut()
            .find(|e| e.command.starts_with(&hex!("80A8")));
        let command = &mut gpo_command.unwrap().command;
        let at = command
            .windows(3)
            .position(|w| w == hex!("230301"))
            .unwrap();
        command[at..at + 3].copy_from_slice(&hex!("260101"));
        let config = lloyds_terminal();
        let mut card = ScriptedCard::new(exchanges);
        let mut request = lloyds_request();
        request.date = hex!("260101");
        let oda = Recording {
            answer: Some(Ok(())),
            seen: RefCell::new(Vec::new()),
        };
        kernel::run(&mut card, &config, &oda, request, None).unwrap()
    };
    // CTQ 1600 has no "go online if expired": an offline TC is declined.
    let outcome = run_on(gpo_with(|o| set(o, 0x9F27, &[0x40])));
    assert_eq!(outcome.kind, OutcomeKind::Declined, "{}", outcome.reason);
    assert_eq!(outcome.tvr[1], 0x40, "expired application");
    // CTQ 0800: go online if expired.
    let outcome = run_on(gpo_with(|o| {
        set(o, 0x9F27, &[0x40]);
        set(o, 0x9F6C, &hex!("0800"));
    }));
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    // An ARQC goes online anyway, with the TVR bit for the issuer.
    let outcome = run_on(gpo_with(|_| {}));
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.tvr[1], 0x40);
}

/// The Lloyds terminal with Issuer Update Processing offered (TTQ byte 3 b8: `27008000`),
/// and the transcript's GPO command changed to carry that TTQ in its PDOL data.
fn issuer_update_run(ctq: [u8; 2]) -> kernel::Outcome {
    let mut exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F6C, &ctq)));
    let gpo = exchanges
        .iter_mut()
        .find(|e| e.command.starts_with(&hex!("80A8")))
        .unwrap();
    let at = gpo
        .command
        .windows(4)
        .position(|w| w == hex!("27000000"))
        .unwrap();
    gpo.command[at..at + 4].copy_from_slice(&hex!("27008000"));
    let config = TerminalConfig::from_user_toml(
        r#"
        [terminal]
        country_code = 978
        [[aid]]
        aid = "A0000000031010"
        ttq = "27008000"
        floor_limit = 100000
        "#,
    )
    .unwrap();
    let mut card = ScriptedCard::new(exchanges);
    kernel::run(&mut card, &config, &NotPerformed, lloyds_request(), None).unwrap()
}

/// A 0110's DE 55 as `docs/iso8583.md` §4 describes it: `91` ARPC method 1 (8-byte ARPC ‖
/// ARC `3030`, EMV Book 2 §8.2.1) and a `72` script (EMV Book 3 §10.10) with an identifier and
/// one APPLICATION BLOCK command (`84 1E 00 00 04` ‖ 4-byte MAC, EMV Book 3 §6.5.1).
const ISSUER_DE55: [u8; 32] =
    hex!("910A 1A2B3C4D5E6F7081 3030 7212 9F1804 00000001 8609 841E000004 11223344");

#[test]
fn offline_tc_carries_the_advice_data_with_the_tc() {
    let exchanges = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F27, &[0x40])));
    let oda = Recording {
        answer: Some(Ok(())),
        seen: RefCell::new(Vec::new()),
    };
    let (outcome, _) = run_with(exchanges, &oda);
    assert_eq!(outcome.kind, OutcomeKind::Approved, "{}", outcome.reason);
    assert!(outcome.online.is_none());
    let advice = outcome.advice.as_ref().expect("advice data with a TC");
    assert_eq!(advice.cryptogram_type, kernel::CryptogramType::Tc);
    assert_eq!(advice.pan.expose_digits(), "4921828094896752");
    assert_eq!(advice.masked_pan.as_str(), "492182******6752");
    assert_eq!(advice.expiry_yymm, "2502");
    let de55 = tlv::parse(&advice.icc_data).unwrap();
    let get = |tag: u32| tlv::find(&de55, Tag::new(tag)).and_then(Tlv::bytes);
    assert_eq!(get(0x9F27), Some(&[0x40][..]));
    assert_eq!(get(0x9F26), Some(&hex!("569F946D585CB013")[..]));
    // DE 55 never holds the PAN or track 2.
    assert!(get(0x5A).is_none() && get(0x57).is_none());
}

#[test]
fn declined_and_online_outcomes_carry_no_advice_data() {
    let aac = lloyds_with_gpo(gpo_with(|o| set(o, 0x9F27, &[0x00])));
    let (outcome, _) = run_with(aac, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::Declined, "{}", outcome.reason);
    assert!(outcome.advice.is_none() && outcome.online.is_none());
    let (outcome, _) = run_with(transcript::parse(LLOYDS), &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::OnlineRequest);
    assert!(outcome.advice.is_none());
}

#[test]
fn issuer_response_parses_arpc_and_scripts() {
    let response = kernel::IssuerResponse::parse(&ISSUER_DE55).unwrap();
    assert_eq!(
        response.authentication_data.as_deref(),
        Some(&hex!("1A2B3C4D5E6F70813030")[..])
    );
    assert_eq!(response.arpc(), Some(&hex!("1A2B3C4D5E6F7081")[..]));
    assert_eq!(response.scripts.len(), 1);
    let script = &response.scripts[0];
    assert_eq!(
        script.template,
        kernel::ScriptTemplate::AfterFinalGenerateAc
    );
    assert_eq!(script.identifier, Some(hex!("00000001")));
    assert_eq!(script.commands, vec![hex!("841E00000411223344").to_vec()]);
    // Method 2 (EMV Book 2 §8.2.2): ARPC (4) ‖ CSU (4).
    let method2 = kernel::IssuerResponse::parse(&hex!("9108 A1B2C3D4 00820000")).unwrap();
    assert_eq!(method2.arpc(), Some(&hex!("A1B2C3D4")[..]));
    assert!(method2.scripts.is_empty());
    // Echoed request tags are skipped; an empty DE 55 is an empty response.
    let echoed = kernel::IssuerResponse::parse(&hex!("9F2701 80 910A 00112233445566773030"));
    assert!(echoed.unwrap().authentication_data.is_some());
    assert!(kernel::IssuerResponse::parse(&[]).unwrap().is_empty());
}

#[test]
fn malformed_issuer_responses_are_refused_with_the_reason() {
    use kernel::IssuerResponseError as E;
    let parse = |bytes: &[u8]| kernel::IssuerResponse::parse(bytes).unwrap_err();
    assert_eq!(
        parse(&hex!("9107 00112233445566")),
        E::AuthenticationDataLength(7)
    );
    assert_eq!(
        parse(&hex!("9111 0011223344556677889900112233445566")),
        E::AuthenticationDataLength(17)
    );
    assert_eq!(
        parse(&hex!("910A 00112233445566773030 910A 00112233445566773030")),
        E::DuplicateAuthenticationData
    );
    assert_eq!(
        parse(&hex!("7205 9F1802 0001")),
        E::ScriptIdentifierLength(2)
    );
    assert_eq!(parse(&hex!("7205 8603 841E00")), E::ScriptCommandLength(3));
    assert!(matches!(parse(&hex!("910A 0011")), E::Tlv(_)), "truncated");
}

#[test]
fn issuer_update_needs_a_second_tap_only_when_card_and_terminal_support_it() {
    let response = kernel::IssuerResponse::parse(&ISSUER_DE55).unwrap();
    let empty = kernel::IssuerResponse::parse(&[]).unwrap();
    // TTQ 27008000 and CTQ 1640 (byte 2 b7: the card supports Issuer Update).
    let both = issuer_update_run(hex!("1640"));
    let online = both.online.as_ref().expect("online request");
    assert!(online.issuer_update_supported);
    assert_eq!(response.update_for(online), kernel::IssuerUpdate::SecondTap);
    assert_eq!(
        empty.update_for(online),
        kernel::IssuerUpdate::NothingReturned
    );
    // The card does not support it (CTQ 1600): recorded, not sent to the card.
    let card_without = issuer_update_run(hex!("1600"));
    let online = card_without.online.as_ref().unwrap();
    assert!(!online.issuer_update_supported);
    assert_eq!(
        response.update_for(online),
        kernel::IssuerUpdate::NotForThisCard
    );
    // The terminal does not offer it (the recorded TTQ 27000000), even with CTQ 1640.
    let (terminal_without, _) = run_with(
        lloyds_with_gpo(gpo_with(|o| set(o, 0x9F6C, &hex!("1640")))),
        &NotPerformed,
    );
    let online = terminal_without.online.as_ref().unwrap();
    assert!(!online.issuer_update_supported);
    assert_eq!(
        response.update_for(online),
        kernel::IssuerUpdate::NotForThisCard
    );
}
