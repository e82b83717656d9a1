//! Settlement as a journalled state: the 0500 is recorded (`sent`, with its batch, DE 11, DE 7,
//! totals and the last transaction it covers) before it is written, and `closed` together with
//! the batch itself, in one SQLite transaction, after the 0510. A settlement found `sent` after
//! a crash is repeated with the same DE 11 and DE 7 (the host answers a repeat with its first
//! answer) and then closed, so the terminal's batch and the host's stay in step.

use rusqlite::{OptionalExtension, params};

use super::{BatchTotals, Journal, JournalError, now, to_i64, to_u64};

/// A settlement the journal knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The batch number (DE 60).
    pub batch: u32,
    /// DE 11 of the 0500.
    pub stan: u32,
    /// DE 7 of the 0500.
    pub transmission: String,
    /// The highest transaction id the batch covers (0 for an empty batch): transactions made
    /// after the 0500 was recorded stay in the next batch.
    pub last_id: i64,
    /// The totals sent.
    pub totals: BatchTotals,
    /// Whether the batch is closed (the host answered).
    pub closed: bool,
    /// DE 39 of the 0510, once answered.
    pub response_code: Option<String>,
}

impl Journal {
    /// Records a settlement about to be sent (state `sent`), before its first byte is written.
    pub fn settlement_sent(&self, settlement: &Settlement) -> Result<(), JournalError> {
        let t = &settlement.totals;
        self.conn.execute(
            "INSERT INTO settlements (batch, state, stan, transmission, last_id, credits,
                 credit_reversals, debits, debit_reversals, credits_amount,
                 credit_reversals_amount, debits_amount, debit_reversals_amount, created_at,
                 updated_at)
             VALUES (?1, 'sent', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
            params![
                settlement.batch,
                settlement.stan,
                settlement.transmission,
                settlement.last_id,
                to_i64(t.credits),
                to_i64(t.credit_reversals),
                to_i64(t.debits),
                to_i64(t.debit_reversals),
                to_i64(t.credits_amount),
                to_i64(t.credit_reversals_amount),
                to_i64(t.debits_amount),
                to_i64(t.debit_reversals_amount),
                now()
            ],
        )?;
        Ok(())
    }

    /// The settlement that was sent and not closed, if any (at most one: a new one is only
    /// started once the last is closed).
    pub fn unclosed_settlement(&self) -> Result<Option<Settlement>, JournalError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE state = 'sent'"),
                [],
                settlement,
            )
            .optional()?)
    }

    /// The settlement of `batch`, if one was recorded.
    pub fn settlement(&self, batch: u32) -> Result<Option<Settlement>, JournalError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE batch = ?1"),
                [batch],
                settlement,
            )
            .optional()?)
    }

    /// The ids the settlement covers that are still in the open batch, oldest first.
    pub fn settlement_ids(&self, settlement: &Settlement) -> Result<Vec<i64>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM transactions
             WHERE batch IS NULL AND id <= ?1 AND state IN ('done', 'reversed', 'aborted')
             ORDER BY id",
        )?;
        let rows = stmt.query_map([settlement.last_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Closes the settlement's batch after the host's answer, in one SQLite transaction: the
    /// transactions it covers get its batch number, the batch counter moves on, and the
    /// settlement is `closed` with the host's DE 39.
    pub fn settlement_closed(
        &mut self,
        settlement: &Settlement,
        response_code: &str,
    ) -> Result<(), JournalError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE transactions SET batch = ?1
             WHERE batch IS NULL AND id <= ?2 AND state IN ('done', 'reversed', 'aborted')",
            params![settlement.batch, settlement.last_id],
        )?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES ('batch', ?1 + 1)
             ON CONFLICT(name) DO UPDATE SET value = MAX(value, ?1 + 1)",
            [settlement.batch],
        )?;
        tx.execute(
            "UPDATE settlements SET state = 'closed', response_code = ?2, updated_at = ?3
             WHERE batch = ?1",
            params![settlement.batch, response_code, now()],
        )?;
        tx.commit()?;
        Ok(())
    }
}

fn settlement(r: &rusqlite::Row<'_>) -> rusqlite::Result<Settlement> {
    let n = |i: usize| r.get::<_, i64>(i).map(to_u64);
    let state: String = r.get(1)?;
    Ok(Settlement {
        batch: r.get(0)?,
        closed: state == "closed",
        stan: r.get(2)?,
        transmission: r.get(3)?,
        last_id: r.get(4)?,
        totals: BatchTotals {
            credits: n(5)?,
            credit_reversals: n(6)?,
            debits: n(7)?,
            debit_reversals: n(8)?,
            credits_amount: n(9)?,
            credit_reversals_amount: n(10)?,
            debits_amount: n(11)?,
            debit_reversals_amount: n(12)?,
        },
        response_code: r.get(13)?,
    })
}

const SETTLEMENT_COLUMNS: &str = "batch, state, stan, transmission, last_id, credits,
    credit_reversals, debits, debit_reversals, credits_amount, credit_reversals_amount,
    debits_amount, debit_reversals_amount, response_code";

/// The settlements table (created with the journal, and on an older journal when it opens).
pub(super) const SETTLEMENT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS settlements (
    batch INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    stan INTEGER NOT NULL,
    transmission TEXT NOT NULL,
    last_id INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    credit_reversals INTEGER NOT NULL,
    debits INTEGER NOT NULL,
    debit_reversals INTEGER NOT NULL,
    credits_amount INTEGER NOT NULL,
    credit_reversals_amount INTEGER NOT NULL,
    debits_amount INTEGER NOT NULL,
    debit_reversals_amount INTEGER NOT NULL,
    response_code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{TxKind, TxState};

    fn totals(debits: u64) -> BatchTotals {
        BatchTotals {
            debits,
            debits_amount: debits * 100,
            ..BatchTotals::default()
        }
    }

    #[test]
    fn a_sent_settlement_survives_a_reopen_and_closes_only_what_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let covered;
        let later;
        {
            let journal = Journal::open(dir.path()).unwrap();
            covered = journal.create(TxKind::Sale, 100, 0, 978, None).unwrap();
            journal
                .finish(covered, TxState::Done, true, "approved")
                .unwrap();
            journal
                .settlement_sent(&Settlement {
                    batch: 7,
                    stan: 42,
                    transmission: "1203101500".into(),
                    last_id: covered,
                    totals: totals(1),
                    closed: false,
                    response_code: None,
                })
                .unwrap();
            later = journal.create(TxKind::Sale, 200, 0, 978, None).unwrap();
            journal
                .finish(later, TxState::Done, true, "approved")
                .unwrap();
        }
        let mut journal = Journal::open(dir.path()).unwrap();
        let open = journal.unclosed_settlement().unwrap().expect("still sent");
        assert_eq!((open.batch, open.stan, open.last_id), (7, 42, covered));
        assert_eq!(open.totals, totals(1));
        assert_eq!(journal.settlement_ids(&open).unwrap(), vec![covered]);
        journal.settlement_closed(&open, "00").unwrap();
        assert!(journal.unclosed_settlement().unwrap().is_none());
        let closed = journal.settlement(7).unwrap().unwrap();
        assert!(closed.closed);
        assert_eq!(closed.response_code.as_deref(), Some("00"));
        assert_eq!(journal.get(covered).unwrap().unwrap().batch, Some(7));
        assert_eq!(journal.get(later).unwrap().unwrap().batch, None);
        assert_eq!(journal.batch_number().unwrap(), 8);
        assert_eq!(journal.open_batch_ids().unwrap(), vec![later]);
    }
}
