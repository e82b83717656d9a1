//! The errors that stop an operation.

use crate::acquirer::AcquirerError;
use crate::journal::JournalError;

use super::PendingList;

/// Errors that stop an operation (a declined or reversed transaction is a
/// [`TxResult`](super::TxResult), not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The journal failed: the engine stops rather than lose track of money.
    #[error("the journal failed")]
    Journal(#[from] JournalError),
    /// The acquirer link failed outside a transaction (sign-on, settlement).
    #[error(transparent)]
    Acquirer(#[from] AcquirerError),
    /// No such transaction.
    #[error("no transaction {0} in the journal")]
    UnknownTransaction(i64),
    /// Nothing in the open batch can be voided.
    #[error("there is no approved transaction to void in the open batch")]
    NothingToVoid,
    /// The transaction is not an approved, open pre-authorization.
    #[error("transaction {0} is not an approved pre-authorization that can be completed")]
    NotCompletable(i64),
    /// The transaction cannot be refunded (not an approved sale, or amount too large).
    #[error("transaction {0} cannot be refunded for that amount")]
    NotRefundable(i64),
    /// The host refuses the terminal's clock (DE 7 more than 15 minutes from the host's):
    /// nothing is sent until the clock is set right and a sign-on succeeds.
    #[error(
        "the acquirer host refuses this terminal's clock (more than 15 minutes from UTC): set \
         the clock, then sign on again; nothing was sent"
    )]
    ClockSkew,
    /// The host's monitoring service blocked this terminal (`docs/attestation.md`): nothing is
    /// read or sent until the provider unblocks it or it is enrolled again.
    #[error("terminal blocked, contact your provider")]
    Blocked,
    /// Settlement waits until no transaction is pending with the host (the pending messages
    /// were tried once more first).
    #[error(
        "settlement refused: the host has not acknowledged everything yet, and the totals \
         would not match: {0}. Settle again when the host is reachable"
    )]
    PendingBeforeSettlement(PendingList),
    /// The customer's code does not pass the terminal's checks (`docs/qr-customer-code.md`):
    /// nothing was journalled or sent.
    #[error("the customer's code is refused: {0}")]
    Code(String),
}
