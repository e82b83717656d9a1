//! The engine's settings: tips, retries, timeouts and the store-and-forward caps.

use std::time::Duration;

use crate::acquirer::LinkSettings;
use crate::attestation::Profile;

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
    /// Accepting, at the merchant's risk, a sale the card sent online (ARQC) when the host
    /// cannot be reached: off unless enabled, with its own caps.
    pub merchant_risk: MerchantRisk,
    /// How long an approved pre-authorization waits for its completion: after that it is
    /// reversed (the hold released) and its sealed PAN wiped (default 7 days; schemes allow
    /// 7 to 30).
    pub preauth_lifetime: Duration,
    /// Attempts at each journal write that records the host's answer (each waits up to the
    /// journal's 5 s lock timeout); if they all fail, an approval is reversed, never shown.
    pub journal_write_attempts: u32,
    /// The wallet CA's Ed25519 public key, under which the terminal checks the device
    /// certificate of a customer's offline code (`docs/qr-customer-code.md` §2); `None`:
    /// offline codes are refused.
    pub wallet_ca: Option<[u8; 32]>,
    /// The largest offline code (minor units) accepted while the host cannot be reached; it
    /// is then queued as an advice within [`OfflineLimits`]' count and total. 0: none.
    pub offline_code_cap: u64,
    /// The profile a terminal enrolled by activation reports to its host's monitoring service
    /// (`docs/attestation.md`): the host's development policy may accept what production
    /// refuses.
    pub attestation_profile: Profile,
}

/// Store-and-forward: a sale the card approved offline (TC) at or below the AID's floor limit,
/// with offline data authentication passed, is queued as an 0220 advice within these caps.
/// They also bound the merchant-risk acceptances ([`MerchantRisk`]), which count in the same
/// queue. Online-PIN transactions are never queued (the PIN block must not be stored).
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

/// Merchant-risk offline acceptance: when the host cannot be reached, a sale the card sent
/// online (ARQC: the card wants its issuer to decide) may still be accepted and queued as an
/// advice, the merchant bearing the loss if the issuer declines it later (a blocked card, no
/// funds: whoever drops the host's packets can force these). Off by default; when enabled,
/// only at or below the AID's floor limit with ODA passed and no online PIN, within the
/// [`OfflineLimits`] and these caps, and reported as [`super::TxStatus::ApprovedAtMerchantRisk`]
/// after an [`super::Event::OfflineAtMerchantRisk`], so the screen says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MerchantRisk {
    /// Whether ARQCs may be accepted offline at all.
    pub enabled: bool,
    /// The largest amount (minor units) accepted this way.
    pub max_amount: u64,
    /// At most this many such advices waiting for the host.
    pub max_count: u64,
    /// At most this total of such advices waiting (minor units).
    pub max_total: u64,
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
            merchant_risk: MerchantRisk::default(),
            journal_write_attempts: 3,
            preauth_lifetime: Duration::from_secs(7 * 24 * 3600),
            wallet_ca: None,
            offline_code_cap: 2_000,
            attestation_profile: Profile::Production,
        }
    }
}
