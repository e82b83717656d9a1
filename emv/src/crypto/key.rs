//! Secret key types. They zeroize on drop and have no `Debug` or `Display`.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::block;

/// A double-length triple-DES key (2TDEA, 16 bytes), as EMV issuer and ICC master keys are.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TdesKey16([u8; 16]);

impl TdesKey16 {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The key bytes, for use by a cipher. Never log them.
    pub fn expose_secret(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key check value: the leftmost three bytes of the key's encryption of a zero block
    /// (ANSI X9.24-1 / ISO 11568 convention). Safe to print; it identifies, not reveals, a key.
    pub fn check_value(&self) -> [u8; 3] {
        let [a, b, c, ..] = block::tdes_encrypt(&self.0, [0u8; 8]);
        [a, b, c]
    }

    /// Returns the key with each byte adjusted to odd parity (FIPS 46-3 §2), as EMV Book 2
    /// Annex A1.4 asks for derived keys. Parity bits do not change DES results.
    pub fn with_odd_parity(mut self) -> Self {
        block::adjust_odd_parity(&mut self.0);
        self
    }
}

impl PartialEq for TdesKey16 {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TdesKey16 {}

/// An AES key of 128, 192 or 256 bits (DUKPT base derivation, initial and working keys, PIN
/// zone keys). Zeroized on drop; no `Debug` or `Display`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AesKey {
    bytes: [u8; 32],
    len: u8,
}

impl AesKey {
    /// Wraps 16, 24 or 32 key bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let len = match bytes.len() {
            16 => 16u8,
            24 => 24,
            32 => 32,
            _ => return None,
        };
        let mut key = Self {
            bytes: [0u8; 32],
            len,
        };
        key.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(key)
    }

    /// Wraps a 128-bit key.
    pub fn from_bytes_128(bytes: [u8; 16]) -> Self {
        let mut key = Self {
            bytes: [0u8; 32],
            len: 16,
        };
        key.bytes[..16].copy_from_slice(&bytes);
        key
    }

    /// The key length in bytes (16, 24 or 32).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false`: an `AesKey` holds 16, 24 or 32 bytes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The key bytes, for use by a cipher. Never log them.
    pub fn expose_secret(&self) -> &[u8] {
        self.bytes.get(..self.len()).unwrap_or(&[])
    }

    /// A key check value: the leftmost three bytes of the key's encryption of a zero block (the
    /// legacy convention; X9.24-1:2017 prefers a CMAC over zeros, which we do not need here).
    pub fn check_value(&self) -> [u8; 3] {
        let [a, b, c, ..] =
            block::aes_encrypt(self.expose_secret(), [0u8; 16]).unwrap_or([0u8; 16]);
        [a, b, c]
    }
}

impl PartialEq for AesKey {
    /// Constant-time comparison of the key bytes.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.expose_secret().ct_eq(other.expose_secret()).into()
    }
}

impl Eq for AesKey {}
