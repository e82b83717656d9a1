//! The acquirer protocol, sans I/O: the ISO 8583:1987 codec of the acquirer link (2-byte length
//! header, ASCII MTI, binary primary and secondary bitmaps, ASCII numeric and alphanumeric
//! fields, binary `b` fields), its field table ([`spec`]), one builder per request type
//! ([`messages`]), the response codes ([`ResponseCode`]), batch totals ([`BatchTotals`]), the
//! transmission date and time of DE 7 ([`transmission_date_time`]) and the message MAC
//! ([`mac`]). The terminal and the simulated host both use it; neither reads a clock, a file or
//! a socket here: the caller passes the time in and moves the bytes.
//!
//! The field table ([`spec`]) is the one in `docs/iso8583.md`, which is the contract a terminal or
//! a third-party client follows. The codec is table-driven: each data element has a
//! [`spec::FieldSpec`] (character class and fixed or LL/LLL variable length), and [`Message`]
//! stores the field contents (ASCII digits/characters, or raw bytes for `b` fields) without
//! length prefixes.
//!
//! Why our own codec: `iso8583-codec-rs` 0.1.0 (the maintained JSON-spec crate) parses and
//! produces hex strings and `serde_json::Value` trees keyed by field names, so every message
//! would go bytes → hex → JSON → our types and back. Its errors carry no byte position, it has
//! no redaction of PAN/PIN fields, and it is a first release with no fuzzing story. Our table is
//! about 60 rows; the codec is a cursor over a byte slice that rejects trailing bytes.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::pan::MaskedPan;

pub mod mac;
pub mod messages;
mod response_code;
pub mod spec;
mod totals;
mod transmission;

pub use response_code::ResponseCode;
pub use spec::{CharClass, FieldSpec, LengthKind};
pub use totals::BatchTotals;
pub use transmission::transmission_date_time;

/// The largest message body (after the 2-byte length header) the codec accepts, in bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// The most one field adds to a message (an `LLLVAR` of 999 bytes and its 3 length digits): the
/// encoder's buffer holds [`MAX_MESSAGE_LEN`] plus this, so it never reallocates.
const MAX_FIELD_OVERRUN: usize = 3 + 999;

/// A message type indicator (ISO 8583:1987 §4.1.1): four ASCII digits, version `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti(u16);

impl Mti {
    /// 0100 authorization request.
    pub const AUTHORIZATION_REQUEST: Self = Self(0x0100);
    /// 0110 authorization request response.
    pub const AUTHORIZATION_RESPONSE: Self = Self(0x0110);
    /// 0200 financial transaction request.
    pub const FINANCIAL_REQUEST: Self = Self(0x0200);
    /// 0210 financial transaction request response.
    pub const FINANCIAL_RESPONSE: Self = Self(0x0210);
    /// 0220 financial transaction advice (store-and-forward).
    pub const FINANCIAL_ADVICE: Self = Self(0x0220);
    /// 0221 financial transaction advice repeat.
    pub const FINANCIAL_ADVICE_REPEAT: Self = Self(0x0221);
    /// 0230 financial transaction advice response.
    pub const FINANCIAL_ADVICE_RESPONSE: Self = Self(0x0230);
    /// 0400 reversal request.
    pub const REVERSAL_REQUEST: Self = Self(0x0400);
    /// 0401 reversal request repeat.
    pub const REVERSAL_REQUEST_REPEAT: Self = Self(0x0401);
    /// 0410 reversal request response.
    pub const REVERSAL_RESPONSE: Self = Self(0x0410);
    /// 0420 reversal advice.
    pub const REVERSAL_ADVICE: Self = Self(0x0420);
    /// 0421 reversal advice repeat.
    pub const REVERSAL_ADVICE_REPEAT: Self = Self(0x0421);
    /// 0430 reversal advice response.
    pub const REVERSAL_ADVICE_RESPONSE: Self = Self(0x0430);
    /// 0500 acquirer reconciliation request.
    pub const RECONCILIATION_REQUEST: Self = Self(0x0500);
    /// 0510 acquirer reconciliation request response.
    pub const RECONCILIATION_RESPONSE: Self = Self(0x0510);
    /// 0800 network management request (sign-on, echo).
    pub const NETWORK_REQUEST: Self = Self(0x0800);
    /// 0810 network management request response.
    pub const NETWORK_RESPONSE: Self = Self(0x0810);

    /// The MTI from its four digits written as hex nibbles (`0x0200` is "0200"), or `None` if a
    /// nibble is not a decimal digit.
    pub fn from_bcd(value: u16) -> Option<Self> {
        let digits_ok = (0..4).all(|i| ((value >> (4 * i)) & 0xF) <= 9);
        digits_ok.then_some(Self(value))
    }

    /// The four digits as hex nibbles (`0x0200`).
    pub fn bcd(self) -> u16 {
        self.0
    }

    /// The response MTI of a request or advice: function digit + 1, repeat digit cleared
    /// (0200 → 0210, 0221 → 0230). `None` if this MTI is itself a response.
    pub fn response(self) -> Option<Self> {
        let function = (self.0 >> 4) & 0xF;
        if !function.is_multiple_of(2) {
            return None;
        }
        Some(Self((self.0 & 0xFF00) | ((function + 1) << 4)))
    }

    /// The MTI with the repeat flag cleared (0221 → 0220, 0401 → 0400).
    pub fn original(self) -> Self {
        if self.0 & 0xF == 1 && ((self.0 >> 4) & 0xF).is_multiple_of(2) {
            Self(self.0 & 0xFFF0)
        } else {
            self
        }
    }

    /// The four ASCII digits.
    pub fn to_ascii(self) -> [u8; 4] {
        let n = |shift: u16| b'0' + u8::try_from((self.0 >> shift) & 0xF).unwrap_or(0);
        [n(12), n(8), n(4), n(0)]
    }

    /// The MTI written as its four ASCII digits (`"0200"`), or `None`.
    pub fn from_digits(digits: &str) -> Option<Self> {
        Self::from_ascii(digits.as_bytes().try_into().ok()?)
    }

    fn from_ascii(bytes: [u8; 4]) -> Option<Self> {
        let mut value = 0u16;
        for b in bytes {
            if !b.is_ascii_digit() {
                return None;
            }
            value = (value << 4) | u16::from(b - b'0');
        }
        Some(Self(value))
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// An ISO 8583 message: the MTI and the present data elements (2-128), each held as its content
/// without length prefix. Field contents are zeroized on drop, and `Debug` masks the PAN and
/// hides track 2, PIN blocks, KSN, ICC data and MACs.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    mti: Mti,
    fields: BTreeMap<u8, Vec<u8>>,
}

impl Message {
    /// An empty message of type `mti`.
    pub fn new(mti: Mti) -> Self {
        Self {
            mti,
            fields: BTreeMap::new(),
        }
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Changes the message type indicator.
    pub fn set_mti(&mut self, mti: Mti) {
        self.mti = mti;
    }

    /// Sets data element `field` (2-128) to `value` (ASCII for `n`/`an`/`ans`/`z`, raw bytes for
    /// `b`). The value is checked against the field table when the message is encoded.
    pub fn set(&mut self, field: u8, value: impl Into<Vec<u8>>) -> &mut Self {
        if let Some(mut old) = self.fields.insert(field, value.into()) {
            old.zeroize();
        }
        self
    }

    /// Builder form of [`Message::set`].
    pub fn with(mut self, field: u8, value: impl Into<Vec<u8>>) -> Self {
        self.set(field, value);
        self
    }

    /// Removes data element `field`.
    pub fn remove(&mut self, field: u8) {
        if let Some(mut old) = self.fields.remove(&field) {
            old.zeroize();
        }
    }

    /// The content of data element `field`, if present.
    pub fn field(&self, field: u8) -> Option<&[u8]> {
        self.fields.get(&field).map(Vec::as_slice)
    }

    /// The content of a character field as text, if present and ASCII.
    pub fn text(&self, field: u8) -> Option<&str> {
        self.field(field).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether data element `field` is present.
    pub fn has(&self, field: u8) -> bool {
        self.fields.contains_key(&field)
    }

    /// The present data element numbers, ascending.
    pub fn field_numbers(&self) -> impl Iterator<Item = u8> + '_ {
        self.fields.keys().copied()
    }

    /// Encodes the message body (MTI, bitmaps, fields) without the length header.
    ///
    /// The buffer is allocated once at the largest message size, so it never grows (growth
    /// would leave a copy of DE 2 or DE 35 in freed memory), and is wiped if encoding fails.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_MESSAGE_LEN + MAX_FIELD_OVERRUN));
        out.extend_from_slice(&self.mti.to_ascii());
        let mut bitmap = [0u8; 16];
        let secondary = self.fields.keys().any(|&n| n > 64);
        for &n in self.fields.keys() {
            if !(2..=128).contains(&n) || n == 65 {
                return Err(CodecError::new(CodecErrorKind::UnknownField(n), 0));
            }
            set_bit(&mut bitmap, n);
        }
        if secondary {
            set_bit(&mut bitmap, 1);
            out.extend_from_slice(&bitmap);
        } else {
            out.extend_from_slice(bitmap.get(..8).unwrap_or_default());
        }
        for (&n, value) in &self.fields {
            let spec = spec::field(n)
                .ok_or_else(|| CodecError::new(CodecErrorKind::UnknownField(n), out.len()))?;
            spec.encode_into(n, value, &mut out)?;
            // Checked after every field, so the buffer never outgrows its capacity.
            if out.len() > MAX_MESSAGE_LEN {
                return Err(CodecError::new(CodecErrorKind::MessageTooLong, out.len()));
            }
        }
        Ok(core::mem::take(&mut *out))
    }

    /// Encodes the message with its 2-byte big-endian length header (the frame on the wire),
    /// in a buffer that is wiped when dropped: a request frame holds the PAN or track 2.
    pub fn encode_frame(&self) -> Result<Zeroizing<Vec<u8>>, CodecError> {
        let body = Zeroizing::new(self.encode()?);
        let len = u16::try_from(body.len())
            .map_err(|_| CodecError::new(CodecErrorKind::MessageTooLong, body.len()))?;
        let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 2));
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes a message body (without the length header). Rejects unknown fields, bad
    /// characters, lengths over the table's maximum, truncation and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(CodecError::new(CodecErrorKind::MessageTooLong, 0));
        }
        let mut r = Reader { bytes, pos: 0 };
        let mti_bytes = r.array::<4>()?;
        let mti =
            Mti::from_ascii(mti_bytes).ok_or_else(|| CodecError::new(CodecErrorKind::BadMti, 0))?;
        let mut bitmap = [0u8; 16];
        let primary = r.array::<8>()?;
        bitmap[..8].copy_from_slice(&primary);
        if bit(&bitmap, 1) {
            let at = r.pos;
            let secondary = r.array::<8>()?;
            // The encoder writes a secondary bitmap only for fields 65-128: one that names none
            // would decode to a message whose encoding differs from the bytes received.
            if secondary == [0; 8] {
                return Err(CodecError::new(CodecErrorKind::EmptySecondaryBitmap, at));
            }
            bitmap[8..].copy_from_slice(&secondary);
        }
        let mut message = Self::new(mti);
        for n in 2..=128u8 {
            if !bit(&bitmap, n) {
                continue;
            }
            let spec = spec::field(n)
                .ok_or_else(|| CodecError::new(CodecErrorKind::UnknownField(n), r.pos))?;
            let value = spec.decode_from(n, &mut r)?;
            message.fields.insert(n, value);
        }
        if r.pos != bytes.len() {
            return Err(CodecError::new(CodecErrorKind::TrailingBytes, r.pos));
        }
        Ok(message)
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        for value in self.fields.values_mut() {
            value.zeroize();
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        m.entry(&"mti", &self.mti.to_string());
        for (&n, value) in &self.fields {
            match n {
                2 => m.entry(&n, &mask_pan(value)),
                // Track 2, PIN data, security control, ICC data, AES PIN block, KSN, MACs.
                35 | 52 | 53 | 55 | 62 | 63 | 64 | 128 => {
                    m.entry(&n, &format_args!("<{} bytes redacted>", value.len()))
                }
                _ => match std::str::from_utf8(value) {
                    Ok(s) if spec::field(n).is_some_and(|s| s.class != CharClass::Binary) => {
                        m.entry(&n, &s)
                    }
                    _ => m.entry(&n, &hex::encode_upper(value)),
                },
            };
        }
        m.finish()
    }
}

/// Masks a PAN field (DE 2) for logs with the one masker of the workspace
/// ([`MaskedPan::from_digits`]: at most the first six and the last four, at least four hidden).
pub fn mask_pan(pan: &[u8]) -> String {
    MaskedPan::from_digits(&String::from_utf8_lossy(pan)).to_string()
}

/// Reads one frame's body length from its 2-byte big-endian header, rejecting 0 and lengths
/// above [`MAX_MESSAGE_LEN`].
pub fn frame_len(header: [u8; 2]) -> Result<usize, CodecError> {
    let len = usize::from(u16::from_be_bytes(header));
    if len == 0 || len > MAX_MESSAGE_LEN {
        return Err(CodecError::new(CodecErrorKind::BadLengthHeader, 0));
    }
    Ok(len)
}

/// Decodes one complete frame (length header + body), rejecting a header that does not match
/// the body length.
pub fn decode_frame(frame: &[u8]) -> Result<Message, CodecError> {
    let (header, body) = frame
        .split_first_chunk::<2>()
        .ok_or_else(|| CodecError::new(CodecErrorKind::Truncated, 0))?;
    let len = frame_len(*header)?;
    if len != body.len() {
        return Err(CodecError::new(CodecErrorKind::BadLengthHeader, 0));
    }
    Message::decode(body).map_err(|e| CodecError::new(e.kind, e.position + 2))
}

/// A codec error: what went wrong and at which byte offset. Never carries the message bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ISO 8583 {kind} at byte {position}")]
pub struct CodecError {
    /// What went wrong.
    pub kind: CodecErrorKind,
    /// Byte offset in the message body (or frame, for [`decode_frame`]).
    pub position: usize,
}

impl CodecError {
    pub(crate) fn new(kind: CodecErrorKind, position: usize) -> Self {
        Self { kind, position }
    }
}

/// The kinds of codec error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecErrorKind {
    /// The message ends inside the MTI, a bitmap, a length prefix or a field.
    #[error("truncated message")]
    Truncated,
    /// The MTI is not four decimal digits.
    #[error("bad MTI")]
    BadMti,
    /// A bitmap bit names a field outside our table (or the tertiary bitmap, DE 65).
    #[error("unknown field {0}")]
    UnknownField(u8),
    /// A variable length prefix is not decimal digits.
    #[error("bad length prefix in field {0}")]
    BadLengthPrefix(u8),
    /// A field is longer than the table allows, or a fixed field has the wrong length.
    #[error("wrong length in field {0}")]
    FieldLength(u8),
    /// A field holds a character outside its class.
    #[error("bad character in field {0}")]
    BadCharacter(u8),
    /// Bytes remain after the last field of the bitmap.
    #[error("trailing bytes")]
    TrailingBytes,
    /// The length header is 0, over the maximum or does not match the body.
    #[error("bad length header")]
    BadLengthHeader,
    /// The encoded message is longer than [`MAX_MESSAGE_LEN`].
    #[error("message too long")]
    MessageTooLong,
    /// The primary bitmap announces a secondary bitmap that names no field.
    #[error("empty secondary bitmap")]
    EmptySecondaryBitmap,
}

/// A cursor over a message body.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| CodecError::new(CodecErrorKind::Truncated, self.pos))?;
        let out = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| CodecError::new(CodecErrorKind::Truncated, self.pos))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
}

fn set_bit(bitmap: &mut [u8; 16], n: u8) {
    let i = usize::from((n - 1) / 8);
    if let Some(b) = bitmap.get_mut(i) {
        *b |= 0x80 >> ((n - 1) % 8);
    }
}

fn bit(bitmap: &[u8; 16], n: u8) -> bool {
    let i = usize::from((n - 1) / 8);
    bitmap
        .get(i)
        .is_some_and(|b| b & (0x80 >> ((n - 1) % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_mti() {
        assert_eq!(
            Mti::FINANCIAL_REQUEST.response(),
            Some(Mti::FINANCIAL_RESPONSE)
        );
        assert_eq!(
            Mti::FINANCIAL_ADVICE_REPEAT.response(),
            Some(Mti::FINANCIAL_ADVICE_RESPONSE)
        );
        assert_eq!(
            Mti::REVERSAL_REQUEST_REPEAT.original(),
            Mti::REVERSAL_REQUEST
        );
        assert_eq!(Mti::FINANCIAL_RESPONSE.response(), None);
        assert_eq!(Mti::FINANCIAL_RESPONSE.original(), Mti::FINANCIAL_RESPONSE);
        assert_eq!(Mti::from_bcd(0x02A0), None);
        assert_eq!(Mti::NETWORK_REQUEST.to_ascii(), *b"0800");
        assert_eq!(Mti::from_digits("0221"), Some(Mti::FINANCIAL_ADVICE_REPEAT));
        assert_eq!(Mti::from_digits("02A0"), None);
        assert_eq!(Mti::from_digits("020"), None);
    }

    #[test]
    fn debug_masks_the_pan_and_hides_secrets() {
        let m = Message::new(Mti::FINANCIAL_REQUEST)
            .with(2, "476173900101")
            .with(35, "4761739001010119D28122011758928889")
            .with(52, vec![0x12; 8]);
        let text = format!("{m:?}");
        assert!(text.contains("4761****0101"), "{text}");
        assert!(!text.contains("476173900101"), "{text}");
        assert!(!text.contains("D2812"), "{text}");
        assert!(text.contains("<8 bytes redacted>"), "{text}");
    }

    #[test]
    fn the_frame_is_wiped_on_drop_and_the_encoder_never_reallocates() {
        let m = Message::new(Mti::FINANCIAL_REQUEST)
            .with(2, "4761739001010119")
            .with(35, "4761739001010119D28122011758928889")
            .with(55, vec![0x9F; 200]);
        // The body was written into its first allocation: a grown vector would have left a
        // copy of DE 2 and DE 35 behind in freed memory.
        let body = m.encode().unwrap_or_default();
        assert!(!body.is_empty());
        assert_eq!(body.capacity(), MAX_MESSAGE_LEN + MAX_FIELD_OVERRUN);
        // A type check: the frame, which holds DE 2 and DE 35, is wiped when dropped.
        let frame: Zeroizing<Vec<u8>> = m.encode_frame().unwrap_or_default();
        assert!(frame.windows(16).any(|w| w == b"4761739001010119"));
    }

    #[test]
    fn mask() {
        assert_eq!(mask_pan(b"4761739001010119"), "476173******0119");
        assert_eq!(mask_pan(b"476173900101"), "4761****0101");
        assert_eq!(mask_pan(b"1234"), "****");
    }
}
