//! The message MAC of the acquirer link (`docs/iso8583.md` §6) as pure functions.
//!
//! Vectors:
//! - AES-CMAC: RFC 4493 §4 examples 1-4 (AES-128, messages of 0, 16, 40 and 64 bytes), of which
//!   the MAC fields carry the leftmost 8 bytes.
//! - DUKPT: the ANSI X9.24-3-2017 supplement's AES-128 initial key `1273671E…` (BDK
//!   `FEDCBA9876543210F1F1F1F1F1F1F1F1`, initial key ID `1234567890123456`) and its MAC
//!   generation working key for counter 1, `A2DC23DE6FDE0824A2BC321E08E4B8B7`.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::dukpt::{InitialKeyId, KeyType, KeyUsage, Ksn, derive_working_key};
use emv::crypto::key::AesKey;
use emv::iso8583::mac::{
    self, MAC_KSN_FIELD, MacError, MacParts, compute, sign_request, verify_request, verify_response,
};
use emv::iso8583::{Message, Mti};
use hex_literal::hex;

const IKID: InitialKeyId = InitialKeyId(hex!("1234567890123456"));

fn initial_key() -> AesKey {
    AesKey::from_bytes_128(hex!("1273671EA26AC29AFA4D1084127652A1"))
}

fn request() -> Message {
    Message::new(Mti::FINANCIAL_REQUEST)
        .with(3, "000000")
        .with(4, "000000001000")
        .with(11, "000001")
        .with(41, "T0000001")
}

/// A response MACed as the host does: usage `2001` over everything before the MAC bytes.
fn host_answer(ksn: Ksn, field: u8) -> Vec<u8> {
    let mut response = Message::new(Mti::FINANCIAL_RESPONSE)
        .with(11, "000001")
        .with(39, "00")
        .with(41, "T0000001")
        .with(field, vec![0u8; 8]);
    if field == 128 {
        response.set(70, "301");
    }
    let mut body = response.encode().unwrap();
    let split = body.len() - 8;
    let key = derive_working_key(
        &initial_key(),
        ksn,
        KeyUsage::MacVerification,
        KeyType::Aes128,
    )
    .unwrap();
    let mac = compute(&key, &body[..split]);
    body[split..].copy_from_slice(&mac);
    body
}

#[test]
fn compute_is_the_leftmost_8_bytes_of_rfc_4493_aes_cmac() {
    let key = AesKey::from_bytes_128(hex!("2B7E151628AED2A6ABF7158809CF4F3C"));
    let message = hex!(
        "6BC1BEE22E409F96E93D7E117393172A AE2D8A571E03AC9C9EB76FAC45AF8E51"
        "30C81C46A35CE411E5FBC1191A0A52EF F69F2445DF4F9B17AD2B417BE66C3710"
    );
    // RFC 4493 §4: example 1 (empty), 2 (16 bytes), 3 (40 bytes), 4 (64 bytes).
    assert_eq!(compute(&key, &[]), hex!("BB1D6929E9593728"));
    assert_eq!(compute(&key, &message[..16]), hex!("070A16B46B4D4144"));
    assert_eq!(compute(&key, &message[..40]), hex!("DFA66747DE9AE630"));
    assert_eq!(compute(&key, &message), hex!("51F0BEBF7E3B9D92"));
}

#[test]
fn a_request_is_maced_with_the_x9_24_3_mac_generation_key() {
    let ksn = Ksn::new(IKID, 1);
    let mut m = request();
    sign_request(&mut m, &initial_key(), ksn).unwrap();
    assert_eq!(m.field(MAC_KSN_FIELD), Some(&ksn.to_bytes()[..]));
    let body = m.encode().unwrap();
    let (covered, mac) = body.split_at(body.len() - 8);
    // X9.24-3 supplement: the MAC generation key of counter 1.
    let generation = AesKey::from_bytes_128(hex!("A2DC23DE6FDE0824A2BC321E08E4B8B7"));
    assert_eq!(mac, compute(&generation, covered));
    // The host side of the same check, from the initial key.
    assert_eq!(verify_request(&initial_key(), &body), Ok(ksn));
    // A request MAC is not a response MAC (usage 2000 is not 2001).
    assert_eq!(
        verify_response(&initial_key(), ksn, &body),
        Err(MacError::Mismatch)
    );
}

#[test]
fn signing_twice_replaces_the_mac_and_picks_de_128_with_a_secondary_bitmap() {
    let mut m = request().with(70, "301");
    assert_eq!(mac::mac_field(&m), 128);
    sign_request(&mut m, &initial_key(), Ksn::new(IKID, 1)).unwrap();
    sign_request(&mut m, &initial_key(), Ksn::new(IKID, 2)).unwrap();
    assert!(m.has(128) && !m.has(64));
    let body = m.encode().unwrap();
    assert_eq!(verify_request(&initial_key(), &body), Ok(Ksn::new(IKID, 2)));
}

#[test]
fn a_response_mac_verifies_and_every_alteration_is_caught() {
    let ksn = Ksn::new(IKID, 3);
    for field in [64, 128] {
        let body = host_answer(ksn, field);
        assert_eq!(verify_response(&initial_key(), ksn, &body), Ok(()));
        // Another KSN.
        assert_eq!(
            verify_response(&initial_key(), Ksn::new(IKID, 4), &body),
            Err(MacError::Mismatch)
        );
        // One changed byte of the response code.
        let mut tampered = body.clone();
        let at = tampered.windows(2).position(|w| w == b"00").unwrap();
        tampered[at] = b'5';
        assert_eq!(
            verify_response(&initial_key(), ksn, &tampered),
            Err(MacError::Mismatch)
        );
    }
}

#[test]
fn malformed_macs_are_typed_errors() {
    let ksn = Ksn::new(IKID, 1);
    let ik = initial_key();
    let unmaced = request().encode().unwrap();
    assert_eq!(verify_response(&ik, ksn, &unmaced), Err(MacError::Missing));
    let both = request()
        .with(64, vec![0u8; 8])
        .with(70, "301")
        .with(128, vec![0u8; 8])
        .encode()
        .unwrap();
    assert_eq!(verify_response(&ik, ksn, &both), Err(MacError::BothFields));
    assert!(matches!(
        verify_response(&ik, ksn, b"0200"),
        Err(MacError::Codec(_))
    ));
    // A MACed request without DE 61.
    let no_ksn = request().with(64, vec![0u8; 8]).encode().unwrap();
    assert_eq!(verify_request(&ik, &no_ksn), Err(MacError::NoKsn));
    let parts = MacParts::of(&no_ksn).unwrap();
    assert_eq!(parts.covered.len(), no_ksn.len() - 8);
    assert_eq!(parts.ksn, None);
}
