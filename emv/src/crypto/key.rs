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
