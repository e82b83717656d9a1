//! ISO 9564-1 PIN block and AES-CMAC vectors.
//!
//! Sources, named next to each vector:
//! - ANSI X9.24-3-2017 supplement, "Calculation of AES PIN Block Format 4" (PIN 1234, PAN
//!   4111111111111111, random fill 2F69ADDE2E9E7ACE, PIN keys of KSN counters 1 and 2), as
//!   quoted by openemv/pinblock `test/pinblock_format4_test.c` (PIN and PAN fields) and public
//!   format-4 test suites (enciphered blocks).
//! - openemv/pinblock `test/pinblock_format4_test.c` hand-made PAN fields.
//! - ANSI X9.24-1:2009 A.4 (openemv/pinblock `test/pinblock_format0_test.c`): format 0.
//! - RFC 4493 §4: AES-CMAC.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::key::AesKey;
use emv::crypto::mac::{aes_cmac, verify_aes_cmac};
use emv::crypto::pin_block::{
    OsFill, Pin, PinBlockError, danger::FixedFill, decode_format0, decode_format3, decrypt_format4,
    encode_format0, encode_format3, encrypt_format4, format4_pan_field, translate_format4,
    verify_format4,
};
use hex_literal::hex;

const PIN_KEY_1: [u8; 16] = hex!("AF8CB133A78F8DC2D1359F18527593FB");
const PIN_KEY_2: [u8; 16] = hex!("D30BDC73EC9714B000BEC66BDB7B6D09");
const X9_FILL: [u8; 8] = hex!("2F69ADDE2E9E7ACE");

fn pin(ascii: &[u8]) -> Pin {
    Pin::from_ascii(ascii).unwrap()
}

#[test]
fn format4_x9_24_3_example() {
    // X9.24-3 supplement: counter 1 → A912150391AB65A67E52883D81CE2D15,
    // counter 2 → 52A00503BD34BA1383F6A7EE9FE2547F.
    for (key, want) in [
        (PIN_KEY_1, hex!("A912150391AB65A67E52883D81CE2D15")),
        (PIN_KEY_2, hex!("52A00503BD34BA1383F6A7EE9FE2547F")),
    ] {
        let key = AesKey::from_bytes_128(key);
        let epb = encrypt_format4(
            &key,
            &pin(b"1234"),
            "4111111111111111",
            &mut FixedFill(X9_FILL),
        )
        .unwrap();
        assert_eq!(epb, want);
        let back = decrypt_format4(&key, &epb, "4111111111111111").unwrap();
        assert_eq!(back.expose_secret(), &[1, 2, 3, 4]);
        assert!(verify_format4(&key, &epb, "4111111111111111", &pin(b"1234")).unwrap());
        assert!(!verify_format4(&key, &epb, "4111111111111111", &pin(b"1235")).unwrap());
    }
}

#[test]
fn format4_pan_fields_openemv() {
    // openemv/pinblock pinblock_format4_test.c: X9.24-3 PAN field and two hand-made ones.
    assert_eq!(
        format4_pan_field("4111111111111111").unwrap(),
        hex!("44111111111111111000000000000000")
    );
    assert_eq!(
        format4_pan_field("411111111111111").unwrap(),
        hex!("34111111111111110000000000000000")
    );
    assert_eq!(
        format4_pan_field("123456789").unwrap(),
        hex!("00001234567890000000000000000000")
    );
    assert_eq!(format4_pan_field("").err(), Some(PinBlockError::InvalidPan));
    assert_eq!(
        format4_pan_field("41111111111111111111").err(),
        Some(PinBlockError::InvalidPan)
    );
}

#[test]
fn format4_random_fill_differs_and_binds_pan() {
    let key = AesKey::from_bytes_128(PIN_KEY_1);
    let a = encrypt_format4(&key, &pin(b"8531"), "4761739001010119", &mut OsFill).unwrap();
    let b = encrypt_format4(&key, &pin(b"8531"), "4761739001010119", &mut OsFill).unwrap();
    assert_ne!(
        a, b,
        "security doc C1: same PIN and PAN twice give different blocks"
    );
    assert_eq!(
        decrypt_format4(&key, &a, "4761739001010119")
            .unwrap()
            .expose_secret(),
        &[8, 5, 3, 1]
    );
    // Another PAN does not decrypt to a well-formed block.
    assert_eq!(
        decrypt_format4(&key, &a, "4761739001010127").err(),
        Some(PinBlockError::MalformedPinBlock)
    );
}

#[test]
fn translation_to_zone_key() {
    let dukpt_key = AesKey::from_bytes_128(PIN_KEY_1);
    let zone_key = AesKey::from_bytes_128(hex!("00112233445566778899AABBCCDDEEFF"));
    let epb = hex!("A912150391AB65A67E52883D81CE2D15");
    let translated =
        translate_format4(&dukpt_key, &zone_key, &epb, "4111111111111111", &mut OsFill).unwrap();
    assert_ne!(translated, epb);
    assert_eq!(
        decrypt_format4(&zone_key, &translated, "4111111111111111")
            .unwrap()
            .expose_secret(),
        &[1, 2, 3, 4]
    );
}

#[test]
fn format0_x9_24_1_example() {
    // X9.24-1:2009 A.4: PIN 1234, PAN 4012345678909 → 041274EDCBA9876F.
    let block = encode_format0(&pin(b"1234"), "4012345678909").unwrap();
    assert_eq!(block, hex!("041274EDCBA9876F"));
    assert_eq!(
        decode_format0(&block, "4012345678909")
            .unwrap()
            .expose_secret(),
        &[1, 2, 3, 4]
    );
}

#[test]
fn format3_round_trip_and_fill() {
    // openemv/pinblock pinblock_format3_test.c: PIN 12345, PAN 4012345678909 → block starts 35 12.
    let block = encode_format3(&pin(b"12345"), "4012345678909", &mut OsFill).unwrap();
    assert_eq!(block[..2], hex!("3512"));
    assert_eq!(
        decode_format3(&block, "4012345678909")
            .unwrap()
            .expose_secret(),
        &[1, 2, 3, 4, 5]
    );
    // A format 0 block is not a format 3 block.
    let f0 = encode_format0(&pin(b"12345"), "4012345678909").unwrap();
    assert_eq!(
        decode_format3(&f0, "4012345678909").err(),
        Some(PinBlockError::MalformedPinBlock)
    );
}

#[test]
fn pin_lengths_4_to_12() {
    // Security doc P6: 3/4/12/13 digits → reject/accept/accept/13th refused.
    assert_eq!(
        Pin::from_ascii(b"123").err(),
        Some(PinBlockError::InvalidPinLength)
    );
    assert!(Pin::from_ascii(b"1234").is_ok());
    assert!(Pin::from_ascii(b"123456789012").is_ok());
    assert_eq!(
        Pin::from_ascii(b"1234567890123").err(),
        Some(PinBlockError::InvalidPinLength)
    );
    assert_eq!(
        Pin::from_ascii(b"12a4").err(),
        Some(PinBlockError::InvalidPin)
    );
    let mut entry = Pin::empty();
    for d in [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2] {
        entry.push_digit(d).unwrap();
    }
    assert_eq!(
        entry.push_digit(3).err(),
        Some(PinBlockError::InvalidPinLength)
    );
    assert_eq!(entry.len(), 12);
    entry.pop_digit();
    assert_eq!(entry.len(), 11);
    let key = AesKey::from_bytes_128(PIN_KEY_1);
    let mut short = Pin::empty();
    short.push_digit(1).unwrap();
    assert_eq!(
        encrypt_format4(&key, &short, "4111111111111111", &mut OsFill).err(),
        Some(PinBlockError::InvalidPinLength)
    );
    // Every length 4..=12 round-trips through format 4.
    for len in 4..=12 {
        let digits: Vec<u8> = (0..len).map(|i| u8::try_from(i % 10).unwrap()).collect();
        let p = Pin::from_digits(&digits).unwrap();
        let epb = encrypt_format4(&key, &p, "4111111111111111", &mut OsFill).unwrap();
        let back = decrypt_format4(&key, &epb, "4111111111111111").unwrap();
        assert_eq!(back.expose_secret(), digits.as_slice());
    }
}

#[test]
fn aes_cmac_rfc4493() {
    // RFC 4493 §4, examples 1-4.
    let key = AesKey::from_bytes_128(hex!("2B7E151628AED2A6ABF7158809CF4F3C"));
    let msg = hex!(
        "6BC1BEE22E409F96E93D7E117393172A AE2D8A571E03AC9C9EB76FAC45AF8E51"
        "30C81C46A35CE411E5FBC1191A0A52EF F69F2445DF4F9B17AD2B417BE66C3710"
    );
    let cases: [(usize, [u8; 16]); 4] = [
        (0, hex!("BB1D6929E95937287FA37D129B756746")),
        (16, hex!("070A16B46B4D4144F79BDD9DD04A287C")),
        (40, hex!("DFA66747DE9AE63030CA32611497C827")),
        (64, hex!("51F0BEBF7E3B9D92FC49741779363CFE")),
    ];
    for (len, want) in cases {
        assert_eq!(aes_cmac(&key, &msg[..len]), want, "{len} bytes");
        assert!(verify_aes_cmac(&key, &msg[..len], &want));
        assert!(verify_aes_cmac(&key, &msg[..len], &want[..8]));
        let mut bad = want;
        bad[0] ^= 1;
        assert!(!verify_aes_cmac(&key, &msg[..len], &bad[..8]));
    }
    assert!(
        !verify_aes_cmac(&key, &msg, &[0u8; 4]),
        "tags under 8 bytes are refused"
    );
}

proptest::proptest! {
    /// Format 4 and format 0 round-trip for every PIN length and PAN length they accept.
    #[test]
    fn pin_blocks_round_trip(
        digits in proptest::collection::vec(0u8..10, 4..=12),
        pan in "[0-9]{13,19}",
        key in proptest::array::uniform16(proptest::num::u8::ANY),
    ) {
        let pin = Pin::from_digits(&digits).unwrap();
        let key = AesKey::from_bytes_128(key);
        let epb = encrypt_format4(&key, &pin, &pan, &mut OsFill).unwrap();
        let back = decrypt_format4(&key, &epb, &pan).unwrap();
        proptest::prop_assert_eq!(back.expose_secret(), digits.as_slice());
        let block = encode_format0(&pin, &pan).unwrap();
        let back = decode_format0(&block, &pan).unwrap();
        proptest::prop_assert_eq!(back.expose_secret(), digits.as_slice());
    }
}
