//! The wallet's EMVCo consumer-presented code (`docs/qr-customer-code.md` §1): the wallet's
//! Visa token card (the issuer's wallet account, [`WALLET_ACCOUNT_PAN`]) makes a real ARQC with
//! the simulated issuer's keys (EMV Book 2 Annex A1.4 option A from the Visa IMK-AC, CVN 18),
//! over data it chooses itself, since the phone learns no amount: amount zero, its own
//! unpredictable number, today's date, its currency. Those values travel in `64` so the host
//! recomputes the same cryptogram from DE 55; a new ATC for every code makes a replay fail.

use emv::crypto::cryptogram::{
    CryptogramInput, CryptogramVersion, DerivationOption, application_cryptogram,
    derive_icc_master_key,
};
use emv::pan::Pan;
use emv::qr::cpm::{self, CpmCode};

use super::device::{Device, DeviceError};
use crate::host::issuer::today;
use crate::host::wallets::WALLET_ACCOUNT_PAN;
use crate::hsm::test_keys;

/// The Visa AID of the wallet's card.
pub const AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10];
/// Its PAN sequence number.
pub const PAN_SEQUENCE_NUMBER: u8 = 0x01;
/// Its expiry (`5F24`, YYMMDD).
pub const EXPIRY: [u8; 3] = [0x28, 0x12, 0x31];
/// Its AIP (`82`): CDA not offered, cardholder verification and terminal risk management.
pub const AIP: [u8; 2] = [0x20, 0x00];
/// Issuer application data (`9F10`), Visa CVN 18, format 0: CVR "ARQC".
pub const IAD: [u8; 7] = [0x06, 0x01, 0x12, 0x03, 0xA0, 0x00, 0x00];
/// The country the wallet's cryptogram names (`9F1A`): its issuer's.
pub const COUNTRY: [u8; 2] = [0x02, 0x50];

/// Makes a consumer-presented code (base64 text) with the next ATC, in `currency`.
pub fn show_code(device: &mut Device, currency: u16) -> Result<String, DeviceError> {
    let atc = device.next_atc()?.to_be_bytes();
    let pan =
        Pan::from_digits(WALLET_ACCOUNT_PAN).map_err(|_| DeviceError::Crypto("wallet PAN"))?;
    let imk = test_keys::visa_imk_ac();
    let icc_master_key = derive_icc_master_key(
        &imk,
        pan.expose_digits(),
        PAN_SEQUENCE_NUMBER,
        DerivationOption::A,
    )
    .map_err(|_| DeviceError::Crypto("ICC master key"))?;
    let mut un = [0u8; 4];
    getrandom::fill(&mut un).map_err(|_| DeviceError::Crypto("random"))?;
    let date = today();
    let bcd = |n: i64| {
        let n = u8::try_from(n.rem_euclid(100)).unwrap_or(0);
        ((n / 10) << 4) | (n % 10)
    };
    let date = [bcd(date.year), bcd(date.month), bcd(date.day)];
    let currency_bcd = {
        let c = currency % 1000;
        let hi = u8::try_from(c / 100).unwrap_or(0);
        let lo = u8::try_from(c % 100).unwrap_or(0);
        [hi, ((lo / 10) << 4) | (lo % 10)]
    };
    let input = CryptogramInput {
        amount: [0; 6],
        amount_other: [0; 6],
        terminal_country: COUNTRY,
        tvr: [0; 5],
        currency: currency_bcd,
        date,
        transaction_type: 0x00,
        unpredictable_number: un,
        aip: AIP,
        atc,
        issuer_application_data: &IAD,
    };
    let arqc = application_cryptogram(CryptogramVersion::VisaCvn18, &icc_master_key, &input)
        .map_err(|_| DeviceError::Crypto("cryptogram"))?;
    let icc = vec![
        (0x9F26, arqc.to_vec()),
        (0x9F27, vec![0x80]),
        (0x9F10, IAD.to_vec()),
        (0x9F36, atc.to_vec()),
        (0x9F37, un.to_vec()),
        (0x82, AIP.to_vec()),
        (0x9F02, vec![0; 6]),
        (0x9F03, vec![0; 6]),
        (0x9F1A, COUNTRY.to_vec()),
        (0x95, vec![0; 5]),
        (0x5F2A, currency_bcd.to_vec()),
        (0x9A, date.to_vec()),
        (0x9C, vec![0x00]),
    ];
    cpm::build(&CpmCode {
        aid: &AID,
        label: "VISA WALLET",
        pan: &pan,
        expiry: Some(EXPIRY),
        pan_sequence_number: Some(PAN_SEQUENCE_NUMBER),
        cardholder_name: Some("WALLET/CUSTOMER"),
        icc: &icc,
    })
    .map_err(|e| DeviceError::Malformed(e.to_string()))
}
