//! Message authentication codes.
//!
//! - [`retail_mac`]: ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC": a single-DES CBC chain
//!   under K1, then the last block decrypted under K2 and encrypted under K1), which EMV uses for
//!   application cryptograms and ARPC method 2 (EMV Book 2 Annex A1.2.1).

use super::block;
use super::key::TdesKey16;

/// ISO/IEC 9797-1 padding methods (§6.1.2, §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Padding {
    /// Method 1: append `00` bytes up to a multiple of the block size (nothing if the data
    /// already fills its last block; one block of zeros for empty data).
    Method1,
    /// Method 2: append one `80` byte, then `00` bytes up to a multiple of the block size.
    Method2,
}

/// ISO/IEC 9797-1 MAC algorithm 3 with a 2TDEA key (EMV Book 2 Annex A1.2.1), full 8 bytes.
/// Callers truncate (ARPC method 2 keeps the leftmost 4 bytes).
pub fn retail_mac(key: &TdesKey16, data: &[u8], padding: Padding) -> [u8; 8] {
    let key = key.expose_secret();
    let mut k1 = [0u8; 8];
    let mut k2 = [0u8; 8];
    k1.copy_from_slice(&key[..8]);
    k2.copy_from_slice(&key[8..]);

    let mut chain = [0u8; 8];
    let mut feed = |block_bytes: [u8; 8]| {
        chain = block::des_encrypt(&k1, block::xor8(chain, block_bytes));
    };
    let mut blocks = data.chunks_exact(8);
    for b in blocks.by_ref() {
        let mut full = [0u8; 8];
        full.copy_from_slice(b);
        feed(full);
    }
    let rest = blocks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    match padding {
        Padding::Method1 => {
            if !rest.is_empty() || data.is_empty() {
                feed(last);
            }
        }
        Padding::Method2 => {
            // `rest.len() < 8` by `chunks_exact`, so the marker byte fits.
            if let Some(marker) = last.get_mut(rest.len()) {
                *marker = 0x80;
            }
            feed(last);
        }
    }
    let out = block::des_encrypt(&k1, block::des_decrypt(&k2, chain));
    use zeroize::Zeroize;
    k1.zeroize();
    k2.zeroize();
    out
}
