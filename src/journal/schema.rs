//! The journal's SQLite schema and its migration from older versions.

use rusqlite::Connection;

use super::JournalError;

/// Brings a journal written by an older version up to [`SCHEMA`] (columns added since).
pub(super) fn migrate(conn: &Connection) -> Result<(), JournalError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('transactions')")?;
    let columns = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if !columns.iter().any(|c| c == "issuer_data") {
        conn.execute_batch("ALTER TABLE transactions ADD COLUMN issuer_data TEXT")?;
    }
    if !columns.iter().any(|c| c == "reversal_code") {
        conn.execute_batch("ALTER TABLE transactions ADD COLUMN reversal_code TEXT")?;
    }
    if !columns.iter().any(|c| c == "merchant_risk") {
        conn.execute_batch(
            "ALTER TABLE transactions ADD COLUMN merchant_risk INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    if !columns.iter().any(|c| c == "method") {
        conn.execute_batch(
            "ALTER TABLE transactions ADD COLUMN method TEXT NOT NULL DEFAULT 'card'",
        )?;
    }
    for column in ["aid", "entry_mode", "cvm", "tvr", "tsi"] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE transactions ADD COLUMN {column} TEXT"
            ))?;
        }
    }
    Ok(())
}

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    amount INTEGER NOT NULL,
    tip INTEGER NOT NULL DEFAULT 0,
    currency INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    pan_masked TEXT,
    pan_hash TEXT,
    pan_sealed BLOB,
    card_label TEXT,
    mti TEXT,
    processing TEXT,
    stan INTEGER,
    transmission TEXT,
    response_code TEXT,
    auth_code TEXT,
    rrn TEXT,
    approved INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    original_id INTEGER REFERENCES transactions(id),
    voided INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    reversal_stan INTEGER,
    reversal_transmission TEXT,
    reversal_attempts INTEGER NOT NULL DEFAULT 0,
    advice_attempts INTEGER NOT NULL DEFAULT 0,
    advice_icc BLOB,
    expiry TEXT,
    psn INTEGER,
    batch INTEGER,
    issuer_data TEXT,
    reversal_code TEXT,
    aid TEXT,
    entry_mode TEXT,
    cvm TEXT,
    tvr TEXT,
    tsi TEXT,
    merchant_risk INTEGER NOT NULL DEFAULT 0,
    method TEXT NOT NULL DEFAULT 'card'
);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions(state);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";
