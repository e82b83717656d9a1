//! Crash recovery: finishing what the journal shows unfinished (`docs/engine.md`).

use crate::journal::{TxKind, TxRecord, TxState};

use super::{APPROVED, Engine, EngineError, SettlementReport, decline_message, messages};

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Transactions closed as aborted (nothing had been sent).
    pub aborted: Vec<i64>,
    /// Transactions reversed.
    pub reversed: Vec<i64>,
    /// Transactions whose answer was learnt by repeating the same request.
    pub confirmed: Vec<i64>,
    /// Transactions still pending (the host is unreachable): retried at the next start or
    /// before the next transaction.
    pub pending: Vec<i64>,
    /// A settlement left unanswered, repeated and closed now.
    pub settlement: Option<SettlementReport>,
    /// Pre-authorizations expired uncompleted (reversed, their sealed PAN wiped).
    pub expired: Vec<i64>,
    /// The batch of a settlement still unanswered (the host is unreachable): repeated at the
    /// next start, before the next transaction, or by the next settlement.
    pub settlement_pending: Option<u32>,
}

impl Engine {
    /// Finishes what a crash (or an unreachable host) left in the journal:
    /// - created, card read, PIN done: nothing was sent → aborted;
    /// - sent, or answered and approved but not done: reversed (a void or completion, which
    ///   the journal can rebuild exactly, is repeated instead to learn the host's answer);
    /// - answered and not approved: done, declined;
    /// - reversal pending: the reversal is repeated (0401) until acknowledged;
    /// - a settlement sent and not closed: first of all, the same 0500 is repeated and the
    ///   batch closed on the answer (before anything else reaches the host, so that the host
    ///   closes the same batch as the terminal).
    pub fn recover(&mut self) -> Result<RecoveryReport, EngineError> {
        let mut report = RecoveryReport::default();
        if let Some(unclosed) = self.journal.unclosed_settlement()? {
            match self.send_settlement(&unclosed, Vec::new()) {
                Ok(settled) => report.settlement = Some(settled),
                Err(e) => {
                    tracing::warn!(batch = unclosed.batch, error = %e, "settlement left unanswered");
                    report.settlement_pending = Some(unclosed.batch);
                }
            }
        }
        for rec in self.journal.unfinished()? {
            match rec.state {
                TxState::Created | TxState::CardRead | TxState::PinDone => {
                    self.finish(
                        rec.id,
                        TxState::Aborted,
                        false,
                        "interrupted before it was sent",
                    )?;
                    report.aborted.push(rec.id);
                }
                TxState::Answered if rec.response_code.as_deref() != Some(APPROVED) => {
                    let why = format!(
                        "declined ({})",
                        rec.response_code.as_deref().unwrap_or("??")
                    );
                    self.finish(rec.id, TxState::Done, false, &why)?;
                    report.confirmed.push(rec.id);
                }
                TxState::Sent | TxState::Answered
                    if matches!(rec.kind, TxKind::Void | TxKind::Completion) =>
                {
                    match self.repeat_rebuildable(&rec) {
                        Ok(()) => report.confirmed.push(rec.id),
                        Err(e) => {
                            tracing::warn!(id = rec.id, error = %e, "repeat failed; left pending");
                            report.pending.push(rec.id);
                        }
                    }
                }
                TxState::Sent | TxState::Answered | TxState::ReversalPending => {
                    if self.reverse(rec.id, "interrupted after it was sent")? {
                        report.reversed.push(rec.id);
                    } else {
                        report.pending.push(rec.id);
                    }
                }
                TxState::AdvicePending => match self.upload_advice(&rec) {
                    Ok(true) => report.confirmed.push(rec.id),
                    _ => report.pending.push(rec.id),
                },
                _ => report.pending.push(rec.id),
            }
        }
        report.expired = self.expire_preauths()?;
        Ok(report)
    }

    /// A transaction left `sent` or `answered` between operations (a crash, or an answer the
    /// journal could not record): a decline is closed, a void or completion repeated, anything
    /// else reversed. Returns whether it is finished.
    pub(super) fn resolve_in_flight(&mut self, rec: &TxRecord) -> Result<bool, EngineError> {
        if rec.state == TxState::Answered && rec.response_code.as_deref() != Some(APPROVED) {
            let why = format!(
                "declined ({})",
                rec.response_code.as_deref().unwrap_or("??")
            );
            self.finish(rec.id, TxState::Done, false, &why)?;
            return Ok(true);
        }
        if matches!(rec.kind, TxKind::Void | TxKind::Completion) {
            return self.repeat_rebuildable(rec).map(|()| true);
        }
        self.reverse(rec.id, "left unfinished after it was sent")
    }

    /// Recovery of a void or completion: the same request (same DE 11 and DE 7; a
    /// completion as 0221) gets the host's original answer (`docs/iso8583.md` §7).
    pub(super) fn repeat_rebuildable(&mut self, rec: &TxRecord) -> Result<(), EngineError> {
        let original_id = rec
            .original_id
            .ok_or(EngineError::UnknownTransaction(rec.id))?;
        let original = self
            .journal
            .get(original_id)?
            .ok_or(EngineError::UnknownTransaction(original_id))?;
        let (Some(stan), Some(transmission)) = (rec.stan, rec.transmission.clone()) else {
            // Never stamped: it was never sent.
            self.finish(
                rec.id,
                TxState::Aborted,
                false,
                "interrupted before it was sent",
            )?;
            return Ok(());
        };
        let request = match rec.kind {
            TxKind::Void => messages::void(&self.terminal_fields(), stan, &transmission, &original),
            _ => self.completion_request(rec, &original, stan, &transmission, true)?,
        };
        let response = self.acquirer.exchange(&request)?;
        let code = response.text(39).unwrap_or("??").to_owned();
        self.journal
            .answered(rec.id, &code, response.text(38), response.text(37))?;
        let approved = code == APPROVED;
        let why = if approved {
            "approved".to_owned()
        } else {
            decline_message(&code)
        };
        self.finish(rec.id, TxState::Done, approved, &why)?;
        if approved && rec.kind == TxKind::Void {
            self.journal.mark_voided(original_id)?;
        } else if approved {
            self.journal.mark_completed(original_id)?;
            self.journal.forget_pan(original_id)?;
        }
        Ok(())
    }
}
