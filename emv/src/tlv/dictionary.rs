//! The EMV tag dictionary: name, format and sensitivity of the tags the kernels meet.
//!
//! Names and formats follow EMV Book 3 Annex A1 (data elements dictionary), Book C-2 Annex A
//! (Mastercard `DF81xx`), Book C-3 Annex A (Visa) and Book C-7 (UnionPay). Sensitivity follows
//! the shared security requirements §D (PCI DSS 3.3/3.4): the PAN is shown masked; track data,
//! the cardholder name and PIN data are never shown.

use super::Tag;

/// How a data element is coded (EMV Book 3 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `b`: binary.
    Binary,
    /// `n`: numeric, BCD, right justified, leading zeros.
    Numeric,
    /// `cn`: compressed numeric, BCD, left justified, trailing `F`s.
    CompressedNumeric,
    /// `a`/`an`: alphanumeric.
    AlphaNumeric,
    /// `ans`: alphanumeric special.
    AlphaNumericSpecial,
    /// A data object list (tag and length pairs).
    Dol,
    /// A constructed template.
    Template,
}

/// How a value may be shown in traces, dumps and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sensitivity {
    /// May be shown in full.
    Public,
    /// A PAN: shown only as a [`crate::pan::MaskedPan`].
    Pan,
    /// Never shown: only its length.
    Secret,
    /// A certificate, a key remainder or signed data (`90`, `92`, `93`, `9F46`, `9F48`,
    /// `9F4B`): shown only as its length, unless the user asks for certificates explicitly.
    /// Whoever holds the scheme's public CA key recovers the ICC certificate's content, the
    /// full PAN included (EMV Book 2 §6.1, Table 14).
    Certificate,
}

/// One dictionary entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagInfo {
    /// The tag.
    pub tag: Tag,
    /// The EMV name.
    pub name: &'static str,
    /// The format.
    pub format: Format,
    /// Whether the value may be shown.
    pub sensitivity: Sensitivity,
}

/// The entry for `tag`, if the dictionary knows it.
pub fn lookup(tag: Tag) -> Option<&'static TagInfo> {
    DICTIONARY
        .binary_search_by_key(&tag, |info| info.tag)
        .ok()
        .and_then(|i| DICTIONARY.get(i))
}

/// All entries, sorted by tag.
pub fn all() -> &'static [TagInfo] {
    DICTIONARY
}

const fn e(tag: u32, name: &'static str, format: Format, sensitivity: Sensitivity) -> TagInfo {
    TagInfo {
        tag: Tag::new(tag),
        name,
        format,
        sensitivity,
    }
}

use Format::{
    AlphaNumeric as A, AlphaNumericSpecial as Ans, Binary as B, CompressedNumeric as Cn, Dol as D,
    Numeric as N, Template as T,
};
use Sensitivity::{Certificate as C, Pan as Pn, Public as P, Secret as S};

/// Sorted by tag number (a unit test checks the order).
const DICTIONARY: &[TagInfo] = &[
    e(0x42, "Issuer Identification Number", N, P),
    e(0x4F, "Application Identifier (ADF Name)", B, P),
    e(0x50, "Application Label", Ans, P),
    e(0x56, "Track 1 Data", Ans, S),
    e(0x57, "Track 2 Equivalent Data", B, S),
    e(0x5A, "Application Primary Account Number", Cn, Pn),
    e(0x61, "Application Template", T, P),
    e(0x6F, "File Control Information Template", T, P),
    e(0x70, "READ RECORD Response Message Template", T, P),
    e(0x71, "Issuer Script Template 1", T, P),
    e(0x72, "Issuer Script Template 2", T, P),
    e(0x77, "Response Message Template Format 2", T, P),
    e(0x80, "Response Message Template Format 1", B, P),
    e(0x82, "Application Interchange Profile", B, P),
    e(0x83, "Command Template", B, P),
    e(0x84, "Dedicated File Name", B, P),
    e(0x87, "Application Priority Indicator", B, P),
    e(0x88, "Short File Identifier", B, P),
    e(0x8A, "Authorisation Response Code", A, P),
    e(0x8C, "CDOL1", D, P),
    e(0x8D, "CDOL2", D, P),
    e(0x8E, "CVM List", B, P),
    e(0x8F, "Certification Authority Public Key Index", B, P),
    e(0x90, "Issuer Public Key Certificate", B, C),
    e(0x91, "Issuer Authentication Data", B, P),
    e(0x92, "Issuer Public Key Remainder", B, C),
    e(0x93, "Signed Static Application Data", B, C),
    e(0x94, "Application File Locator", B, P),
    e(0x95, "Terminal Verification Results", B, P),
    e(0x99, "Transaction PIN Data", B, S),
    e(0x9A, "Transaction Date", N, P),
    e(0x9B, "Transaction Status Information", B, P),
    e(0x9C, "Transaction Type", N, P),
    e(0x9D, "DDF Name", B, P),
    e(0xA5, "FCI Proprietary Template", T, P),
    e(0x5F20, "Cardholder Name", Ans, S),
    e(0x5F24, "Application Expiration Date", N, P),
    e(0x5F25, "Application Effective Date", N, P),
    e(0x5F28, "Issuer Country Code", N, P),
    e(0x5F2A, "Transaction Currency Code", N, P),
    e(0x5F2D, "Language Preference", An, P),
    e(0x5F30, "Service Code", N, P),
    e(0x5F34, "Application PAN Sequence Number", N, P),
    e(0x5F36, "Transaction Currency Exponent", N, P),
    e(0x9F01, "Acquirer Identifier", N, P),
    e(0x9F02, "Amount, Authorised", N, P),
    e(0x9F03, "Amount, Other", N, P),
    e(0x9F06, "Application Identifier (Terminal)", B, P),
    e(0x9F07, "Application Usage Control", B, P),
    e(0x9F08, "Application Version Number (Card)", B, P),
    e(0x9F09, "Application Version Number (Terminal)", B, P),
    e(
        0x9F0A,
        "Application Selection Registered Proprietary Data",
        B,
        P,
    ),
    e(0x9F0B, "Cardholder Name Extended", Ans, S),
    e(0x9F0D, "Issuer Action Code - Default", B, P),
    e(0x9F0E, "Issuer Action Code - Denial", B, P),
    e(0x9F0F, "Issuer Action Code - Online", B, P),
    e(0x9F10, "Issuer Application Data", B, P),
    e(0x9F11, "Issuer Code Table Index", N, P),
    e(0x9F12, "Application Preferred Name", Ans, P),
    e(0x9F15, "Merchant Category Code", N, P),
    e(0x9F16, "Merchant Identifier", Ans, P),
    e(0x9F17, "PIN Try Counter", B, S),
    e(0x9F1A, "Terminal Country Code", N, P),
    e(0x9F1B, "Terminal Floor Limit", B, P),
    e(0x9F1C, "Terminal Identification", An, P),
    e(0x9F1E, "Interface Device Serial Number", An, P),
    e(0x9F1F, "Track 1 Discretionary Data", Ans, S),
    e(0x9F20, "Track 2 Discretionary Data", Cn, S),
    e(0x9F21, "Transaction Time", N, P),
    e(0x9F24, "Payment Account Reference", An, P),
    e(0x9F26, "Application Cryptogram", B, P),
    e(0x9F27, "Cryptogram Information Data", B, P),
    e(0x9F29, "Extended Selection", B, P),
    e(0x9F2A, "Kernel Identifier", B, P),
    e(0x9F32, "Issuer Public Key Exponent", B, P),
    e(0x9F33, "Terminal Capabilities", B, P),
    e(0x9F34, "Cardholder Verification Method Results", B, P),
    e(0x9F35, "Terminal Type", N, P),
    e(0x9F36, "Application Transaction Counter", B, P),
    e(0x9F37, "Unpredictable Number", B, P),
    e(0x9F38, "PDOL", D, P),
    e(0x9F39, "POS Entry Mode", N, P),
    e(0x9F40, "Additional Terminal Capabilities", B, P),
    e(0x9F41, "Transaction Sequence Counter", N, P),
    e(0x9F42, "Application Currency Code", N, P),
    e(0x9F44, "Application Currency Exponent", N, P),
    e(0x9F45, "Data Authentication Code", B, P),
    e(0x9F46, "ICC Public Key Certificate", B, C),
    e(0x9F47, "ICC Public Key Exponent", B, P),
    e(0x9F48, "ICC Public Key Remainder", B, C),
    e(0x9F49, "DDOL", D, P),
    e(0x9F4A, "Static Data Authentication Tag List", B, P),
    e(0x9F4B, "Signed Dynamic Application Data", B, C),
    e(0x9F4C, "ICC Dynamic Number", B, P),
    e(0x9F4E, "Merchant Name and Location", Ans, P),
    e(0x9F5A, "Application Program Identifier", B, P),
    e(0x9F5D, "Available Offline Spending Amount", B, P),
    e(0x9F62, "PCVC3 (Track 1)", B, P),
    e(0x9F63, "PUNATC (Track 1)", B, P),
    e(0x9F64, "NATC (Track 1)", B, P),
    e(0x9F65, "PCVC3 (Track 2)", B, P),
    e(0x9F66, "Terminal Transaction Qualifiers", B, P),
    e(0x9F67, "NATC (Track 2)", B, P),
    e(0x9F69, "Card Authentication Related Data", B, P),
    e(0x9F6B, "Track 2 Data", B, S),
    e(0x9F6C, "Card Transaction Qualifiers", B, P),
    e(0x9F6E, "Form Factor Indicator / Third Party Data", B, P),
    e(
        0x9F7C,
        "Customer Exclusive Data / Merchant Custom Data",
        B,
        P,
    ),
    e(0xBF0C, "FCI Issuer Discretionary Data", T, P),
    e(0xDF8117, "Card Data Input Capability", B, P),
    e(0xDF8118, "CVM Capability - CVM Required", B, P),
    e(0xDF8119, "CVM Capability - No CVM Required", B, P),
    e(0xDF811B, "Kernel Configuration", B, P),
    e(0xDF811F, "Security Capability", B, P),
    e(0xDF8120, "Terminal Action Code - Default", B, P),
    e(0xDF8121, "Terminal Action Code - Denial", B, P),
    e(0xDF8122, "Terminal Action Code - Online", B, P),
    e(0xDF8123, "Reader Contactless Floor Limit", N, P),
    e(
        0xDF8124,
        "Reader Contactless Transaction Limit (No On-device CVM)",
        N,
        P,
    ),
    e(
        0xDF8125,
        "Reader Contactless Transaction Limit (On-device CVM)",
        N,
        P,
    ),
    e(0xDF8126, "Reader CVM Required Limit", N, P),
    e(0xDF8129, "Outcome Parameter Set", B, P),
];

use Format::AlphaNumeric as An;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_sorted_and_unique() {
        for pair in DICTIONARY.windows(2) {
            assert!(
                pair[0].tag < pair[1].tag,
                "{:?} !< {:?}",
                pair[0].tag,
                pair[1].tag
            );
        }
    }

    #[test]
    fn sensitive_tags_are_marked() {
        for tag in [0x57, 0x56, 0x9F6B, 0x9F1F, 0x5F20, 0x99, 0x9F20] {
            assert_eq!(
                lookup(Tag::new(tag)).map(|i| i.sensitivity),
                Some(Sensitivity::Secret)
            );
        }
        assert_eq!(
            lookup(Tag::new(0x5A)).map(|i| i.sensitivity),
            Some(Sensitivity::Pan)
        );
        assert_eq!(
            lookup(Tag::new(0x9F26)).map(|i| i.sensitivity),
            Some(Sensitivity::Public)
        );
        for tag in [0x90, 0x92, 0x93, 0x9F46, 0x9F48, 0x9F4B] {
            assert_eq!(
                lookup(Tag::new(tag)).map(|i| i.sensitivity),
                Some(Sensitivity::Certificate)
            );
        }
        assert_eq!(
            lookup(Tag::new(0x9F02)).map(|i| i.name),
            Some("Amount, Authorised")
        );
    }
}
