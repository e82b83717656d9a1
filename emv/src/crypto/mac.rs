//! Message authentication codes.
//!
//! - [`retail_mac`]: ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC": a single-DES CBC chain
//!   under K1, then the last block decrypted under K2 and encrypted under K1), which EMV uses for
//!   application cryptograms and ARPC method 2 (EMV Book 2 Annex A1.2.1).
//! - [`aes_cmac`], [`verify_aes_cmac`]: AES-CMAC (NIST SP 800-38B, RFC 4493), used with the AES
//!   DUKPT MAC keys (X9.24-3 key usages `2000`/`2001`) for ISO 8583 message MACs.

use aes::{Aes128, Aes192, Aes256};
use cmac::{Cmac, KeyInit, Mac};

use super::block;
use super::key::{AesKey, TdesKey16};

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

/// AES-CMAC (NIST SP 800-38B) of `data`, full 16 bytes.
pub fn aes_cmac(key: &AesKey, data: &[u8]) -> [u8; 16] {
    fn run<C: cmac::block_api::CmacCipher + KeyInit>(key: &[u8], data: &[u8]) -> [u8; 16]
    where
        Cmac<C>: Mac + KeyInit,
    {
        let mut out = [0u8; 16];
        if let Ok(mut mac) = <Cmac<C> as KeyInit>::new_from_slice(key) {
            mac.update(data);
            let tag = mac.finalize().into_bytes();
            for (o, t) in out.iter_mut().zip(tag.iter()) {
                *o = *t;
            }
        }
        out
    }
    let k = key.expose_secret();
    match key.len() {
        24 => run::<Aes192>(k, data),
        32 => run::<Aes256>(k, data),
        _ => run::<Aes128>(k, data),
    }
}

/// Verifies an AES-CMAC in constant time. `mac` may be truncated to its leftmost 8 to 16 bytes
/// (SP 800-38B §5.5 allows 64-bit tags; ISO 8583 DE 64/128 carry 8 bytes).
pub fn verify_aes_cmac(key: &AesKey, data: &[u8], mac: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    if !(8..=16).contains(&mac.len()) {
        return false;
    }
    let full = aes_cmac(key, data);
    full.get(..mac.len())
        .is_some_and(|prefix| bool::from(prefix.ct_eq(mac)))
}
