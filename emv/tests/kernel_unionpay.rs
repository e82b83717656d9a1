//! Kernel 7 (UnionPay qUICS) on APDU transcripts.
//!
//! No public UnionPay contactless trace was found, so the card side is built from the public
//! descriptions of Book C-7 (shared docs §2.1 "Kernel 7 differences": PDOL mandatory, fDDA
//! only, `9F69` byte 1 = fDDA version 01, qPBOC TTQ layout) with the PPSE/FCI/GPO layout of the
//! real Visa trace. The PAN `6212345678901232` is made up (Luhn-valid, UnionPay BIN range).

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "kernel_support/transcript.rs"]
mod transcript;

use std::cell::RefCell;

use emv::config::TerminalConfig;
use emv::kernel::{self, Cvm, KernelId, OutcomeKind, TransactionRequest};
use emv::oda::{NotPerformed, OdaInput, OdaResult, OfflineDataAuthenticator};
use emv::tlv::{self, Tag, Tlv};
use hex_literal::hex;
use transcript::{Exchange, ScriptedCard};

const AID: [u8; 8] = hex!("A000000333010102");
const PDOL: &[u8] = &hex!("9F66049F02069F03069F1A0295055F2A029A039C019F3704");

fn tlv(tag: u32, value: &[u8]) -> Tlv {
    Tlv::primitive(Tag::new(tag), value.to_vec()).unwrap()
}

fn tpl(tag: u32, children: Vec<Tlv>) -> Tlv {
    Tlv::constructed(Tag::new(tag), children).unwrap()
}

fn ok(object: &Tlv) -> Vec<u8> {
    let mut out = object.to_bytes().unwrap();
    out.extend_from_slice(&hex!("9000"));
    out
}

fn ppse() -> Vec<u8> {
    ok(&tpl(
        0x6F,
        vec![
            tlv(0x84, b"2PAY.SYS.DDF01"),
            tpl(
                0xA5,
                vec![tpl(
                    0xBF0C,
                    vec![tpl(
                        0x61,
                        vec![
                            tlv(0x4F, &AID),
                            tlv(0x50, b"UnionPay Credit"),
                            tlv(0x87, &[1]),
                        ],
                    )],
                )],
            ),
        ],
    ))
}

fn fci(with_pdol: bool) -> Vec<u8> {
    let mut a5 = vec![tlv(0x50, b"UnionPay Credit")];
    if with_pdol {
        a5.push(tlv(0x9F38, PDOL));
    }
    ok(&tpl(0x6F, vec![tlv(0x84, &AID), tpl(0xA5, a5)]))
}

fn gpo(cid: u8) -> Vec<u8> {
    ok(&tpl(
        0x77,
        vec![
            tlv(0x82, &hex!("2000")),
            tlv(0x94, &hex!("18010100")),
            tlv(0x57, &hex!("6212345678901232D30122010000000000000F")),
            tlv(0x5F34, &[0x01]),
            tlv(0x9F10, &hex!("07010103A00000010A0100000000005ADAC7E1")),
            tlv(0x9F26, &hex!("0102030405060708")),
            tlv(0x9F27, &[cid]),
            tlv(0x9F36, &hex!("0021")),
            tlv(0x9F4B, &[0x77; 112]),
            tlv(0x9F6C, &hex!("2000")),
        ],
    ))
}

fn record(fdda_version: u8) -> Vec<u8> {
    ok(&tpl(
        0x70,
        vec![
            tlv(0x8F, &[0x0B]),
            tlv(0x5A, &hex!("6212345678901232")),
            tlv(0x5F24, &hex!("301231")),
            tlv(0x9F69, &[fdda_version, 0x11, 0x22, 0x33, 0x44, 0x20, 0x00]),
        ],
    ))
}

/// GPO data per the PDOL: TTQ 27000080 with byte 2 b8 set (floor limit 0 exceeded), 10.00 EUR,
/// country 0276, currency 0978, 230301, purchase, UN 38393031.
fn gpo_command() -> Vec<u8> {
    hex!(
        "80A8000023 8321 27800080 000000001000 000000000000 0276 0000000000 0978 230301 00
         38393031 00"
    )
    .to_vec()
}

fn transcript(cid: u8, fdda_version: u8) -> Vec<Exchange> {
    vec![
        Exchange {
            command: hex!("00A404000E325041592E5359532E444446303100").to_vec(),
            response: ppse(),
        },
        Exchange {
            command: hex!("00A4040008A00000033301010200").to_vec(),
            response: fci(true),
        },
        Exchange {
            command: gpo_command(),
            response: gpo(cid),
        },
        Exchange {
            command: hex!("00B2011C00").to_vec(),
            response: record(fdda_version),
        },
    ]
}

fn request() -> TransactionRequest {
    TransactionRequest {
        amount: 1_000,
        amount_other: 0,
        currency_code: 978,
        transaction_type: 0x00,
        date: hex!("230301"),
        time: hex!("120000"),
        unpredictable_number: hex!("38393031"),
    }
}

struct Counting {
    calls: RefCell<usize>,
    pass: bool,
}

impl OfflineDataAuthenticator for Counting {
    fn authenticate(&self, input: &OdaInput<'_>) -> Option<OdaResult> {
        *self.calls.borrow_mut() += 1;
        Some(OdaResult {
            method: input.method,
            status: if self.pass {
                Ok(())
            } else {
                Err(emv::oda::OdaFailure::Signature("test"))
            },
            recovered_cryptogram: None,
            recovered_dynamic_number: None,
        })
    }
}

fn run(exchanges: Vec<Exchange>, oda: &dyn OfflineDataAuthenticator) -> kernel::Outcome {
    let config = TerminalConfig::default_embedded().unwrap();
    let mut card = ScriptedCard::new(exchanges);
    kernel::run(&mut card, &config, oda, request(), None).unwrap()
}

#[test]
fn arqc_goes_online_with_the_qpboc_ttq() {
    let outcome = run(transcript(0x80, 0x01), &NotPerformed);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
    assert_eq!(outcome.kernel, Some(KernelId::UnionPay));
    assert_eq!(outcome.cvm, Cvm::NoCvm);
    assert_eq!(
        outcome.card.masked_pan.as_ref().unwrap().as_str(),
        "621234******1232"
    );
    let online = outcome.online.unwrap();
    assert_eq!(online.pan_sequence_number, Some(1));
    let de55 = tlv::parse(&online.icc_data).unwrap();
    assert_eq!(
        tlv::find(&de55, Tag::new(0x9F66)).and_then(Tlv::bytes),
        Some(&hex!("27800080")[..])
    );
}

#[test]
fn offline_tc_needs_fdda() {
    let oda = Counting {
        calls: RefCell::new(0),
        pass: true,
    };
    let outcome = run(transcript(0x40, 0x01), &oda);
    assert_eq!(outcome.kind, OutcomeKind::Approved, "{}", outcome.reason);
    assert_eq!(*oda.calls.borrow(), 1);

    // 9F69 byte 1 = 00: fDDA fails without asking the authenticator; CTQ 2000: go online.
    let oda = Counting {
        calls: RefCell::new(0),
        pass: true,
    };
    let outcome = run(transcript(0x40, 0x00), &oda);
    assert_eq!(*oda.calls.borrow(), 0);
    assert_eq!(outcome.tvr[0], 0x08);
    assert_eq!(
        outcome.kind,
        OutcomeKind::OnlineRequest,
        "{}",
        outcome.reason
    );
}

#[test]
fn fci_without_pdol_is_not_usable_by_kernel_7() {
    let mut exchanges = transcript(0x80, 0x01);
    exchanges[1].response = fci(false);
    exchanges.truncate(2);
    let outcome = run(exchanges, &NotPerformed);
    assert_eq!(outcome.kind, OutcomeKind::EndApplication);
    assert!(outcome.reason.contains("PDOL"), "{}", outcome.reason);
}
