//! The HSM's operations end to end, terminal side written with `emv::crypto`.
//!
//! Vectors: ANSI X9.24-3-2017 supplement (BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, IK ID
//! 1234567890123456 → IK 1273671EA26AC29AFA4D1084127652A1; format 4 PIN block for PIN 1234,
//! PAN 4111111111111111, fill 2F69ADDE2E9E7ACE at counter 1 → A912150391AB65A67E52883D81CE2D15);
//! pyemv `tests/test_cvn_hsm.py` (its IMK-AC 0123456789ABCDEFFEDCBA9876543210 is the simulated
//! Visa issuer's test IMK-AC): CVN 10 ARQC 29CCA15AE665FA2E / ARPC 28993816AFAE4AEB, CVN 18
//! ARQC 7A788EA6B8A3E733 / ARPC (CSU 00000000) 9AF514C1.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::cryptogram::{CryptogramInput, CryptogramVersion};
use emv::crypto::dukpt::{InitialKeyId, KeyType, KeyUsage, Ksn, derive_working_key, next_ksn};
use emv::crypto::mac::{aes_cmac, verify_aes_cmac};
use emv::crypto::pin_block::{OsFill, Pin, danger::FixedFill, decrypt_format4, encrypt_format4};
use hex_literal::hex;
use hsm_sim::hsm::{Hsm, HsmError, test_keys};

const IKID: InitialKeyId = InitialKeyId(hex!("1234567890123456"));
const VISA_RID: [u8; 5] = hex!("A000000003");
const PAN: &str = "4111111111111111";

fn pin(ascii: &[u8]) -> Pin {
    Pin::from_ascii(ascii).unwrap()
}

/// The terminal side: PIN block for `ksn` under the terminal's initial key.
fn terminal_pin_block(hsm: &Hsm, ksn: Ksn, pin_ascii: &[u8]) -> [u8; 16] {
    let ik = hsm.export_initial_key(IKID).unwrap().initial_key;
    let key = derive_working_key(&ik, ksn, KeyUsage::PinEncryption, KeyType::Aes128).unwrap();
    encrypt_format4(
        &key,
        &pin(pin_ascii),
        PAN,
        &mut FixedFill(hex!("2F69ADDE2E9E7ACE")),
    )
    .unwrap()
}

#[test]
fn exported_initial_key_is_the_x9_24_3_vector() {
    let hsm = Hsm::with_test_keys();
    assert!(hsm.test_key_mode());
    let exported = hsm.export_initial_key(IKID).unwrap();
    assert_eq!(
        exported.initial_key.expose_secret(),
        &hex!("1273671EA26AC29AFA4D1084127652A1")
    );
    assert_eq!(exported.initial_ksn.counter(), 0);
    assert_eq!(
        hsm.export_initial_key(InitialKeyId(hex!("9999999990123456")))
            .err()
            .map(|e| e.to_string()),
        Some(HsmError::UnknownBdk.to_string())
    );
}

#[test]
fn pin_translation_to_zone_key() {
    let hsm = Hsm::with_test_keys();
    let ksn = next_ksn(Ksn::new(IKID, 0)).unwrap();
    let epb = terminal_pin_block(&hsm, ksn, b"1234");
    assert_eq!(epb, hex!("A912150391AB65A67E52883D81CE2D15"));
    let zone_block = hsm.translate_pin_format4_dukpt(ksn, &epb, PAN).unwrap();
    let back = decrypt_format4(&test_keys::issuer_zone_pin_key(), &zone_block, PAN).unwrap();
    assert_eq!(back.expose_secret(), &[1, 2, 3, 4]);
}

#[test]
fn replayed_and_stale_ksns_are_rejected() {
    // Security doc C4: resend an old KSN/EPB → security decline.
    let hsm = Hsm::with_test_keys();
    let ksn5 = Ksn::new(IKID, 5);
    let epb5 = terminal_pin_block(&hsm, ksn5, b"1234");
    hsm.translate_pin_format4_dukpt(ksn5, &epb5, PAN).unwrap();
    assert!(matches!(
        hsm.translate_pin_format4_dukpt(ksn5, &epb5, PAN),
        Err(HsmError::ReplayedKsn)
    ));
    let ksn4 = Ksn::new(IKID, 4);
    let epb4 = terminal_pin_block(&hsm, ksn4, b"1234");
    assert!(matches!(
        hsm.translate_pin_format4_dukpt(ksn4, &epb4, PAN),
        Err(HsmError::ReplayedKsn)
    ));
    let ksn6 = next_ksn(ksn5).unwrap();
    let epb6 = terminal_pin_block(&hsm, ksn6, b"1234");
    assert!(hsm.translate_pin_format4_dukpt(ksn6, &epb6, PAN).is_ok());
    // Another terminal's counters are independent.
    let other = Ksn::new(InitialKeyId(hex!("1234567800000001")), 1);
    let ik = hsm
        .export_initial_key(other.initial_key_id())
        .unwrap()
        .initial_key;
    let key = derive_working_key(&ik, other, KeyUsage::PinEncryption, KeyType::Aes128).unwrap();
    let epb = encrypt_format4(&key, &pin(b"4321"), PAN, &mut OsFill).unwrap();
    assert!(hsm.translate_pin_format4_dukpt(other, &epb, PAN).is_ok());
}

#[test]
fn pin_verification_value() {
    let hsm = Hsm::with_test_keys();
    let pvv = hsm.pin_verification_value(PAN, &pin(b"1234")).unwrap();
    assert_ne!(pvv, hsm.pin_verification_value(PAN, &pin(b"1235")).unwrap());
    assert_ne!(
        pvv,
        hsm.pin_verification_value("4111111111111129", &pin(b"1234"))
            .unwrap()
    );
    let ksn1 = Ksn::new(IKID, 1);
    let good = terminal_pin_block(&hsm, ksn1, b"1234");
    assert!(hsm.verify_pin(ksn1, &good, PAN, &pvv).unwrap());
    let ksn2 = Ksn::new(IKID, 2);
    let wrong = terminal_pin_block(&hsm, ksn2, b"9999");
    assert!(!hsm.verify_pin(ksn2, &wrong, PAN, &pvv).unwrap());
    // After translation the issuer can verify under its zone key.
    let ksn3 = Ksn::new(IKID, 3);
    let epb3 = terminal_pin_block(&hsm, ksn3, b"1234");
    let zone = hsm.translate_pin_format4_dukpt(ksn3, &epb3, PAN).unwrap();
    assert!(hsm.verify_zone_pin(&zone, PAN, &pvv).unwrap());
}

#[test]
fn request_and_response_macs() {
    let hsm = Hsm::with_test_keys();
    let ik = hsm.export_initial_key(IKID).unwrap().initial_key;
    let ksn = Ksn::new(IKID, 7);
    let message = b"0200 request body";
    let terminal_key = derive_working_key(&ik, ksn, KeyUsage::MacGeneration, KeyType::Aes128);
    let mac = aes_cmac(&terminal_key.unwrap(), message);
    // A forgery is refused and does not use the KSN up.
    assert!(matches!(
        hsm.mac_verify(ksn, b"0200 request bodY", &mac[..8]),
        Err(HsmError::MacMismatch)
    ));
    hsm.mac_verify(ksn, message, &mac[..8]).unwrap();
    // The same KSN again is a replay: a request MAC's counter must be strictly greater.
    assert!(matches!(
        hsm.mac_verify(ksn, message, &mac[..8]),
        Err(HsmError::ReplayedKsn)
    ));
    assert_eq!(hsm.mac(ksn, message, true).unwrap(), mac[..8]);
    // The response MAC verifies with the terminal's "MAC verification" key.
    let response = b"0210 response body";
    let host_mac = hsm.mac_generate(ksn, response).unwrap();
    let verify_key = derive_working_key(&ik, ksn, KeyUsage::MacVerification, KeyType::Aes128);
    assert!(verify_aes_cmac(&verify_key.unwrap(), response, &host_mac));
    // PIN and MAC of one transaction share the KSN; an older KSN is refused.
    let epb = terminal_pin_block(&hsm, ksn, b"1234");
    hsm.translate_pin_format4_dukpt(ksn, &epb, PAN).unwrap();
    assert!(matches!(
        hsm.mac_verify(Ksn::new(IKID, 6), message, &mac[..8]),
        Err(HsmError::ReplayedKsn)
    ));
}

fn pyemv_input(iad: &[u8]) -> CryptogramInput<'_> {
    CryptogramInput {
        amount: hex!("000000004000"),
        amount_other: hex!("000000000000"),
        terminal_country: hex!("0124"),
        tvr: hex!("8000048000"),
        currency: hex!("0124"),
        date: hex!("191105"),
        transaction_type: 0x01,
        unpredictable_number: hex!("52BF4585"),
        aip: hex!("1800"),
        atc: hex!("001C"),
        issuer_application_data: iad,
    }
}

#[test]
fn arqc_and_arpc_visa_cvn10_pyemv() {
    let hsm = Hsm::with_test_keys();
    let iad = hex!("06010A03A06010");
    let input = pyemv_input(&iad);
    let v = CryptogramVersion::VisaCvn10;
    let arqc = hex!("29CCA15AE665FA2E");
    hsm.verify_arqc(&VISA_RID, v, "1234567890123456", 0, &input, arqc)
        .unwrap();
    let mut bad = arqc;
    bad[0] ^= 0x80;
    assert!(matches!(
        hsm.verify_arqc(&VISA_RID, v, "1234567890123456", 0, &input, bad),
        Err(HsmError::CryptogramMismatch)
    ));
    assert!(matches!(
        hsm.verify_arqc(&hex!("A000000999"), v, "1234567890123456", 0, &input, arqc),
        Err(HsmError::UnknownIssuer)
    ));
    let iad91 = hsm
        .issuer_authentication_data(&VISA_RID, v, "1234567890123456", 0, input.atc, arqc, *b"00")
        .unwrap();
    assert_eq!(iad91, hex!("28993816AFAE4AEB 3030"));
}

#[test]
fn arqc_and_arpc_visa_cvn18_pyemv() {
    let hsm = Hsm::with_test_keys();
    let iad = hex!("06011203A0B800");
    let input = pyemv_input(&iad);
    let v = CryptogramVersion::VisaCvn18;
    let arqc = hex!("7A788EA6B8A3E733");
    hsm.verify_arqc(&VISA_RID, v, "1234567890123456", 0, &input, arqc)
        .unwrap();
    // A decline: CSU 00000000, as in pyemv's vector.
    let iad91 = hsm
        .issuer_authentication_data(&VISA_RID, v, "1234567890123456", 0, input.atc, arqc, *b"05")
        .unwrap();
    assert_eq!(iad91, hex!("9AF514C1 00000000"));
}

#[test]
fn terminal_keys_are_fresh() {
    let hsm = Hsm::with_test_keys();
    let a = hsm.create_terminal_key().unwrap();
    let b = hsm.create_terminal_key().unwrap();
    assert_ne!(
        a.initial_ksn.initial_key_id(),
        b.initial_ksn.initial_key_id()
    );
    assert_eq!(
        a.initial_ksn.initial_key_id().bdk_id(),
        test_keys::TEST_BDK_ID
    );
    assert!(a.initial_key != b.initial_key);
}

#[test]
fn key_file_persists() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let first = Hsm::load_or_create(dir.path()).unwrap();
    assert!(!first.test_key_mode());
    let key = first.create_terminal_key().unwrap();
    let mode = std::fs::metadata(dir.path().join("hsm-keys"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let second = Hsm::load_or_create(dir.path()).unwrap();
    let again = second
        .export_initial_key(key.initial_ksn.initial_key_id())
        .unwrap();
    assert!(again.initial_key == key.initial_key);
}
