//! Data object lists as the card sees them (EMV Book 3 §5.4): the card defines the PDOL and
//! CDOL1, and reads the terminal's values back out of the concatenated data by the same list.
//!
//! The kernel's own DOL code (`emv::dol`) builds the data; this card-side reader is separate on
//! purpose, so a bug in one is caught by the other.

/// A parsed DOL: `(tag, length)` pairs in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Dol(Vec<(u32, usize)>);

impl Dol {
    /// Parses the DOL bytes (tags and one-byte lengths, no values). The card's own DOLs are
    /// constants, so an error here is a personalization bug, reported as `None`.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        let mut entries = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (tag, used) = read_tag(rest)?;
            let length = usize::from(*rest.get(used)?);
            entries.push((tag, length));
            rest = rest.get(used + 1..)?;
        }
        Some(Self(entries))
    }

    /// The length of the related data the terminal must send.
    pub(crate) fn data_length(&self) -> usize {
        self.0.iter().map(|(_, length)| length).sum()
    }

    /// The value of `tag` in `data` (DOL related data built by this list), or `None` if the tag
    /// is not in the list or the data is too short.
    pub(crate) fn value<'a>(&self, data: &'a [u8], tag: u32) -> Option<&'a [u8]> {
        let mut offset = 0;
        for (entry, length) in &self.0 {
            if *entry == tag {
                return data.get(offset..offset + length);
            }
            offset += length;
        }
        None
    }

    /// The value of `tag` as a fixed-size array: zeros if absent, right-aligned when the DOL
    /// gives it a different length (EMV Book 3 §5.4 pads numeric data on the left).
    pub(crate) fn fixed<const N: usize>(&self, data: &[u8], tag: u32) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(value) = self.value(data, tag) {
            let take = value.len().min(N);
            let src = value.get(value.len() - take..).unwrap_or_default();
            if let Some(dst) = out.get_mut(N - take..) {
                dst.copy_from_slice(src);
            }
        }
        out
    }

    /// A copy of `data` with the value of `tag` replaced by `value` (right-aligned and
    /// zero-padded on the left, or cut on the left, to the DOL's length). `data` is returned
    /// unchanged if the tag is not in the list or the data is too short.
    pub(crate) fn with_value(&self, data: &[u8], tag: u32, value: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let mut offset = 0;
        for (entry, length) in &self.0 {
            if *entry == tag {
                if let Some(field) = out.get_mut(offset..offset + length) {
                    field.fill(0);
                    let take = value.len().min(*length);
                    let src = value.get(value.len() - take..).unwrap_or_default();
                    if let Some(dst) = field.get_mut(*length - take..) {
                        dst.copy_from_slice(src);
                    }
                }
                break;
            }
            offset += length;
        }
        out
    }
}

/// Reads one tag (1 to 3 bytes) at the start of `bytes`: `(tag, bytes used)`.
fn read_tag(bytes: &[u8]) -> Option<(u32, usize)> {
    let first = *bytes.first()?;
    let mut tag = u32::from(first);
    let mut used = 1;
    if first & 0x1F == 0x1F {
        loop {
            let byte = *bytes.get(used)?;
            tag = (tag << 8) | u32::from(byte);
            used += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if used >= 3 {
                return None;
            }
        }
    }
    Some((tag, used))
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn replaces_one_value_in_place() {
        let dol = Dol::parse(&hex!("9F02069F3704")).unwrap();
        let data = hex!("000000001234 CAFEBABE");
        assert_eq!(
            dol.with_value(&data, 0x9F02, &hex!("01")),
            hex!("000000000001 CAFEBABE")
        );
        assert_eq!(
            dol.with_value(&data, 0x9F37, &hex!("0011223344")),
            hex!("000000001234 11223344")
        );
        assert_eq!(dol.with_value(&data, 0x5F2A, &hex!("0978")), data);
        assert_eq!(dol.with_value(&data[..3], 0x9F02, &hex!("01")), &data[..3]);
    }

    /// The Visa PDOL and the GPO data of the Lloyds trace (shared docs §5).
    #[test]
    fn reads_values_by_the_card_pdol() {
        let dol = Dol::parse(&hex!("9F66049F02069F03069F1A0295055F2A029A039C019F3704")).unwrap();
        assert_eq!(dol.data_length(), 0x21);
        let data =
            hex!("27000000 000000001000 000000000000 0978 0000000000 0978 230301 00 38393031");
        assert_eq!(dol.value(&data, 0x9F66), Some(&hex!("27000000")[..]));
        assert_eq!(dol.fixed::<6>(&data, 0x9F02), hex!("000000001000"));
        assert_eq!(dol.fixed::<4>(&data, 0x9F37), hex!("38393031"));
        assert_eq!(dol.fixed::<2>(&data, 0x9F36), [0, 0]);
        assert_eq!(dol.value(&data[..10], 0x9F37), None);
    }

    #[test]
    fn malformed_dols_are_rejected() {
        assert_eq!(Dol::parse(&hex!("9F")), None);
        assert_eq!(Dol::parse(&hex!("9F02")), None);
        assert_eq!(Dol::parse(&hex!("9FFFFF0101")), None);
        assert_eq!(Dol::parse(&[]), Some(Dol::default()));
    }
}
