//! The cursor over an MPM template: `ID(2 digits) LEN(2 digits) VALUE`, where LEN counts
//! characters (not bytes), IDs are unique within a template and every value is 1 to 99
//! characters long.

use super::{MpmError, Template};

/// One data object of a template: its ID, its value and the character position of its ID in the
/// whole code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Object<'a> {
    pub(super) id: u8,
    pub(super) value: &'a str,
    pub(super) at: usize,
}

/// Splits `text` (the value of `template`, which starts at character `base` of the code) into
/// its objects, in order. Refuses a malformed ID or length, a length that runs past the end of
/// the template, an empty value and a repeated ID.
pub(super) fn objects(
    text: &str,
    template: Template,
    base: usize,
) -> Result<Vec<Object<'_>>, MpmError> {
    let mut out: Vec<Object<'_>> = Vec::new();
    let mut rest = text;
    let mut at = base;
    while !rest.is_empty() {
        let (id, after_id) = two_digits(rest).ok_or(MpmError::BadId { template, at })?;
        let (len, after_len) =
            two_digits(after_id).ok_or(MpmError::BadLength { template, id, at })?;
        if len == 0 {
            return Err(MpmError::Empty { template, id, at });
        }
        let end =
            byte_offset(after_len, usize::from(len)).ok_or_else(|| MpmError::LengthOverrun {
                template,
                id,
                at,
                length: len,
                left: after_len.chars().count(),
            })?;
        let (value, tail) = after_len.split_at(end);
        if out.iter().any(|seen| seen.id == id) {
            return Err(MpmError::Duplicate { template, id, at });
        }
        out.push(Object { id, value, at });
        at += 4 + usize::from(len);
        rest = tail;
    }
    Ok(out)
}

/// Reads two ASCII digits at the start of `text`.
fn two_digits(text: &str) -> Option<(u8, &str)> {
    let bytes = text.as_bytes();
    let (&a, &b) = (bytes.first()?, bytes.get(1)?);
    if !a.is_ascii_digit() || !b.is_ascii_digit() {
        return None;
    }
    // Both are ASCII, so byte 2 is a character boundary.
    Some(((a - b'0') * 10 + (b - b'0'), &text[2..]))
}

/// The byte offset of the end of the first `chars` characters of `text`, or `None` when it has
/// fewer.
fn byte_offset(text: &str, chars: usize) -> Option<usize> {
    match text.char_indices().nth(chars) {
        Some((offset, _)) => Some(offset),
        None if text.chars().count() == chars => Some(text.len()),
        None => None,
    }
}
