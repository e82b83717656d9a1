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
    /// Declined (or reversed, or stopped).
    Declined {
        /// Why, for the cardholder and the merchant.
        reason: String,
    },
    /// Present the card again.
    TryAgain {
        /// Why.
        reason: String,
    },
    /// The host did not answer: the request is being reversed.
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
