//! An RSA public key as EMV uses it: raw RSA recovery with no padding scheme (EMV Book 2 §5.1,
//! Annex A2.1: "the recovery function is X = S^e mod n").

use rsa::BigUint;

/// An RSA public key (modulus and exponent), with the modulus length in bytes, which every
/// EMV signature and certificate must match exactly.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RsaKey {
    modulus: BigUint,
    exponent: u32,
    modulus_length: usize,
}

impl RsaKey {
    /// Builds a key from big-endian bytes. `None` if the modulus is too short to carry an EMV
    /// certificate, has a leading zero byte, or is even, or if the exponent is not 3 or 2^16 + 1
    /// (the only two EMV allows, Book 2 Annex B2.1).
    pub(crate) fn new(modulus: &[u8], exponent: &[u8]) -> Option<Self> {
        let first = *modulus.first()?;
        let last = *modulus.last()?;
        if first == 0 || last & 1 == 0 || modulus.len() < MIN_MODULUS_LENGTH {
            return None;
        }
        let exponent = match exponent {
            [0x03] => 3,
            [0x01, 0x00, 0x01] => 65_537,
            _ => return None,
        };
        Some(Self {
            modulus: BigUint::from_bytes_be(modulus),
            exponent,
            modulus_length: modulus.len(),
        })
    }

    /// The modulus length in bytes (N_CA, N_I or N_IC in Book 2).
    pub(crate) fn modulus_length(&self) -> usize {
        self.modulus_length
    }

    /// Recovers the data signed in `signature`: S^e mod n, left-padded to the modulus length.
    /// `None` if the signature's length differs from the modulus length or its value is not
    /// below the modulus (Book 2 §5.3 step 1, §6.3 step 1).
    pub(crate) fn recover(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.modulus_length {
            return None;
        }
        let value = BigUint::from_bytes_be(signature);
        if value >= self.modulus {
            return None;
        }
        let recovered = self.public_power(&value).to_bytes_be();
        let mut out = vec![0; self.modulus_length.checked_sub(recovered.len())?];
        out.extend_from_slice(&recovered);
        Some(out)
    }
}

impl RsaKey {
    /// value^e mod n by left-to-right square-and-multiply with the crate's `BigUint` products
    /// and reductions. EMV exponents are 3 or 65537 (2 or 17 bits), for which this is about ten
    /// times faster than `BigUint::modpow`'s general set-up (measured in `benches/oda.rs`).
    fn public_power(&self, value: &BigUint) -> BigUint {
        let bits = u32::BITS - self.exponent.leading_zeros();
        let mut result = value % &self.modulus;
        for bit in (0..bits.saturating_sub(1)).rev() {
            result = &result * &result % &self.modulus;
            if self.exponent >> bit & 1 == 1 {
                result = result * value % &self.modulus;
            }
        }
        result
    }
}

impl core::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaKey")
            .field("bits", &(self.modulus_length * 8))
            .field("exponent", &self.exponent)
            .finish_non_exhaustive()
    }
}

/// The shortest modulus that can hold an ICC certificate's fixed fields (42 bytes) and a
/// signature's header, hash and trailer: we require 64 bytes (512 bits); real keys have 768 or
/// more.
const MIN_MODULUS_LENGTH: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_signature_of_wrong_length_and_value_above_modulus() {
        let mut modulus = vec![0xC5; 64];
        modulus[63] = 0xC7;
        let key = RsaKey::new(&modulus, &[0x03]).expect("valid test key");
        assert!(key.recover(&[0x01; 63]).is_none());
        assert!(key.recover(&[0xFF; 64]).is_none());
        let recovered = key.recover(&[0x00; 64]).expect("zero is below the modulus");
        assert_eq!(recovered, vec![0; 64]);
        // 2^3 = 8, left-padded to the modulus length.
        let mut two = vec![0; 64];
        two[63] = 2;
        let eight = key.recover(&two).expect("small value");
        assert_eq!(eight[63], 8);
        assert_eq!(eight.len(), 64);
    }

    #[test]
    fn square_and_multiply_equals_modpow_for_both_exponents() {
        let modulus: Vec<u8> = (0u8..96).map(|i| i.wrapping_mul(37) | 0x81).collect();
        let n = BigUint::from_bytes_be(&modulus);
        for (exponent, e) in [(&[0x03][..], 3u32), (&[0x01, 0x00, 0x01][..], 65_537)] {
            let key = RsaKey::new(&modulus, exponent).expect("valid test key");
            for seed in [1u8, 2, 0x5A, 0xC3] {
                let value: Vec<u8> = (0u8..95)
                    .map(|i| i.wrapping_mul(seed).wrapping_add(7))
                    .collect();
                let value = BigUint::from_bytes_be(&value);
                assert_eq!(
                    key.public_power(&value),
                    value.modpow(&BigUint::from(e), &n)
                );
            }
        }
    }

    #[test]
    fn rejects_bad_exponents_and_moduli() {
        let modulus = vec![0xC5; 64];
        assert!(RsaKey::new(&modulus, &[0x05]).is_none());
        assert!(RsaKey::new(&modulus, &[0x00, 0x03]).is_none());
        assert!(RsaKey::new(&[0xC4; 64], &[0x03]).is_none(), "even modulus");
        assert!(RsaKey::new(&[0xC5; 32], &[0x03]).is_none(), "too short");
        assert!(RsaKey::new(&[], &[0x03]).is_none());
    }
}
