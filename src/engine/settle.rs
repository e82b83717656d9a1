//! End-of-day settlement (0500/0510) and the list of what stops it.

use emv::iso8583::Message;

use crate::journal::{BatchTotals, Settlement, TxKind, TxRecord, TxState};

use super::{Engine, EngineError};

/// The result of a settlement (0500/0510).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementReport {
    /// The batch number (DE 60).
    pub batch: u32,
    /// The terminal's totals.
    pub totals: BatchTotals,
    /// The host's totals from the 0510 (DE 74-77, 86-89), if it sent them all.
    pub host_totals: Option<BatchTotals>,
    /// Whether the host found them in balance (DE 66 = `1`).
    pub in_balance: bool,
    /// DE 39.
    pub response_code: String,
    /// Pending reversals and advices sent to the host before the totals (journal ids).
    pub pushed: Vec<i64>,
    /// Every transaction the batch closes (journal ids, approved or not).
    pub transactions: Vec<i64>,
}

/// One transaction still waiting for the host, for [`EngineError::PendingBeforeSettlement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    /// The journal id.
    pub id: i64,
    /// What it is.
    pub kind: TxKind,
    /// Where it is.
    pub state: TxState,
    /// Amount in minor units.
    pub amount: u64,
    /// What is waiting, in words.
    pub waiting: String,
}

impl PendingItem {
    fn of(rec: &TxRecord, max_upload_attempts: u32) -> Self {
        let waiting = match rec.state {
            TxState::ReversalPending => format!(
                "its reversal is not acknowledged yet ({} sent)",
                rec.reversal_attempts
            ),
            TxState::AdvicePending if rec.advice_attempts >= max_upload_attempts => format!(
                "its offline approval (advice) was tried {} times and is left for the \
                 operator",
                rec.advice_attempts
            ),
            TxState::AdvicePending => format!(
                "its offline approval (advice) is not uploaded yet ({} tries)",
                rec.advice_attempts
            ),
            other => format!("it is unfinished ({})", other.as_str()),
        };
        Self {
            id: rec.id,
            kind: rec.kind,
            state: rec.state,
            amount: rec.amount,
            waiting,
        }
    }
}

/// The transactions that stop a settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingList(pub Vec<PendingItem>);

impl std::fmt::Display for PendingList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "transaction {} ({}, {} minor units): {}",
                item.id,
                item.kind.as_str(),
                item.amount,
                item.waiting
            )?;
        }
        Ok(())
    }
}

impl Engine {
    /// End-of-day settlement: the open batch's totals in a 0500; the batch is closed whatever
    /// the host answers (it closes its own batch either way, `docs/iso8583.md` §4).
    ///
    /// Pending reversals and queued advices go to the host first (a reversal or advice the
    /// host has not seen would put the two sides' totals apart); if any is still pending
    /// after that, settlement is refused with [`EngineError::PendingBeforeSettlement`], which
    /// names each one. The report lists what was pushed, the transactions the totals cover,
    /// and the host's own totals.
    ///
    /// The settlement is journalled `sent` before the 0500 is written and closed with the
    /// batch after the 0510. If no answer comes, it stays `sent`, and the next `settle`,
    /// [`Engine::recover`] or [`Engine::flush_pending`] repeats the same 0500 (same DE 11 and
    /// DE 7, which the host answers with its first answer) before anything else; that
    /// repeat's report is what `settle` returns then.
    pub fn settle(&mut self) -> Result<SettlementReport, EngineError> {
        if let Some(unclosed) = self.journal.unclosed_settlement()? {
            return self.send_settlement(&unclosed, Vec::new());
        }
        let before: Vec<i64> = self.journal.unfinished()?.iter().map(|r| r.id).collect();
        self.flush_pending();
        let still = self.journal.unfinished()?;
        if !still.is_empty() {
            let pending = still
                .iter()
                .map(|rec| PendingItem::of(rec, self.settings.offline.max_upload_attempts))
                .collect();
            return Err(EngineError::PendingBeforeSettlement(PendingList(pending)));
        }
        let transactions = self.journal.open_batch_ids()?;
        let settlement = Settlement {
            batch: self.journal.batch_number()?,
            stan: self.journal.next_stan()?,
            transmission: self.transmission_now(),
            last_id: transactions.last().copied().unwrap_or(0),
            totals: self.journal.open_batch_totals()?,
            closed: false,
            response_code: None,
        };
        self.journaled(|j| j.settlement_sent(&settlement))?;
        self.crash.at(CRASH_SETTLEMENT_SENT);
        self.send_settlement(&settlement, before)
    }

    /// Sends (or repeats) the 0500 of a journalled settlement and closes its batch on the
    /// 0510. Without an answer the settlement stays `sent`.
    pub(super) fn send_settlement(
        &mut self,
        settlement: &Settlement,
        pushed: Vec<i64>,
    ) -> Result<SettlementReport, EngineError> {
        let request = emv::iso8583::messages::reconciliation(
            self.acquirer.terminal_id(),
            settlement.stan,
            &settlement.transmission,
            settlement.batch,
            &settlement.totals,
        );
        let response = self.acquirer.exchange(&request)?;
        self.crash.at(CRASH_SETTLEMENT_ANSWERED);
        let code = response.text(39).unwrap_or("??").to_owned();
        let in_balance = response.text(66) == Some("1");
        let host_totals = host_totals(&response);
        let transactions = self.journal.settlement_ids(settlement)?;
        self.journal.settlement_closed(settlement, &code)?;
        Ok(SettlementReport {
            batch: settlement.batch,
            totals: settlement.totals,
            host_totals,
            in_balance,
            response_code: code,
            pushed,
            transactions,
        })
    }
}

/// The host's totals in a 0510 (DE 74-77, 86-89), if every one is present and numeric.
fn host_totals(response: &Message) -> Option<BatchTotals> {
    BatchTotals::from_message(response)
}

/// Crash point: the settlement is journalled `sent`, the 0500 not yet written.
const CRASH_SETTLEMENT_SENT: &str = "settlement-sent";
/// Crash point: the 0510 is in, the batch not yet closed.
const CRASH_SETTLEMENT_ANSWERED: &str = "settlement-answered";
