//! [`KernelError`] and its mapping onto an Outcome: the ONE place where errors become outcomes
//! (STYLE.md §3, like rustls's `Error` → alert).

use crate::apdu::{ApduError, StatusWord};
use crate::dol::DolError;
use crate::entry_point::EntryPointError;
use crate::pan::PanError;
use crate::tlv::{Tag, TlvError};
use crate::transport::TransportError;

use super::outcome::{OutcomeKind, Start, UiMessage};

/// Everything that can stop a transaction abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The card or the reader failed in the middle of the flow (card pulled away, ...).
    #[error("card communication failed during {step}: {source}")]
    Transport {
        /// The command being exchanged.
        step: &'static str,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// A card response is not valid BER-TLV (security requirements §F B1).
    #[error("malformed card data in the {step} response: {source}")]
    Tlv {
        /// The command whose response was malformed.
        step: &'static str,
        /// The parse error (kind and position).
        #[source]
        source: TlvError,
    },
    /// A DOL sent by the card is malformed.
    #[error("malformed data object list: {0}")]
    Dol(#[from] DolError),
    /// The PPSE could not be read.
    #[error("{0}")]
    EntryPoint(#[from] EntryPointError),
    /// A response larger than a short APDU allows (security requirements §F B2).
    #[error("the {step} response has {length} data bytes (at most 256 allowed)")]
    ResponseTooLong {
        /// The command.
        step: &'static str,
        /// The data length received.
        length: usize,
    },
    /// A primitive data object appeared twice (EMV Book 3 §10.2; security §F B3).
    #[error("the card returned data object {0} twice")]
    DuplicateTag(Tag),
    /// Mandatory card data is missing (EMV Book 3 §10.2; security §F B3).
    #[error("mandatory card data object {0} is missing")]
    MissingData(Tag),
    /// The PAN of `5A` and the PAN in track 2 `57` differ (security §F B3).
    #[error("the PAN in 5A and the PAN in track 2 (57) differ")]
    PanMismatch,
    /// Account data that is not a valid PAN or track 2.
    #[error("invalid account data: {0}")]
    InvalidAccountData(#[from] PanError),
    /// A card object has the wrong format (AFL not a multiple of 4, wrong template, ...).
    #[error("invalid card data: {0}")]
    CardData(&'static str),
    /// The card answered with a status word the flow cannot continue after.
    #[error("the card answered {status} to {step}")]
    Status {
        /// The command.
        step: &'static str,
        /// The status word.
        status: StatusWord,
    },
    /// A command could not be built (data too long for a short APDU).
    #[error("cannot build the {step} command: {source}")]
    Apdu {
        /// The command.
        step: &'static str,
        /// The APDU error.
        #[source]
        source: ApduError,
    },
    /// The terminal configuration does not fit the card's choice.
    #[error("terminal configuration: {0}")]
    Config(&'static str),
    /// The driver was used after the transaction ended.
    #[error("the transaction has already ended")]
    Finished,
}

/// How an error ends the transaction: the outcome kind, the message and the restart point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorOutcome {
    /// The outcome.
    pub kind: OutcomeKind,
    /// The message to show.
    pub ui_message: UiMessage,
    /// Where to restart.
    pub restart: Option<Start>,
}

impl From<&KernelError> for ErrorOutcome {
    /// Book A §6.2 / Book B §3.5: communication errors mean "present the card again" (Try
    /// Again, Start B); everything the card sent wrong ends the application; a card that cannot
    /// do contactless at all is sent to another interface.
    fn from(error: &KernelError) -> Self {
        let try_again = Self {
            kind: OutcomeKind::TryAgain,
            ui_message: UiMessage::PresentCardAgain,
            restart: Some(Start::B),
        };
        let end = Self {
            kind: OutcomeKind::EndApplication,
            ui_message: UiMessage::TryAnotherCard,
            restart: None,
        };
        match error {
            KernelError::Transport { source, .. } => match source {
                TransportError::CardRemoved
                | TransportError::NoCard
                | TransportError::CardReset
                | TransportError::Timeout
                | TransportError::MalformedResponse(_) => try_again,
                _ => end,
            },
            KernelError::Tlv { .. }
            | KernelError::Dol(_)
            | KernelError::EntryPoint(_)
            | KernelError::ResponseTooLong { .. }
            | KernelError::DuplicateTag(_)
            | KernelError::MissingData(_)
            | KernelError::PanMismatch
            | KernelError::InvalidAccountData(_)
            | KernelError::CardData(_)
            | KernelError::Status { .. }
            | KernelError::Apdu { .. }
            | KernelError::Config(_)
            | KernelError::Finished => end,
        }
    }
}
