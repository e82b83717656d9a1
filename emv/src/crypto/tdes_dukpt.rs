//! TDES DUKPT, ANSI X9.24-1:2009 (Annex A), for legacy terminals.
//!
//! KSN (10 bytes) = key set ID and device ID (59 bits) ‖ 21-bit transaction counter. A valid
//! counter has 1 to 10 one-bits; the last one is `0x1FF800`.
//!
//! - Initial PIN encryption key (IPEK, A.6): left = 3DES(BDK)[KSN₈], right =
//!   3DES(BDK ⊕ `C0C0C0C000000000C0C0C0C000000000`)[KSN₈], where KSN₈ is the leftmost 8 bytes
//!   of the KSN with the counter cleared.
//! - Transaction key: from the IPEK, the non-reversible key generation process (A.2) once per
//!   one-bit of the counter, most significant first.
//! - Working keys: the transaction key XOR a variant (PIN, MAC request, MAC response, data).

use zeroize::Zeroize;

use super::block;
use super::dukpt::DukptError;
use super::key::TdesKey16;

/// A 10-byte TDES DUKPT key serial number. Not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdesKsn(pub [u8; 10]);

impl TdesKsn {
    /// The 21-bit transaction counter.
    pub fn counter(&self) -> u32 {
        let [.., a, b, c] = self.0;
        u32::from_be_bytes([0, a, b, c]) & COUNTER_MASK
    }

    /// The same KSN with another counter (only the low 21 bits of `counter` are used).
    pub fn with_counter(&self, counter: u32) -> Self {
        let mut b = self.0;
        let [_, c1, c2, c3] = (counter & COUNTER_MASK).to_be_bytes();
        b[7] = (b[7] & 0xE0) | c1;
        b[8] = c2;
        b[9] = c3;
        Self(b)
    }

    /// Whether the counter is one a terminal may use: non-zero, at most 10 one-bits.
    pub fn is_valid(&self) -> bool {
        let c = self.counter();
        c != 0 && c.count_ones() <= MAX_COUNTER_ONE_BITS
    }
}

/// The next KSN (X9.24-1 A.2): counter + 1, skipping counters with more than 10 one-bits;
/// [`DukptError::KeyExhausted`] after `0x1FF800`.
pub fn next_tdes_ksn(current: TdesKsn) -> Result<TdesKsn, DukptError> {
    let mut counter = current.counter() + 1;
    while counter.count_ones() > MAX_COUNTER_ONE_BITS {
        counter += counter & counter.wrapping_neg();
    }
    if counter > COUNTER_MASK {
        return Err(DukptError::KeyExhausted);
    }
    Ok(current.with_counter(counter))
}

/// Derives the initial PIN encryption key (IPEK) of a device from the BDK (X9.24-1 A.6).
pub fn derive_ipek(bdk: &TdesKey16, ksn: TdesKsn) -> TdesKey16 {
    let base = ksn.with_counter(0).0;
    let mut ksn8 = [0u8; 8];
    ksn8.copy_from_slice(&base[..8]);
    let left = block::tdes_encrypt(bdk.expose_secret(), ksn8);
    let mut variant = *bdk.expose_secret();
    xor_in_place(&mut variant, &KEY_REGISTER_MASK);
    let right = block::tdes_encrypt(&variant, ksn8);
    variant.zeroize();
    join(left, right)
}

/// Derives the transaction key for a KSN from the IPEK (X9.24-1 A.3/A.4, the receiving side's
/// algorithm).
pub fn derive_tdes_transaction_key(
    ipek: &TdesKey16,
    ksn: TdesKsn,
) -> Result<TdesKey16, DukptError> {
    if !ksn.is_valid() {
        return Err(DukptError::InvalidKsn);
    }
    let counter = ksn.counter();
    let base = ksn.with_counter(0).0;
    let mut register = [0u8; 8];
    register.copy_from_slice(&base[2..]);
    let mut key = *ipek.expose_secret();
    for bit in (0..21).rev() {
        let mask = 1u32 << bit;
        if counter & mask == 0 {
            continue;
        }
        let [_, b5, b6, b7] = mask.to_be_bytes();
        register[5] |= b5;
        register[6] |= b6;
        register[7] |= b7;
        key = non_reversible_key_generation(&key, register);
    }
    let out = TdesKey16::from_bytes(key);
    key.zeroize();
    Ok(out)
}

/// TDES DUKPT working key variants (X9.24-1:2009 A.6, the 2009 "PIN", "MAC" and "data" masks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TdesVariant {
    /// PIN encryption: `00000000000000FF00000000000000FF`.
    Pin,
    /// MAC, request (both ways in the 2004 edition): `000000000000FF00000000000000FF00`.
    MacRequest,
    /// MAC, response: `00000000FF00000000000000FF000000`.
    MacResponse,
    /// Data encryption, request: `0000000000FF00000000000000FF0000`, then (2009) each half
    /// encrypted under the variant key.
    DataRequest,
}

/// Derives a working key for a KSN from the IPEK.
pub fn derive_tdes_working_key(
    ipek: &TdesKey16,
    ksn: TdesKsn,
    variant: TdesVariant,
) -> Result<TdesKey16, DukptError> {
    let transaction_key = derive_tdes_transaction_key(ipek, ksn)?;
    let mask = match variant {
        TdesVariant::Pin => PIN_VARIANT,
        TdesVariant::MacRequest => MAC_REQUEST_VARIANT,
        TdesVariant::MacResponse => MAC_RESPONSE_VARIANT,
        TdesVariant::DataRequest => DATA_REQUEST_VARIANT,
    };
    let mut key = *transaction_key.expose_secret();
    xor_in_place(&mut key, &mask);
    if variant == TdesVariant::DataRequest {
        let mut left = [0u8; 8];
        let mut right = [0u8; 8];
        left.copy_from_slice(&key[..8]);
        right.copy_from_slice(&key[8..]);
        let l = block::tdes_encrypt(&key, left);
        let r = block::tdes_encrypt(&key, right);
        key[..8].copy_from_slice(&l);
        key[8..].copy_from_slice(&r);
        left.zeroize();
        right.zeroize();
    }
    let out = TdesKey16::from_bytes(key);
    key.zeroize();
    Ok(out)
}

/// X9.24-1 A.2, "non-reversible key generation process": the new right half is
/// DES(KL)[R ⊕ KR] ⊕ KR; the new left half is the same with the key register XORed with
/// `C0C0C0C000000000C0C0C0C000000000`.
fn non_reversible_key_generation(key: &[u8; 16], register: [u8; 8]) -> [u8; 16] {
    let half = |k: &[u8; 16]| {
        let mut kl = [0u8; 8];
        let mut kr = [0u8; 8];
        kl.copy_from_slice(&k[..8]);
        kr.copy_from_slice(&k[8..]);
        let out = block::xor8(block::des_encrypt(&kl, block::xor8(register, kr)), kr);
        kl.zeroize();
        kr.zeroize();
        out
    };
    let right = half(key);
    let mut masked = *key;
    xor_in_place(&mut masked, &KEY_REGISTER_MASK);
    let left = half(&masked);
    masked.zeroize();
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&left);
    out[8..].copy_from_slice(&right);
    out
}

fn join(mut left: [u8; 8], mut right: [u8; 8]) -> TdesKey16 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&left);
    bytes[8..].copy_from_slice(&right);
    left.zeroize();
    right.zeroize();
    let key = TdesKey16::from_bytes(bytes);
    bytes.zeroize();
    key
}

fn xor_in_place(key: &mut [u8; 16], mask: &[u8; 16]) {
    for (k, m) in key.iter_mut().zip(mask) {
        *k ^= m;
    }
}

const COUNTER_MASK: u32 = 0x001F_FFFF;
const MAX_COUNTER_ONE_BITS: u32 = 10;
const KEY_REGISTER_MASK: [u8; 16] = [
    0xC0, 0xC0, 0xC0, 0xC0, 0x00, 0x00, 0x00, 0x00, 0xC0, 0xC0, 0xC0, 0xC0, 0x00, 0x00, 0x00, 0x00,
];
const PIN_VARIANT: [u8; 16] = [
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF,
];
const MAC_REQUEST_VARIANT: [u8; 16] = [
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00,
];
const MAC_RESPONSE_VARIANT: [u8; 16] = [
    0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00,
];
const DATA_REQUEST_VARIANT: [u8; 16] = [
    0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00,
];
