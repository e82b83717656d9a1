//! The PC/SC implementation of [`emv::CardTransport`], with the `pcsc` crate.
//!
//! One tap is one PC/SC transaction (STYLE.md §6): [`PcscReader::tap`] connects to the card,
//! begins a transaction, lends the kernel a transport for the length of the tap, and ends the
//! transaction when the closure returns, whatever happened. A card reset by another
//! application is reconnected once; a card pulled away or a reader unplugged becomes a clear
//! [`TransportError`] for the kernel, which turns it into an outcome.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use emv::{CardTransport, Command, Response, TransportError};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use super::{CardSource, ReaderError, TapInfo};

/// A reader the PC/SC service knows, and whether a card is in its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's name as PC/SC reports it (for example `Virtual PCD 00 00`).
    pub name: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The ATR of the card present, if any.
    pub atr: Vec<u8>,
}

/// A PC/SC reader chosen by name.
pub struct PcscReader {
    context: Context,
    name: CString,
}

impl CardSource for PcscReader {
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError> {
        PcscReader::wait_for_card(self, timeout)
    }

    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        let ((), info) = self.tap(|transport| f(transport))?;
        Ok(info)
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let waker = PcscReader::waker(self);
        Some(Box::new(move || waker.wake()))
    }
}

impl PcscReader {
    /// Lists the readers of the PC/SC service with their card status.
    pub fn list() -> Result<Vec<ReaderInfo>, ReaderError> {
        let context = establish()?;
        let names = reader_names(&context)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states: Vec<ReaderState> = names
            .iter()
            .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
            .collect();
        context
            .get_status_change(Duration::ZERO, &mut states)
            .map_err(ReaderError::Pcsc)?;
        Ok(states
            .iter()
            .map(|s| ReaderInfo {
                name: s.name().to_string_lossy().into_owned(),
                card_present: s.event_state().contains(State::PRESENT),
                atr: s.atr().to_vec(),
            })
            .collect())
    }

    /// Opens the reader called `name`, or, with `None`, the first reader that has a card (or
    /// else the first reader).
    pub fn open(name: Option<&str>) -> Result<Self, ReaderError> {
        let context = establish()?;
        let names = reader_names(&context)?;
        let chosen = match name {
            Some(wanted) => names
                .into_iter()
                .find(|n| n.to_string_lossy() == wanted)
                .ok_or_else(|| ReaderError::UnknownReader(wanted.to_owned()))?,
            None => {
                let infos = Self::list()?;
                let with_card = infos
                    .iter()
                    .find(|i| i.card_present)
                    .map(|i| i.name.clone());
                let first = infos
                    .first()
                    .map(|i| i.name.clone())
                    .ok_or(ReaderError::NoReader)?;
                CString::new(with_card.unwrap_or(first))
                    .map_err(|_| ReaderError::UnknownReader("(name with a NUL byte)".into()))?
            }
        };
        Ok(Self {
            context,
            name: chosen,
        })
    }

    /// The reader's name.
    pub fn name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    /// Whether a card is in the field now.
    pub fn card_present(&self) -> Result<bool, ReaderError> {
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        self.context
            .get_status_change(Duration::ZERO, &mut states)
            .map_err(ReaderError::Pcsc)?;
        Ok(states[0].event_state().contains(State::PRESENT))
    }

    /// A handle that, from any thread, ends a [`PcscReader::wait_for_card`] or
    /// [`PcscReader::wait_for_removal`] blocked in this reader's context at once (the wait
    /// answers [`ReaderError::Cancelled`]).
    pub fn waker(&self) -> ReaderWaker {
        ReaderWaker(self.context.clone())
    }

    /// Waits until a card is in the field, at most `timeout`.
    pub fn wait_for_card(&self, timeout: Duration) -> Result<(), ReaderError> {
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        loop {
            match self.context.get_status_change(
                deadline.saturating_duration_since(Instant::now()),
                &mut states,
            ) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Err(ReaderError::NoCardInTime),
                Err(e) => return Err(map_reader_error(e)),
            }
            let event = states[0].event_state();
            if event.contains(State::PRESENT) && !event.contains(State::MUTE) {
                return Ok(());
            }
            if event.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                return Err(ReaderError::ReaderGone);
            }
            if Instant::now() >= deadline {
                return Err(ReaderError::NoCardInTime);
            }
            states[0].sync_current_state();
        }
    }

    /// Waits until the card has left the field, at most `timeout` (the "remove card" step).
    pub fn wait_for_removal(&self, timeout: Duration) -> Result<(), ReaderError> {
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        loop {
            match self.context.get_status_change(
                deadline.saturating_duration_since(Instant::now()),
                &mut states,
            ) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Err(ReaderError::NoCardInTime),
                Err(e) => return Err(map_reader_error(e)),
            }
            if states[0].event_state().contains(State::EMPTY) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ReaderError::NoCardInTime);
            }
            states[0].sync_current_state();
        }
    }

    /// Runs one tap: connects to the card, holds a PC/SC transaction for the length of `f`,
    /// and hands `f` a transport. The transaction ends (leaving the card powered) when `f`
    /// returns. If another application reset the card before the tap, it is reconnected once.
    pub fn tap<R>(
        &self,
        f: impl FnOnce(&mut dyn CardTransport) -> R,
    ) -> Result<(R, TapInfo), ReaderError> {
        let started = Instant::now();
        let mut card = self.connect()?;
        let atr = card
            .status2_owned()
            .map(|s| s.atr().to_vec())
            .map_err(map_reader_error)?;
        let transaction = match card.transaction2() {
            Ok(t) => t,
            Err((card, pcsc::Error::ResetCard)) => {
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                    .map_err(map_reader_error)?;
                card.transaction().map_err(map_reader_error)?
            }
            Err((_, e)) => return Err(map_reader_error(e)),
        };
        let connected = started.elapsed();
        let mut transport = TransactionTransport {
            card: &transaction,
            exchanges: 0,
        };
        let result = f(&mut transport);
        let exchanges = transport.exchanges;
        // Ending the transaction fails only if the card has gone, which the result reports.
        // The connection closes when `card` is dropped, which resets the card (the `pcsc`
        // crate disconnects with `ResetCard`): the next tap starts on a fresh card session.
        let _ = transaction.end(Disposition::LeaveCard);
        Ok((
            result,
            TapInfo {
                atr,
                connect_time: connected,
                total_time: started.elapsed(),
                exchanges,
            },
        ))
    }

    fn connect(&self) -> Result<pcsc::Card, ReaderError> {
        self.context
            .connect(&self.name, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| match e {
                pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => ReaderError::NoCard,
                other => map_reader_error(other),
            })
    }
}

/// Ends a blocking wait of a [`PcscReader`] from another thread (`SCardCancel`).
#[derive(Clone)]
pub struct ReaderWaker(Context);

impl ReaderWaker {
    /// Ends the reader's current blocking wait (a wait that has not started yet is not
    /// affected: callers check their own cancel flag before each wait).
    pub fn wake(&self) {
        if let Err(e) = self.0.cancel() {
            tracing::warn!(error = %e, "could not cancel the PC/SC wait");
        }
    }
}

impl std::fmt::Debug for ReaderWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReaderWaker")
    }
}

struct TransactionTransport<'a, 'tx> {
    card: &'a pcsc::Transaction<'tx>,
    exchanges: usize,
}

impl CardTransport for TransactionTransport<'_, '_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let bytes = command.try_serialize()?;
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        self.exchanges += 1;
        let answer = self
            .card
            .transmit(&bytes, &mut buffer)
            .map_err(map_transport_error)?;
        let response = Response::from_bytes(answer);
        buffer.fill(0);
        Ok(response?)
    }
}

fn establish() -> Result<Context, ReaderError> {
    Context::establish(Scope::User).map_err(|e| match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => ReaderError::NoService,
        other => ReaderError::Pcsc(other),
    })
}

fn reader_names(context: &Context) -> Result<Vec<CString>, ReaderError> {
    match context.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .filter(|n| n.as_c_str() != pnp())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(map_reader_error(e)),
    }
}

fn pnp() -> &'static CStr {
    pcsc::PNP_NOTIFICATION()
}

fn map_reader_error(e: pcsc::Error) -> ReaderError {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => ReaderError::NoService,
        pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard => ReaderError::NoCard,
        pcsc::Error::ReaderUnavailable | pcsc::Error::UnknownReader => ReaderError::ReaderGone,
        pcsc::Error::Cancelled => ReaderError::Cancelled,
        other => ReaderError::Pcsc(other),
    }
}

/// Maps PC/SC errors during an exchange. A card that leaves the field mid-exchange shows up as
/// "removed card", or, before pcscd's polling has noticed the removal, as "not transacted" or a
/// communication error: all three are a card gone from the field, which the kernel answers with
/// Try Again (present the card again), as EMV Book A prescribes for transmission errors.
fn map_transport_error(e: pcsc::Error) -> TransportError {
    match e {
        pcsc::Error::RemovedCard
        | pcsc::Error::NoSmartcard
        | pcsc::Error::NotTransacted
        | pcsc::Error::CommError => TransportError::CardRemoved,
        pcsc::Error::ResetCard => TransportError::CardReset,
        pcsc::Error::ReaderUnavailable
        | pcsc::Error::UnknownReader
        | pcsc::Error::NoService
        | pcsc::Error::ServiceStopped => TransportError::ReaderUnavailable,
        pcsc::Error::Timeout => TransportError::Timeout,
        other => TransportError::Other(Box::new(other)),
    }
}
