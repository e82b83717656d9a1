//! Golden tests of offline data authentication on public data (EMV Book 2 §5, §6).
//!
//! Sources, named again in each vector file of `tests/data/oda/`:
//! - SDA: RfidResearchGroup/proxmark3 `client/src/emv/test/sda_test.c`, Visa CA key 01.
//! - DDA: proxmark3 `client/src/emv/test/dda_test.c`, Mastercard CA key 05.
//! - CDA: lumag/emv-tools `test/cda-test.c`, Mastercard CA key 05; expected IDN
//!   4CC2FB1FAFB30915, CID 40, AC 16AFBA13C52FB173 (shared doc emv-qr-facts.md §3).
//! - fDDA: the Lloyds Bank Visa trace (MichaelsPlayground), Visa live CA key 09 from the
//!   shipped live store; expected ICC dynamic number 03A4 (the ATC, shared doc §3).

use emv::oda::{
    Authenticator, CaKeyStore, CdaInput, OdaFailure, OdaInput, OdaMethod, OdaResult,
    OfflineDataAuthenticator, recover_issuer_public_key,
};
use hex_literal::hex;

struct Vector(toml::Table);

impl Vector {
    fn load(text: &str) -> Self {
        Self(toml::from_str(text).expect("vector file is TOML"))
    }

    fn bytes(&self, field: &str) -> Vec<u8> {
        let text = self
            .0
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{field}"));
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(compact).expect("hex")
    }

    fn optional(&self, field: &str) -> Option<Vec<u8>> {
        self.0.contains_key(field).then(|| self.bytes(field))
    }

    fn rid(&self) -> [u8; 5] {
        self.bytes("rid").try_into().expect("5-byte RID")
    }

    fn date(&self) -> [u8; 3] {
        self.bytes("transaction_date").try_into().expect("YYMMDD")
    }
}

fn golden_store() -> CaKeyStore {
    CaKeyStore::from_str(include_str!("data/oda/capk-golden.toml")).expect("golden CA keys load")
}

/// Owned copies of a vector's fields, from which an [`OdaInput`] borrows.
struct Fields {
    issuer_certificate: Vec<u8>,
    issuer_remainder: Option<Vec<u8>>,
    issuer_exponent: Vec<u8>,
    icc_certificate: Option<Vec<u8>>,
    icc_exponent: Option<Vec<u8>>,
    pan: Vec<u8>,
    static_data: Vec<u8>,
    ssad: Option<Vec<u8>>,
    sdad: Option<Vec<u8>>,
    ca_index: u8,
}

impl Fields {
    fn of(vector: &Vector) -> Self {
        Self {
            issuer_certificate: vector.bytes("issuer_public_key_certificate"),
            issuer_remainder: vector.optional("issuer_public_key_remainder"),
            issuer_exponent: vector.bytes("issuer_public_key_exponent"),
            icc_certificate: vector.optional("icc_public_key_certificate"),
            icc_exponent: vector.optional("icc_public_key_exponent"),
            pan: vector.bytes("pan"),
            static_data: vector.bytes("static_data"),
            ssad: vector.optional("signed_static_application_data"),
            sdad: vector.optional("signed_dynamic_application_data"),
            ca_index: vector.bytes("ca_index")[0],
        }
    }

    fn input<'a>(
        &'a self,
        method: OdaMethod,
        rid: [u8; 5],
        date: [u8; 3],
        terminal_dynamic_data: &'a [u8],
    ) -> OdaInput<'a> {
        OdaInput {
            method,
            rid,
            ca_public_key_index: Some(self.ca_index),
            issuer_public_key_certificate: Some(&self.issuer_certificate),
            issuer_public_key_remainder: self.issuer_remainder.as_deref(),
            issuer_public_key_exponent: Some(&self.issuer_exponent),
            icc_public_key_certificate: self.icc_certificate.as_deref(),
            icc_public_key_exponent: self.icc_exponent.as_deref(),
            icc_public_key_remainder: None,
            pan: Some(&self.pan),
            static_data: &self.static_data,
            signed_static_application_data: self.ssad.as_deref(),
            signed_dynamic_application_data: self.sdad.as_deref(),
            terminal_dynamic_data,
            cda: None,
            transaction_date: date,
        }
    }
}

fn authenticate(store: CaKeyStore, input: &OdaInput<'_>) -> OdaResult {
    Authenticator::new(store)
        .authenticate(input)
        .expect("keys are configured")
}

#[test]
fn visa_sda_recovers_the_data_authentication_code() {
    let vector = Vector::load(include_str!("data/oda/visa-sda.toml"));
    let fields = Fields::of(&vector);
    let input = fields.input(OdaMethod::Sda, vector.rid(), vector.date(), &[]);
    let result = authenticate(golden_store(), &input);
    assert_eq!(result.status, Ok(()));
    // DAC in the recovered 93: 6A 03 01 3132 BB...
    assert_eq!(
        result.recovered_dynamic_number.as_deref(),
        Some(&hex!("3132")[..])
    );
    assert_eq!(result.recovered_cryptogram, None);
}

#[test]
fn visa_sda_fails_on_a_changed_static_data_byte() {
    let vector = Vector::load(include_str!("data/oda/visa-sda.toml"));
    let mut fields = Fields::of(&vector);
    fields.static_data[3] ^= 0x01;
    let input = fields.input(OdaMethod::Sda, vector.rid(), vector.date(), &[]);
    let result = authenticate(golden_store(), &input);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("93 hash does not match"))
    );
}

#[test]
fn visa_sda_fails_once_the_ca_key_has_expired() {
    let vector = Vector::load(include_str!("data/oda/visa-sda.toml"));
    let fields = Fields::of(&vector);
    // Visa 01 expired on 2009-12-31.
    let input = fields.input(OdaMethod::Sda, vector.rid(), hex!("100101"), &[]);
    assert_eq!(
        authenticate(golden_store(), &input).status,
        Err(OdaFailure::CaKeyExpired)
    );
}

#[test]
fn issuer_certificate_fields_are_recovered() {
    let vector = Vector::load(include_str!("data/oda/mastercard-dda.toml"));
    let fields = Fields::of(&vector);
    let store = golden_store();
    let ca = store.get(vector.rid(), 0x05).expect("MC 05");
    let issuer = recover_issuer_public_key(
        ca,
        &fields.issuer_certificate,
        fields.issuer_remainder.as_deref(),
        &fields.issuer_exponent,
        &fields.pan,
        vector.date(),
    )
    .expect("issuer certificate verifies");
    // Recovered: 6A 02 528588FF 1221 006EE2 01 01 B0 01 ...
    assert_eq!(issuer.issuer_identifier(), hex!("528588FF"));
    assert_eq!(issuer.expiry(), hex!("1221"));
    assert_eq!(issuer.serial_number(), hex!("006EE2"));
    assert_eq!(issuer.modulus_length(), 0xB0);
}

#[test]
fn mastercard_dda_recovers_the_icc_dynamic_number() {
    let vector = Vector::load(include_str!("data/oda/mastercard-dda.toml"));
    let fields = Fields::of(&vector);
    let ddol_data = vector.bytes("ddol_data");
    let input = fields.input(OdaMethod::Dda, vector.rid(), vector.date(), &ddol_data);
    let result = authenticate(golden_store(), &input);
    assert_eq!(result.status, Ok(()));
    // Recovered 9F4B: 6A 05 01 09 08 7A33FB8C9546E1E7 BB...
    assert_eq!(
        result.recovered_dynamic_number.as_deref(),
        Some(&hex!("7A33FB8C9546E1E7")[..])
    );
}

#[test]
fn mastercard_dda_fails_with_another_unpredictable_number() {
    let vector = Vector::load(include_str!("data/oda/mastercard-dda.toml"));
    let fields = Fields::of(&vector);
    let input = fields.input(
        OdaMethod::Dda,
        vector.rid(),
        vector.date(),
        &hex!("00000001"),
    );
    let result = authenticate(golden_store(), &input);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("9F4B hash does not match"))
    );
    assert_eq!(result.recovered_dynamic_number, None);
}

#[test]
fn mastercard_dda_icc_certificate_expired_after_june_2015() {
    let vector = Vector::load(include_str!("data/oda/mastercard-dda.toml"));
    let fields = Fields::of(&vector);
    let ddol_data = vector.bytes("ddol_data");
    let input = fields.input(OdaMethod::Dda, vector.rid(), hex!("150701"), &ddol_data);
    assert_eq!(
        authenticate(golden_store(), &input).status,
        Err(OdaFailure::IccCertificateExpired)
    );
}

fn cda_case(
    vector: &Vector,
    check: impl FnOnce(&Fields, &[u8], &[u8], &[u8], &[u8]) -> OdaResult,
) -> OdaResult {
    let fields = Fields::of(vector);
    let un = vector.bytes("unpredictable_number");
    let pdol = vector.bytes("pdol_data");
    let cdol1 = vector.bytes("cdol1_data");
    let response = vector.bytes("generate_ac_response_without_sdad");
    check(&fields, &un, &pdol, &cdol1, &response)
}

fn run_cda(vector: &Vector, cid: u8, amount_patch: Option<usize>) -> OdaResult {
    cda_case(vector, |fields, un, pdol, cdol1, response| {
        let mut cdol1 = cdol1.to_vec();
        if let Some(at) = amount_patch {
            cdol1[at] ^= 0x01;
        }
        let cda = CdaInput {
            pdol_data: pdol,
            cdol1_data: &cdol1,
            generate_ac_response_without_sdad: response,
            cryptogram_information_data: cid,
        };
        let mut input = fields.input(OdaMethod::Cda, vector.rid(), vector.date(), un);
        input.cda = Some(cda);
        authenticate(golden_store(), &input)
    })
}

#[test]
fn mastercard_cda_recovers_the_cryptogram_and_checks_the_transaction_data_hash() {
    let vector = Vector::load(include_str!("data/oda/mastercard-cda.toml"));
    let cid = vector.bytes("cryptogram_information_data")[0];
    let result = run_cda(&vector, cid, None);
    assert_eq!(result.status, Ok(()));
    assert_eq!(result.recovered_cryptogram, Some(hex!("16AFBA13C52FB173")));
    assert_eq!(
        result.recovered_dynamic_number.as_deref(),
        Some(&hex!("4CC2FB1FAFB30915")[..])
    );
}

#[test]
fn mastercard_cda_fails_when_the_amount_differs() {
    let vector = Vector::load(include_str!("data/oda/mastercard-cda.toml"));
    // CDOL1 data starts with 9F02, the amount: change its last byte.
    let result = run_cda(&vector, 0x40, Some(5));
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature(
            "CDA transaction data hash code does not match"
        ))
    );
    assert_eq!(result.recovered_cryptogram, None);
}

#[test]
fn mastercard_cda_fails_when_9f27_differs_from_the_signed_cid() {
    let vector = Vector::load(include_str!("data/oda/mastercard-cda.toml"));
    let result = run_cda(&vector, 0x80, None);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("CDA signed CID differs from 9F27"))
    );
}

#[test]
fn visa_fdda_lloyds_verifies_with_live_key_09() {
    let vector = Vector::load(include_str!("data/oda/visa-fdda-lloyds.toml"));
    let fields = Fields::of(&vector);
    let terminal = vector.bytes("terminal_dynamic_data");
    let input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    let live = CaKeyStore::embedded_live().expect("live keys load");
    let result = authenticate(live, &input);
    assert_eq!(result.status, Ok(()));
    assert_eq!(
        result.recovered_dynamic_number.as_deref(),
        Some(&hex!("03A4")[..])
    );

    let store = CaKeyStore::embedded_live().expect("live keys load");
    let ca = store.get(vector.rid(), 0x09).expect("Visa 09");
    let issuer = recover_issuer_public_key(
        ca,
        &fields.issuer_certificate,
        None,
        &fields.issuer_exponent,
        &fields.pan,
        vector.date(),
    )
    .expect("issuer certificate verifies");
    assert_eq!(issuer.issuer_identifier(), hex!("492182FF"));
    assert_eq!(issuer.expiry(), hex!("1226"));
    assert_eq!(issuer.serial_number(), hex!("0449D4"));
}

#[test]
fn visa_fdda_lloyds_fails_with_another_amount() {
    let vector = Vector::load(include_str!("data/oda/visa-fdda-lloyds.toml"));
    let fields = Fields::of(&vector);
    let mut terminal = vector.bytes("terminal_dynamic_data");
    terminal[9] = 0x11; // 9F02 000000001000 -> 000000001100
    let input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    let result = authenticate(CaKeyStore::embedded_live().expect("live"), &input);
    assert_eq!(
        result.status,
        Err(OdaFailure::Signature("9F4B hash does not match"))
    );
}

#[test]
fn visa_fdda_lloyds_fails_with_the_wrong_pan() {
    let vector = Vector::load(include_str!("data/oda/visa-fdda-lloyds.toml"));
    let mut fields = Fields::of(&vector);
    fields.pan[7] = 0x53;
    let terminal = vector.bytes("terminal_dynamic_data");
    let input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    let result = authenticate(CaKeyStore::embedded_live().expect("live"), &input);
    assert_eq!(
        result.status,
        Err(OdaFailure::IccCertificate("certified PAN differs from 5A"))
    );
}

#[test]
fn unknown_ca_index_and_missing_data_are_reported() {
    let vector = Vector::load(include_str!("data/oda/visa-fdda-lloyds.toml"));
    let mut fields = Fields::of(&vector);
    let terminal = vector.bytes("terminal_dynamic_data");
    fields.ca_index = 0x08;
    let input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    let live = || CaKeyStore::embedded_live().expect("live");
    assert_eq!(
        authenticate(live(), &input).status,
        Err(OdaFailure::CaKeyNotFound)
    );

    fields.ca_index = 0x09;
    fields.sdad = None;
    let input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    assert_eq!(
        authenticate(live(), &input).status,
        Err(OdaFailure::MissingData("9F4B"))
    );

    let mut input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    input.ca_public_key_index = None;
    assert_eq!(
        authenticate(live(), &input).status,
        Err(OdaFailure::MissingData("8F"))
    );

    // An empty store means ODA was not performed.
    assert!(
        Authenticator::new(CaKeyStore::new())
            .authenticate(&input)
            .is_none()
    );
}

#[test]
fn truncated_or_garbage_card_data_fails_without_panicking() {
    let vector = Vector::load(include_str!("data/oda/visa-fdda-lloyds.toml"));
    let fields = Fields::of(&vector);
    let terminal = vector.bytes("terminal_dynamic_data");
    let store = CaKeyStore::embedded_live().expect("live");
    let authenticator = Authenticator::new(store);
    for cut in [0, 1, 100, fields.issuer_certificate.len() - 1] {
        let mut input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
        input.issuer_public_key_certificate = Some(&fields.issuer_certificate[..cut]);
        let result = authenticator.run(&input);
        assert!(
            matches!(result.status, Err(OdaFailure::IssuerCertificate(_))),
            "{cut}"
        );
    }
    let garbage = vec![0x5A; fields.issuer_certificate.len()];
    let mut input = fields.input(OdaMethod::Fdda, vector.rid(), vector.date(), &terminal);
    input.issuer_public_key_certificate = Some(&garbage);
    assert!(matches!(
        authenticator.run(&input).status,
        Err(OdaFailure::IssuerCertificate(_))
    ));
}
