//! Offline data authentication on the card side (EMV Book 2 §5-6), with the simulator PKI of
//! [`super::pki`]: the certificate records, fDDA's signed dynamic data in the GPO response
//! (Visa, UnionPay) and CDA's in GENERATE AC (Mastercard).
//!
//! The PKI is loaded once per process. If it cannot be loaded the cards still work, without
//! ODA data (the terminal then records "ODA not performed"), and a warning is logged.

use std::sync::OnceLock;

use tracing::warn;

use super::pki::{PkiError, SchemePki, SigningKey, SimulatorPki};
use super::profile::{Profile, Record};
use super::tlv;

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
/// #1 `90`; #2 `8F`, `92`, `9F32`, `9F47`, `9F48`, `9F4A`; #3 `9F46`. None is itself signed
/// (they are not flagged for ODA). The static data to be authenticated are the flagged records
/// (SFI 1-10: the `70` template's value only) followed by the AIP, as `9F4A` = `82` says
/// (EMV Book 3 §10.3).
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
        let value = tlv::parse_all(&record.bytes)
            .ok()
            .and_then(|objects| objects.first().map(|o| o.value.to_vec()))
            .unwrap_or_else(|| record.bytes.clone());
        static_data.extend_from_slice(&value);
    }
    static_data.extend_from_slice(&profile.aip());
    let issuer = scheme.issuer_certificate(profile.pan_digits())?;
    let certificate = scheme.icc_certificate(
        icc,
        profile.pan_digits(),
        profile.expiry(),
        ICC_CERTIFICATE_SERIAL,
        &static_data,
    )?;
    let mut keys = tlv::encode(0x8F, &[scheme.ca_index()]);
    if !issuer.remainder.is_empty() {
        keys.extend(tlv::encode(0x92, &issuer.remainder));
    }
    keys.extend(tlv::encode(0x9F32, &issuer.exponent));
    keys.extend(tlv::encode(0x9F47, &certificate.exponent));
    if !certificate.remainder.is_empty() {
        keys.extend(tlv::encode(0x9F48, &certificate.remainder));
    }
    keys.extend(tlv::encode(0x9F4A, &[0x82]));
    Ok(vec![
        certificate_record(1, &tlv::encode(0x90, &issuer.certificate)),
        certificate_record(2, &keys),
        certificate_record(3, &tlv::encode(0x9F46, &certificate.certificate)),
    ])
}

fn certificate_record(number: u8, body: &[u8]) -> Record {
    Record {
        sfi: CERTIFICATE_SFI,
        number,
        offline_data_authentication: false,
        bytes: tlv::encode(0x70, body),
    }
}

/// The short file of the certificate records.
const CERTIFICATE_SFI: u8 = 3;
/// The ICC public key certificate serial number (EMV Book 2 §6.3 Table 13).
const ICC_CERTIFICATE_SERIAL: [u8; 3] = [0x00, 0x00, 0x01];
