//! Test keys of the simulated issuers. They are made up for this simulator, are public, and
//! protect nothing: never use them outside tests and demos.
//!
//! The virtual cards derive their ICC master keys from these issuer master keys (EMV Book 2
//! Annex A1.4), and the host verifies ARQCs with the same keys, so a cryptogram a virtual card
//! makes verifies at the simulated issuer.

use emv::crypto::key::TdesKey16;

/// Issuer master key for application cryptograms (IMK-AC) of the simulated Visa issuer.
pub fn visa_imk_ac() -> TdesKey16 {
    TdesKey16::from_bytes(VISA_IMK_AC)
}

/// IMK-AC of the simulated Mastercard issuer.
pub fn mastercard_imk_ac() -> TdesKey16 {
    TdesKey16::from_bytes(MASTERCARD_IMK_AC)
}

/// IMK-AC of the simulated UnionPay issuer.
pub fn unionpay_imk_ac() -> TdesKey16 {
    TdesKey16::from_bytes(UNIONPAY_IMK_AC)
}

/// IMK-AC for a card by its RID (the first five bytes of its AID), or `None` for an unknown
/// scheme.
pub fn imk_ac_for_rid(rid: &[u8]) -> Option<TdesKey16> {
    match rid {
        [0xA0, 0x00, 0x00, 0x00, 0x03] => Some(visa_imk_ac()),
        [0xA0, 0x00, 0x00, 0x00, 0x04] => Some(mastercard_imk_ac()),
        [0xA0, 0x00, 0x00, 0x03, 0x33] => Some(unionpay_imk_ac()),
        _ => None,
    }
}

const VISA_IMK_AC: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];
const MASTERCARD_IMK_AC: [u8; 16] = [
    0x9E, 0x15, 0x20, 0x43, 0x13, 0xF7, 0x31, 0x8A, 0xCB, 0x79, 0xB9, 0x0B, 0xD9, 0x86, 0xAD, 0x29,
];
const UNIONPAY_IMK_AC: [u8; 16] = [
    0x62, 0x2B, 0x3D, 0x4C, 0x5E, 0x6F, 0x70, 0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7, 0xF8, 0x09,
];
