//! The rotating token of a merchant's code (`docs/qr-merchant-code.md` § The rotating token).
//!
//! `token = decimal(AES-256-CMAC(K, "MPM1" ‖ terminal ‖ reference ‖ amount ‖ currency ‖
//! window)[0..8]) mod 10^12`, twelve digits, where `window = ⌊unix time / 30⌋`. The same twelve
//! digits are the short code a customer types into a wallet without a camera. The key `K`
//! lives only in the host (random at each start: a token lives seconds, a restart only makes
//! the terminal redraw its code).

use emv::crypto::key::AesKey;
use emv::crypto::mac::aes_cmac;
use subtle::ConstantTimeEq;

/// How long one token lives, in seconds.
pub const WINDOW_SECS: u64 = 30;

pub use emv::qr::merchant_payment::TOKEN_DIGITS;

/// The host's token key. No `Debug`; zeroized on drop (by [`AesKey`]).
pub struct TokenKey(AesKey);

/// What a token covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenInput<'a> {
    /// The terminal that shows the code (DE 41).
    pub terminal_id: &'a str,
    /// The payment's reference.
    pub reference: &'a str,
    /// The amount in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
}

impl TokenKey {
    /// A fresh random key.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice())?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A key from 32 bytes (tests).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        // 32 bytes is a valid AES-256 key length, so `from_slice` cannot refuse it.
        Self(AesKey::from_slice(bytes).unwrap_or_else(|| AesKey::from_bytes_128([0; 16])))
    }

    /// The token of `input` in `window`: twelve decimal digits.
    pub fn token(&self, input: &TokenInput<'_>, window: u64) -> String {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(b"MPM1");
        for field in [input.terminal_id, input.reference] {
            // Length-prefixed so that no two inputs share an encoding.
            data.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
            data.extend_from_slice(field.as_bytes());
        }
        data.extend_from_slice(&input.amount.to_be_bytes());
        data.extend_from_slice(&input.currency.to_be_bytes());
        data.extend_from_slice(&window.to_be_bytes());
        let mac = aes_cmac(&self.0, &data);
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        format!("{:012}", u64::from_be_bytes(first) % 1_000_000_000_000)
    }

    /// Whether `token` is the token of `input` in `window` (constant time).
    pub fn check(&self, input: &TokenInput<'_>, window: u64, token: &str) -> bool {
        bool::from(self.token(input, window).as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The window of a Unix time.
pub fn window_of(unix_secs: u64) -> u64 {
    unix_secs / WINDOW_SECS
}

/// When a window ends (Unix seconds).
pub fn window_end(window: u64) -> u64 {
    window.saturating_add(1).saturating_mul(WINDOW_SECS)
}
