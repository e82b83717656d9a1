//! How an operation stops early: the cancel points (`docs/engine.md`, "Cancel").
//!
//! Before the request is written, a cancel ends the operation aborted, nothing charged:
//! waiting for a card (the reader's wait is woken), PIN entry (the pad closes its window),
//! connecting to the host (the socket is shut down), the pending messages sent before a sale
//! (cancellable between messages). Once a byte of the request may have been written, a cancel
//! means "stop waiting": the socket is shut down and the engine reverses, as on a timeout.

use std::time::{Duration, Instant};

use emv::iso8583::Message;

use crate::acquirer::AcquirerError;
use crate::journal::TxState;

use super::{Engine, EngineError, Event, Timings, TxResult, TxStatus};
use crate::reader::{CardSource, ReaderError};

/// What a cancelled operation's result and journal row say.
pub(super) const CANCELLED: &str = "cancelled by the operator: nothing was charged";

/// The longest a card wait blocks without looking at the cancel flag (a reader that cannot
/// be woken is still stopped within this).
const CARD_WAIT_SLICE: Duration = Duration::from_millis(250);

impl Engine {
    /// Whether the running operation was cancelled.
    pub(super) fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Ends `id` aborted (nothing reached the host): journalled, announced with
    /// [`Event::Aborted`] (never as a decline). A cancelled operation says so, whatever
    /// stopped it.
    pub(super) fn aborted(
        &mut self,
        id: i64,
        why: String,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        let cancelled = self.cancelled();
        let why = if cancelled { CANCELLED.to_owned() } else { why };
        self.finish(id, TxState::Aborted, false, &why)?;
        events(Event::Aborted {
            reason: why.clone(),
            cancelled,
        });
        Ok(self.result(id, TxStatus::Aborted, None, why, timings, started))
    }

    /// Sends what is pending (an unanswered settlement, reversals, advices) before an
    /// operation, announced with
    /// [`Event::SendingPending`]; a cancel stops it between messages.
    pub(super) fn flush_pending_announced(&mut self, events: &mut dyn FnMut(Event)) {
        let count = self
            .journal
            .unfinished()
            .map(|all| {
                all.iter()
                    .filter(|r| {
                        matches!(
                            r.state,
                            TxState::ReversalPending
                                | TxState::AdvicePending
                                | TxState::Sent
                                | TxState::Answered
                        )
                    })
                    .count()
            })
            .unwrap_or(0)
            + usize::from(matches!(self.journal.unclosed_settlement(), Ok(Some(_))));
        if count > 0 {
            events(Event::SendingPending { count });
            self.flush_pending();
        }
    }

    /// Waits for a card up to the configured time, woken at once by a cancel.
    pub(super) fn wait_for_card(&self, card: &mut dyn CardSource) -> Result<(), ReaderError> {
        let deadline = Instant::now() + self.settings.card_wait;
        let _wake = card.waker().map(|wake| self.cancel.on_cancel(wake));
        loop {
            if self.cancelled() {
                return Err(ReaderError::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match card.wait_for_card(left.min(CARD_WAIT_SLICE)) {
                Err(ReaderError::NoCardInTime) if !left.is_zero() => {}
                Err(ReaderError::Cancelled) if !self.cancelled() => {}
                other => return other,
            }
        }
    }

    /// One host exchange that a cancel interrupts (the socket is shut down: before the
    /// request is written the caller aborts, after it reverses).
    pub(super) fn interruptible_exchange(
        &mut self,
        request: &Message,
    ) -> Result<Message, AcquirerError> {
        let link = self.acquirer.interrupter();
        link.reset();
        let wake = {
            let link = link.clone();
            self.cancel.on_cancel(move || link.interrupt())
        };
        let result = self.acquirer.exchange(request);
        drop(wake);
        link.reset();
        result
    }
}
