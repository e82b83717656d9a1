//! Secret key types. They zeroize on drop and have no `Debug` or `Display`.

use zeroize::{Zeroize, ZeroizeOnDrop};

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
}
