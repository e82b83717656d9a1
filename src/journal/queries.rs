//! Reading the journal: one transaction, the history, what is unfinished, what can be voided,
//! and the open batch's totals.

use rusqlite::OptionalExtension;

use super::record::{COLUMNS, record};
use super::{BatchTotals, Journal, JournalError, TxRecord, rfc3339, to_i64, to_u64};

impl Journal {
    /// One transaction.
    pub fn get(&self, id: i64) -> Result<Option<TxRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM transactions WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id], record).optional()?)
    }

    /// The newest transactions first, at most `limit`.
    pub fn recent(&self, limit: usize) -> Result<Vec<TxRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM transactions ORDER BY id DESC LIMIT ?1");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([to_i64(limit as u64)], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every transaction, oldest first.
    pub fn all(&self) -> Result<Vec<TxRecord>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM transactions ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Transactions that are not over (what a crash left, and pending reversals and advices),
    /// oldest first.
    pub fn unfinished(&self) -> Result<Vec<TxRecord>, JournalError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions
             WHERE state NOT IN ('done', 'reversed', 'aborted') ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The amount refunded so far against the sale `sale_id`: its refunds that are approved
    /// and not voided, and those that may still be (sent, answered or being reversed, whose
    /// outcome the host may not have given yet).
    pub fn refunded_of(&self, sale_id: i64) -> Result<u64, JournalError> {
        let sum: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(amount), 0) FROM transactions
             WHERE kind = 'refund' AND original_id = ?1 AND voided = 0
               AND (approved = 1 OR state IN ('sent', 'answered', 'reversal-pending'))",
            [sale_id],
            |r| r.get(0),
        )?;
        Ok(to_u64(sum))
    }

    /// Approved pre-authorizations, neither completed nor voided, older than `lifetime` at
    /// `now` (a clock behind their creation makes none of them expire).
    pub fn expired_preauths(
        &self,
        now: std::time::SystemTime,
        lifetime: std::time::Duration,
    ) -> Result<Vec<TxRecord>, JournalError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions
             WHERE kind = 'preauth' AND state = 'done' AND approved = 1 AND completed = 0
               AND voided = 0 AND (julianday(?1) - julianday(created_at)) * 86400.0 > ?2
             ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params![rfc3339(now), lifetime.as_secs_f64()],
            record,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The last approved sale or refund that is not voided, in the open batch.
    pub fn last_voidable(&self) -> Result<Option<TxRecord>, JournalError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM transactions
             WHERE kind IN ('sale', 'refund') AND state = 'done' AND approved = 1
               AND voided = 0 AND batch IS NULL AND mti = '0200'
             ORDER BY id DESC LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, [], record).optional()?)
    }

    /// The totals of the open batch (`docs/iso8583.md` §4 "0500"): approved purchases,
    /// completions and uploaded advices are debits, approved refunds credits; voided ones, and
    /// reversed ones (the host counts an approved-then-reversed original in DE 77 or 75), are
    /// reversals, unless the host's 0410 said it had no approval to undo (`25` or `21`: the
    /// request never reached it, or it declined). Pending advices are not yet at the host and
    /// are not counted.
    pub fn open_batch_totals(&self) -> Result<BatchTotals, JournalError> {
        let mut totals = BatchTotals::default();
        let mut stmt = self.conn.prepare(
            "SELECT kind, voided OR state = 'reversed', COUNT(*), COALESCE(SUM(amount), 0)
             FROM transactions
             WHERE batch IS NULL AND kind IN ('sale', 'refund', 'completion')
               AND ((state = 'done' AND approved = 1)
                    OR (state = 'reversed' AND mti IS NOT NULL
                        AND COALESCE(reversal_code, '00') = '00'))
             GROUP BY 1, 2",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for row in rows {
            let (kind, voided, count, sum) = row?;
            let (count, sum) = (to_u64(count), to_u64(sum));
            match (kind.as_str(), voided) {
                ("refund", false) => {
                    totals.credits += count;
                    totals.credits_amount += sum;
                }
                ("refund", true) => {
                    totals.credit_reversals += count;
                    totals.credit_reversals_amount += sum;
                }
                (_, false) => {
                    totals.debits += count;
                    totals.debits_amount += sum;
                }
                (_, true) => {
                    totals.debit_reversals += count;
                    totals.debit_reversals_amount += sum;
                }
            }
        }
        Ok(totals)
    }

    /// The ids of every finished transaction the open batch would close, oldest first.
    pub fn open_batch_ids(&self) -> Result<Vec<i64>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM transactions
             WHERE batch IS NULL AND state IN ('done', 'reversed', 'aborted') ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
