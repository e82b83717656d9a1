//! The card step of an operation: ask for the card, run the kernel once per tap through
//! [`run_kernel`], and present the card again on Try Again, up to `max_taps`.

use emv::kernel::OutcomeKind;

use crate::card_session::{TapReport, run_kernel};
use crate::journal::TxKind;
use crate::reader::CardSource;
use crate::tap::{Sale, transaction_request};

use super::operations::CardOp;
use super::{Engine, Event, Timings};

impl Engine {
    /// Taps until the kernel reaches an outcome other than Try Again. A reader or kernel
    /// failure is shown as Try Again and counts as a tap; `Err` carries the reason the
    /// operation stops (no card, or no outcome after `max_taps`).
    pub(super) fn tap(
        &mut self,
        card: &mut dyn CardSource,
        op: &CardOp,
        events: &mut dyn FnMut(Event),
        timings: &mut Timings,
    ) -> Result<TapReport, String> {
        let transaction_type = if op.kind == TxKind::Refund {
            REFUND
        } else {
            PURCHASE
        };
        let mut last = String::from("no card");
        for _ in 0..self.settings.max_taps.max(1) {
            events(Event::PresentCard { amount: op.amount });
            if let Err(e) = self.wait_for_card(card) {
                return Err(format!("no card: {e}"));
            }
            let request = transaction_request(Sale {
                amount: op.amount,
                currency_code: self.terminal.terminal.currency_code,
                transaction_type,
            })
            .map_err(|_| "the OS random source failed".to_owned())?;
            match run_kernel(card, &self.terminal, self.oda.as_ref(), request, None) {
                Ok(tap) => {
                    timings.card += tap.reader.total_time;
                    timings.kernel += tap.kernel_time;
                    if tap.outcome.kind == OutcomeKind::TryAgain {
                        last = tap.outcome.reason.clone();
                        events(Event::TryAgain {
                            reason: last.clone(),
                        });
                        continue;
                    }
                    return Ok(tap);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tap failed");
                    last = e.to_string();
                    events(Event::TryAgain {
                        reason: last.clone(),
                    });
                }
            }
        }
        Err(format!("the card could not be read: {last}"))
    }
}

/// `9C` transaction type of a purchase (EMV Book 3 Annex A, ISO 8583 processing code).
const PURCHASE: u8 = 0x00;
/// `9C` transaction type of a refund.
const REFUND: u8 = 0x20;
