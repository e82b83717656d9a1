//! Round trip with the simulator PKI (`hsm-sim/src/card/pki.rs`, keys in
//! `hsm-sim/testdata/pki/`): certificates and signatures built as the virtual cards build them
//! must pass every ODA method in the kernel's authenticator, and each fault must fail with the
//! right [`OdaFailure`].
//!
//! The PKI module is compiled into this test directly (it only uses crates `emv` has), so the
//! kernel's tests do not pull in the whole simulator; its own unit tests run here too.

#[allow(dead_code, unreachable_pub)]
#[path = "../../hsm-sim/src/card/pki.rs"]
mod pki;

use emv::oda::{
    Authenticator, CaKeyStore, CdaInput, OdaFailure, OdaInput, OdaMethod, OdaResult,
    OfflineDataAuthenticator, transaction_data_hash_code,
};
use hex_literal::hex;
use pki::{
    FORMAT_DYNAMIC, FORMAT_VISA_FDDA, IccCertificate, IssuerCertificate, SchemePki, SimulatorPki,
    combined_signed_dynamic_application_data, signed_dynamic_application_data,
};

const VISA: [u8; 5] = hex!("A000000003");
const MASTERCARD: [u8; 5] = hex!("A000000004");
const UNIONPAY: [u8; 5] = hex!("A000000333");
const DATE: [u8; 3] = hex!("261121");

/// A test card of each scheme: PAN digits, PAN as `5A`, expiry YYMM.
fn card(rid: [u8; 5]) -> (&'static str, Vec<u8>) {
    let pan = match rid {
        VISA => "4761739001010119",
        MASTERCARD => "5413330089020011",
        _ => "6250946000000016",
    };
    (pan, hex::decode(pan).expect("digits"))
}

/// Records the AFL flags for ODA (SFI 1-10: without `70` and length), then the AIP.
fn static_data(pan: &[u8]) -> Vec<u8> {
    let mut data = vec![0x5A, 0x08];
    data.extend_from_slice(pan);
    data.extend_from_slice(&hex!("5F2403281231 5F280208 26 9F0702FF00"));
    data.extend_from_slice(&hex!("3900"));
    data
}

/// What a personalised card carries for ODA.
struct Card {
    rid: [u8; 5],
    ca_index: u8,
    pan: Vec<u8>,
    static_data: Vec<u8>,
    issuer: IssuerCertificate,
    icc: IccCertificate,
    icc_key: usize,
}

impl Card {
    fn personalise(scheme: &SchemePki) -> Self {
        let (digits, pan) = card(scheme.rid());
        let static_data = static_data(&pan);
        let issuer = scheme
            .issuer_certificate(digits)
            .expect("issuer certificate");
        let icc_key = scheme.icc_key(1).expect("ICC key 1");
        let icc = scheme
            .icc_certificate(icc_key, digits, "2812", hex!("000042"), &static_data)
            .expect("ICC certificate");
        Self {
            rid: scheme.rid(),
            ca_index: scheme.ca_index(),
            pan,
            static_data,
            issuer,
            icc,
            icc_key: 1,
        }
    }

    fn input<'a>(
        &'a self,
        method: OdaMethod,
        signed: &'a [u8],
        terminal: &'a [u8],
    ) -> OdaInput<'a> {
        let optional = |v: &'a Vec<u8>| (!v.is_empty()).then_some(&v[..]);
        OdaInput {
            method,
            rid: self.rid,
            ca_public_key_index: Some(self.ca_index),
            issuer_public_key_certificate: Some(&self.issuer.certificate),
            issuer_public_key_remainder: optional(&self.issuer.remainder),
            issuer_public_key_exponent: Some(&self.issuer.exponent),
            icc_public_key_certificate: Some(&self.icc.certificate),
            icc_public_key_exponent: Some(&self.icc.exponent),
            icc_public_key_remainder: optional(&self.icc.remainder),
            pan: Some(&self.pan),
            static_data: &self.static_data,
            signed_static_application_data: (method == OdaMethod::Sda).then_some(signed),
            signed_dynamic_application_data: (method != OdaMethod::Sda).then_some(signed),
            terminal_dynamic_data: terminal,
            cda: None,
            transaction_date: DATE,
        }
    }
}

fn authenticator() -> Authenticator {
    Authenticator::new(CaKeyStore::embedded_test().expect("shipped test keys load"))
}

fn run(input: &OdaInput<'_>) -> OdaResult {
    authenticator()
        .authenticate(input)
        .expect("keys are configured")
}

fn pki() -> SimulatorPki {
    SimulatorPki::load().expect("simulator PKI loads")
}

/// fDDA terminal data: 9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69 (card UN and CTQ inside 9F69).
fn fdda_terminal_data(amount: [u8; 6]) -> Vec<u8> {
    [
        &hex!("38393031")[..],
        &amount,
        &hex!("0978"),
        &hex!("01 B4CBA8D6 1600"),
    ]
    .concat()
}

fn fdda_signature(scheme: &SchemePki, terminal: &[u8]) -> Vec<u8> {
    let format = if scheme.rid() == VISA {
        FORMAT_VISA_FDDA
    } else {
        FORMAT_DYNAMIC
    };
    let key = scheme.icc_key(1).expect("ICC key");
    signed_dynamic_application_data(key, format, &hex!("02 0007"), terminal).expect("SDAD")
}

#[test]
fn sda_passes_for_every_scheme() {
    let pki = pki();
    for scheme in pki.schemes() {
        let card = Card::personalise(scheme);
        let ssad = scheme
            .signed_static_application_data(hex!("DAC1"), &card.static_data)
            .expect("93");
        let result = run(&card.input(OdaMethod::Sda, &ssad, &[]));
        assert_eq!(result.status, Ok(()), "{:02X?}", scheme.rid());
        assert_eq!(result.recovered_dynamic_number, Some(hex!("DAC1").to_vec()));
    }
}

#[test]
fn dda_passes_for_every_scheme() {
    let pki = pki();
    for scheme in pki.schemes() {
        let card = Card::personalise(scheme);
        let ddol_data = hex!("1A2B3C4D");
        let key = scheme.icc_key(card.icc_key).expect("ICC key");
        let sdad =
            signed_dynamic_application_data(key, FORMAT_DYNAMIC, &hex!("04 01020304"), &ddol_data)
                .expect("SDAD");
        let result = run(&card.input(OdaMethod::Dda, &sdad, &ddol_data));
        assert_eq!(result.status, Ok(()), "{:02X?}", scheme.rid());
        assert_eq!(
            result.recovered_dynamic_number,
            Some(hex!("01020304").to_vec())
        );
    }
}

#[test]
fn fdda_passes_for_visa_and_unionpay() {
    let pki = pki();
    for rid in [VISA, UNIONPAY] {
        let scheme = pki.scheme(rid).expect("scheme");
        let card = Card::personalise(scheme);
        let terminal = fdda_terminal_data(hex!("000000001000"));
        let sdad = fdda_signature(scheme, &terminal);
        let result = run(&card.input(OdaMethod::Fdda, &sdad, &terminal));
        assert_eq!(result.status, Ok(()), "{rid:02X?}");
        assert_eq!(result.recovered_dynamic_number, Some(hex!("0007").to_vec()));
    }
}

/// A Mastercard CDA exchange: the card signs over what it received and returned; the terminal
/// checks with what it sent. Returns the result and the AC the card made.
fn cda_exchange(card_amount: [u8; 6], terminal_amount: [u8; 6], cid: u8) -> (OdaResult, [u8; 8]) {
    let pki = pki();
    let scheme = pki.scheme(MASTERCARD).expect("Mastercard");
    let card = Card::personalise(scheme);
    let un = hex!("CAFEBABE");
    let pdol = hex!("0978");
    let cdol1 = |amount: [u8; 6]| {
        [
            &amount[..],
            &hex!("000000000000 0826 0000000000 0978 261121 00"),
            &un,
        ]
        .concat()
    };
    let response = hex!("9F2701 80 9F3602 0017 9F1012 0110A00003220000000000000000000000FF");
    let ac = hex!("1122334455667788");
    let card_cdol1 = cdol1(card_amount);
    let card_view = CdaInput {
        pdol_data: &pdol,
        cdol1_data: &card_cdol1,
        generate_ac_response_without_sdad: &response,
        cryptogram_information_data: 0x80,
    };
    let tdhc = transaction_data_hash_code(&card_view);
    let key = scheme.icc_key(card.icc_key).expect("ICC key");
    let sdad = combined_signed_dynamic_application_data(
        key,
        &hex!("0102030405060708"),
        0x80,
        ac,
        tdhc,
        &un,
    )
    .expect("SDAD");
    let terminal_cdol1 = cdol1(terminal_amount);
    let mut input = card.input(OdaMethod::Cda, &sdad, &un);
    input.cda = Some(CdaInput {
        pdol_data: &pdol,
        cdol1_data: &terminal_cdol1,
        generate_ac_response_without_sdad: &response,
        cryptogram_information_data: cid,
    });
    (run(&input), ac)
}

#[test]
fn cda_passes_and_recovers_the_cryptogram() {
    let (result, ac) = cda_exchange(hex!("000000002500"), hex!("000000002500"), 0x80);
    assert_eq!(result.status, Ok(()));
    assert_eq!(result.recovered_cryptogram, Some(ac));
    assert_eq!(
        result.recovered_dynamic_number,
        Some(hex!("0102030405060708").to_vec())
    );
}

#[test]
fn cda_signature_over_another_amount_fails() {
    let (result, _) = cda_exchange(hex!("000000002500"), hex!("000000000100"), 0x80);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature(
            "CDA transaction data hash code does not match"
        ))
    );
    assert_eq!(result.recovered_cryptogram, None);
}

#[test]
fn cda_with_another_cid_fails() {
    let (result, _) = cda_exchange(hex!("000000002500"), hex!("000000002500"), 0x40);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("CDA signed CID differs from 9F27"))
    );
}

#[test]
fn expired_issuer_certificate_fails() {
    let pki = pki();
    let scheme = pki.scheme(VISA).expect("Visa");
    let mut card = Card::personalise(scheme);
    // Issuer certificate valid through January 2020 only.
    card.issuer = scheme
        .issuer_certificate_with(hex!("476173FF"), hex!("0120"), hex!("000002"))
        .expect("issuer certificate");
    let terminal = fdda_terminal_data(hex!("000000001000"));
    let sdad = fdda_signature(scheme, &terminal);
    let result = run(&card.input(OdaMethod::Fdda, &sdad, &terminal));
    assert_eq!(result.status, Err(OdaFailure::IssuerCertificateExpired));
}

#[test]
fn issuer_identifier_of_another_bin_fails() {
    let pki = pki();
    let scheme = pki.scheme(VISA).expect("Visa");
    let mut card = Card::personalise(scheme);
    card.issuer = scheme
        .issuer_certificate_with(hex!("476174FF"), hex!("1249"), hex!("000003"))
        .expect("issuer certificate");
    let terminal = fdda_terminal_data(hex!("000000001000"));
    let sdad = fdda_signature(scheme, &terminal);
    let result = run(&card.input(OdaMethod::Fdda, &sdad, &terminal));
    assert_eq!(
        result.status,
        Err(OdaFailure::IssuerCertificate(
            "issuer identifier does not match the PAN"
        ))
    );
}

#[test]
fn wrong_ca_index_fails() {
    let pki = pki();
    let scheme = pki.scheme(UNIONPAY).expect("UnionPay");
    let card = Card::personalise(scheme);
    let terminal = fdda_terminal_data(hex!("000000001000"));
    let sdad = fdda_signature(scheme, &terminal);
    let mut input = card.input(OdaMethod::Fdda, &sdad, &terminal);
    input.ca_public_key_index = Some(0xD1);
    assert_eq!(run(&input).status, Err(OdaFailure::CaKeyNotFound));
    // A real UnionPay index exists in the test store, but did not sign this certificate.
    input.ca_public_key_index = Some(0x0B);
    assert!(matches!(
        run(&input).status,
        Err(OdaFailure::IssuerCertificate(_))
    ));
}

#[test]
fn record_tampered_after_signing_fails() {
    let pki = pki();
    for scheme in pki.schemes() {
        let mut card = Card::personalise(scheme);
        let ssad = scheme
            .signed_static_application_data(hex!("DAC1"), &card.static_data)
            .expect("93");
        let terminal = fdda_terminal_data(hex!("000000001000"));
        let sdad = fdda_signature(scheme, &terminal);
        // The expiry date in the records changes after the issuer signed them.
        let at = card.static_data.len() - 9;
        card.static_data[at] ^= 0x01;
        let sda = run(&card.input(OdaMethod::Sda, &ssad, &[]));
        assert_eq!(
            sda.status,
            Err(OdaFailure::Signature("93 hash does not match"))
        );
        let fdda = run(&card.input(OdaMethod::Fdda, &sdad, &terminal));
        assert_eq!(
            fdda.status,
            Err(OdaFailure::IccCertificate("hash does not match"))
        );
    }
}

#[test]
fn bad_fdda_signature_fails() {
    let pki = pki();
    for rid in [VISA, UNIONPAY] {
        let scheme = pki.scheme(rid).expect("scheme");
        let card = Card::personalise(scheme);
        let terminal = fdda_terminal_data(hex!("000000001000"));
        let mut sdad = fdda_signature(scheme, &terminal);
        sdad[10] ^= 0x80;
        let result = run(&card.input(OdaMethod::Fdda, &sdad, &terminal));
        assert!(
            matches!(result.status, Err(OdaFailure::Signature(_))),
            "{:?}",
            result.status
        );
        // Signed by another card's key: recovery yields garbage.
        let other = scheme.icc_key(0).expect("ICC key 0");
        let foreign =
            signed_dynamic_application_data(other, FORMAT_DYNAMIC, &hex!("02 0007"), &terminal)
                .expect("SDAD");
        let result = run(&card.input(OdaMethod::Fdda, &foreign, &terminal));
        assert!(
            matches!(result.status, Err(OdaFailure::Signature(_))),
            "{:?}",
            result.status
        );
    }
}

#[test]
fn dda_signature_with_the_wrong_format_fails() {
    let pki = pki();
    let scheme = pki.scheme(VISA).expect("Visa");
    let card = Card::personalise(scheme);
    let terminal = fdda_terminal_data(hex!("000000001000"));
    // Format 95 is accepted for fDDA only.
    let sdad = fdda_signature(scheme, &terminal);
    let result = run(&card.input(OdaMethod::Dda, &sdad, &terminal));
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature(
            "9F4B has an unexpected signed data format"
        ))
    );
}
