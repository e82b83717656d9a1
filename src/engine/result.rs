//! What an operation tells its user interface while it runs ([`Event`]) and what it returns
//! ([`TxResult`], [`TxStatus`], [`Timings`]).

use std::time::Duration;

/// What the engine tells its user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Ask for the card (amount in minor units).
    PresentCard {
        /// The amount to show.
        amount: u64,
    },
    /// The card was read.
    CardRead {
        /// Masked PAN.
        masked_pan: String,
        /// Application label, if any.
        label: Option<String>,
    },
    /// The card can leave the reader.
    RemoveCard,
    /// The PIN pad is up.
    EnterPin,
    /// The host said the PIN was wrong; it is asked again (with a new tap).
    WrongPin,
    /// The host wants a PIN (soft decline 65/1A); the card is read again with a PIN.
    PinRequired,
    /// Waiting for the host.
    Authorising,
    /// Approved.
    Approved {
        /// DE 38, if any.
        auth_code: Option<String>,
        /// Whether it was approved offline (queued for upload).
        offline: bool,
    },
    /// The host cannot be reached and the card asked for it (ARQC): the sale is accepted
    /// offline at the merchant's risk ([`super::MerchantRisk`], off by default). Followed by
    /// `Approved { offline: true }`; a screen shows that the issuer did not approve it.
    OfflineAtMerchantRisk {
        /// The amount accepted (minor units).
        amount: u64,
    },
    /// Declined by the host or the card: an answer that said no. Never sent for a request
    /// that was not answered ([`Event::Reversed`]) or not sent ([`Event::Aborted`]).
    Declined {
        /// Why, for the cardholder and the merchant.
        reason: String,
    },
    /// Pending reversals and advices are sent to the host before the operation (a bounded
    /// step, cancellable between messages).
    SendingPending {
        /// How many messages are pending.
        count: usize,
    },
    /// Ended before anything reached the host: nothing was charged.
    Aborted {
        /// Why.
        reason: String,
        /// Whether the operator cancelled it.
        cancelled: bool,
    },
    /// The request may have reached the host and was reversed (or the reversal is pending
    /// and will be repeated): nothing stays charged.
    Reversed {
        /// Why.
        reason: String,
        /// Whether the host acknowledged the reversal already.
        acknowledged: bool,
    },
    /// Show the merchant's code for the customer's wallet to scan (again with each new
    /// token); the same token typed as a short code pays too.
    ShowMerchantCode {
        /// The code's text (an EMVCo merchant-presented payload) to draw as a QR code.
        text: String,
        /// The token grouped for typing (`1234 5678 9012`).
        short_code: String,
        /// The amount (minor units).
        amount: u64,
        /// When the code changes (Unix seconds).
        rotates_at: u64,
        /// When the payment expires (Unix seconds).
        expires_at: u64,
    },
    /// The request to pay went to the customer's phone; waiting for their answer.
    RequestSent {
        /// The phone number or wallet ID it went to.
        alias: String,
        /// The amount (minor units).
        amount: u64,
        /// When the request expires (Unix seconds).
        expires_at: u64,
    },
    /// Present the card again.
    TryAgain {
        /// Why.
        reason: String,
    },
    /// The host did not answer (or the operator stopped waiting): the request is being
    /// reversed.
    Reversing,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxStatus {
    /// Approved by the host.
    Approved,
    /// Approved by the card offline; queued as an advice.
    ApprovedOffline,
    /// The card asked for the issuer, the host could not be reached, and the merchant accepted
    /// it offline at its own risk ([`super::MerchantRisk`]); queued as an advice. The issuer
    /// may still decline it.
    ApprovedAtMerchantRisk,
    /// Declined by the host or the card.
    Declined,
    /// Sent, but not answered in time (or answered badly): reversed (or the reversal is
    /// pending).
    Reversed,
    /// Stopped before anything reached the host.
    Aborted,
}

/// Where the time of one transaction went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Card interaction (connect and APDUs), kernel CPU included.
    pub card: Duration,
    /// The kernel's CPU share of `card`.
    pub kernel: Duration,
    /// PIN entry.
    pub pin: Duration,
    /// TCP + TLS handshake (zero when the connection was reused).
    pub tls_connect: Duration,
    /// The host exchange (request written to response read), connect excluded.
    pub host: Duration,
    /// Journal writes (each a synchronous SQLite commit).
    pub journal: Duration,
    /// From the start of the operation to its result.
    pub total: Duration,
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// The journal id.
    pub id: i64,
    /// How it ended.
    pub status: TxStatus,
    /// DE 39, if the host answered.
    pub response_code: Option<String>,
    /// DE 38, if approved.
    pub auth_code: Option<String>,
    /// The amount, tip included.
    pub amount: u64,
    /// The masked PAN, if a card was read.
    pub masked_pan: Option<String>,
    /// A human message.
    pub message: String,
    /// Where the time went.
    pub timings: Timings,
}
