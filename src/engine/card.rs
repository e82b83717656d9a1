//! Where the engine gets a card from: a PC/SC reader (a USB reader, or a virtual card behind
//! pcscd + vpcd), or a virtual card in this process.

use std::time::{Duration, Instant};

use emv::config::TerminalConfig;
use emv::kernel::{Outcome, TransactionRequest};
use emv::oda::OfflineDataAuthenticator;
use hsm_sim::card::VirtualCard;

use crate::reader::{PcscReader, ReaderError};

/// One kernel run on a card and what it cost.
#[derive(Debug)]
pub struct CardTap {
    /// The kernel's outcome.
    pub outcome: Outcome,
    /// Time the card interaction took, connect included (kernel CPU included).
    pub card_time: Duration,
    /// The kernel's own CPU time, between exchanges.
    pub kernel_time: Duration,
}

/// A source of card taps for the engine.
pub trait CardReader {
    /// Runs the kernel on the card in front of the reader for `request`.
    fn tap(
        &mut self,
        config: &TerminalConfig,
        oda: &dyn OfflineDataAuthenticator,
        request: TransactionRequest,
    ) -> Result<CardTap, CardError>;

    /// Waits up to `timeout` for a card (readers that cannot tell return at once).
    fn wait_for_card(&mut self, _timeout: Duration) -> Result<(), CardError> {
        Ok(())
    }

    /// Something that ends a [`CardReader::wait_for_card`] blocked on another thread at once
    /// (the operator's cancel); `None` if the wait cannot be woken (it is then stopped at its
    /// next slice, a fraction of a second).
    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        None
    }
}

impl CardReader for PcscReader {
    fn tap(
        &mut self,
        config: &TerminalConfig,
        oda: &dyn OfflineDataAuthenticator,
        request: TransactionRequest,
    ) -> Result<CardTap, CardError> {
        let report = crate::tap::tap(self, config, oda, request, None)?;
        Ok(CardTap {
            outcome: report.outcome,
            card_time: report.reader.total_time,
            kernel_time: report.kernel_time,
        })
    }

    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), CardError> {
        Ok(PcscReader::wait_for_card(self, timeout)?)
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let waker = PcscReader::waker(self);
        Some(Box::new(move || waker.wake()))
    }
}

impl CardReader for VirtualCard {
    fn tap(
        &mut self,
        config: &TerminalConfig,
        oda: &dyn OfflineDataAuthenticator,
        request: TransactionRequest,
    ) -> Result<CardTap, CardError> {
        self.power_cycle();
        let started = Instant::now();
        let outcome = emv::kernel::run(self, config, oda, request, None)
            .map_err(|e| CardError::Kernel(e.to_string()))?;
        let elapsed = started.elapsed();
        Ok(CardTap {
            outcome,
            card_time: elapsed,
            kernel_time: elapsed,
        })
    }
}

/// Why a tap did not reach an outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The reader failed (no card, card removed, pcscd gone).
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// The kernel driver was misused (a bug, not a card problem).
    #[error("kernel error: {0}")]
    Kernel(String),
}
