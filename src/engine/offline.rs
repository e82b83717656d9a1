//! Store-and-forward: offline approvals queued as 0220 advices, the caps that allow them, and
//! their upload.

use std::time::Instant;

use emv::kernel::OnlineRequestData;

use crate::journal::{TxKind, TxRecord, TxState};

use super::operations::CardOp;
use super::{APPROVED, Engine, EngineError, Event, Timings, TxResult, TxStatus, messages};

impl Engine {
    /// Repeats an unanswered settlement, expires pre-authorizations past their lifetime
    /// ([`Engine::expire_preauths`]), retries pending reversals, resolves transactions left
    /// `sent` or `answered` (as [`Engine::recover`] does) and uploads queued advices, once each (best effort; errors are logged and left for later; a cancel leaves the
    /// reversals and advices not yet sent for later). Returns how many are still pending.
    pub fn flush_pending(&mut self) -> usize {
        let mut left = 0;
        // An unanswered settlement goes first: the host must close the batch the terminal
        // counted, before any other message reaches it.
        if let Ok(Some(unclosed)) = self.journal.unclosed_settlement()
            && let Err(e) = self.send_settlement(&unclosed, Vec::new())
        {
            tracing::warn!(batch = unclosed.batch, error = %e, "settlement still unanswered");
            left += 1;
        }
        match self.expire_preauths() {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(?expired, "expired pre-authorizations released");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "pre-authorizations not expired");
                left += 1;
            }
        }
        let Ok(pending) = self.journal.unfinished() else {
            return usize::MAX;
        };
        for rec in pending {
            if self.cancelled() {
                left += 1;
                continue;
            }
            let done = match rec.state {
                TxState::ReversalPending => self.reverse(rec.id, "pending reversal"),
                // Nothing is in flight between operations: a row left `sent` or `answered`
                // is one whose answer could not be journalled (or was never read).
                TxState::Sent | TxState::Answered => self.resolve_in_flight(&rec),
                TxState::AdvicePending => self.upload_advice(&rec),
                _ => Ok(false),
            };
            match done {
                Ok(true) => {}
                Ok(false) => left += 1,
                Err(e) => {
                    tracing::warn!(id = rec.id, error = %e, "pending message not sent");
                    left += 1;
                }
            }
        }
        left
    }

    /// Uploads one queued advice (0220, repeats 0221 with the same DE 11 and DE 7, so the
    /// host posts it exactly once). Returns whether the host acknowledged it.
    pub(super) fn upload_advice(&mut self, rec: &TxRecord) -> Result<bool, EngineError> {
        if rec.method == crate::journal::PaymentMethod::OfflineCode {
            return self.upload_code_advice(rec);
        }
        if rec.advice_attempts >= self.settings.offline.max_upload_attempts {
            return Ok(false);
        }
        let (Some(stan), Some(transmission)) = (rec.stan, rec.transmission.clone()) else {
            return Ok(false);
        };
        let pan = self
            .journal
            .sealed_pan(rec.id)?
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let advice = self
            .journal
            .advice_data(rec.id)?
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let request = messages::advice(
            &self.terminal_fields(),
            rec.advice_attempts > 0,
            rec.amount,
            stan,
            &transmission,
            &pan,
            &advice.icc_data,
            advice.expiry.as_deref(),
            advice.pan_sequence_number,
        );
        drop(pan);
        self.journaled(|j| j.advice_attempted(rec.id))?;
        let response = match self.acquirer.exchange(&request) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(id = rec.id, error = %e, "advice not uploaded yet");
                return Ok(false);
            }
        };
        let code = response.text(39).unwrap_or("??").to_owned();
        if code != APPROVED {
            tracing::warn!(id = rec.id, %code, "advice refused");
            return Ok(false);
        }
        self.journaled(|j| j.answered(rec.id, &code, None, response.text(37)))?;
        self.journaled(|j| j.finish(rec.id, TxState::Done, true, "approved offline; uploaded"))?;
        self.journal.forget_pan(rec.id)?;
        Ok(true)
    }

    /// Whether a sale that could not reach the host may be approved offline and queued.
    pub(super) fn offline_allowed(
        &self,
        online: &OnlineRequestData,
        amount: u64,
        oda_passed: bool,
    ) -> Result<bool, EngineError> {
        let floor = self
            .terminal
            .aid_for(&online.aid)
            .and_then(|a| a.floor_limit)
            .unwrap_or(0);
        let limits = self.settings.offline;
        let queue = self.journal.advice_queue_at(self.clock.now())?;
        let too_old = queue
            .oldest_age
            .is_some_and(|age| age > limits.max_age.as_secs_f64());
        // A clock behind a queued advice was set back: the age cap cannot be trusted, so the
        // queue counts as too old until the clock is past it again.
        let clock_back = queue
            .newest_age
            .is_some_and(|age| age < -CLOCK_BACK_TOLERANCE_SECS);
        Ok(oda_passed
            && amount <= floor
            && queue.count < limits.max_count
            && queue.total.saturating_add(amount) <= limits.max_total
            && !too_old
            && !clock_back)
    }

    /// Whether a sale the card sent online (ARQC) may be accepted offline at the merchant's
    /// risk now that the host cannot be reached: only when [`super::MerchantRisk`] is enabled,
    /// within its caps and within [`Engine::offline_allowed`].
    pub(super) fn merchant_risk_allowed(
        &self,
        online: &OnlineRequestData,
        amount: u64,
        oda_passed: bool,
    ) -> Result<bool, EngineError> {
        let risk = self.settings.merchant_risk;
        if !risk.enabled {
            return Ok(false);
        }
        let (count, total) = self.journal.merchant_risk_queue()?;
        Ok(amount <= risk.max_amount
            && count < risk.max_count
            && total.saturating_add(amount) <= risk.max_total
            && self.offline_allowed(online, amount, oda_passed)?)
    }

    /// The card approved offline (a TC with ODA passed, Book C-3 §5 / C-2): the approval is
    /// journalled and queued as an 0220 advice carrying the TC (store-and-forward, uploaded by
    /// [`Engine::flush_pending`] before the next transaction), within the offline caps. A sale
    /// only; outside the caps it is declined, nothing is charged.
    pub(super) fn card_approved_offline(
        &mut self,
        id: i64,
        op: &CardOp,
        outcome: emv::kernel::Outcome,
        events: &mut dyn FnMut(Event),
        timings: Timings,
        started: Instant,
    ) -> Result<TxResult, EngineError> {
        let oda_passed = outcome.oda.as_ref().is_some_and(|r| r.passed());
        let refused: Option<&str> = match (&outcome.advice, op.kind) {
            (None, _) => Some("the card approved offline without the data an advice needs"),
            (Some(_), kind) if kind != TxKind::Sale => {
                Some("the card approved offline, but only a sale can be approved offline")
            }
            (Some(advice), _) if !self.offline_allowed(advice, op.amount, oda_passed)? => Some(
                "the card approved offline, but the terminal's offline limits (floor limit, \
                 ODA, queued advices' count, value or age, a clock set back) do not allow it: \
                 nothing was charged",
            ),
            _ => None,
        };
        let Some(advice) = outcome.advice.filter(|_| refused.is_none()) else {
            let why = refused.unwrap_or_default().to_owned();
            self.finish(id, TxState::Done, false, &why)?;
            events(Event::Declined {
                reason: why.clone(),
            });
            return Ok(self.result(id, TxStatus::Declined, None, why, timings, started));
        };
        self.journaled(|j| j.card_read(id, &advice.pan, outcome.card.label.as_deref(), false))?;
        let details =
            super::operations::card_details(&outcome.card, outcome.cvm, outcome.tvr, false);
        self.journaled(|j| j.card_details(id, &details))?;
        self.crash.at(TxState::CardRead.as_str());
        events(Event::CardRead {
            masked_pan: advice.masked_pan.as_str().to_owned(),
            label: outcome.card.label.clone(),
        });
        events(Event::RemoveCard);
        let stan = self.journal.next_stan()?;
        let transmission = self.transmission_now();
        self.journaled(|j| {
            j.queue_advice(
                id,
                &advice.pan,
                &advice.icc_data,
                &advice.expiry_yymm,
                advice.pan_sequence_number,
                stan,
                &transmission,
                false,
            )
        })?;
        drop(advice);
        self.crash.at(TxState::AdvicePending.as_str());
        events(Event::Approved {
            auth_code: None,
            offline: true,
        });
        let why = "approved offline by the card (TC); queued for the host".to_owned();
        Ok(self.result(id, TxStatus::ApprovedOffline, None, why, timings, started))
    }
}

pub(super) struct Offline {
    pub(super) possible: bool,
    pub(super) need_pin: bool,
    pub(super) oda_passed: bool,
    pub(super) amount: u64,
}

/// How far behind the newest queued advice the clock may read before it counts as set back
/// (the journal's times and the clock are both the system's; this absorbs rounding).
const CLOCK_BACK_TOLERANCE_SECS: f64 = 1.0;
