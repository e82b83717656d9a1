//! Reconciliation (0500/0510): the host's totals of a terminal's open batch, compared with the
//! terminal's; the batch is closed either way (`docs/iso8583.md` §4).

use rusqlite::{Connection, params};

use super::store::{self, Row};
use super::{Outcome, Request, Totals, response, today};
use crate::host::HostError;

/// The host's totals for a terminal's open batch.
fn open_totals(tx: &Connection, terminal_id: &str) -> Result<Totals, HostError> {
    let mut stmt = tx.prepare_cached(
        "SELECT kind, reversed, COUNT(*), COALESCE(SUM(amount), 0) FROM transactions
         WHERE terminal_id = ?1 AND batch_id IS NULL AND approved = 1
           AND kind IN ('purchase', 'advice', 'completion', 'refund')
         GROUP BY kind, reversed",
    )?;
    let mut totals = Totals::default();
    let rows = stmt.query_map([terminal_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
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
        *n += count;
        *sum += amount;
    }
    Ok(totals)
}

/// A 0500: `00` and DE 66 `1` when the terminal's totals and net equal the host's, else `95`
/// and `2`; the 0510 carries the host's totals.
pub(super) fn reconcile(tx: &Connection, request: &Request) -> Result<Outcome, HostError> {
    let terminal_id = &request.key.terminal_id;
    let host = open_totals(tx, terminal_id)?;
    let m = &request.message;
    let number = |n: u8| m.text(n).and_then(|s| s.parse::<i64>().ok()).unwrap_or(-1);
    let terminal = Totals {
        credits: number(74),
        credit_reversals: number(75),
        debits: number(76),
        debit_reversals: number(77),
        credits_amount: number(86),
        credit_reversals_amount: number(87),
        debits_amount: number(88),
        debit_reversals_amount: number(89),
    };
    let net_field = net_settlement(&host);
    let in_balance = terminal == host && m.text(97) == Some(net_field.as_str());
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
    for (n, v) in [
        (74, host.credits),
        (75, host.credit_reversals),
        (76, host.debits),
        (77, host.debit_reversals),
    ] {
        message.set(n, format!("{v:010}"));
    }
    for (n, v) in [
        (86, host.credits_amount),
        (87, host.credit_reversals_amount),
        (88, host.debits_amount),
        (89, host.debit_reversals_amount),
    ] {
        message.set(n, format!("{v:016}"));
    }
    message.set(97, net_field);
    Ok(Outcome {
        message,
        transaction_id: Some(id),
    })
}

/// DE 97: `D` + debits − credits, or `C` + credits − debits.
fn net_settlement(totals: &Totals) -> String {
    let net = totals.debits_amount - totals.credits_amount;
    if net >= 0 {
        format!("D{net:016}")
    } else {
        format!("C{:016}", -net)
    }
}
