//! The pipe protocol between the terminal and `softpos-pinpad`, version 1 (`docs/pinpad.md`).
//!
//! Every message is one frame: a 2-byte big-endian length `N` (1 to [`MAX_FRAME`]), then `N`
//! bytes: the protocol version ([`PROTOCOL_VERSION`]), the message type, and the body. The
//! terminal writes to the process's stdin, the process answers on its stdout.
//!
//! Terminal → PIN pad:
//! - `01` ENTER PIN: body = TLV fields (1-byte tag, 1-byte length, value), each at most once, in
//!   any order; unknown tags are rejected. `01` PAN (ASCII digits, required), `02` amount in
//!   minor units (8 bytes BE), `03` ISO 4217 numeric currency (2 bytes BE), `04` currency
//!   exponent (1), `05` merchant name (UTF-8, at most 96 bytes), `06` language (ASCII, 2-3),
//!   `07` flags (bit 0 accessible mode; the other bits are ignored: the pad takes its profile
//!   from its own configuration, never from the terminal), `08` minimum and maximum PIN
//!   length (2 bytes, within 4-12), `09` timeouts in ms (first key, between keys, in all: 3 × 4
//!   bytes BE), `0A` the host's attestation token (`emv::crypto::attestation_token`, at most
//!   128 bytes): required once the pad trusts an attestation key.
//! - `02` CANCEL: no body. The terminal gives up (card removed, operator abort).
//! - `03` PUBLIC KEY: no body. The pad answers `87` with its own P-256 public key (made on first
//!   use), for the host to wrap the PIN key for it (`docs/enrolment.md`).
//! - `04` INSTALL KEY: body = the wrapped PIN key (`emv::crypto::key_wrap`, at most
//!   [`key_wrap::MAX_BLOB_LEN`] bytes). The pad unwraps it with its private key and seals it
//!   into its store; the answer is `88` or REFUSED.
//! - `05` TRUST ATTESTATION: body = terminal ID (8 ASCII) ‖ the host's attestation key (SEC1
//!   uncompressed, 65). Set once, at activation; from then on ENTER PIN needs a valid token
//!   for that terminal under that key. The answer is `89` or REFUSED.
//!
//! PIN pad → terminal:
//! - `81` READY: body = display kind (1 byte, [`DisplayKind`]). The window is up.
//! - `82` PIN BLOCK: body = KSN (12) ‖ encrypted format 4 PIN block (16) ‖ digit count (1).
//! - `83` CANCELLED, `84` TIMED OUT, `85` KEYS EXHAUSTED: no body.
//! - `86` REFUSED: body = reason (1 byte, [`Refusal`]).
//! - `87` PUBLIC KEY: body = the pad's public key, SEC1 uncompressed (65).
//! - `88` KEY INSTALLED: body = the installed key's initial KSN (12).
//! - `89` TRUSTED: no body. The attestation key is sealed into the store.
//!
//! For ENTER PIN the PIN pad sends READY at most once, then exactly one of `82`-`86`, and
//! nothing else: no
//! digit, touch coordinate, key position or key ever leaves it (security doc P1).

use std::io::{self, Read, Write};
use std::time::Duration;

use zeroize::Zeroizing;

use emv::crypto::key_wrap::{self, PUBLIC_KEY_LEN};

use super::EncryptedPin;

mod refusal;

pub use refusal::Refusal;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 0x01;
/// The largest frame payload accepted.
pub const MAX_FRAME: usize = 512;

/// A message from the terminal to the PIN pad.
pub enum TerminalMessage {
    /// Start a PIN entry.
    EnterPin(EntryRequest),
    /// Stop the entry in progress.
    Cancel,
    /// Send the pad's public key.
    PublicKey,
    /// Install this wrapped PIN key.
    InstallKey(Vec<u8>),
    /// Trust this host attestation key for this terminal's tokens.
    TrustAttestation {
        /// The terminal the tokens must name.
        terminal_id: String,
        /// The host's token key (SEC1 uncompressed).
        host_key: [u8; PUBLIC_KEY_LEN],
    },
}

/// What the PIN pad needs for one entry. The PAN is secret: no `Debug`, zeroized on drop.
pub struct EntryRequest {
    /// The PAN digits (ASCII), for the format 4 PAN field.
    pub pan: Zeroizing<String>,
    /// The amount to display, in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency code.
    pub currency_code: u16,
    /// Decimal places of the currency.
    pub currency_exponent: u8,
    /// Merchant name to display.
    pub merchant_name: String,
    /// ISO 639-1 language code of the prompts.
    pub language: String,
    /// Accessible mode for this entry.
    pub accessible: bool,
    /// PIN length limits.
    pub length: LengthLimits,
    /// Entry timeouts.
    pub timeouts: Timeouts,
    /// The host's attestation token, for a pad that trusts an attestation key.
    pub attestation_token: Option<Vec<u8>>,
}

/// Minimum and maximum PIN length, within ISO 9564-1 §8.1's 4 to 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthLimits {
    min: u8,
    max: u8,
}

impl LengthLimits {
    /// Limits `min..=max`; `None` unless `4 <= min <= max <= 12`.
    pub fn new(min: u8, max: u8) -> Option<Self> {
        (MIN_PIN_LEN <= min && min <= max && max <= MAX_PIN_LEN).then_some(Self { min, max })
    }

    /// The fewest digits OK accepts.
    pub fn min(self) -> u8 {
        self.min
    }

    /// The most digits kept; further digit keys are ignored.
    pub fn max(self) -> u8 {
        self.max
    }
}

impl Default for LengthLimits {
    fn default() -> Self {
        Self {
            min: MIN_PIN_LEN,
            max: MAX_PIN_LEN,
        }
    }
}

/// Entry timeouts (security doc P7). Any of them running out ends the entry as "timed out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the window coming up to the first key.
    pub first_key: Duration,
    /// From one key to the next.
    pub between_keys: Duration,
    /// For the whole entry.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 30 s to the first key, 15 s between keys, 60 s in all.
    fn default() -> Self {
        Self {
            first_key: Duration::from_secs(30),
            between_keys: Duration::from_secs(15),
            total: Duration::from_secs(60),
        }
    }
}

/// A message from the PIN pad to the terminal.
#[derive(Debug)]
pub enum PinPadMessage {
    /// The window is up.
    Ready(DisplayKind),
    /// The result: KSN, encrypted PIN block, digit count.
    PinBlock(EncryptedPin),
    /// The cardholder (or the terminal) cancelled.
    Cancelled,
    /// A timeout ran out.
    TimedOut,
    /// The DUKPT counter is exhausted: new keys are needed.
    KeysExhausted,
    /// The PIN pad refused to take a PIN.
    Refused(Refusal),
    /// The pad's public key (SEC1 uncompressed).
    PublicKey([u8; PUBLIC_KEY_LEN]),
    /// A wrapped key was installed; its initial KSN.
    KeyInstalled([u8; 12]),
    /// The attestation key is trusted.
    Trusted,
}

/// Where the PIN pad draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisplayKind {
    /// `01` a Wayland compositor: normal operation.
    Wayland,
    /// `02` an X11 server, development profile only, with the "not secure" banner.
    X11Development,
    /// `03` no display: the test input mode of `softpos-pinpad-test`.
    HeadlessTest,
}

/// Errors of the pipe protocol. They carry no message bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Reading or writing the pipe failed.
    #[error("pipe: {0}")]
    Io(#[from] io::Error),
    /// The pipe closed at a frame boundary.
    #[error("pipe closed")]
    Closed,
    /// A frame of length 0 or over [`MAX_FRAME`].
    #[error("bad frame length {0}")]
    FrameLength(usize),
    /// Another protocol version.
    #[error("protocol version {0:#04x} not supported")]
    Version(u8),
    /// An unknown message type.
    #[error("unknown message type {0:#04x}")]
    MessageType(u8),
    /// A malformed field (tag given).
    #[error("bad field {0:#04x}")]
    Field(u8),
    /// A required field is missing (tag given).
    #[error("missing field {0:#04x}")]
    MissingField(u8),
    /// The body is malformed at this byte offset.
    #[error("malformed body at byte {0}")]
    Malformed(usize),
}

impl TerminalMessage {
    /// Serializes the message as a frame payload. The buffer zeroizes on drop (it holds the
    /// PAN).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_FRAME));
        out.push(PROTOCOL_VERSION);
        match self {
            Self::Cancel => out.push(MSG_CANCEL),
            Self::PublicKey => out.push(MSG_PUBLIC_KEY_REQUEST),
            Self::InstallKey(blob) => {
                out.push(MSG_INSTALL_KEY);
                out.extend_from_slice(blob);
            }
            Self::TrustAttestation {
                terminal_id,
                host_key,
            } => {
                out.push(MSG_TRUST_ATTESTATION);
                out.extend_from_slice(terminal_id.as_bytes());
                out.extend_from_slice(host_key);
            }
            Self::EnterPin(r) => {
                out.push(MSG_ENTER_PIN);
                let mut field = |tag: u8, value: &[u8]| {
                    out.push(tag);
                    // Field lengths are capped below 256 by the decoder's limits; truncate
                    // rather than wrap if a caller passes more.
                    let value = value.get(..value.len().min(0xFF)).unwrap_or(&[]);
                    out.push(u8::try_from(value.len()).unwrap_or(0xFF));
                    out.extend_from_slice(value);
                };
                field(TAG_PAN, r.pan.as_bytes());
                field(TAG_AMOUNT, &r.amount.to_be_bytes());
                field(TAG_CURRENCY, &r.currency_code.to_be_bytes());
                field(TAG_EXPONENT, &[r.currency_exponent]);
                field(TAG_MERCHANT, r.merchant_name.as_bytes());
                field(TAG_LANGUAGE, r.language.as_bytes());
                let flags = u8::from(r.accessible) * FLAG_ACCESSIBLE;
                field(TAG_FLAGS, &[flags]);
                field(TAG_LENGTH, &[r.length.min, r.length.max]);
                let mut t = [0u8; 12];
                for (chunk, d) in t.chunks_exact_mut(4).zip([
                    r.timeouts.first_key,
                    r.timeouts.between_keys,
                    r.timeouts.total,
                ]) {
                    let ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
                    chunk.copy_from_slice(&ms.to_be_bytes());
                }
                field(TAG_TIMEOUTS, &t);
                if let Some(token) = &r.attestation_token {
                    field(TAG_ATTESTATION_TOKEN, token);
                }
            }
        }
        out
    }

    /// Parses a frame payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtocolError> {
        let (kind, body) = split_header(payload)?;
        match kind {
            MSG_CANCEL if body.is_empty() => Ok(Self::Cancel),
            MSG_CANCEL => Err(ProtocolError::Malformed(2)),
            MSG_PUBLIC_KEY_REQUEST if body.is_empty() => Ok(Self::PublicKey),
            MSG_PUBLIC_KEY_REQUEST => Err(ProtocolError::Malformed(2)),
            MSG_INSTALL_KEY if !body.is_empty() && body.len() <= key_wrap::MAX_BLOB_LEN => {
                Ok(Self::InstallKey(body.to_vec()))
            }
            MSG_INSTALL_KEY => Err(ProtocolError::Malformed(2)),
            MSG_TRUST_ATTESTATION => {
                let (id, key) = body
                    .split_at_checked(TERMINAL_ID_LEN)
                    .filter(|(id, _)| {
                        id.iter()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    })
                    .ok_or(ProtocolError::Malformed(2))?;
                let host_key = <[u8; PUBLIC_KEY_LEN]>::try_from(key)
                    .map_err(|_| ProtocolError::Malformed(2 + TERMINAL_ID_LEN))?;
                Ok(Self::TrustAttestation {
                    terminal_id: id.iter().map(|&b| char::from(b)).collect(),
                    host_key,
                })
            }
            MSG_ENTER_PIN => decode_request(body).map(Self::EnterPin),
            other => Err(ProtocolError::MessageType(other)),
        }
    }
}

impl PinPadMessage {
    /// Serializes the message as a frame payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.push(PROTOCOL_VERSION);
        match self {
            Self::Ready(kind) => {
                out.push(MSG_READY);
                out.push(match kind {
                    DisplayKind::Wayland => 0x01,
                    DisplayKind::X11Development => 0x02,
                    DisplayKind::HeadlessTest => 0x03,
                });
            }
            Self::PinBlock(p) => {
                out.push(MSG_PIN_BLOCK);
                out.extend_from_slice(&p.ksn);
                out.extend_from_slice(&p.pin_block);
                out.push(p.digits);
            }
            Self::Cancelled => out.push(MSG_CANCELLED),
            Self::TimedOut => out.push(MSG_TIMED_OUT),
            Self::KeysExhausted => out.push(MSG_KEYS_EXHAUSTED),
            Self::Refused(r) => {
                out.push(MSG_REFUSED);
                out.push(r.code());
            }
            Self::PublicKey(key) => {
                out.push(MSG_PUBLIC_KEY);
                out.extend_from_slice(key);
            }
            Self::KeyInstalled(ksn) => {
                out.push(MSG_KEY_INSTALLED);
                out.extend_from_slice(ksn);
            }
            Self::Trusted => out.push(MSG_TRUSTED),
        }
        out
    }

    /// Parses a frame payload.
    pub fn decode(payload: &[u8]) -> Result<Self, ProtocolError> {
        let (kind, body) = split_header(payload)?;
        let empty = |m: Self| {
            if body.is_empty() {
                Ok(m)
            } else {
                Err(ProtocolError::Malformed(2))
            }
        };
        match kind {
            MSG_READY => match body {
                [0x01] => Ok(Self::Ready(DisplayKind::Wayland)),
                [0x02] => Ok(Self::Ready(DisplayKind::X11Development)),
                [0x03] => Ok(Self::Ready(DisplayKind::HeadlessTest)),
                _ => Err(ProtocolError::Malformed(2)),
            },
            MSG_PIN_BLOCK => {
                let (ksn, rest) = body
                    .split_first_chunk::<12>()
                    .ok_or(ProtocolError::Malformed(2))?;
                let (pin_block, rest) = rest
                    .split_first_chunk::<16>()
                    .ok_or(ProtocolError::Malformed(14))?;
                let [digits] = rest else {
                    return Err(ProtocolError::Malformed(30));
                };
                if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(digits) {
                    return Err(ProtocolError::Malformed(30));
                }
                Ok(Self::PinBlock(EncryptedPin {
                    ksn: *ksn,
                    pin_block: *pin_block,
                    digits: *digits,
                }))
            }
            MSG_CANCELLED => empty(Self::Cancelled),
            MSG_TIMED_OUT => empty(Self::TimedOut),
            MSG_KEYS_EXHAUSTED => empty(Self::KeysExhausted),
            MSG_REFUSED => match body {
                [code] => Ok(Self::Refused(Refusal::from(*code))),
                _ => Err(ProtocolError::Malformed(2)),
            },
            MSG_PUBLIC_KEY => <[u8; PUBLIC_KEY_LEN]>::try_from(body)
                .map(Self::PublicKey)
                .map_err(|_| ProtocolError::Malformed(2)),
            MSG_KEY_INSTALLED => <[u8; 12]>::try_from(body)
                .map(Self::KeyInstalled)
                .map_err(|_| ProtocolError::Malformed(2)),
            MSG_TRUSTED => empty(Self::Trusted),
            other => Err(ProtocolError::MessageType(other)),
        }
    }
}

/// Writes one frame and flushes.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), ProtocolError> {
    if payload.is_empty() || payload.len() > MAX_FRAME {
        return Err(ProtocolError::FrameLength(payload.len()));
    }
    let len =
        u16::try_from(payload.len()).map_err(|_| ProtocolError::FrameLength(payload.len()))?;
    let mut frame = Zeroizing::new([0u8; MAX_FRAME + 2]);
    frame[..2].copy_from_slice(&len.to_be_bytes());
    frame[2..2 + payload.len()].copy_from_slice(payload);
    w.write_all(&frame[..2 + payload.len()])?;
    w.flush()?;
    Ok(())
}

/// Reads one frame into a zeroizing buffer. [`ProtocolError::Closed`] at end of stream.
pub fn read_frame(r: &mut impl Read) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(ProtocolError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 || len > MAX_FRAME {
        return Err(ProtocolError::FrameLength(len));
    }
    let mut payload = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut payload)?;
    Ok(payload)
}

fn split_header(payload: &[u8]) -> Result<(u8, &[u8]), ProtocolError> {
    match payload {
        [PROTOCOL_VERSION, kind, body @ ..] => Ok((*kind, body)),
        [version, ..] if *version != PROTOCOL_VERSION => Err(ProtocolError::Version(*version)),
        _ => Err(ProtocolError::Malformed(0)),
    }
}

fn decode_request(body: &[u8]) -> Result<EntryRequest, ProtocolError> {
    let mut pan: Option<Zeroizing<String>> = None;
    let mut amount = None;
    let mut currency_code = None;
    let mut currency_exponent = None;
    let mut merchant_name = None;
    let mut language = None;
    let mut flags = 0u8;
    let mut length = LengthLimits::default();
    let mut timeouts = Timeouts::default();
    let mut attestation_token = None;
    let mut seen = 0u16;
    let mut rest = body;
    while !rest.is_empty() {
        let offset = body.len() - rest.len();
        let [tag, len, tail @ ..] = rest else {
            return Err(ProtocolError::Malformed(offset));
        };
        let len = usize::from(*len);
        let value = tail.get(..len).ok_or(ProtocolError::Malformed(offset))?;
        rest = tail.get(len..).unwrap_or(&[]);
        let bit = 1u16.checked_shl(u32::from(*tag)).unwrap_or(0);
        if bit == 0 || seen & bit != 0 {
            return Err(ProtocolError::Field(*tag));
        }
        seen |= bit;
        let bad = || ProtocolError::Field(*tag);
        match *tag {
            TAG_PAN => {
                if !(1..=19).contains(&value.len()) || !value.iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                let mut digits = Zeroizing::new(String::with_capacity(19));
                digits.extend(value.iter().map(|&b| char::from(b)));
                pan = Some(digits);
            }
            TAG_AMOUNT => amount = Some(u64::from_be_bytes(value.try_into().map_err(|_| bad())?)),
            TAG_CURRENCY => {
                currency_code = Some(u16::from_be_bytes(value.try_into().map_err(|_| bad())?));
            }
            TAG_EXPONENT => match value {
                [e] if *e <= 4 => currency_exponent = Some(*e),
                _ => return Err(bad()),
            },
            TAG_MERCHANT => {
                if value.len() > MAX_MERCHANT {
                    return Err(bad());
                }
                let s = std::str::from_utf8(value).map_err(|_| bad())?;
                merchant_name = Some(s.to_owned());
            }
            TAG_LANGUAGE => {
                if !(2..=3).contains(&value.len()) || !value.iter().all(u8::is_ascii_lowercase) {
                    return Err(bad());
                }
                language = Some(value.iter().map(|&b| char::from(b)).collect());
            }
            TAG_FLAGS => match value {
                [f] if *f & !(FLAG_ACCESSIBLE | FLAG_IGNORED) == 0 => flags = *f,
                _ => return Err(bad()),
            },
            TAG_LENGTH => match value {
                [min, max] => length = LengthLimits::new(*min, *max).ok_or_else(bad)?,
                _ => return Err(bad()),
            },
            TAG_TIMEOUTS => {
                let mut ms = [0u32; 3];
                if value.len() != 12 {
                    return Err(bad());
                }
                for (m, chunk) in ms.iter_mut().zip(value.chunks_exact(4)) {
                    *m = u32::from_be_bytes(chunk.try_into().map_err(|_| bad())?);
                    if *m == 0 || *m > MAX_TIMEOUT_MS {
                        return Err(bad());
                    }
                }
                let [first_key, between_keys, total] = ms.map(|m| Duration::from_millis(m.into()));
                timeouts = Timeouts {
                    first_key,
                    between_keys,
                    total,
                };
            }
            TAG_ATTESTATION_TOKEN => {
                if value.is_empty() || value.len() > MAX_TOKEN {
                    return Err(bad());
                }
                attestation_token = Some(value.to_vec());
            }
            _ => return Err(bad()),
        }
    }
    let request = EntryRequest {
        pan: pan.ok_or(ProtocolError::MissingField(TAG_PAN))?,
        amount: amount.ok_or(ProtocolError::MissingField(TAG_AMOUNT))?,
        currency_code: currency_code.ok_or(ProtocolError::MissingField(TAG_CURRENCY))?,
        currency_exponent: currency_exponent.unwrap_or(2),
        merchant_name: merchant_name.unwrap_or_default(),
        language: language.unwrap_or_else(|| "en".to_owned()),
        accessible: flags & FLAG_ACCESSIBLE != 0,
        length,
        timeouts,
        attestation_token,
    };
    Ok(request)
}

const MSG_ENTER_PIN: u8 = 0x01;
const MSG_CANCEL: u8 = 0x02;
const MSG_READY: u8 = 0x81;
const MSG_PIN_BLOCK: u8 = 0x82;
const MSG_CANCELLED: u8 = 0x83;
const MSG_TIMED_OUT: u8 = 0x84;
const MSG_KEYS_EXHAUSTED: u8 = 0x85;
const MSG_REFUSED: u8 = 0x86;
const MSG_PUBLIC_KEY_REQUEST: u8 = 0x03;
const MSG_INSTALL_KEY: u8 = 0x04;
const MSG_PUBLIC_KEY: u8 = 0x87;
const MSG_KEY_INSTALLED: u8 = 0x88;
const MSG_TRUST_ATTESTATION: u8 = 0x05;
const MSG_TRUSTED: u8 = 0x89;

const TAG_PAN: u8 = 0x01;
const TAG_AMOUNT: u8 = 0x02;
const TAG_CURRENCY: u8 = 0x03;
const TAG_EXPONENT: u8 = 0x04;
const TAG_MERCHANT: u8 = 0x05;
const TAG_LANGUAGE: u8 = 0x06;
const TAG_FLAGS: u8 = 0x07;
const TAG_LENGTH: u8 = 0x08;
const TAG_TIMEOUTS: u8 = 0x09;
const TAG_ATTESTATION_TOKEN: u8 = 0x0A;
/// The longest attestation token the pad reads.
const MAX_TOKEN: usize = 128;
const TERMINAL_ID_LEN: usize = 8;

const FLAG_ACCESSIBLE: u8 = 0x01;
/// Once the terminal's "development profile"; accepted and ignored: the pad's profile is its own.
const FLAG_IGNORED: u8 = 0x02;

const MIN_PIN_LEN: u8 = 4;
const MAX_PIN_LEN: u8 = 12;
const MAX_MERCHANT: usize = 96;
/// One minute: the pad accepts no longer timeout from the terminal.
const MAX_TIMEOUT_MS: u32 = 60_000;

#[cfg(test)]
mod tests;
