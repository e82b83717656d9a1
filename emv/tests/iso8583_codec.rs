//! Codec tests: known bytes written out by hand from ISO 8583:1987 §4 (ASCII MTI, binary
//! bitmaps, ASCII LL/LLL prefixes as in `docs/iso8583.md`), rejections, and a round-trip proptest.

use emv::iso8583::{self, CodecErrorKind, Message, Mti, spec};
use hex_literal::hex;
use proptest::prelude::*;

fn echo_test() -> Message {
    Message::new(Mti::NETWORK_REQUEST)
        .with(7, "1121203000")
        .with(11, "000042")
        .with(41, "T0000001")
        .with(70, "301")
}

/// Found by fuzzing (`fuzz/seeds/iso8583_decode/invalid-emptysecondarybitmap-fuzz`): bit 1
/// announced a secondary bitmap of zeros, the decoder took it, and the message re-encoded
/// without it, to other bytes than those received.
#[test]
fn an_empty_secondary_bitmap_is_refused() {
    let mut bytes = b"0800".to_vec();
    bytes.extend_from_slice(&hex!("82 20 00 00 00 80 00 00"));
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(b"1121203000000003T0000.0]");
    let err = Message::decode(&bytes).unwrap_err();
    assert_eq!(err.kind, CodecErrorKind::EmptySecondaryBitmap);
    assert_eq!(err.position, 12);
    // The same message with its secondary bitmap naming DE 70 still decodes.
    let good = echo_test().encode().unwrap();
    assert_eq!(Message::decode(&good).unwrap().encode().unwrap(), good);
}

#[test]
fn echo_test_known_bytes() {
    let mut expected = Vec::new();
    expected.extend_from_slice(b"0800");
    // Primary bitmap: bit 1 (secondary), 7, 11, 41; secondary: bit 70.
    expected.extend_from_slice(&hex!("82 20 00 00 00 80 00 00"));
    expected.extend_from_slice(&hex!("04 00 00 00 00 00 00 00"));
    expected.extend_from_slice(b"1121203000000042T0000001301");
    assert_eq!(echo_test().encode().unwrap(), expected);

    let frame = echo_test().encode_frame().unwrap();
    assert_eq!(
        frame[..2],
        u16::try_from(expected.len()).unwrap().to_be_bytes()
    );
    assert_eq!(iso8583::decode_frame(&frame).unwrap(), echo_test());
}

#[test]
fn variable_fields_known_bytes() {
    let m = Message::new(Mti::FINANCIAL_REQUEST)
        .with(2, "4761739001010119")
        .with(55, hex!("9F 36 02 00 01").to_vec())
        .with(63, hex!("01 02 03 04 05 06 07 08 09 0A 0B 0C").to_vec());
    let mut expected = Vec::new();
    expected.extend_from_slice(b"0200");
    // Bits 2, 55 (byte 6, 0x02) and 63 (byte 7, 0x02).
    expected.extend_from_slice(&hex!("40 00 00 00 00 00 02 02"));
    expected.extend_from_slice(b"164761739001010119");
    expected.extend_from_slice(b"005");
    expected.extend_from_slice(&hex!("9F 36 02 00 01"));
    expected.extend_from_slice(b"012");
    expected.extend_from_slice(&hex!("01 02 03 04 05 06 07 08 09 0A 0B 0C"));
    assert_eq!(m.encode().unwrap(), expected);
    assert_eq!(Message::decode(&expected).unwrap(), m);
}

#[test]
fn debug_redacts_pan_and_pin() {
    let m = Message::new(Mti::FINANCIAL_REQUEST)
        .with(2, "4761739001010119")
        .with(35, "4761739001010119=2812")
        .with(62, [0xAB; 16].to_vec());
    let text = format!("{m:?}");
    assert!(!text.contains("4761739001010119"), "{text}");
    assert!(text.contains("476173******0119"), "{text}");
    assert!(!text.to_lowercase().contains("abab"), "{text}");
}

#[test]
fn rejects_malformed() {
    let good = echo_test().encode().unwrap();
    let kind = |bytes: &[u8]| Message::decode(bytes).unwrap_err().kind;
    assert_eq!(kind(&good[..good.len() - 1]), CodecErrorKind::Truncated);
    let mut trailing = good.clone();
    trailing.push(b'0');
    assert_eq!(kind(&trailing), CodecErrorKind::TrailingBytes);
    let mut bad_mti = good.clone();
    bad_mti[1] = b'X';
    assert_eq!(kind(&bad_mti), CodecErrorKind::BadMti);
    let mut bad_digit = good.clone();
    bad_digit[20] = b'A'; // inside DE 7
    assert_eq!(kind(&bad_digit), CodecErrorKind::BadCharacter(7));
    // DE 65 (tertiary bitmap) is not supported.
    let mut tertiary = good.clone();
    tertiary[12] |= 0x80;
    assert_eq!(kind(&tertiary), CodecErrorKind::UnknownField(65));
    // A field too long: DE 2 with LL = 20 > 19.
    let mut too_long = b"0200".to_vec();
    too_long.extend_from_slice(&hex!("40 00 00 00 00 00 00 00"));
    too_long.extend_from_slice(b"2047617390010101190000");
    assert_eq!(kind(&too_long), CodecErrorKind::FieldLength(2));
    // A non-digit length prefix.
    let mut bad_prefix = b"0200".to_vec();
    bad_prefix.extend_from_slice(&hex!("40 00 00 00 00 00 00 00"));
    bad_prefix.extend_from_slice(b"1x4761739001010119");
    assert_eq!(kind(&bad_prefix), CodecErrorKind::BadLengthPrefix(2));
    assert_eq!(kind(b""), CodecErrorKind::Truncated);
}

#[test]
fn rejects_bad_frames() {
    let body = echo_test().encode().unwrap();
    let mut frame = vec![0x00, 0x05];
    frame.extend_from_slice(&body);
    assert_eq!(
        iso8583::decode_frame(&frame).unwrap_err().kind,
        CodecErrorKind::BadLengthHeader
    );
    assert_eq!(
        iso8583::frame_len([0x00, 0x00]).unwrap_err().kind,
        CodecErrorKind::BadLengthHeader
    );
    assert_eq!(
        iso8583::frame_len([0xFF, 0xFF]).unwrap_err().kind,
        CodecErrorKind::BadLengthHeader
    );
    assert_eq!(iso8583::frame_len([0x01, 0x00]).unwrap(), 256);
}

#[test]
fn encode_rejects_invalid_values() {
    let m = Message::new(Mti::FINANCIAL_REQUEST).with(41, "T001");
    assert_eq!(
        m.encode().unwrap_err().kind,
        CodecErrorKind::FieldLength(41)
    );
    let m = Message::new(Mti::FINANCIAL_REQUEST).with(4, "00000000010A");
    assert_eq!(
        m.encode().unwrap_err().kind,
        CodecErrorKind::BadCharacter(4)
    );
    let m = Message::new(Mti::FINANCIAL_REQUEST).with(9, "1");
    assert_eq!(
        m.encode().unwrap_err().kind,
        CodecErrorKind::UnknownField(9)
    );
}

fn value_for(spec: &spec::FieldSpec) -> BoxedStrategy<Vec<u8>> {
    use spec::{CharClass, LengthKind};
    let (min, max) = match spec.length {
        LengthKind::Fixed(n) => (n, n),
        LengthKind::LlVar(n) | LengthKind::LllVar(n) => (0, n),
    };
    let chars: BoxedStrategy<u8> = match spec.class {
        CharClass::Numeric => (b'0'..=b'9').boxed(),
        CharClass::Alphanumeric => prop_oneof![b'A'..=b'Z', b'0'..=b'9', Just(b' ')].boxed(),
        CharClass::AlphanumericSpecial => (0x20u8..=0x7E).boxed(),
        CharClass::Track2 => prop_oneof![b'0'..=b'9', Just(b'=')].boxed(),
        CharClass::SignedAmount => (b'0'..=b'9').boxed(),
        _ => any::<u8>().boxed(),
    };
    let signed = spec.class == CharClass::SignedAmount;
    proptest::collection::vec(chars, min..=max)
        .prop_map(move |mut v| {
            if signed && let Some(first) = v.first_mut() {
                *first = b'D';
            }
            v
        })
        .boxed()
}

fn message_strategy() -> impl Strategy<Value = Message> {
    let fields: Vec<_> = spec::all()
        .iter()
        .map(|(n, s)| proptest::option::of(value_for(s)).prop_map(move |v| (*n, v)))
        .collect();
    (0u16..10_000, fields).prop_map(|(mti, fields)| {
        // Four decimal digits written as hex nibbles are always a valid MTI.
        let bcd = (mti / 1000) << 12 | (mti / 100 % 10) << 8 | (mti / 10 % 10) << 4 | (mti % 10);
        let mut m = Message::new(Mti::from_bcd(bcd).expect("decimal nibbles"));
        for (n, v) in fields {
            if let Some(v) = v {
                m.set(n, v);
            }
        }
        m
    })
}

proptest! {
    #[test]
    fn round_trip(m in message_strategy()) {
        let frame = m.encode_frame().unwrap();
        prop_assert_eq!(iso8583::decode_frame(&frame).unwrap(), m);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::decode(&bytes);
        let _ = iso8583::decode_frame(&bytes);
    }
}
