//! Reconciliation (0500/0510): the host's totals of a terminal's open batch, compared with the
//! terminal's; the batch is closed either way (`docs/iso8583.md` §4).

use rusqlite::{Connection, params};

use super::store::{self, Row};
use super::{Outcome, Request, response, today};
use crate::host::HostError;
use crate::iso8583::BatchTotals;

/// The host's totals for a terminal's open batch.
fn open_totals(tx: &Connection, terminal_id: &str) -> Result<BatchTotals, HostError> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, reversed, COUNT(*), COALESCE(SUM(amount), 0) FROM transactions
         WHERE terminal_id = ?1 AND batch_id IS NULL AND approved = 1
           AND kind IN ('purchase', 'advice', 'completion', 'refund')
         GROUP BY kind, reversed",
    )?;
    let mut totals = BatchTotals::default();
    let rows = stmt.query_map([terminal_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            non_negative(r, 2)?,
            non_negative(r, 3)?,
        ))
    })?;
    for row in rows {
        let (kind, reversed, count, amount) = row?;
        let (n, sum) = match (kind == "refund", reversed) {
            (true, false) => (&mut totals.credits, &mut totals.credits_amount),
            (true, true) => (
                &mut totals.credit_reversals,
                &mut totals.credit_reversals_amount,
            ),
            (false, false) => (&mut totals.debits, &mut totals.debits_amount),
            (false, true) => (
                &mut totals.debit_reversals,
                &mut totals.debit_reversals_amount,
            ),
        };
        *n = n.saturating_add(count);
        *sum = sum.saturating_add(amount);
    }
    Ok(totals)
}

/// A 0500: `00` and DE 66 `1` when the terminal's totals and net equal the host's, else `95`
/// and `2`; the 0510 carries the host's totals.
pub(super) fn reconcile(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let terminal_id = &request.key.terminal_id;
    let host = open_totals(tx, terminal_id)?;
    let m = &request.message;
    // In balance when every total and the net (DE 97) equal the host's; totals that are
    // missing or not numeric are not in balance.
    let in_balance = BatchTotals::from_message(m) == Some(host)
        && m.text(97) == Some(host.net_settlement().as_str());
    let batch_number = m.text(60).unwrap_or("").to_owned();
    tx.prepare_cached(
        "INSERT INTO batches (terminal_id, batch_number, in_balance) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![terminal_id, batch_number, in_balance])?;
    let batch_id = tx.last_insert_rowid();
    tx.prepare_cached(
        "UPDATE transactions SET batch_id = ?2 WHERE terminal_id = ?1 AND batch_id IS NULL",
    )?
    .execute(params![terminal_id, batch_id])?;
    let code = if in_balance { "00" } else { "95" };
    let id = store::insert_row(
        tx,
        &Row {
            request,
            account_id: None,
            code,
            approved: in_balance,
            original_id: None,
            completion: false,
        },
    )?;
    tx.prepare_cached("UPDATE transactions SET batch_id = ?2 WHERE id = ?1")?
        .execute(params![id, batch_id])?;
    let mut message = response(m, code);
    message.set(15, today().mmdd());
    message.set(66, if in_balance { "1" } else { "2" });
    host.write_into(&mut message);
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// Column `i` of a count or sum, which SQLite stores as i64 and which is never negative.
fn non_negative(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v = row.get::<_, i64>(i)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, v))
}
