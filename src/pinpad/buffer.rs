//! The PIN buffer: a fixed 12-byte array, never a `String` or `Vec` (security doc P2, P9).
//!
//! It wraps [`emv::crypto::pin_block::Pin`], which zeroizes its array on drop (volatile writes,
//! `zeroize`), so every exit path clears the digits, an unwinding panic included. [`PinBuffer`]
//! adds the entry's length limits and an explicit [`PinBuffer::clear`]. It has no `Debug`,
//! `Display` or `Clone`.

use emv::crypto::pin_block::Pin;
use zeroize::Zeroize;

use super::protocol::LengthLimits;

/// The digits typed so far.
pub struct PinBuffer {
    pin: Pin,
    limits: LengthLimits,
}

impl PinBuffer {
    /// An empty buffer for an entry with `limits`.
    pub fn new(limits: LengthLimits) -> Self {
        Self {
            pin: Pin::empty(),
            limits,
        }
    }

    /// Appends a digit. Returns `false` (and keeps the buffer as it is) when the buffer already
    /// holds the maximum number of digits or `digit` is not 0-9 (P6: further keys are ignored).
    pub fn push(&mut self, digit: u8) -> bool {
        if self.pin.len() >= usize::from(self.limits.max()) {
            return false;
        }
        self.pin.push_digit(digit).is_ok()
    }

    /// Zeroizes every digit (the Clear key, and every end of an entry).
    pub fn clear(&mut self) {
        self.pin.zeroize();
    }

    /// How many digits are held.
    pub fn len(&self) -> u8 {
        u8::try_from(self.pin.len()).unwrap_or(u8::MAX)
    }

    /// Whether no digit is held.
    pub fn is_empty(&self) -> bool {
        self.pin.is_empty()
    }

    /// Whether OK may be pressed: at least the minimum number of digits.
    pub fn is_complete(&self) -> bool {
        self.len() >= self.limits.min() && self.len() <= self.limits.max()
    }

    /// The PIN, for the encryption step only.
    pub fn pin(&self) -> &Pin {
        &self.pin
    }
}

/// Overwrites the stack below the caller with zeros. Encryption passes the clear PIN field by
/// value through the cipher helpers, and their dead frames keep a copy until something else
/// writes there; the process calls this right after encrypting (the memory test checks it).
#[inline(never)]
pub fn scrub_stack() {
    let mut scratch = [0u8; STACK_SCRUB_BYTES];
    scratch.zeroize();
    std::hint::black_box(&scratch);
}

/// How much stack [`scrub_stack`] overwrites: far more than the encryption path uses.
const STACK_SCRUB_BYTES: usize = 64 * 1024;

impl Drop for PinBuffer {
    fn drop(&mut self) {
        // `Pin` zeroizes itself on drop too; this makes the buffer's own guarantee explicit.
        self.pin.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_maximum_and_completes_at_the_minimum() {
        let Some(limits) = LengthLimits::new(4, 6) else {
            panic!("limits")
        };
        let mut buffer = PinBuffer::new(limits);
        for d in [1, 2, 3] {
            assert!(buffer.push(d));
        }
        assert!(!buffer.is_complete());
        assert!(buffer.push(4));
        assert!(buffer.is_complete());
        assert!(buffer.push(5) && buffer.push(6));
        assert!(!buffer.push(7), "the 7th digit is ignored");
        assert_eq!(buffer.len(), 6);
        assert_eq!(buffer.pin().expose_secret(), [1, 2, 3, 4, 5, 6]);
        assert!(!buffer.push(10));
    }

    #[test]
    fn clear_zeroizes() {
        let mut buffer = PinBuffer::new(LengthLimits::default());
        for d in [8, 5, 3, 1] {
            buffer.push(d);
        }
        buffer.clear();
        assert!(buffer.is_empty());
        assert!(buffer.pin().expose_secret().is_empty());
        assert!(buffer.push(9));
        assert_eq!(buffer.pin().expose_secret(), [9]);
    }
}
