//! The terminal's side of the secure PIN process, `softpos-pinpad`.
//!
//! CONTRACT (the transaction engine codes against [`PinEntry`]; the PIN pad process and its
//! client are being written): the terminal starts `softpos-pinpad` for each PIN entry and talks
//! to it over a pipe. What comes back is only the KSN, the encrypted ISO 9564 format 4 PIN block
//! and the number of digits, or why there is none. The PIN never enters this process.

use emv::pan::Pan;

/// What the PIN pad needs to show and to build the format 4 block.
pub struct PinRequest<'a> {
    /// The PAN (format 4 binds the PIN block to it).
    pub pan: &'a Pan,
    /// The amount to display, in minor units.
    pub amount: u64,
    /// ISO 4217 numeric currency code of the amount.
    pub currency_code: u16,
    /// Decimal places of the currency.
    pub currency_exponent: u8,
    /// The merchant name to display.
    pub merchant_name: &'a str,
    /// ISO 639-1 language for the prompts (`en`, `de`, `zh`).
    pub language: &'a str,
    /// Accessible mode for this one entry (fixed layout, spoken prompts, no digit labels).
    pub accessible: bool,
}

/// An encrypted PIN: all that leaves the PIN process.
#[derive(Clone)]
pub struct EncryptedPin {
    /// The AES DUKPT key serial number (X9.24-3, 12 bytes).
    pub ksn: [u8; 12],
    /// The ISO 9564 format 4 PIN block, encrypted under the DUKPT PIN key.
    pub pin_block: [u8; 16],
    /// How many digits were entered (4-12).
    pub digits: u8,
}

impl core::fmt::Debug for EncryptedPin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptedPin").field("digits", &self.digits).finish_non_exhaustive()
    }
}

/// Why no PIN block came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinEntryError {
    /// The cardholder pressed Cancel.
    #[error("PIN entry cancelled")]
    Cancelled,
    /// The cardholder took too long.
    #[error("PIN entry timed out")]
    TimedOut,
    /// The DUKPT counter is exhausted: the terminal needs new keys.
    #[error("the PIN keys are used up; the terminal needs new keys")]
    KeysExhausted,
    /// The PIN pad could not run (not installed, refused the display, crashed).
    #[error("the PIN pad is not available: {0}")]
    Unavailable(String),
}

/// Something that collects an encrypted PIN: the PIN pad process, or a test double.
pub trait PinEntry {
    /// Collects one PIN for `request`.
    fn collect(&mut self, request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError>;
}
