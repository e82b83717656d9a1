//! Account data: the PAN (secret), its masked form, and track 2 equivalent data (secret).
//!
//! Shared security requirements §D1/D2 (PCI DSS 4.0.1 §3.3, §3.4.1): the full PAN and track 2
//! live only in [`Pan`] and [`Track2`], which have no `Display`, a redacted `Debug`, and are
//! zeroized on drop. What may be shown is a [`MaskedPan`]: at most the first six and the last
//! four digits, and never fewer than four hidden (a 12-digit PAN shows its first four and last
//! four). It is the one masker of the workspace: logs, receipts, screens and the ISO 8583
//! `Debug` all use it.

use core::fmt;

use zeroize::Zeroizing;

/// A full primary account number (12 to 19 digits, Luhn-valid). Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(Zeroizing<String>);

impl Pan {
    /// Parses tag `5A` (compressed numeric, `F` padded), checking length and Luhn.
    pub fn from_compressed_numeric(bytes: &[u8]) -> Result<Self, PanError> {
        Self::from_digits(&digits_of(bytes).ok_or(PanError::NotNumeric)?)
    }

    /// A PAN from its digits, checking length (12-19) and Luhn (ISO/IEC 7812-1 Annex B).
    pub fn from_digits(digits: &str) -> Result<Self, PanError> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PanError::NotNumeric);
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(PanError::Length(digits.len()));
        }
        if !luhn_valid(digits) {
            return Err(PanError::Luhn);
        }
        Ok(Self(Zeroizing::new(digits.to_owned())))
    }

    /// The masked form, safe to show.
    pub fn masked(&self) -> MaskedPan {
        MaskedPan::from_digits(&self.0)
    }

    /// The digits in clear. Only for building the authorisation message (ISO 8583 DE 2) inside
    /// the process; never log or display them.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a PAN has at least 12 digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

/// A PAN with the middle digits replaced by `*`: at most the first six and the last four.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MaskedPan(String);

impl MaskedPan {
    /// Masks a digit string (security requirements §D1): at most the first six and the last
    /// four characters are shown, and at least four are always hidden. A 16-digit PAN shows
    /// 6 + 4, a 12-digit PAN 4 + 4, and a string of four characters or fewer is all `*`.
    pub fn from_digits(digits: &str) -> Self {
        let len = digits.chars().count();
        let hidden = len
            .saturating_sub(MAX_SHOWN_HEAD + MAX_SHOWN_TAIL)
            .max(MIN_HIDDEN);
        let shown = len.saturating_sub(hidden);
        let tail = shown.min(MAX_SHOWN_TAIL);
        let head = shown - tail;
        let masked: String = digits
            .chars()
            .enumerate()
            .map(|(i, c)| if i < head || i >= len - tail { c } else { '*' })
            .collect();
        Self(masked)
    }

    /// Masks tag `5A` bytes; `None` when they are not compressed numeric.
    pub fn from_compressed_numeric(bytes: &[u8]) -> Option<Self> {
        digits_of(bytes).map(|digits| Self::from_digits(&digits))
    }

    /// The masked text, for example `492182******6752`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits.
    pub fn last_four(&self) -> &str {
        self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("")
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan({})", self.0)
    }
}

/// Track 2 equivalent data (tag `57`, EMV Book 3 Annex A1): PAN, separator `D`, expiry YYMM,
/// service code, discretionary data, `F` padding. Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Track2 {
    raw: Zeroizing<Vec<u8>>,
    digits: Zeroizing<String>,
}

impl Track2 {
    /// Parses tag `57`: nibbles must be digits with exactly one `D` separator, and `F` only as
    /// the last nibble.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PanError> {
        let mut digits = Zeroizing::new(String::with_capacity(bytes.len() * 2));
        let nibbles = bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]);
        let count = bytes.len() * 2;
        for (i, nibble) in nibbles.enumerate() {
            match nibble {
                0..=9 => digits.push(char::from(b'0' + nibble)),
                0x0D => digits.push('D'),
                0x0F if i + 1 == count => {}
                _ => return Err(PanError::NotNumeric),
            }
        }
        if digits.matches('D').count() != 1 {
            return Err(PanError::Track2Format);
        }
        let track = Self {
            raw: Zeroizing::new(bytes.to_vec()),
            digits,
        };
        let after = track.after_separator();
        if after.len() < 7 {
            return Err(PanError::Track2Format);
        }
        Ok(track)
    }

    /// The PAN before the separator (checked like any PAN).
    pub fn pan(&self) -> Result<Pan, PanError> {
        Pan::from_digits(self.digits.split('D').next().unwrap_or(""))
    }

    /// Expiry date YYMM as four digits.
    pub fn expiry_yymm(&self) -> &str {
        self.after_separator().get(0..4).unwrap_or("")
    }

    /// The three-digit service code.
    pub fn service_code(&self) -> &str {
        self.after_separator().get(4..7).unwrap_or("")
    }

    /// The ISO 8583 DE 35 form: `D` becomes `=`, padding removed. Secret: never log it.
    pub fn expose_de35(&self) -> Zeroizing<String> {
        Zeroizing::new(self.digits.replace('D', "="))
    }

    /// The raw bytes of tag `57`. Secret: never log them.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn after_separator(&self) -> &str {
        self.digits.split('D').nth(1).unwrap_or("")
    }
}

impl fmt::Debug for Track2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Track2(REDACTED)")
    }
}

/// Errors in account data (security requirements §F B3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PanError {
    /// A nibble that is not a digit (or `F` padding where allowed).
    #[error("account data is not numeric")]
    NotNumeric,
    /// A PAN outside 12-19 digits.
    #[error("PAN of {0} digits (12 to 19 allowed)")]
    Length(usize),
    /// The Luhn check digit is wrong.
    #[error("PAN fails the Luhn check")]
    Luhn,
    /// Track 2 without one separator, or too short after it.
    #[error("malformed track 2 equivalent data")]
    Track2Format,
}

/// The digits of a compressed numeric value: BCD digits, then only `F` nibbles.
fn digits_of(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len() * 2);
    let mut padding = false;
    for nibble in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        match nibble {
            0..=9 if !padding => out.push(char::from(b'0' + nibble)),
            0x0F => padding = true,
            _ => return None,
        }
    }
    Some(out)
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The most leading digits a masked PAN shows (PCI DSS 4.0.1 §3.4.1: BIN).
const MAX_SHOWN_HEAD: usize = 6;
/// The most trailing digits a masked PAN shows.
const MAX_SHOWN_TAIL: usize = 4;
/// The fewest digits a masked PAN hides.
const MIN_HIDDEN: usize = 4;

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use proptest::prelude::*;

    use super::*;

    /// The Lloyds Visa card of tests/data/kernel/visa_lloyds_qvsdc.txt (deactivated).
    #[test]
    fn lloyds_pan_and_track2() {
        let pan = Pan::from_compressed_numeric(&hex!("4921828094896752")).unwrap();
        assert_eq!(pan.masked().as_str(), "492182******6752");
        assert_eq!(format!("{pan:?}"), "Pan(492182******6752)");
        let track = Track2::from_bytes(&hex!("4921828094896752D25022013650000000000F")).unwrap();
        assert_eq!(track.pan().unwrap(), pan);
        assert_eq!(track.expiry_yymm(), "2502");
        assert_eq!(track.service_code(), "201");
        assert_eq!(
            &*track.expose_de35(),
            "4921828094896752=25022013650000000000"
        );
        assert!(!format!("{track:?}").contains("4921"));
    }

    #[test]
    fn bad_pans_are_rejected() {
        assert_eq!(Pan::from_digits("4921828094896753"), Err(PanError::Luhn));
        assert_eq!(Pan::from_digits("12345678903"), Err(PanError::Length(11)));
        assert_eq!(
            Pan::from_compressed_numeric(&hex!("49218A")),
            Err(PanError::NotNumeric)
        );
        assert!(Track2::from_bytes(&hex!("4921828094896752")).is_err());
    }

    #[test]
    fn masks_every_pan_length_from_12_to_19() {
        let cases = [
            ("476173900101", "4761****0101"),
            ("4761739001011", "47617****1011"),
            ("47617390010119", "476173****0119"),
            ("476173900101019", "476173*****1019"),
            ("4761739001010119", "476173******0119"),
            ("47617390010101190", "476173*******1190"),
            ("476173900101011901", "476173********1901"),
            ("4761739001010119012", "476173*********9012"),
        ];
        for (pan, expected) in cases {
            assert_eq!(MaskedPan::from_digits(pan).as_str(), expected, "{pan}");
        }
        // Short or odd input never shows more than it hides.
        assert_eq!(MaskedPan::from_digits("1234").as_str(), "****");
        assert_eq!(MaskedPan::from_digits("123456").as_str(), "****56");
        assert_eq!(MaskedPan::from_digits("").as_str(), "");
    }

    proptest! {
        /// Security requirements §D1: PANs of 12-19 digits show at most the first six and the
        /// last four digits, hide at least four, and keep the first digits in place.
        #[test]
        fn masking_hides_at_least_four_digits(digits in "[0-9]{12,19}") {
            let masked = MaskedPan::from_digits(&digits);
            let text = masked.as_str();
            prop_assert_eq!(text.len(), digits.len());
            let hidden = text.chars().filter(|&c| c == '*').count();
            prop_assert!(hidden >= 4);
            prop_assert!(digits.len() - hidden <= 10);
            prop_assert_eq!(masked.last_four(), &digits[digits.len() - 4..]);
            let head: String = text.chars().take_while(char::is_ascii_digit).collect();
            prop_assert!(head.len() <= 6);
            prop_assert!(digits.starts_with(&head));
        }
    }
}
