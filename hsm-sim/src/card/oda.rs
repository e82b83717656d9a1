//! Offline data authentication on the card side (EMV Book 2 §5-6), with the simulator PKI of
//! [`super::pki`]: the certificate records, fDDA's signed dynamic data in the GPO response
//! (Visa, UnionPay) and CDA's in GENERATE AC (Mastercard).
//!
//! The PKI is loaded once per process. If it cannot be loaded the cards still work, without
//! ODA data (the terminal then records "ODA not performed"), and a warning is logged.

use std::sync::OnceLock;

use emv::tlv::{self, Tag};
use tracing::warn;

use super::pki::{PkiError, SchemePki, SigningKey, SimulatorPki, issuer_identifier};
use super::profile::{Fault, LegacyOda, Profile, Record};

/// The simulator PKI, loaded on first use.
pub(crate) fn simulator_pki() -> Option<&'static SimulatorPki> {
    static PKI: OnceLock<Option<SimulatorPki>> = OnceLock::new();
    PKI.get_or_init(|| {
        SimulatorPki::load()
            .map_err(|e| warn!("simulator PKI not loaded, no ODA: {e}"))
            .ok()
    })
    .as_ref()
}

/// The scheme PKI of a profile.
pub(crate) fn scheme_pki(profile: &Profile) -> Option<&'static SchemePki> {
    let rid: [u8; 5] = profile.rid().try_into().ok()?;
    simulator_pki()?.scheme(rid)
}

/// The card's ICC key pair.
pub(crate) fn icc_key(profile: &Profile) -> Option<&'static SigningKey> {
    scheme_pki(profile)?.icc_key(profile.icc_key_number())
}

/// The certificate records (SFI 3) for a card whose ODA-flagged records are in `records`:
/// #1 `90`; #2 `8F`, `92`, `9F32`, `9F47`, `9F48`, `9F4A` (and the DDOL `9F49` for
/// `legacy-dda`); #3 `9F46`. For `legacy-sda`: #1 `90`; #2 `8F`, `92`, `9F32`, `9F4A`; #3 the
/// signed static application data `93`. None is itself signed (they are not flagged for ODA).
/// The static data to be authenticated are the flagged records (SFI 1-10: the `70` template's
/// value only) followed by the AIP, as `9F4A` = `82` says (EMV Book 3 §10.3).
///
/// The ODA faults change what is signed here: `oda-expired-issuer-cert` gets an issuer
/// certificate expiring [`EXPIRED_ISSUER_CERTIFICATE`]; `oda-unknown-ca-index` names
/// [`UNKNOWN_CA_INDEX`] in `8F`.
pub(crate) fn certificate_records(
    profile: &Profile,
    records: &[Record],
) -> Result<Vec<Record>, PkiError> {
    let Some(scheme) = scheme_pki(profile) else {
        return Ok(Vec::new());
    };
    let Some(icc) = scheme.icc_key(profile.icc_key_number()) else {
        return Ok(Vec::new());
    };
    let mut static_data = Vec::new();
    for record in records.iter().filter(|r| r.offline_data_authentication) {
        // The template's value as the card sends it, even when it holds malformed objects
        // (the fault profiles), as the terminal signs it.
        let value = tlv::raw_object(&record.bytes)
            .map(|(_, value)| value.to_vec())
            .unwrap_or_else(|_| record.bytes.clone());
        static_data.extend_from_slice(&value);
    }
    static_data.extend_from_slice(&profile.aip());
    let issuer = match profile.fault() {
        Some(Fault::ExpiredIssuerCertificate) => scheme.issuer_certificate_with(
            issuer_identifier(profile.pan_digits())?,
            EXPIRED_ISSUER_CERTIFICATE,
            scheme.issuer_certificate_serial(),
        )?,
        _ => scheme.issuer_certificate(profile.pan_digits())?,
    };
    let ca_index = match profile.fault() {
        Some(Fault::UnknownCaIndex) => UNKNOWN_CA_INDEX,
        _ => scheme.ca_index(),
    };
    let mut keys = tlv::encode_primitive(Tag::new(0x8F), &[ca_index]);
    if !issuer.remainder.is_empty() {
        keys.extend(tlv::encode_primitive(Tag::new(0x92), &issuer.remainder));
    }
    keys.extend(tlv::encode_primitive(Tag::new(0x9F32), &issuer.exponent));
    let issuer_record = certificate_record(
        1,
        &tlv::encode_primitive(Tag::new(0x90), &issuer.certificate),
    );
    if profile.legacy_oda() == Some(LegacyOda::Sda) {
        // SDA (Book 2 §5.4): the issuer signs the static data itself; no ICC key.
        let signed =
            scheme.signed_static_application_data(DATA_AUTHENTICATION_CODE, &static_data)?;
        keys.extend(tlv::encode_primitive(Tag::new(0x9F4A), &[0x82]));
        return Ok(vec![
            issuer_record,
            certificate_record(2, &keys),
            certificate_record(3, &tlv::encode_primitive(Tag::new(0x93), &signed)),
        ]);
    }
    let certificate = scheme.icc_certificate(
        icc,
        profile.pan_digits(),
        profile.expiry(),
        ICC_CERTIFICATE_SERIAL,
        &static_data,
    )?;
    keys.extend(tlv::encode_primitive(
        Tag::new(0x9F47),
        &certificate.exponent,
    ));
    if !certificate.remainder.is_empty() {
        keys.extend(tlv::encode_primitive(
            Tag::new(0x9F48),
            &certificate.remainder,
        ));
    }
    keys.extend(tlv::encode_primitive(Tag::new(0x9F4A), &[0x82]));
    if profile.legacy_oda() == Some(LegacyOda::Dda) {
        // DDA (Book 2 §6.5.1): the DDOL the terminal fills for INTERNAL AUTHENTICATE.
        keys.extend(tlv::encode_primitive(Tag::new(0x9F49), &DDOL));
    }
    Ok(vec![
        issuer_record,
        certificate_record(2, &keys),
        certificate_record(
            3,
            &tlv::encode_primitive(Tag::new(0x9F46), &certificate.certificate),
        ),
    ])
}

fn certificate_record(number: u8, body: &[u8]) -> Record {
    Record {
        sfi: CERTIFICATE_SFI,
        number,
        offline_data_authentication: false,
        bytes: tlv::encode_template(Tag::new(0x70), body),
    }
}

/// The short file of the certificate records.
const CERTIFICATE_SFI: u8 = 3;
/// The ICC public key certificate serial number (EMV Book 2 §6.3 Table 13).
const ICC_CERTIFICATE_SERIAL: [u8; 3] = [0x00, 0x00, 0x01];
/// The data authentication code (`9F45`) `legacy-sda` signs into `93` (Book 2 §5.4 Table 7).
pub(crate) const DATA_AUTHENTICATION_CODE: [u8; 2] = [0xDA, 0xC1];
/// The DDOL (`9F49`) of `legacy-dda`: the terminal's unpredictable number `9F37`, 4 bytes, the
/// default DDOL of Book 3 §10.3.
pub(crate) const DDOL: [u8; 3] = [0x9F, 0x37, 0x04];
/// Fault `oda-expired-issuer-cert`: the issuer certificate expiry, MMYY in BCD (Book 2 Table 6),
/// December 2020.
const EXPIRED_ISSUER_CERTIFICATE: [u8; 2] = [0x12, 0x20];
/// Fault `oda-unknown-ca-index`: a CA public key index no scheme uses and the shipped stores
/// (`assets/capk/`) do not hold for any RID.
const UNKNOWN_CA_INDEX: u8 = 0xD1;
