//! The field table of our ISO 8583:1987 dialect (ISO 8583:1987 §4.3, Table 2 "Data elements"),
//! with the private fields we assign. `docs/iso8583.md` is the same table in prose.
//!
//! Wire encoding: numeric (`n`), alphanumeric (`an`, `ans`), track (`z`) and amount-with-sign
//! (`x+n`) fields are ASCII, one character per byte; `b` fields are raw bytes. Variable length
//! prefixes are ASCII decimal (`LL` two digits, `LLL` three digits) counting characters, or
//! bytes for `b` fields.

use super::{CodecError, CodecErrorKind, Reader};

/// The characters a field may hold (ISO 8583:1987 §4.2 "Data element attributes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharClass {
    /// `n`: decimal digits.
    Numeric,
    /// `an`: letters, digits and space (space is accepted as in common practice for padding).
    Alphanumeric,
    /// `ans`: printable ASCII 0x20-0x7E.
    AlphanumericSpecial,
    /// `z`: track 2 code set (digits, `=` and `D` separators).
    Track2,
    /// `x+n`: `C` or `D` followed by digits.
    SignedAmount,
    /// `b`: raw bytes.
    Binary,
}

/// How a field's length is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthKind {
    /// Fixed length, in characters (bytes for `b`).
    Fixed(usize),
    /// `LLVAR`: two ASCII digits, then up to this many characters.
    LlVar(usize),
    /// `LLLVAR`: three ASCII digits, then up to this many characters.
    LllVar(usize),
}

/// The attributes of one data element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's name in ISO 8583:1987 (or ours for private fields).
    pub name: &'static str,
    /// Character class.
    pub class: CharClass,
    /// Length attribute.
    pub length: LengthKind,
}

impl FieldSpec {
    pub(super) const fn new(name: &'static str, class: CharClass, length: LengthKind) -> Self {
        Self {
            name,
            class,
            length,
        }
    }

    /// The maximum content length in characters (or bytes).
    pub fn max_len(&self) -> usize {
        match self.length {
            LengthKind::Fixed(n) | LengthKind::LlVar(n) | LengthKind::LllVar(n) => n,
        }
    }

    /// Checks `value` against this spec: length and character class.
    pub fn check(&self, field: u8, value: &[u8], position: usize) -> Result<(), CodecError> {
        let len_ok = match self.length {
            LengthKind::Fixed(n) => value.len() == n,
            LengthKind::LlVar(n) | LengthKind::LllVar(n) => value.len() <= n,
        };
        if !len_ok {
            return Err(CodecError::new(
                CodecErrorKind::FieldLength(field),
                position,
            ));
        }
        let chars_ok = match self.class {
            CharClass::Numeric => value.iter().all(u8::is_ascii_digit),
            CharClass::Alphanumeric => value
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b' '),
            CharClass::AlphanumericSpecial => value.iter().all(|c| (0x20..=0x7E).contains(c)),
            CharClass::Track2 => value
                .iter()
                .all(|c| c.is_ascii_digit() || *c == b'=' || *c == b'D'),
            CharClass::SignedAmount => match value.split_first() {
                Some((sign, digits)) => {
                    (*sign == b'C' || *sign == b'D') && digits.iter().all(u8::is_ascii_digit)
                }
                None => false,
            },
            CharClass::Binary => true,
        };
        if !chars_ok {
            return Err(CodecError::new(
                CodecErrorKind::BadCharacter(field),
                position,
            ));
        }
        Ok(())
    }

    pub(super) fn encode_into(
        &self,
        field: u8,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        self.check(field, value, out.len())?;
        match self.length {
            LengthKind::Fixed(_) => {}
            LengthKind::LlVar(_) => push_decimal(out, value.len(), 2),
            LengthKind::LllVar(_) => push_decimal(out, value.len(), 3),
        }
        out.extend_from_slice(value);
        Ok(())
    }

    pub(super) fn decode_from(&self, field: u8, r: &mut Reader<'_>) -> Result<Vec<u8>, CodecError> {
        let start = r.position();
        let len = match self.length {
            LengthKind::Fixed(n) => n,
            LengthKind::LlVar(_) => read_decimal(field, r, 2)?,
            LengthKind::LllVar(_) => read_decimal(field, r, 3)?,
        };
        if len > self.max_len() {
            return Err(CodecError::new(CodecErrorKind::FieldLength(field), start));
        }
        let value = r.take(len)?;
        self.check(field, value, start)?;
        Ok(value.to_vec())
    }
}

/// The spec of data element `n`, or `None` if our dialect does not use it.
pub fn field(n: u8) -> Option<&'static FieldSpec> {
    TABLE
        .iter()
        .find_map(|(number, spec)| (*number == n).then_some(spec))
}

/// Every data element of our dialect with its spec, ascending.
pub fn all() -> &'static [(u8, FieldSpec)] {
    TABLE
}

fn push_decimal(out: &mut Vec<u8>, value: usize, digits: u32) {
    for i in (0..digits).rev() {
        let d = (value / 10usize.pow(i)) % 10;
        out.push(b'0' + u8::try_from(d).unwrap_or(0));
    }
}

fn read_decimal(field: u8, r: &mut Reader<'_>, digits: usize) -> Result<usize, CodecError> {
    let start = r.position();
    let prefix = r.take(digits)?;
    let mut value = 0usize;
    for &c in prefix {
        if !c.is_ascii_digit() {
            return Err(CodecError::new(
                CodecErrorKind::BadLengthPrefix(field),
                start,
            ));
        }
        value = value * 10 + usize::from(c - b'0');
    }
    Ok(value)
}

use table::TABLE;

mod table {
    use super::CharClass::{
        Alphanumeric as AN, AlphanumericSpecial as ANS, Binary as B, Numeric as N,
        SignedAmount as XN, Track2 as Z,
    };
    use super::FieldSpec;
    use super::LengthKind::{Fixed, LlVar, LllVar};

    /// ISO 8583:1987 Table 2, the data elements our host and terminal use.
    pub(super) const TABLE: &[(u8, FieldSpec)] = &[
        (2, FieldSpec::new("Primary account number", N, LlVar(19))),
        (3, FieldSpec::new("Processing code", N, Fixed(6))),
        (4, FieldSpec::new("Amount, transaction", N, Fixed(12))),
        (
            7,
            FieldSpec::new("Transmission date and time (MMDDhhmmss, UTC)", N, Fixed(10)),
        ),
        (
            11,
            FieldSpec::new("Systems trace audit number", N, Fixed(6)),
        ),
        (
            12,
            FieldSpec::new("Time, local transaction (hhmmss)", N, Fixed(6)),
        ),
        (
            13,
            FieldSpec::new("Date, local transaction (MMDD)", N, Fixed(4)),
        ),
        (14, FieldSpec::new("Date, expiration (YYMM)", N, Fixed(4))),
        (15, FieldSpec::new("Date, settlement (MMDD)", N, Fixed(4))),
        (18, FieldSpec::new("Merchant type", N, Fixed(4))),
        (
            22,
            FieldSpec::new("Point of service entry mode", N, Fixed(3)),
        ),
        (23, FieldSpec::new("Card sequence number", N, Fixed(3))),
        (
            25,
            FieldSpec::new("Point of service condition code", N, Fixed(2)),
        ),
        (
            32,
            FieldSpec::new("Acquiring institution identification code", N, LlVar(11)),
        ),
        (35, FieldSpec::new("Track 2 data", Z, LlVar(37))),
        (
            37,
            FieldSpec::new("Retrieval reference number", AN, Fixed(12)),
        ),
        (
            38,
            FieldSpec::new("Authorization identification response", AN, Fixed(6)),
        ),
        (39, FieldSpec::new("Response code", AN, Fixed(2))),
        (
            41,
            FieldSpec::new("Card acceptor terminal identification", ANS, Fixed(8)),
        ),
        (
            42,
            FieldSpec::new("Card acceptor identification code", ANS, Fixed(15)),
        ),
        (
            43,
            FieldSpec::new("Card acceptor name/location", ANS, Fixed(40)),
        ),
        (
            49,
            FieldSpec::new("Currency code, transaction", N, Fixed(3)),
        ),
        (
            52,
            FieldSpec::new(
                "PIN data (8-byte TDES PIN block; unused, see DE 62)",
                B,
                Fixed(8),
            ),
        ),
        (54, FieldSpec::new("Additional amounts", ANS, LllVar(120))),
        (
            55,
            FieldSpec::new("ICC system related data (BER-TLV)", B, LllVar(255)),
        ),
        (60, FieldSpec::new("Private: batch number", N, LllVar(6))),
        (
            61,
            FieldSpec::new("Private: AES DUKPT KSN of the MAC key", B, LllVar(12)),
        ),
        (
            62,
            FieldSpec::new("Private: AES PIN block, ISO 9564-1 format 4", B, LllVar(16)),
        ),
        (
            63,
            FieldSpec::new("Private: AES DUKPT KSN of the PIN key", B, LllVar(12)),
        ),
        (
            64,
            FieldSpec::new("Message authentication code", B, Fixed(8)),
        ),
        (66, FieldSpec::new("Settlement code", N, Fixed(1))),
        (
            70,
            FieldSpec::new("Network management information code", N, Fixed(3)),
        ),
        (74, FieldSpec::new("Credits, number", N, Fixed(10))),
        (75, FieldSpec::new("Credits, reversal number", N, Fixed(10))),
        (76, FieldSpec::new("Debits, number", N, Fixed(10))),
        (77, FieldSpec::new("Debits, reversal number", N, Fixed(10))),
        (86, FieldSpec::new("Credits, amount", N, Fixed(16))),
        (87, FieldSpec::new("Credits, reversal amount", N, Fixed(16))),
        (88, FieldSpec::new("Debits, amount", N, Fixed(16))),
        (89, FieldSpec::new("Debits, reversal amount", N, Fixed(16))),
        (90, FieldSpec::new("Original data elements", N, Fixed(42))),
        (95, FieldSpec::new("Replacement amounts", AN, Fixed(42))),
        (97, FieldSpec::new("Amount, net settlement", XN, Fixed(17))),
        (
            104,
            FieldSpec::new(
                "Private: the customer's signed offline code",
                B,
                LllVar(255),
            ),
        ),
        (
            105,
            FieldSpec::new(
                "Private: the merchant's-code payment reference",
                ANS,
                LllVar(16),
            ),
        ),
        (
            106,
            FieldSpec::new("Private: attestation token", B, LllVar(128)),
        ),
        (
            128,
            FieldSpec::new("Message authentication code", B, Fixed(8)),
        ),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_valid() {
        for pair in TABLE.windows(2) {
            if let [(a, _), (b, _)] = pair {
                assert!(a < b, "table not ascending at {a}");
            }
        }
        assert!(field(1).is_none());
        assert!(field(65).is_none());
        assert_eq!(field(41).map(|s| s.length), Some(LengthKind::Fixed(8)));
    }
}
