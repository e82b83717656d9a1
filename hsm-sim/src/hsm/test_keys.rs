//! Test keys of the simulated issuers. They are made up for this simulator, are public, and
//! protect nothing: never use them outside tests and demos.
//!
//! The virtual cards derive their ICC master keys from these issuer master keys (EMV Book 2
//! Annex A1.4), and the host verifies ARQCs with the same keys, so a cryptogram a virtual card
//! makes verifies at the simulated issuer.

use emv::crypto::key::{AesKey, TdesKey16};

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

/// BDK ID of the test base derivation key: the ANSI X9.24-3-2017 supplement's `12345678`.
pub const TEST_BDK_ID: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// The test AES-128 base derivation key: the public ANSI X9.24-3-2017 supplement BDK
/// `FEDCBA9876543210F1F1F1F1F1F1F1F1`, so published DUKPT vectors reproduce in the simulator.
pub fn test_bdk() -> AesKey {
    AesKey::from_bytes_128(TEST_BDK)
}

/// The simulated issuer's AES zone PIN key, under which the HSM re-enciphers PIN blocks.
pub fn issuer_zone_pin_key() -> AesKey {
    AesKey::from_bytes_128(ISSUER_ZONE_PIN_KEY)
}

/// The simulated issuer's PIN verification key (for PIN verification values).
pub fn pin_verification_key() -> AesKey {
    AesKey::from_bytes_128(PIN_VERIFICATION_KEY)
}

const TEST_BDK: [u8; 16] = [
    0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1,
];
const ISSUER_ZONE_PIN_KEY: [u8; 16] = [
    0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C,
];
const PIN_VERIFICATION_KEY: [u8; 16] = [
    0x50, 0x56, 0x56, 0x2D, 0x74, 0x65, 0x73, 0x74, 0x2D, 0x6B, 0x65, 0x79, 0x2D, 0x30, 0x30, 0x31,
];
