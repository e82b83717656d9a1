//! ISO 9564-1:2017 PIN blocks: format 4 (AES, §9.4.2), formats 0 and 3 (§9.3.1, §9.3.4), and
//! PIN translation from the terminal's DUKPT zone to an issuer zone key.
//!
//! PIN digits live in [`Pin`], a fixed 12-byte buffer that zeroizes on drop and has no `Debug`.
//! Format 4 and format 3 need random fill; it comes from a [`FillSource`]: [`OsFill`]
//! (`getrandom`) in production, [`danger::FixedFill`] in tests only.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::block;
use super::key::{AesKey, TdesKey16};

/// A PIN of 4 to 12 decimal digits (ISO 9564-1 §8.1), held as digit values 0-9 in a fixed
/// buffer: no heap, no growth, zeroized on drop, no `Debug` or `Display`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    digits: [u8; MAX_PIN_LEN],
    len: u8,
}

impl Pin {
    /// An empty PIN, to be filled digit by digit with [`Pin::push_digit`] (a PIN pad).
    pub fn empty() -> Self {
        Self {
            digits: [0u8; MAX_PIN_LEN],
            len: 0,
        }
    }

    /// A PIN from digit values (each 0-9), 4 to 12 of them.
    pub fn from_digits(digits: &[u8]) -> Result<Self, PinBlockError> {
        let mut pin = Self::empty();
        for &d in digits {
            pin.push_digit(d)?;
        }
        pin.check_length()?;
        Ok(pin)
    }

    /// A PIN from ASCII digits (`b"1234"`), 4 to 12 of them.
    pub fn from_ascii(ascii: &[u8]) -> Result<Self, PinBlockError> {
        let mut pin = Self::empty();
        for &c in ascii {
            if !c.is_ascii_digit() {
                return Err(PinBlockError::InvalidPin);
            }
            pin.push_digit(c - b'0')?;
        }
        pin.check_length()?;
        Ok(pin)
    }

    /// Appends one digit (0-9). Fails on a 13th digit or a non-digit; the PIN is unchanged.
    pub fn push_digit(&mut self, digit: u8) -> Result<(), PinBlockError> {
        if digit > 9 {
            return Err(PinBlockError::InvalidPin);
        }
        let slot = self
            .digits
            .get_mut(usize::from(self.len))
            .ok_or(PinBlockError::InvalidPinLength)?;
        *slot = digit;
        self.len += 1;
        Ok(())
    }

    /// Removes the last digit (the PIN pad's correction key), if any.
    pub fn pop_digit(&mut self) {
        if self.len > 0 {
            self.len -= 1;
            if let Some(slot) = self.digits.get_mut(usize::from(self.len)) {
                *slot = 0;
            }
        }
    }

    /// Number of digits entered so far.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no digit has been entered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the PIN has an acceptable length (4-12 digits) for a PIN block.
    pub fn is_complete(&self) -> bool {
        (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&self.len())
    }

    /// The digit values. Never log them.
    pub fn expose_secret(&self) -> &[u8] {
        self.digits.get(..self.len()).unwrap_or(&[])
    }

    /// Constant-time comparison (for the length too, as far as the length is not secret).
    pub fn ct_eq(&self, other: &Pin) -> bool {
        self.len == other.len && bool::from(self.digits.ct_eq(&other.digits))
    }

    fn check_length(&self) -> Result<(), PinBlockError> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(PinBlockError::InvalidPinLength)
        }
    }
}

/// A source of random fill for PIN blocks.
pub trait FillSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PinBlockError>;
}

/// Random fill from the operating system (`getrandom`): the production source.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFill;

impl FillSource for OsFill {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), PinBlockError> {
        getrandom::fill(buf).map_err(|_| PinBlockError::RandomUnavailable)
    }
}

/// Test-only knobs. Fixed fill makes PIN blocks predictable: never use it outside tests.
pub mod danger {
    use super::{FillSource, PinBlockError};

    /// Fill that repeats fixed bytes, so tests can reproduce published PIN blocks.
    #[derive(Debug, Clone)]
    pub struct FixedFill(pub [u8; 8]);

    impl FillSource for FixedFill {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), PinBlockError> {
            for (b, f) in buf.iter_mut().zip(self.0.iter().cycle()) {
                *b = *f;
            }
            Ok(())
        }
    }
}

/// Enciphers a format 4 PIN block (ISO 9564-1:2017 §9.4.2):
/// A = AES(K, PIN field); B = A ⊕ PAN field; PIN block = AES(K, B).
/// `pan_digits` is the full PAN (with check digit), 1-19 digits.
pub fn encrypt_format4(
    key: &AesKey,
    pin: &Pin,
    pan_digits: &str,
    fill: &mut impl FillSource,
) -> Result<[u8; 16], PinBlockError> {
    let mut pin_field = format4_pin_field(pin, fill)?;
    let pan_field = format4_pan_field(pan_digits)?;
    let a = aes_encrypt(key, pin_field)?;
    pin_field.zeroize();
    aes_encrypt(key, block::xor16(a, pan_field))
}

/// Deciphers a format 4 PIN block and checks its structure; returns the PIN.
pub fn decrypt_format4(
    key: &AesKey,
    pin_block: &[u8; 16],
    pan_digits: &str,
) -> Result<Pin, PinBlockError> {
    let pan_field = format4_pan_field(pan_digits)?;
    let b = aes_decrypt(key, *pin_block)?;
    let mut pin_field = aes_decrypt(key, block::xor16(b, pan_field))?;
    let result = parse_format4_pin_field(&pin_field);
    pin_field.zeroize();
    result
}

/// Deciphers a format 4 PIN block and compares its PIN with `expected` in constant time.
pub fn verify_format4(
    key: &AesKey,
    pin_block: &[u8; 16],
    pan_digits: &str,
    expected: &Pin,
) -> Result<bool, PinBlockError> {
    Ok(decrypt_format4(key, pin_block, pan_digits)?.ct_eq(expected))
}

/// Translates a format 4 PIN block from one AES key to another (e.g. the terminal's DUKPT PIN
/// key to the issuer's zone PIN key), with fresh random fill. The PIN exists in clear only in a
/// zeroized buffer inside this call.
pub fn translate_format4(
    from_key: &AesKey,
    to_key: &AesKey,
    pin_block: &[u8; 16],
    pan_digits: &str,
    fill: &mut impl FillSource,
) -> Result<[u8; 16], PinBlockError> {
    let pin = decrypt_format4(from_key, pin_block, pan_digits)?;
    encrypt_format4(to_key, &pin, pan_digits, fill)
}

/// The clear format 0 PIN block (ISO 9564-1:2017 §9.3.1): `0` N PIN `F`… ⊕ `0000` ‖ the 12
/// rightmost PAN digits excluding the check digit.
pub fn encode_format0(pin: &Pin, pan_digits: &str) -> Result<[u8; 8], PinBlockError> {
    let mut nibbles = [0x0Fu8; 16];
    fill_pin_nibbles(&mut nibbles, 0x0, pin)?;
    let mut field = pack_nibbles8(&nibbles);
    nibbles.zeroize();
    let block = block::xor8(field, format0_pan_field(pan_digits)?);
    field.zeroize();
    Ok(block)
}

/// Decodes a clear format 0 PIN block.
pub fn decode_format0(block: &[u8; 8], pan_digits: &str) -> Result<Pin, PinBlockError> {
    let field = block::xor8(*block, format0_pan_field(pan_digits)?);
    parse_iso_pin_field(&field, 0x0, |n| n == 0x0F)
}

/// The clear format 3 PIN block (ISO 9564-1:2017 §9.3.4): as format 0 but control `3` and
/// random fill nibbles `A`-`F`.
pub fn encode_format3(
    pin: &Pin,
    pan_digits: &str,
    fill: &mut impl FillSource,
) -> Result<[u8; 8], PinBlockError> {
    let mut random = [0u8; 16];
    fill.fill(&mut random)?;
    let mut nibbles = [0u8; 16];
    for (n, r) in nibbles.iter_mut().zip(random) {
        // 6 values A-F from a byte; the bias (256 mod 6 = 4) is harmless for fill.
        *n = 0x0A + r % 6;
    }
    random.zeroize();
    fill_pin_nibbles(&mut nibbles, 0x3, pin)?;
    let mut field = pack_nibbles8(&nibbles);
    nibbles.zeroize();
    let block = block::xor8(field, format0_pan_field(pan_digits)?);
    field.zeroize();
    Ok(block)
}

/// Decodes a clear format 3 PIN block.
pub fn decode_format3(block: &[u8; 8], pan_digits: &str) -> Result<Pin, PinBlockError> {
    let field = block::xor8(*block, format0_pan_field(pan_digits)?);
    parse_iso_pin_field(&field, 0x3, |n| (0x0A..=0x0F).contains(&n))
}

/// Enciphers a format 0 PIN block under a 2TDEA key (legacy TDES DUKPT PIN key).
pub fn encrypt_format0_tdes(
    key: &TdesKey16,
    pin: &Pin,
    pan_digits: &str,
) -> Result<[u8; 8], PinBlockError> {
    let mut clear = encode_format0(pin, pan_digits)?;
    let out = block::tdes_encrypt(key.expose_secret(), clear);
    clear.zeroize();
    Ok(out)
}

/// Deciphers a 2TDEA-enciphered format 0 PIN block.
pub fn decrypt_format0_tdes(
    key: &TdesKey16,
    pin_block: &[u8; 8],
    pan_digits: &str,
) -> Result<Pin, PinBlockError> {
    let mut clear = block::tdes_decrypt(key.expose_secret(), *pin_block);
    let pin = decode_format0(&clear, pan_digits);
    clear.zeroize();
    pin
}

/// Errors of PIN block processing. None of them carries PIN or PAN digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinBlockError {
    /// A PIN character that is not a decimal digit.
    #[error("PIN contains a non-digit")]
    InvalidPin,
    /// A PIN shorter than 4 or longer than 12 digits.
    #[error("PIN length outside 4-12")]
    InvalidPinLength,
    /// A PAN that is not 1-19 decimal digits (12 or more for formats 0 and 3).
    #[error("invalid PAN")]
    InvalidPan,
    /// The deciphered block is not a well-formed PIN block of the expected format.
    #[error("malformed PIN block")]
    MalformedPinBlock,
    /// An AES key of an unusable length.
    #[error("invalid key")]
    InvalidKey,
    /// The random source failed.
    #[error("random source unavailable")]
    RandomUnavailable,
}

fn format4_pin_field(pin: &Pin, fill: &mut impl FillSource) -> Result<[u8; 16], PinBlockError> {
    pin.check_length()?;
    let mut nibbles = [0x0Au8; 16];
    fill_pin_nibbles(&mut nibbles, 0x4, pin)?;
    let mut field = [0u8; 16];
    field[..8].copy_from_slice(&pack_nibbles8(&nibbles));
    nibbles.zeroize();
    fill.fill(&mut field[8..])?;
    Ok(field)
}

/// The format 4 plain text PAN field (ISO 9564-1:2017 §9.4.2.3): M = PAN length − 12 (0 for
/// shorter PANs), then the PAN (right-justified in 12 digits if shorter), zero-padded to 16
/// bytes. Not secret beyond the PAN itself.
pub fn format4_pan_field(pan_digits: &str) -> Result<[u8; 16], PinBlockError> {
    let pan = pan_digits.as_bytes();
    if pan.is_empty() || pan.len() > 19 || !pan.iter().all(u8::is_ascii_digit) {
        return Err(PinBlockError::InvalidPan);
    }
    let mut nibbles = [0u8; 32];
    let m = pan.len().saturating_sub(12);
    // M fits a nibble: at most 7.
    nibbles[0] = u8::try_from(m).map_err(|_| PinBlockError::InvalidPan)?;
    // PANs under 12 digits are right-justified in a 12-digit field, zero-padded on the left.
    let start = 1 + 12usize.saturating_sub(pan.len());
    for (n, c) in nibbles[start..].iter_mut().zip(pan) {
        *n = c - b'0';
    }
    let mut field = [0u8; 16];
    for (f, pair) in field.iter_mut().zip(nibbles.chunks_exact(2)) {
        *f = (pair[0] << 4) | pair[1];
    }
    Ok(field)
}

fn parse_format4_pin_field(field: &[u8; 16]) -> Result<Pin, PinBlockError> {
    let mut first = [0u8; 8];
    first.copy_from_slice(&field[..8]);
    let pin = parse_iso_pin_field(&first, 0x4, |n| n == 0x0A);
    first.zeroize();
    pin
}

/// Writes control nibble, length nibble and PIN digits into the first nibbles; the rest keep
/// the caller's fill.
fn fill_pin_nibbles(nibbles: &mut [u8; 16], control: u8, pin: &Pin) -> Result<(), PinBlockError> {
    pin.check_length()?;
    nibbles[0] = control;
    nibbles[1] = pin.len;
    for (n, d) in nibbles[2..].iter_mut().zip(pin.expose_secret()) {
        *n = *d;
    }
    Ok(())
}

fn parse_iso_pin_field(
    field: &[u8; 8],
    control: u8,
    is_fill: impl Fn(u8) -> bool,
) -> Result<Pin, PinBlockError> {
    let mut nibbles = [0u8; 16];
    for (pair, b) in nibbles.chunks_exact_mut(2).zip(field) {
        pair[0] = b >> 4;
        pair[1] = b & 0x0F;
    }
    let result = parse_pin_nibbles(&nibbles, control, is_fill);
    nibbles.zeroize();
    result
}

fn parse_pin_nibbles(
    nibbles: &[u8; 16],
    control: u8,
    is_fill: impl Fn(u8) -> bool,
) -> Result<Pin, PinBlockError> {
    let [first, length, rest @ ..] = nibbles;
    if *first != control {
        return Err(PinBlockError::MalformedPinBlock);
    }
    let len = usize::from(*length);
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&len) {
        return Err(PinBlockError::MalformedPinBlock);
    }
    let (digits, fill) = rest.split_at(len);
    let mut pin = Pin::empty();
    for &d in digits {
        pin.push_digit(d)
            .map_err(|_| PinBlockError::MalformedPinBlock)?;
    }
    if !fill.iter().all(|&n| is_fill(n)) {
        return Err(PinBlockError::MalformedPinBlock);
    }
    Ok(pin)
}

/// `0000` ‖ the 12 rightmost PAN digits excluding the check digit (formats 0 and 3).
fn format0_pan_field(pan_digits: &str) -> Result<[u8; 8], PinBlockError> {
    let pan = pan_digits.as_bytes();
    if pan.len() < 13 || pan.len() > 19 || !pan.iter().all(u8::is_ascii_digit) {
        return Err(PinBlockError::InvalidPan);
    }
    let without_check = &pan[..pan.len() - 1];
    let twelve = &without_check[without_check.len() - 12..];
    let mut nibbles = [0u8; 16];
    for (n, c) in nibbles[4..].iter_mut().zip(twelve) {
        *n = c - b'0';
    }
    Ok(pack_nibbles8(&nibbles))
}

fn pack_nibbles8(nibbles: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        *o = (pair[0] << 4) | pair[1];
    }
    out
}

fn aes_encrypt(key: &AesKey, b: [u8; 16]) -> Result<[u8; 16], PinBlockError> {
    block::aes_encrypt(key.expose_secret(), b).ok_or(PinBlockError::InvalidKey)
}

fn aes_decrypt(key: &AesKey, b: [u8; 16]) -> Result<[u8; 16], PinBlockError> {
    block::aes_decrypt(key.expose_secret(), b).ok_or(PinBlockError::InvalidKey)
}

/// ISO 9564-1 §8.1: PINs have 4 to 12 digits.
const MIN_PIN_LEN: usize = 4;
const MAX_PIN_LEN: usize = 12;
