//! CPU cost of offline data authentication per transaction (issue 3 target: fDDA or CDA adds
//! under 2 ms). Each iteration runs the whole chain: CA key lookup, issuer certificate, ICC
//! certificate, signed dynamic data (and, for CDA, the transaction data hash).
//!
//! Inputs: the public golden vectors of `tests/data/oda/` (Visa fDDA, 1984-bit CA / 1408-bit
//! issuer / 1024-bit ICC; Mastercard CDA, 1408 / 1408 / 896 bits) and a simulator fDDA chain
//! with a 1984-bit CA, 1792-bit issuer and 1152-bit ICC key (`hsm-sim/testdata/pki`).
//!
//! Run: `cargo bench -p emv --bench oda`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use criterion::{Criterion, criterion_group, criterion_main};
use emv::oda::{Authenticator, CaKeyStore, CdaInput, OdaInput, OdaMethod};

#[allow(dead_code, unreachable_pub, unused_imports)] // its unit tests are not run here
#[path = "../../hsm-sim/src/card/pki.rs"]
mod pki;

fn field(table: &toml::Table, name: &str) -> Vec<u8> {
    let text = table.get(name).and_then(|v| v.as_str()).unwrap_or_default();
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).unwrap_or_default()
}

fn load(text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_default()
}

fn golden_chains(c: &mut Criterion) {
    let fdda = load(include_str!("../tests/data/oda/visa-fdda-lloyds.toml"));
    let live = CaKeyStore::embedded_live().unwrap_or_default();
    let visa = Authenticator::new(live);
    let (cert90, exp32, cert46, exp47, pan, sdad, terminal) = (
        field(&fdda, "issuer_public_key_certificate"),
        field(&fdda, "issuer_public_key_exponent"),
        field(&fdda, "icc_public_key_certificate"),
        field(&fdda, "icc_public_key_exponent"),
        field(&fdda, "pan"),
        field(&fdda, "signed_dynamic_application_data"),
        field(&fdda, "terminal_dynamic_data"),
    );
    let input = OdaInput {
        method: OdaMethod::Fdda,
        rid: [0xA0, 0x00, 0x00, 0x00, 0x03],
        ca_public_key_index: Some(0x09),
        issuer_public_key_certificate: Some(&cert90),
        issuer_public_key_remainder: None,
        issuer_public_key_exponent: Some(&exp32),
        icc_public_key_certificate: Some(&cert46),
        icc_public_key_exponent: Some(&exp47),
        icc_public_key_remainder: None,
        pan: Some(&pan),
        static_data: &[],
        signed_static_application_data: None,
        signed_dynamic_application_data: Some(&sdad),
        terminal_dynamic_data: &terminal,
        cda: None,
        transaction_date: [0x23, 0x03, 0x01],
    };
    assert!(visa.run(&input).passed(), "Lloyds fDDA must verify");
    c.bench_function("fdda_visa_lloyds_1984_1408_1024", |b| {
        b.iter(|| visa.run(&input))
    });

    let cda = load(include_str!("../tests/data/oda/mastercard-cda.toml"));
    let golden = CaKeyStore::from_str(include_str!("../tests/data/oda/capk-golden.toml"))
        .unwrap_or_default();
    let mastercard = Authenticator::new(golden);
    let names = [
        "issuer_public_key_certificate",
        "issuer_public_key_remainder",
        "issuer_public_key_exponent",
        "icc_public_key_certificate",
        "icc_public_key_exponent",
        "pan",
        "static_data",
        "signed_dynamic_application_data",
        "unpredictable_number",
        "cdol1_data",
        "generate_ac_response_without_sdad",
    ];
    let v: Vec<Vec<u8>> = names.iter().map(|n| field(&cda, n)).collect();
    let input = OdaInput {
        method: OdaMethod::Cda,
        rid: [0xA0, 0x00, 0x00, 0x00, 0x04],
        ca_public_key_index: Some(0x05),
        issuer_public_key_certificate: Some(&v[0]),
        issuer_public_key_remainder: Some(&v[1]),
        issuer_public_key_exponent: Some(&v[2]),
        icc_public_key_certificate: Some(&v[3]),
        icc_public_key_exponent: Some(&v[4]),
        icc_public_key_remainder: None,
        pan: Some(&v[5]),
        static_data: &v[6],
        signed_static_application_data: None,
        signed_dynamic_application_data: Some(&v[7]),
        terminal_dynamic_data: &v[8],
        cda: Some(CdaInput {
            pdol_data: &[],
            cdol1_data: &v[9],
            generate_ac_response_without_sdad: &v[10],
            cryptogram_information_data: 0x40,
        }),
        transaction_date: [0x14, 0x09, 0x25],
    };
    assert!(
        mastercard.run(&input).passed(),
        "Mastercard CDA must verify"
    );
    c.bench_function("cda_mastercard_1408_1408_896", |b| {
        b.iter(|| mastercard.run(&input))
    });
}

fn simulator_chain(c: &mut Criterion) {
    let Ok(pki) = pki::SimulatorPki::load() else {
        return;
    };
    let Some(visa) = pki.scheme([0xA0, 0x00, 0x00, 0x00, 0x03]) else {
        return;
    };
    let pan_digits = "4761739001010119";
    let pan = [0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19];
    let (Ok(issuer), Some(key)) = (visa.issuer_certificate(pan_digits), visa.icc_key(0)) else {
        return;
    };
    let Ok(icc) = visa.icc_certificate(key, pan_digits, "2812", [0, 0, 1], &pan) else {
        return;
    };
    let terminal = [0x11; 19];
    let Ok(sdad) =
        pki::signed_dynamic_application_data(key, pki::FORMAT_VISA_FDDA, &[2, 0, 1], &terminal)
    else {
        return;
    };
    let authenticator = Authenticator::new(CaKeyStore::embedded_test().unwrap_or_default());
    let input = OdaInput {
        method: OdaMethod::Fdda,
        rid: visa.rid(),
        ca_public_key_index: Some(visa.ca_index()),
        issuer_public_key_certificate: Some(&issuer.certificate),
        issuer_public_key_remainder: Some(&issuer.remainder),
        issuer_public_key_exponent: Some(&issuer.exponent),
        icc_public_key_certificate: Some(&icc.certificate),
        icc_public_key_exponent: Some(&icc.exponent),
        icc_public_key_remainder: None,
        pan: Some(&pan),
        static_data: &pan,
        signed_static_application_data: None,
        signed_dynamic_application_data: Some(&sdad),
        terminal_dynamic_data: &terminal,
        cda: None,
        transaction_date: [0x26, 0x11, 0x21],
    };
    assert!(
        authenticator.run(&input).passed(),
        "simulator fDDA must verify"
    );
    c.bench_function("fdda_simulator_1984_1792_1152", |b| {
        b.iter(|| authenticator.run(&input))
    });
}

criterion_group!(benches, golden_chains, simulator_chain);
criterion_main!(benches);
