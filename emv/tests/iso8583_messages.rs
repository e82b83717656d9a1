//! Every request builder of `emv::iso8583::messages` through the codec and back, with the
//! fields `docs/iso8583.md` §4 lists for its message type.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::iso8583::messages::{
    self, CardData, Original, PinData, Terminal, account_verification, completion, financial,
    network, reconciliation, reversal, void,
};
use emv::iso8583::{BatchTotals, Message, Mti, decode_frame};

const TRANSMISSION: &str = "1122334455";
const PAN: &str = "4761739001010119";
const TERMINAL: Terminal<'static> = Terminal {
    terminal_id: "T0000001",
    merchant_id: "MERCHANT1",
    currency: 978,
};

fn round_trip(m: &Message) -> Message {
    let decoded = Message::decode(&m.encode().unwrap()).unwrap();
    assert_eq!(&decoded, m);
    assert_eq!(&decode_frame(&m.encode_frame().unwrap()).unwrap(), m);
    decoded
}

fn card() -> CardData<'static> {
    CardData {
        pan: PAN,
        entry_mode: messages::POS_ENTRY_CONTACTLESS_CHIP,
        expiry_yymm: Some("2812"),
        pan_sequence_number: Some(0x01),
        track2: Some("4761739001010119D28122011758928889"),
        icc_data: Some(&[0x9F, 0x26, 0x02, 0x01, 0x02]),
    }
}

fn purchase() -> Message {
    financial(
        &TERMINAL,
        Mti::FINANCIAL_REQUEST,
        messages::PROCESSING_PURCHASE,
        12_345,
        7,
        TRANSMISSION,
        &card(),
        None,
    )
}

#[test]
fn financial_request_with_chip_data_and_pin() {
    let pin = PinData {
        pin_block: &[0x11; 16],
        ksn: &[0x22; 12],
    };
    let m = financial(
        &TERMINAL,
        Mti::AUTHORIZATION_REQUEST,
        messages::PROCESSING_PURCHASE,
        100,
        1,
        TRANSMISSION,
        &card(),
        Some(&pin),
    );
    let d = round_trip(&m);
    assert_eq!(d.mti(), Mti::AUTHORIZATION_REQUEST);
    assert_eq!(d.text(2), Some(PAN));
    assert_eq!(d.text(4), Some("000000000100"));
    assert_eq!(d.text(11), Some("000001"));
    assert_eq!(d.text(12), Some("334455"));
    assert_eq!(d.text(13), Some("1122"));
    assert_eq!(d.text(14), Some("2812"));
    assert_eq!(d.text(22), Some("071"));
    assert_eq!(d.text(23), Some("001"));
    assert_eq!(d.text(42), Some("MERCHANT1      "));
    assert_eq!(d.text(49), Some("978"));
    assert_eq!(d.field(55), Some(&[0x9F, 0x26, 0x02, 0x01, 0x02][..]));
    assert_eq!(d.field(62), Some(&[0x11; 16][..]));
    assert_eq!(d.field(63), Some(&[0x22; 12][..]));
}

#[test]
fn an_advice_repeat_and_a_bare_purchase_leave_out_what_they_lack() {
    let bare = CardData {
        pan: PAN,
        entry_mode: messages::POS_ENTRY_CONTACTLESS_CHIP,
        expiry_yymm: Some("28"),
        ..CardData::default()
    };
    let m = financial(
        &TERMINAL,
        Mti::FINANCIAL_ADVICE_REPEAT,
        messages::PROCESSING_PURCHASE,
        5,
        2,
        TRANSMISSION,
        &bare,
        None,
    );
    let d = round_trip(&m);
    assert_eq!(d.mti(), Mti::FINANCIAL_ADVICE_REPEAT);
    for absent in [14, 23, 35, 55, 62, 63] {
        assert!(!d.has(absent), "DE {absent}");
    }
}

#[test]
fn account_verification_is_a_zero_amount_0100_with_condition_51() {
    let d = round_trip(&account_verification(
        &TERMINAL,
        5,
        TRANSMISSION,
        &card(),
        None,
    ));
    assert_eq!(d.mti(), Mti::AUTHORIZATION_REQUEST);
    assert_eq!(d.text(3), Some("000000"));
    assert_eq!(d.text(4), Some("000000000000"));
    assert_eq!(d.text(25), Some("51"));
}

#[test]
fn completion_names_the_preauthorization() {
    let preauth = financial(
        &TERMINAL,
        Mti::AUTHORIZATION_REQUEST,
        messages::PROCESSING_PURCHASE,
        10_000,
        3,
        "0101120000",
        &card(),
        None,
    );
    let original = Original::of(&preauth).unwrap();
    let d = round_trip(&completion(
        &TERMINAL,
        Mti::FINANCIAL_ADVICE,
        8_000,
        4,
        TRANSMISSION,
        PAN,
        messages::POS_ENTRY_CONTACTLESS_CHIP,
        &original,
    ));
    assert_eq!(d.mti(), Mti::FINANCIAL_ADVICE);
    assert_eq!(d.text(4), Some("000000008000"));
    assert_eq!(
        d.text(90),
        Some("010000000301011200000000000000000000000000")
    );
}

#[test]
fn void_of_a_purchase_and_of_a_refund() {
    let purchase = purchase();
    let d = round_trip(&void(
        &TERMINAL,
        8,
        TRANSMISSION,
        &Original::of(&purchase).unwrap(),
    ));
    assert_eq!(d.mti(), Mti::FINANCIAL_REQUEST);
    assert_eq!(d.text(3), Some("020000"));
    assert_eq!(d.text(4), Some("000000012345"));
    assert!(!d.has(2), "a void carries no PAN");
    assert_eq!(d.text(90).unwrap().get(..10), Some("0200000007"));

    let refund = Original {
        processing: messages::PROCESSING_REFUND,
        ..Original::of(&purchase).unwrap()
    };
    let d = round_trip(&void(&TERMINAL, 9, TRANSMISSION, &refund));
    assert_eq!(d.text(3), Some("220000"));
}

#[test]
fn reversal_repeats_the_original_amount_and_names_its_original_mti() {
    let purchase = purchase();
    let original = Original::of(&purchase).unwrap();
    for mti in [
        Mti::REVERSAL_REQUEST,
        Mti::REVERSAL_REQUEST_REPEAT,
        Mti::REVERSAL_ADVICE,
    ] {
        let d = round_trip(&reversal(&TERMINAL, mti, 10, TRANSMISSION, &original));
        assert_eq!(d.mti(), mti);
        assert_eq!(d.text(3), Some("000000"));
        assert_eq!(d.text(4), Some("000000012345"));
        assert_eq!(d.text(11), Some("000010"));
        assert_eq!(
            d.text(90),
            Some("020000000711223344550000000000000000000000")
        );
    }
    // A repeated original is named by its original MTI.
    let repeat = Original {
        mti: Mti::FINANCIAL_ADVICE_REPEAT,
        ..original
    };
    assert!(repeat.data_elements().starts_with("0220"));
}

#[test]
fn network_messages() {
    for code in [
        messages::NETWORK_SIGN_ON,
        messages::NETWORK_SIGN_OFF,
        messages::NETWORK_ECHO,
    ] {
        let d = round_trip(&network("T0000001", 11, TRANSMISSION, code));
        assert_eq!(d.mti(), Mti::NETWORK_REQUEST);
        assert_eq!(d.text(70), Some(code));
        assert_eq!(d.text(41), Some("T0000001"));
    }
}

#[test]
fn reconciliation_encodes_every_total_and_the_net_side() {
    let totals = BatchTotals {
        credits: 1,
        credit_reversals: 0,
        debits: 3,
        debit_reversals: 2,
        credits_amount: 500,
        credit_reversals_amount: 0,
        debits_amount: 12_345,
        debit_reversals_amount: 999,
    };
    let d = round_trip(&reconciliation("T0000001", 42, TRANSMISSION, 7, &totals));
    assert_eq!(d.mti(), Mti::RECONCILIATION_REQUEST);
    assert_eq!(d.text(11), Some("000042"));
    assert_eq!(d.text(60), Some("000007"));
    assert_eq!(d.text(76), Some("0000000003"));
    assert_eq!(d.text(77), Some("0000000002"));
    assert_eq!(d.text(88), Some("0000000000012345"));
    assert_eq!(d.text(89), Some("0000000000000999"));
    assert_eq!(d.text(97), Some("D0000000000011845"));
    assert_eq!(BatchTotals::from_message(&d), Some(totals));
}
