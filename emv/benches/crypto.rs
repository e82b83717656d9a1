//! Payment cryptography timings: a PIN pad's format 4 PIN block with its AES DUKPT derivation,
//! and the host's ARQC verification. Run: `cargo bench -p emv --bench crypto`.
#![allow(missing_docs, clippy::unwrap_used)] // criterion macros; a panic in a bench is a bug.

use criterion::{Criterion, criterion_group, criterion_main};
use emv::crypto::cryptogram::{CryptogramInput, CryptogramVersion, verify_application_cryptogram};
use emv::crypto::dukpt::{InitialKeyId, KeyType, KeyUsage, Ksn, derive_working_key};
use emv::crypto::key::{AesKey, TdesKey16};
use emv::crypto::pin_block::{OsFill, Pin, encrypt_format4};
use std::hint::black_box;

fn format4_with_dukpt(c: &mut Criterion) {
    // X9.24-3 supplement initial key; a counter with 8 one-bits = 8 intermediate derivations.
    let ik = AesKey::from_bytes_128([
        0x12, 0x73, 0x67, 0x1E, 0xA2, 0x6A, 0xC2, 0x9A, 0xFA, 0x4D, 0x10, 0x84, 0x12, 0x76, 0x52,
        0xA1,
    ]);
    let ksn = Ksn::new(
        InitialKeyId([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]),
        0x0000_00FF,
    );
    let pin = Pin::from_ascii(b"1234").unwrap();
    c.bench_function(
        "format4 PIN block + AES DUKPT derivation (8 one-bits)",
        |b| {
            b.iter(|| {
                let key = derive_working_key(
                    &ik,
                    black_box(ksn),
                    KeyUsage::PinEncryption,
                    KeyType::Aes128,
                )
                .unwrap();
                encrypt_format4(&key, &pin, black_box("4111111111111111"), &mut OsFill).unwrap()
            })
        },
    );
    let ksn16 = Ksn::new(ksn.initial_key_id(), 0xFFFF_0000);
    c.bench_function(
        "format4 PIN block + AES DUKPT derivation (16 one-bits)",
        |b| {
            b.iter(|| {
                let key = derive_working_key(
                    &ik,
                    black_box(ksn16),
                    KeyUsage::PinEncryption,
                    KeyType::Aes128,
                )
                .unwrap();
                encrypt_format4(&key, &pin, black_box("4111111111111111"), &mut OsFill).unwrap()
            })
        },
    );
}

fn arqc_verification(c: &mut Criterion) {
    // pyemv test_cvn_hsm.py Visa CVN 18 vector.
    let imk = TdesKey16::from_bytes([
        0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32,
        0x10,
    ]);
    let iad = [0x06, 0x01, 0x12, 0x03, 0xA0, 0xB8, 0x00];
    let input = CryptogramInput {
        amount: [0, 0, 0, 0, 0x40, 0],
        amount_other: [0; 6],
        terminal_country: [0x01, 0x24],
        tvr: [0x80, 0, 0x04, 0x80, 0],
        currency: [0x01, 0x24],
        date: [0x19, 0x11, 0x05],
        transaction_type: 0x01,
        unpredictable_number: [0x52, 0xBF, 0x45, 0x85],
        aip: [0x18, 0x00],
        atc: [0x00, 0x1C],
        issuer_application_data: &iad,
    };
    let arqc = [0x7A, 0x78, 0x8E, 0xA6, 0xB8, 0xA3, 0xE7, 0x33];
    c.bench_function(
        "ARQC verification, Visa CVN 18 (IMK → MK → SK → MAC)",
        |b| {
            b.iter(|| {
                verify_application_cryptogram(
                    CryptogramVersion::VisaCvn18,
                    &imk,
                    black_box("1234567890123456"),
                    0,
                    black_box(&input),
                    arqc,
                )
                .unwrap()
            })
        },
    );
}

criterion_group!(benches, format4_with_dukpt, arqc_verification);
criterion_main!(benches);
