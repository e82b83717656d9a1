//! Data object lists: PDOL (`9F38`), CDOL1 (`8C`), CDOL2 (`8D`), DDOL (`9F49`).
//!
//! A DOL is a list of tag and length pairs with no values (EMV Book 3 §5.4). The terminal
//! answers with the concatenated values, each fitted to the requested length by the rules of
//! §5.4: a value the terminal does not have is filled with zeros; a numeric (`n`) value is
//! padded with leading zeros or cut on the left; any other value is padded with trailing zeros
//! or cut on the right. A constructed tag in a DOL is answered with zeros.

use crate::tlv::{Format, Tag};

/// One entry of a DOL: a tag and the length the card wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DolEntry {
    /// The requested tag.
    pub tag: Tag,
    /// The requested length in bytes.
    pub length: usize,
}

/// A parsed DOL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dol(Vec<DolEntry>);

impl Dol {
    /// Parses the value of a DOL object (tags and one-byte or `81 xx` lengths).
    pub fn parse(bytes: &[u8]) -> Result<Self, DolError> {
        let mut entries = Vec::new();
        let mut position = 0;
        while position < bytes.len() {
            let start = position;
            let first = *bytes.get(position).ok_or(DolError::Truncated(start))?;
            position += 1;
            let mut number = u32::from(first);
            if first & 0x1F == 0x1F {
                let mut extra = 0;
                loop {
                    let next = *bytes.get(position).ok_or(DolError::Truncated(start))?;
                    position += 1;
                    extra += 1;
                    if extra > 2 {
                        return Err(DolError::InvalidTag(start));
                    }
                    number = (number << 8) | u32::from(next);
                    if next & 0x80 == 0 {
                        break;
                    }
                }
            }
            let length_byte = *bytes.get(position).ok_or(DolError::Truncated(start))?;
            position += 1;
            let length = match length_byte {
                0x00..=0x7F => usize::from(length_byte),
                0x81 => {
                    let length = *bytes.get(position).ok_or(DolError::Truncated(start))?;
                    position += 1;
                    usize::from(length)
                }
                _ => return Err(DolError::InvalidLength(start)),
            };
            entries.push(DolEntry {
                tag: Tag::new(number),
                length,
            });
        }
        Ok(Self(entries))
    }

    /// The entries in order.
    pub fn entries(&self) -> &[DolEntry] {
        &self.0
    }

    /// Whether the DOL asks for `tag`.
    pub fn contains(&self, tag: Tag) -> bool {
        self.0.iter().any(|entry| entry.tag == tag)
    }

    /// The total length of the related data.
    pub fn data_length(&self) -> usize {
        self.0.iter().map(|entry| entry.length).sum()
    }

    /// Builds the DOL related data (Book 3 §5.4) from `source`, which returns the terminal's
    /// value for a tag, or `None` when it has none.
    pub fn build(&self, source: impl Fn(Tag) -> Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data_length());
        for entry in &self.0 {
            let value = if entry.tag.is_constructed() {
                None
            } else {
                source(entry.tag)
            };
            let numeric = entry
                .tag
                .info()
                .is_some_and(|info| info.format == Format::Numeric);
            out.extend_from_slice(&fit(value.as_deref(), entry.length, numeric));
        }
        out
    }
}

/// Fits a value to `length` per EMV Book 3 §5.4.
fn fit(value: Option<&[u8]>, length: usize, numeric: bool) -> Vec<u8> {
    let Some(value) = value else {
        return vec![0; length];
    };
    let mut out = vec![0; length];
    if numeric {
        // Right justified: keep the rightmost bytes, pad on the left.
        let take = value.len().min(length);
        let src = value.get(value.len() - take..).unwrap_or(&[]);
        if let Some(dst) = out.get_mut(length - take..) {
            dst.copy_from_slice(src);
        }
    } else {
        let take = value.len().min(length);
        if let (Some(dst), Some(src)) = (out.get_mut(..take), value.get(..take)) {
            dst.copy_from_slice(src);
        }
    }
    out
}

/// Errors in a DOL (byte position of the bad entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DolError {
    /// The DOL ends inside an entry.
    #[error("DOL truncated in the entry at byte {0}")]
    Truncated(usize),
    /// A tag longer than three bytes.
    #[error("DOL tag too long at byte {0}")]
    InvalidTag(usize),
    /// A length form other than one byte or `81 xx`.
    #[error("DOL length invalid at byte {0}")]
    InvalidLength(usize),
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    /// The Lloyds Visa PDOL and the GPO it produced (tests/data/kernel/visa_lloyds_qvsdc.txt).
    #[test]
    fn lloyds_pdol_builds_the_recorded_gpo_data() {
        let dol = Dol::parse(&hex!("9f66049f02069f03069f1a0295055f2a029a039c019f3704")).unwrap();
        assert_eq!(dol.entries().len(), 9);
        assert_eq!(dol.data_length(), 0x21);
        let data = dol.build(|tag| match tag.number() {
            0x9F66 => Some(hex!("27000000").to_vec()),
            0x9F02 => Some(hex!("000000001000").to_vec()),
            0x9F03 => Some(hex!("000000000000").to_vec()),
            0x9F1A | 0x5F2A => Some(hex!("0978").to_vec()),
            0x95 => Some(vec![0; 5]),
            0x9A => Some(hex!("230301").to_vec()),
            0x9C => Some(vec![0]),
            0x9F37 => Some(hex!("38393031").to_vec()),
            _ => None,
        });
        assert_eq!(
            data,
            hex!("27000000000000001000000000000000097800000000000978230301003839303100")[..0x21]
                .to_vec()
        );
    }

    #[test]
    fn values_are_fitted_per_format() {
        let dol = Dol::parse(&hex!("9F0204 9F1E04 DF7F02 70 02")).unwrap();
        let data = dol.build(|tag| match tag.number() {
            0x9F02 => Some(hex!("000000001234").to_vec()),
            0x9F1E => Some(b"AB".to_vec()),
            _ => None,
        });
        // n: cut on the left; an: padded on the right; unknown: zeros; template: zeros.
        assert_eq!(data, hex!("00001234 41420000 0000 0000"));
    }

    #[test]
    fn malformed_dols_are_errors() {
        assert_eq!(Dol::parse(&hex!("9F")), Err(DolError::Truncated(0)));
        assert_eq!(Dol::parse(&hex!("9F02")), Err(DolError::Truncated(0)));
        assert_eq!(
            Dol::parse(&hex!("9502 9F0282")),
            Err(DolError::InvalidLength(2))
        );
    }
}
