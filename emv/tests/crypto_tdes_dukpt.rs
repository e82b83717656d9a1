//! TDES DUKPT (ANSI X9.24-1:2009 Annex A.4) vectors: BDK 0123456789ABCDEFFEDCBA9876543210,
//! KSN FFFF9876543210E0000n, PIN 1234, PAN 4012345678909, as reproduced in moov-io/dukpt
//! (`des` package test, "A.4.2 Initial Sequence": current keys and enciphered PIN blocks) and
//! in public DUKPT verify tables (PIN and MAC variant keys).
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use emv::crypto::dukpt::DukptError;
use emv::crypto::key::TdesKey16;
use emv::crypto::pin_block::{Pin, decrypt_format0_tdes, encrypt_format0_tdes};
use emv::crypto::tdes_dukpt::{
    TdesKsn, TdesVariant, derive_ipek, derive_tdes_transaction_key, derive_tdes_working_key,
    next_tdes_ksn,
};
use hex_literal::hex;

const BDK: [u8; 16] = hex!("0123456789ABCDEFFEDCBA9876543210");
const KSN0: TdesKsn = TdesKsn(hex!("FFFF9876543210E00000"));

#[test]
fn ipek() {
    // X9.24-1:2009 A.4: IPEK 6AC292FAA1315B4D858AB3A3D7D5933A.
    let ipek = derive_ipek(&TdesKey16::from_bytes(BDK), KSN0.with_counter(1));
    assert_eq!(
        ipek.expose_secret(),
        &hex!("6AC292FAA1315B4D858AB3A3D7D5933A")
    );
}

#[test]
fn initial_sequence() {
    // (counter, PIN key from the verify table, enciphered format 0 PIN block from moov-io/dukpt
    // A.4.2 and jPOS `test_DUKPT`).
    let cases = [
        (
            1,
            hex!("042666B49184CF5C68DE9628D0397B36"),
            hex!("1B9C1845EB993A7A"),
        ),
        (
            2,
            hex!("C46551CEF9FD244FAA9AD834130D3B38"),
            hex!("10A01C8D02C69107"),
        ),
        (
            3,
            hex!("0DF3D9422ACA561A47676D07AD6BAD05"),
            hex!("18DC07B94797B466"),
        ),
    ];
    let ipek = derive_ipek(&TdesKey16::from_bytes(BDK), KSN0);
    let pin = Pin::from_ascii(b"1234").unwrap();
    let mut ksn = KSN0;
    for (counter, pin_key, epb) in cases {
        ksn = next_tdes_ksn(ksn).unwrap();
        assert_eq!(ksn.counter(), counter);
        let pin_key_derived = derive_tdes_working_key(&ipek, ksn, TdesVariant::Pin).unwrap();
        assert_eq!(
            pin_key_derived.expose_secret(),
            &pin_key,
            "counter {counter}"
        );
        let pin_key = pin_key_derived;
        assert_eq!(
            encrypt_format0_tdes(&pin_key, &pin, "4012345678909").unwrap(),
            epb
        );
        let back = decrypt_format0_tdes(&pin_key, &epb, "4012345678909").unwrap();
        assert_eq!(back.expose_secret(), &[1, 2, 3, 4]);
    }
}

#[test]
fn current_keys_moov() {
    // moov-io/dukpt A.4.2 `CurrentKey` (the transaction key before any variant).
    let ipek = derive_ipek(&TdesKey16::from_bytes(BDK), KSN0);
    for (counter, want) in [
        (1, hex!("042666B49184CFA368DE9628D0397BC9")),
        (2, hex!("C46551CEF9FD24B0AA9AD834130D3BC7")),
    ] {
        let key = derive_tdes_transaction_key(&ipek, KSN0.with_counter(counter)).unwrap();
        assert_eq!(key.expose_secret(), &want, "counter {counter}");
    }
}

#[test]
fn pin_and_mac_variants() {
    // DUKPT verify table (KSN …E00001): PIN key 042666B49184CF5C68DE9628D0397B36, MAC key
    // 042666B4918430A368DE9628D03984C9.
    let ipek = derive_ipek(&TdesKey16::from_bytes(BDK), KSN0);
    let ksn = KSN0.with_counter(1);
    let pin = derive_tdes_working_key(&ipek, ksn, TdesVariant::Pin).unwrap();
    assert_eq!(
        pin.expose_secret(),
        &hex!("042666B49184CF5C68DE9628D0397B36")
    );
    let mac = derive_tdes_working_key(&ipek, ksn, TdesVariant::MacRequest).unwrap();
    assert_eq!(
        mac.expose_secret(),
        &hex!("042666B4918430A368DE9628D03984C9")
    );
}

#[test]
fn counter_rules() {
    // 21-bit counter, at most 10 one-bits; 0x1FF800 is the last one.
    assert_eq!(
        next_tdes_ksn(KSN0.with_counter(0x3FE)).unwrap().counter(),
        0x3FF
    );
    assert_eq!(
        next_tdes_ksn(KSN0.with_counter(0x3FF)).unwrap().counter(),
        0x400
    );
    assert_eq!(
        next_tdes_ksn(KSN0.with_counter(0x1FF400))
            .unwrap()
            .counter(),
        0x1FF800
    );
    assert_eq!(
        next_tdes_ksn(KSN0.with_counter(0x1FF800)).err(),
        Some(DukptError::KeyExhausted)
    );
    assert!(!KSN0.with_counter(0x7FF).is_valid());
    // The key set ID bits next to the counter are kept.
    assert_eq!(KSN0.with_counter(1).0, hex!("FFFF9876543210E00001"));
}
