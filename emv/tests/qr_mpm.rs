//! The merchant-presented code (`emv::qr::mpm`) and its CRC (`emv::qr::crc`): published check
//! values, building, parsing and every refusal.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::qr::crc::crc16;
use emv::qr::mpm::{
    AdditionalData, Initiation, LanguageTemplate, MAX_CHARS, MerchantAccount, MerchantCode,
    MpmError, RawObject, Template, Tip, format_amount,
};

/// The canonical example of the EMV QRCPS Merchant-Presented Mode specification (v1.1,
/// appendix), CRC A13A: a Chinese merchant with a language template in Chinese script.
const EMVCO_EXAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

/// A Thai PromptPay static code (published in the PromptPay QR examples), CRC 71E4.
const PROMPTPAY_EXAMPLE: &str =
    "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4";

/// An ASCII dynamic code in ascending ID order, CRC A52A (built from the EMV QRCPS MPM object
/// list; its CRC recomputed independently of this crate).
const ASCII_DYNAMIC_EXAMPLE: &str = "00020101021202164000123456789012520458125303840540510.005502015802US5910Best Bites6008New York62210509INV-000420704T0016304A52A";

#[test]
fn crc16_ccitt_false_check_value() {
    // The catalogue check value of CRC-16/CCITT-FALSE (CRC-16/IBM-3740): "123456789" → 29B1.
    assert_eq!(crc16(b"123456789"), 0x29B1);
}

#[test]
fn the_emvco_example_parses_with_its_language_template() {
    let code = MerchantCode::parse(EMVCO_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(code.initiation, Some(Initiation::Dynamic));
    assert_eq!(code.mcc, "4111");
    assert_eq!(code.currency, 156);
    assert_eq!(code.amount.as_deref(), Some("23.72"));
    assert_eq!(code.amount_minor(2), Some(2372));
    assert_eq!(code.tip, Some(Tip::Prompt));
    assert_eq!(code.country, "CN");
    assert_eq!(code.name, "BEST TRANSPORT");
    assert_eq!(code.city, "BEIJING");
    assert_eq!(
        code.language,
        Some(LanguageTemplate {
            language: "ZH".into(),
            name: "最佳运输".into(),
            city: Some("北京".into()),
        })
    );
    let additional = code.additional.as_ref().unwrap();
    assert_eq!(additional.store_label.as_deref(), Some("1234"));
    assert_eq!(additional.customer_label.as_deref(), Some("***"));
    assert_eq!(additional.terminal_label.as_deref(), Some("A6008667"));
    assert_eq!(additional.consumer_data_request.as_deref(), Some("ME"));
    assert_eq!(code.accounts.len(), 2);
    assert_eq!(
        code.account("D15600000000"),
        Some(&[RawObject::new(5, "A93FO3230Q")][..])
    );
    assert_eq!(
        code.unreserved,
        vec![RawObject::new(91, "0016A011223344998877070812345678")]
    );
}

#[test]
fn the_emvco_example_with_another_crc_is_refused() {
    let wrong = EMVCO_EXAMPLE.replace("6304A13A", "6304A13B");
    assert_eq!(
        MerchantCode::parse(wrong.as_bytes()),
        Err(MpmError::CrcMismatch {
            stated: 0xA13B,
            computed: 0xA13A
        })
    );
}

#[test]
fn the_emvco_example_rebuilds_to_a_code_that_means_the_same() {
    let code = MerchantCode::parse(EMVCO_EXAMPLE.as_bytes()).unwrap();
    let rebuilt = code.to_payload().unwrap();
    // Written in ascending ID order, so other text and CRC, but the same content.
    assert_ne!(rebuilt, EMVCO_EXAMPLE);
    assert_eq!(MerchantCode::parse(rebuilt.as_bytes()).unwrap(), code);
}

#[test]
fn promptpay_example_passes_its_crc_and_is_refused_for_missing_objects() {
    let code = MerchantCode::parse(PROMPTPAY_EXAMPLE.as_bytes());
    // Its CRC is right, but PromptPay omits the mandatory MCC, name and city (52, 59, 60):
    // a clear refusal naming the first, not a panic.
    assert_eq!(
        code,
        Err(MpmError::Missing {
            template: Template::Root,
            id: 52,
            what: "merchant category code"
        })
    );
}

#[test]
fn ascii_example_round_trips_byte_for_byte() {
    let code = MerchantCode::parse(ASCII_DYNAMIC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(code.amount_minor(2), Some(1000));
    assert_eq!(
        code.accounts,
        vec![MerchantAccount::Network(RawObject::new(
            2,
            "4000123456789012"
        ))]
    );
    let additional = code.additional.as_ref().unwrap();
    assert_eq!(additional.reference_label.as_deref(), Some("INV-00042"));
    assert_eq!(additional.terminal_label.as_deref(), Some("T001"));
    assert_eq!(code.to_payload().unwrap(), ASCII_DYNAMIC_EXAMPLE);
}

fn sample() -> MerchantCode {
    MerchantCode {
        initiation: Some(Initiation::Dynamic),
        accounts: vec![MerchantAccount::Template {
            id: 26,
            guid: "invalid.softpos.pay".into(),
            fields: vec![
                RawObject::new(1, "TERM0001"),
                RawObject::new(2, "123456789012"),
            ],
        }],
        mcc: "5812".into(),
        currency: 978,
        amount: Some(format_amount(1250, 2)),
        tip: None,
        country: "DE".into(),
        name: "Cafe Mueller".into(),
        city: "Berlin".into(),
        postal_code: None,
        additional: Some(AdditionalData {
            bill_number: Some("R-000042".into()),
            reference_label: Some("0123456789ABCDEF".into()),
            terminal_label: Some("Counter 1".into()),
            ..AdditionalData::default()
        }),
        language: Some(LanguageTemplate {
            language: "de".into(),
            name: "Café Müller".into(),
            city: Some("Berlin".into()),
        }),
        unreserved: vec![],
    }
}

#[test]
fn a_built_code_parses_back_and_its_lengths_count_characters() {
    let code = sample();
    let text = code.to_payload().unwrap();
    assert!(text.starts_with("000201010212"));
    // "Café Müller" is 11 characters but 13 bytes: the length says 11.
    assert!(text.contains("0111Café Müller"), "{text}");
    assert_eq!(MerchantCode::parse(text.as_bytes()).unwrap(), code);
    // The CRC covers the UTF-8 bytes.
    let (body, crc) = text.split_at(text.len() - 4);
    assert_eq!(crc, format!("{:04X}", crc16(body.as_bytes())));
}

#[test]
fn amounts_format_and_read_back() {
    assert_eq!(format_amount(1250, 2), "12.50");
    assert_eq!(format_amount(7, 2), "0.07");
    assert_eq!(format_amount(500, 0), "500");
    let mut code = sample();
    code.amount = Some("12.5".into());
    assert_eq!(code.amount_minor(2), Some(1250));
    assert_eq!(code.amount_minor(0), None);
}

/// Rewrites `text`'s CRC so that only the change under test is wrong.
fn with_crc(body_without_crc: &str) -> String {
    let mut out = body_without_crc.to_owned();
    emv::qr::crc::append_crc(&mut out);
    out
}

fn body(text: &str) -> &str {
    &text[..text.len() - 8]
}

#[test]
fn a_length_that_lies_is_refused() {
    // 59 claims 30 characters where the rest of the code holds fewer.
    let code = with_crc("000201010212020440005204581253039785802DE5930Cafe");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::LengthOverrun {
            id: 59,
            length: 30,
            ..
        })
    ));
    // A length that is not two digits.
    let code = with_crc("000201010212020440005204581253039785802DE59XXCafe");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::BadLength { id: 59, .. })
    ));
}

#[test]
fn reserved_ids_are_refused() {
    let good = sample().to_payload().unwrap();
    // Top level 65–79.
    let code = with_crc(&format!("{}6503abc", body(&good)));
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Reserved {
            template: Template::Root,
            id: 65,
            ..
        })
    ));
    // Additional data 10–49.
    let code = with_crc("000201010212020440005204581253039785802DE5904Cafe6006Berlin62071003123");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Reserved {
            template: Template::AdditionalData,
            id: 10,
            ..
        })
    ));
    // Language template 03–99.
    let code = with_crc(
        "000201010212020440005204581253039785802DE5904Cafe6006Berlin64180002de0102Xy0302ab",
    );
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Reserved {
            template: Template::Language,
            id: 3,
            ..
        })
    ));
}

#[test]
fn oversized_payloads_are_refused_before_decoding() {
    let huge = vec![b'0'; 10 * 1024];
    assert!(matches!(
        MerchantCode::parse(&huge),
        Err(MpmError::TooLong { .. })
    ));
    let long = "0".repeat(MAX_CHARS + 1);
    assert!(matches!(
        MerchantCode::parse(long.as_bytes()),
        Err(MpmError::TooLong { .. })
    ));
}

#[test]
fn non_utf8_is_refused() {
    let mut bytes = sample().to_payload().unwrap().into_bytes();
    bytes[20] = 0xFF;
    assert_eq!(
        MerchantCode::parse(&bytes),
        Err(MpmError::NotUtf8 { at: 20 })
    );
}

#[test]
fn control_characters_in_names_are_refused() {
    let code = with_crc("000201010212020440005204581253039785802DE5905Ca\u{7}fe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::ControlCharacter { id: 59, at: 41, .. })
    ));
    let code =
        with_crc("000201010212020440005204581253039785802DE5904Cafe6006Berlin64140002de0104A\nBC");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::ControlCharacter {
            template: Template::Language,
            id: 1,
            ..
        })
    ));
    // Building refuses them too.
    let mut code = sample();
    code.name = "Cafe\u{1b}[31m".into();
    assert!(matches!(
        code.to_payload(),
        Err(MpmError::ControlCharacter { id: 59, .. })
    ));
}

#[test]
fn a_local_script_name_belongs_in_the_language_template() {
    let mut code = sample();
    code.name = "Café Müller".into();
    let err = code.to_payload().unwrap_err();
    assert!(err.to_string().contains("template 64"), "{err}");
}

#[test]
fn a_missing_or_wrong_crc_is_refused() {
    let good = sample().to_payload().unwrap();
    assert_eq!(
        MerchantCode::parse(body(&good).as_bytes()),
        Err(MpmError::MissingCrc)
    );
    let mut flipped = good.clone().into_bytes();
    flipped[30] ^= 0x01;
    assert!(matches!(
        MerchantCode::parse(&flipped),
        Err(MpmError::CrcMismatch { .. })
    ));
}

#[test]
fn structure_errors_are_refused() {
    // 00 not first.
    let code = with_crc("010212000201020440005204581253039785802DE5904Cafe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Misplaced { id: 0, .. })
    ));
    // A repeated ID.
    let code = with_crc("000201010212020440005204581253039785802DE5904Cafe5904Cafe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Duplicate { id: 59, .. })
    ));
    // No merchant account.
    let code = with_crc("0002010102125204581253039785802DE5904Cafe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Missing { id: 26, .. })
    ));
    // An empty value.
    let code = with_crc("000201010212020440005204581253039785802DE5904Cafe6006Berlin6100");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Empty { id: 61, .. })
    ));
    // A malformed amount and currency.
    let code = with_crc("000201010212020440005204581253039785404x.105802DE5904Cafe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Invalid { id: 54, .. })
    ));
    // A template without its GUID.
    let code = with_crc("0002010102122608010412345204581253039785802DE5904Cafe6006Berlin");
    assert!(matches!(
        MerchantCode::parse(code.as_bytes()),
        Err(MpmError::Missing {
            template: Template::Account(26),
            id: 0,
            ..
        })
    ));
}

#[test]
fn a_softpos_payment_code_reads_back_and_others_are_not_payments() {
    use emv::qr::merchant_payment::{Merchant, Payment, ReadError, build, read};
    let merchant = Merchant {
        mcc: "5812".into(),
        country: "DE".into(),
        name: "Cafe Mueller".into(),
        city: "Berlin".into(),
        local: None,
        terminal_label: None,
    };
    let payment = Payment {
        terminal_id: "T0000001".into(),
        reference: "0123456789ABCDEF".into(),
        token: "123456789012".into(),
        amount: 1250,
        currency: 978,
        bill_number: None,
    };
    let text = build(&merchant, &payment, 2).unwrap();
    assert_eq!(read(text.as_bytes(), 2), Ok(payment.clone()));
    // The EMVCo example is a valid code but not a softpos payment.
    assert_eq!(
        read(EMVCO_EXAMPLE.as_bytes(), 2),
        Err(ReadError::NotSoftpos)
    );
    // A token that is not twelve digits.
    let bad = Payment {
        token: "12345".into(),
        ..payment
    };
    let text = build(&merchant, &bad, 2).unwrap();
    assert_eq!(read(text.as_bytes(), 2), Err(ReadError::Missing("token")));
}
