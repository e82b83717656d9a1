//! AES DUKPT (ANSI X9.24-3-2017) vectors.
//!
//! Sources: the ANSI X9.24-3-2017 supplement test vectors (x9.org) for the AES-128 BDK
//! `FEDCBA9876543210F1F1F1F1F1F1F1F1` and initial key ID `1234567890123456`, as reproduced in
//! openemv/dukpt `test/dukpt_aes128_test.c` (initial key, the first eight transaction derivation
//! keys, counters 0x1FFFE/0x20000/0x20001, the last four counters) and `test/dukpt_aes_test.c`
//! (AES-256 initial key), and the supplement's working keys for counters 1 and 2 as public test
//! suites quote them (PIN `AF8CB133…`, MAC generation `A2DC23DE…`, data `A35C412E…`).
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::dukpt::{
    DukptError, InitialKeyId, KeyType, KeyUsage, Ksn, derive_initial_key, derive_transaction_key,
    derive_working_key, derive_working_key_from_bdk, first_ksn, next_ksn,
};
use emv::crypto::key::AesKey;
use hex_literal::hex;

const BDK128: [u8; 16] = hex!("FEDCBA9876543210F1F1F1F1F1F1F1F1");
const IKID: InitialKeyId = InitialKeyId(hex!("1234567890123456"));
const IK128: [u8; 16] = hex!("1273671EA26AC29AFA4D1084127652A1");

fn bdk() -> AesKey {
    AesKey::from_bytes_128(BDK128)
}

fn ik() -> AesKey {
    AesKey::from_bytes_128(IK128)
}

#[test]
fn initial_key_aes128() {
    // X9.24-3-2017 B.1 / supplement: IK 1273671EA26AC29AFA4D1084127652A1.
    let ik = derive_initial_key(&bdk(), IKID).unwrap();
    assert_eq!(ik.expose_secret(), &IK128);
}

#[test]
fn initial_key_aes256() {
    // X9.24-3-2017 supplement (openemv/dukpt dukpt_aes_test.c): AES-256 BDK = the 128-bit BDK
    // twice.
    let bdk = AesKey::from_slice(&[BDK128, BDK128].concat()).unwrap();
    let ik = derive_initial_key(&bdk, IKID).unwrap();
    assert_eq!(
        ik.expose_secret(),
        &hex!("CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F")
    );
}

#[test]
fn first_eight_transaction_keys() {
    // openemv/dukpt dukpt_aes128_test.c `txn_key_verify` (supplement page 2).
    let expected = [
        hex!("4F21B565BAD9835E112B6465635EAE44"),
        hex!("2F34D68DE10F68D38091A73B9E7C437C"),
        hex!("031504E530365CF81264238540518318"),
        hex!("0EEFC7ADA628BA68878DA9165A8A1887"),
        hex!("C2A7AC328A5DA2D6002D62465BFC028B"),
        hex!("D30F7D9351DA58448A2F5E92B4EE3B7D"),
        hex!("A8253CEED9AC042C54F75D35C8352278"),
        hex!("718EE6CF0B27E53D5F7AF99C4D8146A2"),
    ];
    let ik = ik();
    let mut ksn = first_ksn(IKID);
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            ksn.to_bytes(),
            Ksn::new(IKID, u32::try_from(i + 1).unwrap()).to_bytes()
        );
        let key = derive_transaction_key(&ik, ksn).unwrap();
        assert_eq!(key.expose_secret(), want, "counter {}", i + 1);
        ksn = next_ksn(ksn).unwrap();
    }
}

#[test]
fn rollover_and_last_counters() {
    // openemv/dukpt dukpt_aes128_test.c `ksn_verify2`/`txn_key_verify2` (supplement page 5) and
    // `ksn_verify3`/`txn_key_verify3` (page 6).
    let ik = ik();
    let cases: [(u32, [u8; 16]); 7] = [
        (0x0001_FFFE, hex!("E21E8C8D347F8561A2BE752DAA85A111")),
        (0x0002_0000, hex!("F7AE9025468A25D37B7249CFFED224C8")),
        (0x0002_0001, hex!("692C8EA4013645135B36497131DF9D2C")),
        (0xFFFE_2000, hex!("48E585B694EB0B18D5C35443E163C0BA")),
        (0xFFFE_4000, hex!("396C2C7CA1EA701C03B86B7D41F0C562")),
        (0xFFFE_8000, hex!("0387625F189B58AE03EF0E8CCA41105E")),
        (0xFFFF_0000, hex!("F6BA59389BD14A9855BE9727E7C52E3C")),
    ];
    for (counter, want) in cases {
        let key = derive_transaction_key(&ik, Ksn::new(IKID, counter)).unwrap();
        assert_eq!(key.expose_secret(), &want, "counter {counter:08X}");
    }
}

#[test]
fn working_keys_counter_1_and_2() {
    // X9.24-3 supplement working keys for KSN 123456789012345600000001 / …02.
    let ksn1 = Ksn::new(IKID, 1);
    let ksn2 = Ksn::new(IKID, 2);
    let cases = [
        (
            ksn1,
            KeyUsage::PinEncryption,
            hex!("AF8CB133A78F8DC2D1359F18527593FB"),
        ),
        (
            ksn1,
            KeyUsage::MacGeneration,
            hex!("A2DC23DE6FDE0824A2BC321E08E4B8B7"),
        ),
        (
            ksn1,
            KeyUsage::DataEncryptionEncrypt,
            hex!("A35C412EFD41FDB98B69797C02DCD08F"),
        ),
        (
            ksn2,
            KeyUsage::PinEncryption,
            hex!("D30BDC73EC9714B000BEC66BDB7B6D09"),
        ),
    ];
    for (ksn, usage, want) in cases {
        let from_ik = derive_working_key(&ik(), ksn, usage, KeyType::Aes128).unwrap();
        assert_eq!(
            from_ik.expose_secret(),
            &want,
            "{usage:?} {:08X}",
            ksn.counter()
        );
        let from_bdk = derive_working_key_from_bdk(&bdk(), ksn, usage, KeyType::Aes128).unwrap();
        assert!(from_bdk == from_ik);
    }
}

#[test]
fn usages_give_different_keys() {
    let ksn = Ksn::new(IKID, 5);
    let generate = derive_working_key(&ik(), ksn, KeyUsage::MacGeneration, KeyType::Aes128);
    let verify = derive_working_key(&ik(), ksn, KeyUsage::MacVerification, KeyType::Aes128);
    assert!(generate.unwrap() != verify.unwrap());
}

#[test]
fn counter_skips_more_than_16_one_bits() {
    // Security doc C3 / X9.24-3 §6.1: 0x0001FFFF has 17 one-bits, so 0x0001FFFE → 0x00020000.
    let next = next_ksn(Ksn::new(IKID, 0x0001_FFFE)).unwrap();
    assert_eq!(next.counter(), 0x0002_0000);
    assert_eq!(next.initial_key_id(), IKID);
    // A counter of 16 ones followed by zeros jumps over the whole run.
    assert_eq!(
        next_ksn(Ksn::new(IKID, 0x0000_FFFF)).unwrap().counter(),
        0x0001_0000
    );
    assert_eq!(
        next_ksn(Ksn::new(IKID, 0xFFFE_8000)).unwrap().counter(),
        0xFFFF_0000
    );
    assert!(!Ksn::new(IKID, 0x0001_FFFF).is_valid());
    assert!(!Ksn::new(IKID, 0).is_valid());
    assert_eq!(
        derive_transaction_key(&ik(), Ksn::new(IKID, 0x0001_FFFF)).err(),
        Some(DukptError::InvalidKsn)
    );
}

#[test]
fn exhausted_after_ffff0000() {
    // X9.24-3 §6.1: 0xFFFF0000 is the last counter.
    assert_eq!(
        next_ksn(Ksn::new(IKID, 0xFFFF_0000)).err(),
        Some(DukptError::KeyExhausted)
    );
}

#[test]
fn every_advanced_counter_is_valid_and_increasing() {
    let mut ksn = Ksn::new(IKID, 0x0000_FF00);
    for _ in 0..20_000 {
        let next = next_ksn(ksn).unwrap();
        assert!(next.is_valid());
        assert!(next.counter() > ksn.counter());
        // No valid counter was skipped.
        for skipped in ksn.counter() + 1..next.counter() {
            assert!(skipped.count_ones() > 16);
        }
        ksn = next;
    }
}

#[test]
fn working_key_not_stronger_than_initial_key() {
    assert_eq!(
        derive_working_key(
            &ik(),
            Ksn::new(IKID, 1),
            KeyUsage::PinEncryption,
            KeyType::Aes256
        )
        .err(),
        Some(DukptError::WorkingKeyTooStrong)
    );
}

#[test]
fn ksn_parts() {
    let ksn = Ksn::from_bytes(hex!("123456789012345600000001"));
    assert_eq!(ksn.initial_key_id().bdk_id(), hex!("12345678"));
    assert_eq!(ksn.initial_key_id().derivation_id(), hex!("90123456"));
    assert_eq!(ksn.counter(), 1);
}
