//! The issuer's ledger access: loading the facts its rules need and storing their effects, inside
//! the writer's current savepoint.

use rusqlite::{Connection, OptionalExtension, params};

use super::Request;
use super::rules::{Account, KsnFacts, Original};
use crate::host::HostError;
use crate::iso8583::{Mti, mask_pan};

/// The account of `pan`, if the issuer has one.
pub(super) fn account(tx: &Connection, pan: &str) -> Result<Option<Account>, HostError> {
    Ok(tx
        .prepare_cached(
            "SELECT id, scheme, balance, status, daily_limit, spent_day, spent_today, pin_tries,
                    expiry, last_atc FROM accounts WHERE pan = ?1",
        )?
        .query_row([pan], |r| {
            Ok(Account {
                id: r.get(0)?,
                scheme: r.get(1)?,
                balance: r.get(2)?,
                status: r.get(3)?,
                daily_limit: r.get(4)?,
                spent_day: r.get(5)?,
                spent_today: r.get(6)?,
                pin_tries: r.get(7)?,
                expiry: r.get(8)?,
                last_atc: r.get(9)?,
            })
        })
        .optional()?)
}

/// Saves an account's balance and counters.
pub(super) fn save_account(tx: &Connection, a: &Account) -> Result<(), HostError> {
    tx.prepare_cached(
        "UPDATE accounts SET balance = ?2, spent_day = ?3, spent_today = ?4, pin_tries = ?5,
                             last_atc = ?6 WHERE id = ?1",
    )?
    .execute(params![
        a.id,
        a.balance,
        a.spent_day,
        a.spent_today,
        a.pin_tries,
        a.last_atc
    ])?;
    Ok(())
}

/// Credits (or, negative, debits) an account.
pub(super) fn credit(tx: &Connection, account_id: i64, amount: i64) -> Result<(), HostError> {
    tx.prepare_cached("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1")?
        .execute(params![account_id, amount])?;
    Ok(())
}

/// A ledger row for a request.
pub(super) struct Row<'a> {
    pub(super) request: &'a Request,
    pub(super) account_id: Option<i64>,
    pub(super) code: &'a str,
    pub(super) approved: bool,
    pub(super) original_id: Option<i64>,
    pub(super) completion: bool,
}

/// Records a request in the ledger; returns its transaction id (DE 37, DE 38).
pub(super) fn insert_row(tx: &Connection, row: &Row<'_>) -> Result<i64, HostError> {
    let r = row.request;
    tx.prepare_cached(
        "INSERT INTO transactions (terminal_id, stan, transmission, mti, kind, account_id,
                                   pan_masked, amount, currency, response_code, approved,
                                   original_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        r.key.terminal_id,
        r.key.stan,
        r.key.transmission,
        r.message.mti().to_string(),
        r.kind.ledger_name(row.completion),
        row.account_id,
        r.pan.as_ref().map(|p| mask_pan(p.as_bytes())),
        r.amount,
        r.message.text(49),
        row.code,
        row.approved,
        row.original_id
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The original a request names in DE 90 (same terminal), if the ledger has it.
pub(super) fn find_original(
    tx: &Connection,
    request: &Request,
) -> Result<Option<Original>, HostError> {
    let Some(o) = &request.original else {
        return Ok(None);
    };
    // A repeat of the original (0201, 0221) is stored under its own MTI; look for both.
    let repeat = Mti::from_bcd(u16::from_str_radix(&o.mti, 16).unwrap_or(0) | 1)
        .map(|m| m.to_string())
        .unwrap_or_default();
    Ok(tx
        .prepare_cached(
            "SELECT id, kind, approved, reversed, account_id, amount FROM transactions
             WHERE terminal_id = ?1 AND stan = ?2 AND transmission = ?3 AND mti IN (?4, ?5)
               AND kind NOT IN ('reversal', 'settlement')
             ORDER BY id LIMIT 1",
        )?
        .query_row(
            params![
                request.key.terminal_id,
                o.stan,
                o.transmission,
                o.mti,
                repeat
            ],
            |r| {
                Ok(Original {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    approved: r.get(2)?,
                    reversed: r.get(3)?,
                    account_id: r.get(4)?,
                    amount: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// The sum of the approved, not reversed (or voided) refunds that name `original_id`.
pub(super) fn refunded(tx: &Connection, original_id: i64) -> Result<i64, HostError> {
    Ok(tx
        .prepare_cached(
            "SELECT COALESCE(SUM(amount), 0) FROM transactions
             WHERE original_id = ?1 AND kind = 'refund' AND approved = 1 AND reversed = 0",
        )?
        .query_row([original_id], |r| r.get(0))?)
}

/// Undoes an approved, not yet reversed original ([`super::rules::undo`]); `false` if there
/// was nothing to undo.
pub(super) fn undo(tx: &Connection, original: &Original) -> Result<bool, HostError> {
    let Some(delta) = super::rules::undo(original) else {
        return Ok(false);
    };
    if let Some(account_id) = original.account_id {
        tx.prepare_cached(
            "UPDATE accounts SET balance = balance + ?2,
                 spent_today = MAX(0, spent_today - MAX(0, ?2)) WHERE id = ?1",
        )?
        .execute(params![account_id, delta])?;
    }
    tx.prepare_cached("UPDATE transactions SET reversed = 1 WHERE id = ?1")?
        .execute([original.id])?;
    Ok(true)
}

/// Whether a reversal naming this request arrived before it (the terminal timed out and
/// reversed while the request was still on its way).
pub(super) fn already_reversed(tx: &Connection, request: &Request) -> Result<bool, HostError> {
    let key = &request.key;
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM early_reversals
             WHERE terminal_id = ?1 AND mti = ?2 AND stan = ?3 AND transmission = ?4",
        )?
        .exists(params![
            key.terminal_id,
            key.mti_class.to_string(),
            key.stan,
            key.transmission
        ])?)
}

/// Remembers a reversal whose original has not arrived, so that it is refused when it does.
pub(super) fn remember_early_reversal(tx: &Connection, request: &Request) -> Result<(), HostError> {
    let Some(reference) = &request.original else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT OR IGNORE INTO early_reversals (terminal_id, mti, stan, transmission)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        request.key.terminal_id,
        reference.mti,
        reference.stan,
        reference.transmission
    ])?;
    Ok(())
}

/// The PIN KSN's counter and the highest counter seen for its key.
pub(super) fn ksn_facts(tx: &Connection, ksn: &[u8; 12]) -> Result<KsnFacts, HostError> {
    let (key_id, counter) = split_ksn(ksn);
    let highest_seen: Option<i64> = tx
        .prepare_cached("SELECT counter FROM ksn_counters WHERE key_id = ?1")?
        .query_row([key_id], |r| r.get(0))
        .optional()?;
    Ok(KsnFacts {
        counter,
        highest_seen,
    })
}

/// Records the KSN's counter as the highest seen for its key.
pub(super) fn record_ksn(tx: &Connection, ksn: &[u8; 12]) -> Result<(), HostError> {
    let (key_id, counter) = split_ksn(ksn);
    tx.prepare_cached(
        "INSERT INTO ksn_counters (key_id, counter) VALUES (?1, ?2)
         ON CONFLICT(key_id) DO UPDATE SET counter = ?2",
    )?
    .execute(params![key_id, counter])?;
    Ok(())
}

/// The first 8 bytes (BDK ID ‖ derivation ID) and the transaction counter of a KSN.
fn split_ksn(ksn: &[u8; 12]) -> (&[u8], i64) {
    let (key_id, counter) = ksn.split_at(8);
    let counter = counter
        .iter()
        .fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
    (key_id, counter)
}
