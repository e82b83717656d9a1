//! Single-block DES, 2TDEA and AES helpers over RustCrypto, for the modules of [`super`].
//!
//! Every function takes the key by reference and builds the cipher on the stack; the RustCrypto
//! ciphers zeroize their round keys on drop (crate feature `zeroize`).

use aes::{Aes128, Aes192, Aes256};
use cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{Des, TdesEde2};

/// Encrypts one block with 2TDEA (EDE, K1 ‖ K2).
pub(crate) fn tdes_encrypt(key: &[u8; 16], block: [u8; 8]) -> [u8; 8] {
    let cipher = TdesEde2::new(key.into());
    let mut b = Block::<TdesEde2>::from(block);
    cipher.encrypt_block(&mut b);
    b.into()
}

/// Decrypts one block with 2TDEA.
pub(crate) fn tdes_decrypt(key: &[u8; 16], block: [u8; 8]) -> [u8; 8] {
    let cipher = TdesEde2::new(key.into());
    let mut b = Block::<TdesEde2>::from(block);
    cipher.decrypt_block(&mut b);
    b.into()
}

/// Encrypts one block with single DES.
pub(crate) fn des_encrypt(key: &[u8; 8], block: [u8; 8]) -> [u8; 8] {
    let cipher = Des::new(key.into());
    let mut b = Block::<Des>::from(block);
    cipher.encrypt_block(&mut b);
    b.into()
}

/// Decrypts one block with single DES.
pub(crate) fn des_decrypt(key: &[u8; 8], block: [u8; 8]) -> [u8; 8] {
    let cipher = Des::new(key.into());
    let mut b = Block::<Des>::from(block);
    cipher.decrypt_block(&mut b);
    b.into()
}

/// Encrypts one block with AES under a 16-, 24- or 32-byte key. Returns `None` for any other
/// key length.
pub(crate) fn aes_encrypt(key: &[u8], block: [u8; 16]) -> Option<[u8; 16]> {
    let mut b = Block::<Aes128>::from(block);
    match key.len() {
        16 => Aes128::new_from_slice(key).ok()?.encrypt_block(&mut b),
        24 => Aes192::new_from_slice(key).ok()?.encrypt_block(&mut b),
        32 => Aes256::new_from_slice(key).ok()?.encrypt_block(&mut b),
        _ => return None,
    }
    Some(b.into())
}

/// Decrypts one block with AES under a 16-, 24- or 32-byte key. Returns `None` for any other
/// key length.
pub(crate) fn aes_decrypt(key: &[u8], block: [u8; 16]) -> Option<[u8; 16]> {
    let mut b = Block::<Aes128>::from(block);
    match key.len() {
        16 => Aes128::new_from_slice(key).ok()?.decrypt_block(&mut b),
        24 => Aes192::new_from_slice(key).ok()?.decrypt_block(&mut b),
        32 => Aes256::new_from_slice(key).ok()?.decrypt_block(&mut b),
        _ => return None,
    }
    Some(b.into())
}

/// XORs two 8-byte blocks.
pub(crate) fn xor8(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// XORs two 16-byte blocks.
pub(crate) fn xor16(a: [u8; 16], b: [u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// Sets the low bit of every byte so that each byte has an odd number of one-bits (the DES
/// key parity convention, FIPS 46-3 §2).
pub(crate) fn adjust_odd_parity(key: &mut [u8]) {
    for byte in key.iter_mut() {
        let high = *byte & 0xFE;
        *byte = if high.count_ones() % 2 == 0 {
            high | 1
        } else {
            high
        };
    }
}
