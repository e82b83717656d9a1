//! Card readers: where taps come from. A reader only finds the card and lends a transport to
//! it; the kernel is run over that transport in one place, [`crate::card_session::run_kernel`].
//!
//! [`pcsc`] reads real and virtual contactless readers through the PC/SC service (`pcscd`). A
//! tester's USB NFC reader and the `vpcd` virtual reader that `hsm-sim card` plugs into look
//! the same from here. `virtual_card` (with the `demo` feature) runs a simulated card in this
//! process, for the demo and the tests.

use std::time::Duration;

use emv::CardTransport;

pub mod pcsc;
#[cfg(feature = "demo")]
pub mod virtual_card;

pub use pcsc::{PcscReader, ReaderInfo, ReaderWaker};
#[cfg(feature = "demo")]
pub use virtual_card::VirtualCardSource;

/// Where the card of a tap is: a reader that waits for a card and, once one is there, lends a
/// transport to it for the length of one tap.
///
/// Every tap starts on a freshly reset card: a PC/SC reader connects anew for each tap and
/// the card is reset when the connection closes; the in-process card is power-cycled.
pub trait CardSource: Send {
    /// Waits up to `timeout` for a card in the field.
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError>;

    /// Runs one tap: connects to the card, hands `f` a transport for as long as `f` runs, and
    /// releases the card when `f` returns. Returns what the tap cost at the reader.
    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError>;

    /// Something that ends a [`CardSource::wait_for_card`] blocked on another thread at once
    /// (the operator's cancel: the wait answers [`ReaderError::Cancelled`]); `None` if the
    /// wait cannot be woken (the engine then waits in slices of a fraction of a second).
    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        None
    }
}

/// What a tap cost at the reader, for `softpos tap`, the engine's timings and the benchmarks.
#[derive(Debug, Clone)]
pub struct TapInfo {
    /// The card's answer to reset.
    pub atr: Vec<u8>,
    /// Time to connect and begin the PC/SC transaction (zero for an in-process card).
    pub connect_time: Duration,
    /// Time from connect to the end of the transaction: the whole card interaction, the
    /// kernel's own processing between exchanges included.
    pub total_time: Duration,
    /// Number of APDUs exchanged.
    pub exchanges: usize,
}

/// Errors of the reader layer, before or around a tap.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError {
    /// The PC/SC service is not running.
    #[error(
        "the smart card service (pcscd) is not running; start it with `pcscd` or `scripts/run`"
    )]
    NoService,
    /// The service knows no reader.
    #[error("no card reader found; plug in a reader, or start a virtual card with `hsm-sim card`")]
    NoReader,
    /// The reader named by the user does not exist.
    #[error("no reader called {0:?}; `softpos readers` lists them")]
    UnknownReader(String),
    /// No card in the field.
    #[error("no card on the reader")]
    NoCard,
    /// No card came within the time allowed.
    #[error("no card was presented in time")]
    NoCardInTime,
    /// The reader was unplugged.
    #[error("the reader was unplugged")]
    ReaderGone,
    /// Any other PC/SC error.
    #[error("PC/SC error")]
    Pcsc(#[source] ::pcsc::Error),
    /// The wait was cancelled ([`CardSource::waker`]).
    #[error("cancelled")]
    Cancelled,
}
