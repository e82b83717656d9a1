//! The small BER-TLV toolkit the virtual cards use (EMV Book 3 Annex B): an encoder for the
//! card's own responses and a strict reader, used by `hsm-sim card --dump` and by tests.
//!
//! The kernel has its own, complete parser (`emv::tlv`); this one stays deliberately small so the
//! card engine depends on nothing that is being written in parallel. Tags are held as the
//! big-endian integer of their bytes (`0x9F36`, `0x5F2A`, `0x70`).

/// One parsed data object: its tag, whether it is constructed, and its value bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct DataObject<'a> {
    /// The tag bytes as a big-endian integer, e.g. `0x9F26`.
    pub tag: u32,
    /// The value field.
    pub value: &'a [u8],
}

impl DataObject<'_> {
    /// Whether the tag is constructed (bit 6 of the first tag byte, EMV Book 3 Annex B1).
    pub fn is_constructed(&self) -> bool {
        first_tag_byte(self.tag) & 0x20 != 0
    }
}

impl core::fmt::Debug for DataObject<'_> {
    // Values may hold a PAN or track 2: print the tag and the length only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DataObject({:X}, {} bytes)", self.tag, self.value.len())
    }
}

/// A parse error: what went wrong and at which byte offset. Never carries the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvError {
    /// The input ends inside a tag.
    #[error("truncated tag at byte {0}")]
    TruncatedTag(usize),
    /// The input ends inside a length field.
    #[error("truncated length at byte {0}")]
    TruncatedLength(usize),
    /// The length field is not one EMV allows (indefinite `80`, or more than 3 length bytes).
    #[error("unsupported length encoding at byte {0}")]
    BadLength(usize),
    /// The value runs past the end of the input.
    #[error("value runs past the end at byte {0}")]
    LengthPastEnd(usize),
    /// A tag of more than 3 bytes.
    #[error("tag too long at byte {0}")]
    TagTooLong(usize),
}

/// Encodes one data object: tag bytes (leading zero bytes of `tag` dropped), definite length
/// (short form, or `81`/`82` long form), value.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    push_tag(&mut out, tag);
    push_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Encodes a constructed data object whose value is the concatenation of `children`.
pub fn encode_constructed(tag: u32, children: &[Vec<u8>]) -> Vec<u8> {
    encode(tag, &children.concat())
}

/// Appends the bytes of `tag` (big-endian, leading zero bytes dropped).
pub fn push_tag(out: &mut Vec<u8>, tag: u32) {
    let bytes = tag.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|b| **b == 0).count();
    out.extend_from_slice(bytes.get(skip..).unwrap_or_default());
}

/// Parses a sequence of data objects at one level, rejecting any malformed or trailing bytes.
/// EMV padding bytes `00` and `FF` between objects are skipped (EMV Book 3 Annex B).
pub fn parse_all(input: &[u8]) -> Result<Vec<DataObject<'_>>, TlvError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        if matches!(input.get(pos), Some(0x00 | 0xFF)) {
            pos += 1;
            continue;
        }
        let (object, next) = parse_one(input, pos)?;
        out.push(object);
        pos = next;
    }
    Ok(out)
}

/// Finds the first data object with `tag`, searching constructed objects recursively
/// (depth-first, at most 8 levels, security requirement B1).
pub fn find(input: &[u8], tag: u32) -> Result<Option<&[u8]>, TlvError> {
    find_at_depth(input, tag, 0)
}

/// Every primitive data object in `input`, constructed objects flattened depth-first (at most 8
/// levels). Useful to check for duplicates.
pub fn flatten(input: &[u8]) -> Result<Vec<DataObject<'_>>, TlvError> {
    let mut out = Vec::new();
    flatten_into(input, 0, &mut out)?;
    Ok(out)
}

fn find_at_depth(input: &[u8], tag: u32, depth: usize) -> Result<Option<&[u8]>, TlvError> {
    for object in parse_all(input)? {
        if object.tag == tag {
            return Ok(Some(object.value));
        }
        if object.is_constructed()
            && depth < MAX_DEPTH
            && let Some(found) = find_at_depth(object.value, tag, depth + 1)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn flatten_into<'a>(
    input: &'a [u8],
    depth: usize,
    out: &mut Vec<DataObject<'a>>,
) -> Result<(), TlvError> {
    for object in parse_all(input)? {
        if object.is_constructed() && depth < MAX_DEPTH {
            flatten_into(object.value, depth + 1, out)?;
        } else {
            out.push(object);
        }
    }
    Ok(())
}

fn parse_one(input: &[u8], start: usize) -> Result<(DataObject<'_>, usize), TlvError> {
    let mut pos = start;
    let first = *input.get(pos).ok_or(TlvError::TruncatedTag(pos))?;
    let mut tag = u32::from(first);
    pos += 1;
    if first & 0x1F == 0x1F {
        loop {
            let byte = *input.get(pos).ok_or(TlvError::TruncatedTag(pos))?;
            if tag > 0xFFFF {
                return Err(TlvError::TagTooLong(start));
            }
            tag = (tag << 8) | u32::from(byte);
            pos += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
    }
    let length_at = pos;
    let first_length = *input.get(pos).ok_or(TlvError::TruncatedLength(pos))?;
    pos += 1;
    let length = match first_length {
        0x00..=0x7F => usize::from(first_length),
        0x81..=0x83 => {
            let count = usize::from(first_length & 0x7F);
            let bytes = input
                .get(pos..pos + count)
                .ok_or(TlvError::TruncatedLength(length_at))?;
            pos += count;
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(TlvError::BadLength(length_at)),
    };
    let end = pos
        .checked_add(length)
        .ok_or(TlvError::LengthPastEnd(length_at))?;
    let value = input
        .get(pos..end)
        .ok_or(TlvError::LengthPastEnd(length_at))?;
    Ok((DataObject { tag, value }, end))
}

fn push_length(out: &mut Vec<u8>, length: usize) {
    match u8::try_from(length) {
        Ok(short @ 0..=0x7F) => out.push(short),
        Ok(long) => out.extend_from_slice(&[0x81, long]),
        Err(_) => {
            // EMV data objects are far below 64 KiB; saturate rather than wrap if one is not.
            let [hi, lo] = u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes();
            out.extend_from_slice(&[0x82, hi, lo]);
        }
    }
}

fn first_tag_byte(tag: u32) -> u8 {
    let bytes = tag.to_be_bytes();
    bytes
        .iter()
        .take(3)
        .copied()
        .find(|b| *b != 0)
        .unwrap_or(bytes[3])
}

/// Nesting limit for recursive walks (security requirement B1).
const MAX_DEPTH: usize = 8;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn encodes_short_and_long_lengths() {
        assert_eq!(encode(0x9F36, &hex!("0001")), hex!("9F36020001"));
        assert_eq!(encode(0x70, &[0xAA; 0x80])[..3], hex!("708180"));
        assert_eq!(encode(0x70, &[0xAA; 0x100])[..4], hex!("70820100"));
    }

    /// The real Visa PPSE answer quoted in the shared docs §1.1 (Lloyds trace).
    #[test]
    fn parses_a_real_ppse_answer() {
        let fci = hex!(
            "6F2B840E325041592E5359532E4444463031A519BF0C1661144F07A00000000310109F0A080001050100000000"
        );
        assert_eq!(find(&fci, 0x4F).unwrap(), Some(&hex!("A0000000031010")[..]));
        let top = parse_all(&fci).unwrap();
        assert_eq!(top.len(), 1);
        assert!(top[0].is_constructed());
    }

    #[test]
    fn malformed_inputs_are_errors_with_positions() {
        assert_eq!(parse_all(&hex!("5A81")), Err(TlvError::TruncatedLength(1)));
        assert_eq!(
            parse_all(&hex!("5A84FFFFFFFF")),
            Err(TlvError::BadLength(1))
        );
        assert_eq!(parse_all(&hex!("9F")), Err(TlvError::TruncatedTag(1)));
        assert_eq!(parse_all(&hex!("5A80")), Err(TlvError::BadLength(1)));
        assert_eq!(parse_all(&hex!("5A0512")), Err(TlvError::LengthPastEnd(1)));
        assert_eq!(parse_all(&hex!("9FFFFFFF01")), Err(TlvError::TagTooLong(0)));
    }
}
