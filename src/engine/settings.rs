//! The engine's settings: tips, retries, timeouts and the store-and-forward caps.

use std::time::Duration;

use crate::acquirer::LinkSettings;

/// A tip on a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tip {
    /// No tip.
    #[default]
    None,
    /// A percentage of the amount (rounded half up to the minor unit).
    Percent(u8),
    /// A fixed amount in minor units.
    Amount(u64),
}

impl Tip {
    /// The tip for `amount`.
    pub fn of(self, amount: u64) -> u64 {
        match self {
            Self::None => 0,
            Self::Percent(p) => (amount.saturating_mul(u64::from(p)) + 50) / 100,
            Self::Amount(a) => a,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// DE 42, the merchant ID (15 characters at most).
    pub merchant_id: String,
    /// The name shown on the PIN pad.
    pub merchant_name: String,
    /// The PIN pad's language.
    pub language: String,
    /// The acquirer link's timeouts.
    pub link: LinkSettings,
    /// Taps tried when the card asks to be presented again.
    pub max_taps: u32,
    /// PIN entries tried when the host answers 55 (the host blocks after its own limit).
    pub max_pin_tries: u32,
    /// Reversal messages sent per attempt (the first is 0400, the repeats 0401).
    pub reversal_repeats: u32,
    /// Pause between reversal repeats.
    pub reversal_backoff: Duration,
    /// How long to wait for a card.
    pub card_wait: Duration,
    /// Store-and-forward caps.
    pub offline: OfflineLimits,
    /// Attempts at each journal write that records the host's answer (each waits up to the
    /// journal's 5 s lock timeout); if they all fail, an approval is reversed, never shown.
    pub journal_write_attempts: u32,
}

/// Store-and-forward: when the host cannot be reached, a sale at or below the AID's floor
/// limit, with offline data authentication passed and no online PIN, is approved offline and
/// queued as an 0220 advice, within these caps. Online-PIN transactions are never queued (the
/// PIN block must not be stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineLimits {
    /// At most this many advices waiting.
    pub max_count: u64,
    /// At most this total amount waiting (minor units).
    pub max_total: u64,
    /// No new offline approval while the oldest waiting advice is older than this.
    pub max_age: Duration,
    /// Upload attempts per advice before it is left for the operator (`softpos status`).
    pub max_upload_attempts: u32,
}

impl Default for OfflineLimits {
    fn default() -> Self {
        Self {
            max_count: 20,
            max_total: 20_000,
            max_age: Duration::from_secs(24 * 3600),
            max_upload_attempts: 10,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            merchant_id: "MERCHANT0000001".to_owned(),
            merchant_name: "softpos demo shop".to_owned(),
            language: "en".to_owned(),
            link: LinkSettings::default(),
            max_taps: 3,
            max_pin_tries: 3,
            reversal_repeats: 3,
            reversal_backoff: Duration::from_millis(200),
            card_wait: Duration::from_secs(30),
            offline: OfflineLimits::default(),
            journal_write_attempts: 3,
        }
    }
}
