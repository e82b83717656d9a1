//! The catalogue of named profiles: the good cards, the wallets, the legacy-ODA cards and the
//! fault profiles, with the data objects they share.

use super::*;

pub(super) fn visa() -> Profile {
    Profile {
        name: "visa",
        description: "Visa qVSDC debit card (Kernel 3), CVN 18, online PIN above the CVM limit",
        scheme: Scheme::Visa,
        consumer_device: false,
        fault: None,
        aid: &VISA_AID,
        label: "VISA DEBIT",
        pan: "4761739001010119",
        expiry: "2812",
        effective: SIGNED_EFFECTIVE_DATE,
        psn: 0x01,
        initial_atc: 0x0010,
        // Byte 1: 20 DDA supported (fDDA for Kernel 3).
        aip: [0x20, 0x00],
        pdol: &QVSDC_PDOL,
        cdol1: &[],
        issuer_country: [0x08, 0x40],
        form_factor: Some(FORM_FACTOR_CARD),
        card_cvm_limit: None,
        offline_spending_limit: None,
        icc_key_number: 0,
        legacy_oda: None,
    }
}

/// The Visa card with card risk management for offline approvals (EMV Book C-3 §5.4, Visa
/// VCPS): same PAN, keys and certificates as `visa`, plus an available offline spending
/// amount (`9F5D`) of 100.00. When the reader does not ask for an online cryptogram and the
/// amount fits, the GPO answers a TC.
pub(super) fn visa_offline() -> Profile {
    Profile {
        name: "visa-offline",
        description: "Visa qVSDC card (Kernel 3) that approves offline (TC) up to its available \
                      offline spending amount 100.00 when the reader allows it",
        offline_spending_limit: Some(10_000),
        ..visa()
    }
}

pub(super) fn wallet() -> Profile {
    Profile {
        name: "wallet",
        description: "Visa phone wallet (Kernel 3), consumer-device CVM above the CVM limit",
        consumer_device: true,
        label: "VISA WALLET",
        pan: "4761739001010036",
        initial_atc: 0x0100,
        form_factor: Some(FORM_FACTOR_PHONE),
        // A phone verifies its holder itself above 50.00, even if the reader does not ask.
        card_cvm_limit: Some([0x00, 0x00, 0x00, 0x00, 0x50, 0x00]),
        icc_key_number: 1,
        ..visa()
    }
}

pub(super) fn mastercard() -> Profile {
    Profile {
        name: "mastercard",
        description: "Mastercard M/Chip credit card (Kernel 2), CDA, CVN 16 in GENERATE AC",
        scheme: Scheme::Mastercard,
        consumer_device: false,
        fault: None,
        aid: &MASTERCARD_AID,
        label: "MASTERCARD",
        pan: "5413330089010434",
        expiry: "2812",
        effective: SIGNED_EFFECTIVE_DATE,
        psn: 0x01,
        initial_atc: 0x0020,
        // Byte 1: 10 cardholder verification, 08 terminal risk management, 01 CDA.
        // Byte 2: 80 EMV mode supported (Kernel 2 meaning, shared docs §0.3).
        aip: [0x19, 0x80],
        pdol: &[],
        cdol1: &MASTERCARD_CDOL1,
        issuer_country: [0x08, 0x40],
        form_factor: None,
        card_cvm_limit: None,
        offline_spending_limit: None,
        icc_key_number: 0,
        legacy_oda: None,
    }
}

pub(super) fn mastercard_wallet() -> Profile {
    Profile {
        name: "wallet-mastercard",
        description: "Mastercard phone wallet (Kernel 2), on-device CVM, CDA, CVN 16",
        consumer_device: true,
        label: "MASTERCARD WALLET",
        pan: "5413330089010442",
        initial_atc: 0x0200,
        // Byte 1 adds 02: on-device cardholder verification supported (Book C-2).
        aip: [0x1B, 0x80],
        icc_key_number: 1,
        ..mastercard()
    }
}

pub(super) fn unionpay() -> Profile {
    Profile {
        name: "unionpay",
        description: "UnionPay qUICS debit card (Kernel 7), EMV common session key cryptogram",
        scheme: Scheme::UnionPay,
        consumer_device: false,
        fault: None,
        aid: &UNIONPAY_AID,
        label: "UnionPay Debit",
        pan: "6210948000000029",
        expiry: "2812",
        effective: SIGNED_EFFECTIVE_DATE,
        psn: 0x01,
        initial_atc: 0x0030,
        // Byte 1: 20 DDA supported, which Kernel 7 reads as fDDA.
        aip: [0x20, 0x00],
        pdol: &QVSDC_PDOL,
        cdol1: &[],
        issuer_country: [0x01, 0x56],
        form_factor: None,
        card_cvm_limit: None,
        offline_spending_limit: None,
        icc_key_number: 0,
        legacy_oda: None,
    }
}

/// The legacy profiles: the Visa card with SDA or DDA instead of fDDA (see [`LegacyOda`]).
pub(super) fn legacy(method: LegacyOda) -> Profile {
    let (name, description, aip) = match method {
        LegacyOda::Sda => (
            "legacy-sda",
            "Visa card with SDA (93) instead of fDDA: Kernel 3 reports ODA not performed",
            // Byte 1: 40 SDA supported.
            [0x40, 0x00],
        ),
        LegacyOda::Dda => (
            "legacy-dda",
            "Visa card with DDA (INTERNAL AUTHENTICATE) instead of fDDA: Kernel 3 reports ODA \
             not performed",
            // Byte 1: 20 DDA supported.
            [0x20, 0x00],
        ),
    };
    Profile {
        name,
        description,
        aip,
        legacy_oda: Some(method),
        ..visa()
    }
}

/// Fault profiles are a good card with one defect (same PAN and ATC counter): the Visa card,
/// or for the ODA faults the card of the scheme whose ODA method the fault breaks (fDDA: Visa,
/// UnionPay; CDA: Mastercard).
pub(super) fn faulty(name: &'static str, fault: Fault) -> Profile {
    let (description, base) = match fault {
        Fault::TruncatedTlv => ("Visa card whose GPO response ends inside a tag", visa()),
        Fault::LengthPastEnd => (
            "Visa card with a 5A length past the end of its record",
            visa(),
        ),
        Fault::DuplicateTags => ("Visa card with two 5A in one record", visa()),
        Fault::SelectNotFound => ("Visa card that answers SELECT AID with 6A82", visa()),
        Fault::GpoConditionsNotSatisfied => ("Visa card that answers GPO with 6985", visa()),
        Fault::VanishAfterGpo => ("Visa card that leaves the field right after GPO", visa()),
        Fault::ExpiredIssuerCertificate => (
            "Visa card (fDDA) whose issuer certificate 90 expired in 12/2020",
            visa(),
        ),
        Fault::UnknownCaIndex => (
            "UnionPay card (fDDA) whose 8F names CA index D1, which no terminal holds",
            unionpay(),
        ),
        Fault::TamperedRecord => (
            "Mastercard (CDA) with a record changed after the ICC certificate was signed",
            mastercard(),
        ),
        Fault::BadFddaSignature => (
            "Visa card (fDDA) whose 9F4B signs another card number than 9F69 holds",
            visa(),
        ),
        Fault::CdaWrongAmount => (
            "Mastercard (CDA) whose signature hashes another amount than the terminal sent",
            mastercard(),
        ),
        Fault::TcDespiteOnlineRequest => (
            "Visa offline card that answers a TC even when the reader asks for an online \
             cryptogram",
            visa_offline(),
        ),
        Fault::HostileText => (
            "Visa card whose label and names carry escape sequences and a CSV formula",
            Profile {
                label: HOSTILE_LABEL,
                ..visa()
            },
        ),
    };
    Profile {
        name,
        description,
        fault: Some(fault),
        ..base
    }
}

/// The AFL (`94`) listing `records` (EMV Book 3 §10.2).
pub(crate) fn afl_of(records: &[Record]) -> Vec<u8> {
    let mut afl: Vec<u8> = Vec::new();
    let mut sfis: Vec<u8> = records.iter().map(|r| r.sfi).collect();
    sfis.dedup();
    for sfi in sfis {
        let in_file = records.iter().filter(|r| r.sfi == sfi);
        let first = in_file.clone().map(|r| r.number).min().unwrap_or(1);
        let last = in_file.clone().map(|r| r.number).max().unwrap_or(first);
        let oda = in_file.filter(|r| r.offline_data_authentication).count();
        afl.extend_from_slice(&[sfi << 3, first, last, u8::try_from(oda).unwrap_or(0)]);
    }
    afl
}

pub(super) fn record(sfi: u8, number: u8, oda: bool, body: &[u8]) -> Record {
    Record {
        sfi,
        number,
        offline_data_authentication: oda,
        bytes: tlv::encode_template(Tag::new(0x70), body),
    }
}

/// Packs digits (and `D` separators, `F` padding) two to a byte, `F`-padding an odd count.
pub(super) fn nibbles(digits: &str) -> Vec<u8> {
    let values: Vec<u8> = digits
        .chars()
        .filter_map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .chain(core::iter::once(0x0F))
        .collect();
    values
        .chunks_exact(2)
        .map(|pair| (pair[0] << 4) | pair[1])
        .collect()
}

/// The last day of the month `YYMM` as two digits (leap years by the Gregorian rule).
pub(super) fn last_day(yymm: &str) -> &'static str {
    let year: u32 = yymm.get(..2).and_then(|y| y.parse().ok()).unwrap_or(0);
    match yymm.get(2..4) {
        Some("02") if year.is_multiple_of(4) => "29",
        Some("02") => "28",
        Some("04" | "06" | "09" | "11") => "30",
        _ => "31",
    }
}

pub(super) const NAMES: &[&str] = &[
    "visa",
    "visa-offline",
    "mastercard",
    "unionpay",
    "wallet",
    "wallet-mastercard",
    "legacy-sda",
    "legacy-dda",
    "truncated-tlv",
    "length-past-end",
    "duplicate-tags",
    "select-6a82",
    "gpo-6985",
    "vanish-after-gpo",
    "oda-expired-issuer-cert",
    "oda-unknown-ca-index",
    "oda-tampered-record",
    "oda-bad-fdda-signature",
    "oda-cda-wrong-amount",
    "tc-despite-online",
    "hostile-text",
];

/// The `hostile-text` card's application label (`50`) and preferred name (`9F12`): a screen
/// clear, a window-title OSC, a C1 CSI and a right-to-left override around the brand, after a
/// leading formula for the CSV export.
pub const HOSTILE_LABEL: &str = "=2+3\x1b]0;owned\x07VISA\x1b[2J\u{9b}1m\u{202e}DEBIT\r\n";
/// The `hostile-text` card's cardholder name (`5F20`): a spreadsheet formula.
pub const HOSTILE_CARDHOLDER_NAME: &str = "=HYPERLINK(\"http://x\")";

/// The effective date (`5F25`, YYMMDD) of every card, as the issuer signed it.
pub(super) const SIGNED_EFFECTIVE_DATE: &str = "210101";
/// The effective date the `oda-tampered-record` card serves after signing.
pub(super) const TAMPERED_EFFECTIVE_DATE: &str = "200101";

pub(super) const VISA_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10];
pub(super) const MASTERCARD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10];
pub(super) const UNIONPAY_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01];

/// qVSDC/qUICS PDOL: 9F66 TTQ, 9F02, 9F03, 9F1A, 95, 5F2A, 9A, 9C, 9F37 (33 bytes of data, as
/// in the Lloyds trace, shared docs §5).
pub(super) const QVSDC_PDOL: [u8; 24] = [
    0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x95, 0x05, 0x5F, 0x2A,
    0x02, 0x9A, 0x03, 0x9C, 0x01, 0x9F, 0x37, 0x04,
];

/// M/Chip CDOL1 of a real card (`lumag/emv-tools` `test/cda-test.c`, shared docs §2.2): 9F02,
/// 9F03, 9F1A, 95, 5F2A, 9A, 9C, 9F37, 9F35, 9F45, 9F4C, 9F34 (43 bytes of data).
pub(super) const MASTERCARD_CDOL1: [u8; 33] = [
    0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x95, 0x05, 0x5F, 0x2A, 0x02, 0x9A, 0x03,
    0x9C, 0x01, 0x9F, 0x37, 0x04, 0x9F, 0x35, 0x01, 0x9F, 0x45, 0x02, 0x9F, 0x4C, 0x08, 0x9F, 0x34,
    0x03,
];

/// M/Chip CDOL2 of the same card: 91, 8A, 95, 9F37, 9F4C.
pub(super) const MASTERCARD_CDOL2: &[u8] = &[
    0x91, 0x0A, 0x8A, 0x02, 0x95, 0x05, 0x9F, 0x37, 0x04, 0x9F, 0x4C, 0x08,
];

/// CVM list (EMV Book 3 §10.5, Annex C3): X = Y = 0; `42 03` enciphered PIN online if the
/// terminal supports it (apply the next rule if it fails), then `1F 03` no CVM required. The
/// reader's CVM required limit decides whether a CVM is needed at all (Kernel 2).
pub(super) const MASTERCARD_CVM_LIST: &[u8] = &[
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x03, 0x1F, 0x03,
];

/// Issuer action codes **[M]** (typical M/Chip values).
pub(super) const MASTERCARD_IAC_DEFAULT: [u8; 5] = [0xB4, 0x50, 0x84, 0x80, 0x00];
pub(super) const MASTERCARD_IAC_DENIAL: [u8; 5] = [0x00, 0x00, 0x00, 0x00, 0x00];
pub(super) const MASTERCARD_IAC_ONLINE: [u8; 5] = [0xB4, 0x70, 0x84, 0x80, 0x00];

/// Application usage control `FF 00`: valid everywhere, for every kind of transaction.
pub(super) const APPLICATION_USAGE_CONTROL: [u8; 2] = [0xFF, 0x00];
/// Application version number `00 96` (VIS) **[M]**.
pub(super) const APPLICATION_VERSION: [u8; 2] = [0x00, 0x96];
/// Application version number `00 02` (M/Chip) **[M]**.
pub(super) const MASTERCARD_APPLICATION_VERSION: [u8; 2] = [0x00, 0x02];

/// Visa form factor indicator (`9F6E`) **[M]**: version 1 (`20`), consumer device type in bits
/// 5-1 of byte 1: 00 standard card, 03 mobile phone.
pub(super) const FORM_FACTOR_CARD: [u8; 4] = [0x20, 0x70, 0x00, 0x00];
pub(super) const FORM_FACTOR_PHONE: [u8; 4] = [0x23, 0x70, 0x00, 0x00];

/// Track 2 discretionary data after the service code (PIN verification value and CVV positions
/// in a real card; zeros here).
pub(super) const TRACK2_DISCRETIONARY: &str = "0000000000000";
