//! Keypad layouts: which digit sits on which of the ten key slots (security doc P4).
//!
//! Every entry gets a fresh uniform permutation from the OS random source (Fisher-Yates with
//! unbiased bounded draws), never the same as the previous entry's. Accessible mode uses the
//! fixed phone layout instead (P10, see `docs/pinpad.md` for what that trades away).

use zeroize::Zeroize;

/// A keypad layout: `digit(slot)` for the ten slots (0-8 in three rows, 9 alone at the bottom).
/// Not `Debug`: a layout together with touch positions would give the PIN away.
#[derive(Clone, PartialEq, Eq, Zeroize)]
pub struct Layout([u8; 10]);

impl Layout {
    /// The fixed phone layout: 1 2 3 / 4 5 6 / 7 8 9 / 0.
    pub fn phone() -> Self {
        Self([1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    }

    /// A uniformly random layout from the OS random source that differs from `previous`.
    pub fn shuffled(previous: Option<&Layout>) -> Result<Self, getrandom::Error> {
        loop {
            let layout = Self::shuffle_with(random_below)?;
            if previous != Some(&layout) {
                return Ok(layout);
            }
        }
    }

    /// Fisher-Yates with a caller's bounded random source (`draw(n)` returns a uniform value
    /// in `0..n`). Public for the uniformity test.
    pub fn shuffle_with<E>(mut draw: impl FnMut(u32) -> Result<u32, E>) -> Result<Self, E> {
        let mut digits = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        for i in (1..digits.len()).rev() {
            let bound = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let j = usize::try_from(draw(bound)?).unwrap_or(0).min(i);
            digits.swap(i, j);
        }
        Ok(Self(digits))
    }

    /// Rebuilds a layout from stored bytes; `None` unless they are a permutation of 0-9.
    pub fn from_bytes(bytes: [u8; 10]) -> Option<Self> {
        let mut seen = [false; 10];
        for &d in &bytes {
            let slot = seen.get_mut(usize::from(d))?;
            if *slot {
                return None;
            }
            *slot = true;
        }
        Some(Self(bytes))
    }

    /// The layout's bytes (slot order), for the key store.
    pub fn to_bytes(&self) -> [u8; 10] {
        self.0
    }

    /// The digit on `slot` (0-9); `None` for any other slot.
    pub fn digit(&self, slot: u8) -> Option<u8> {
        self.0.get(usize::from(slot)).copied()
    }

    /// The slot holding `digit`. Used by the test input mode, which types digits.
    pub fn slot_of(&self, digit: u8) -> Option<u8> {
        self.0
            .iter()
            .position(|&d| d == digit)
            .and_then(|p| u8::try_from(p).ok())
    }
}

/// A uniform value in `0..bound` from the OS random source, by rejection (no modulo bias).
fn random_below(bound: u32) -> Result<u32, getrandom::Error> {
    let bound = bound.max(1);
    // The largest multiple of `bound` that fits in u32's range; draws at or above it are
    // rejected so every residue is equally likely.
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let value = getrandom::u32()?;
        if value < zone {
            return Ok(value % bound);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffled_layouts_are_permutations() {
        for _ in 0..1000 {
            let Ok(layout) = Layout::shuffled(None) else {
                panic!("no randomness");
            };
            assert!(Layout::from_bytes(layout.to_bytes()).is_some());
        }
    }

    #[test]
    fn from_bytes_rejects_non_permutations() {
        assert!(Layout::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 8]).is_none());
        assert!(Layout::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]).is_none());
        assert!(Layout::from_bytes([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]).is_some());
    }

    #[test]
    fn slot_of_inverts_digit() {
        let layout = Layout::phone();
        for digit in 0..10 {
            let slot = layout.slot_of(digit);
            assert_eq!(slot.and_then(|s| layout.digit(s)), Some(digit));
        }
        assert_eq!(layout.slot_of(10), None);
        assert_eq!(layout.digit(10), None);
    }

    #[test]
    fn never_repeats_the_previous_layout() {
        let first = Layout::shuffled(None);
        let Ok(first) = first else {
            panic!("no randomness")
        };
        for _ in 0..10_000 {
            let Ok(next) = Layout::shuffled(Some(&first)) else {
                panic!("no randomness")
            };
            assert!(next != first);
        }
    }
}
