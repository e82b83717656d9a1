//! The issuer's ledger in SQLite (WAL, `synchronous=FULL`): accounts, every authorization,
//! reversal, advice and settlement, the response to every request (for idempotent
//! retransmission), the highest DUKPT counter seen per terminal key, and reversals that arrived
//! before their original.
//!
//! Only the issuer's writer thread writes; tests and tools read with [`LedgerView`]. Full PANs
//! live only in `accounts` (the issuer's card file); transaction rows hold the masked PAN and
//! the account's row id.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::HostError;

/// The ledger's file name inside the data directory.
pub const LEDGER_FILE: &str = "ledger.sqlite";

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountStatus {
    /// Usable.
    Active,
    /// Blocked by the issuer.
    Blocked,
    /// Reported lost.
    Lost,
}

impl AccountStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
            Self::Lost => "lost",
        }
    }
}

/// An account to create (seeding, tests, the bench). The PIN is turned into a verification
/// value by the HSM before it is stored; it is never stored in clear.
pub struct AccountSeed {
    /// The PAN digits.
    pub pan: String,
    /// Scheme name, informational (`visa`, `mastercard`, `unionpay`).
    pub scheme: String,
    /// Balance (available funds) in minor units.
    pub balance: i64,
    /// Status.
    pub status: AccountStatus,
    /// Daily spending limit in minor units.
    pub daily_limit: i64,
    /// Expiry `YYMM`.
    pub expiry: String,
}

/// One row of the ledger's `transactions` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Row id.
    pub id: i64,
    /// DE 41.
    pub terminal_id: String,
    /// DE 11.
    pub stan: String,
    /// DE 7.
    pub transmission: String,
    /// The request MTI.
    pub mti: String,
    /// `authorization`, `purchase`, `refund`, `void`, `advice`, `completion`, `reversal`,
    /// `settlement`.
    pub kind: String,
    /// Masked PAN, if any.
    pub pan_masked: Option<String>,
    /// Amount in minor units.
    pub amount: i64,
    /// DE 39 answered.
    pub response_code: String,
    /// Whether it moved money (approved / accepted).
    pub approved: bool,
    /// Whether a later reversal or void undid it.
    pub reversed: bool,
    /// For reversals, voids and completions: the row they refer to, if found.
    pub original_id: Option<i64>,
    /// The settlement batch that closed it, if any.
    pub batch_id: Option<i64>,
}

/// Read-only access to a ledger (tests, tools).
pub struct LedgerView {
    conn: Connection,
}

impl LedgerView {
    /// Opens the ledger file read-only.
    pub fn open(path: &Path) -> Result<Self, HostError> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// Every transaction row, in order.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>, HostError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, terminal_id, stan, transmission, mti, kind, pan_masked, amount,
                    response_code, approved, reversed, original_id, batch_id
             FROM transactions ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(LedgerEntry {
                id: r.get(0)?,
                terminal_id: r.get(1)?,
                stan: r.get(2)?,
                transmission: r.get(3)?,
                mti: r.get(4)?,
                kind: r.get(5)?,
                pan_masked: r.get(6)?,
                amount: r.get(7)?,
                response_code: r.get(8)?,
                approved: r.get(9)?,
                reversed: r.get(10)?,
                original_id: r.get(11)?,
                batch_id: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The available balance of the account `pan`, in minor units.
    pub fn balance(&self, pan: &str) -> Result<Option<i64>, HostError> {
        Ok(self
            .conn
            .query_row("SELECT balance FROM accounts WHERE pan = ?1", [pan], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The highest ATC the issuer has seen from the account `pan`'s cards; `None` for an
    /// unknown account or one whose card has not been seen yet.
    pub fn last_atc(&self, pan: &str) -> Result<Option<i64>, HostError> {
        let atc: Option<i64> = self
            .conn
            .query_row("SELECT last_atc FROM accounts WHERE pan = ?1", [pan], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(atc.filter(|a| *a >= 0))
    }

    /// The number of stored responses (one per distinct request).
    pub fn response_count(&self) -> Result<i64, HostError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?)
    }
}

/// Opens (creating if needed) the ledger for writing: WAL, `synchronous=FULL`.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, HostError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Whether the ledger holds any account yet.
pub(crate) fn has_accounts(conn: &Connection) -> Result<bool, HostError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
    Ok(n > 0)
}

/// Inserts or replaces an account with its PIN verification value.
pub(crate) fn put_account(
    conn: &Connection,
    seed: &AccountSeed,
    pin_verification_value: &[u8],
) -> Result<(), HostError> {
    conn.execute(
        "INSERT INTO accounts (pan, scheme, pvv, balance, status, daily_limit, spent_day,
                               spent_today, pin_tries, expiry, last_atc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', 0, 0, ?7, -1)
         ON CONFLICT(pan) DO UPDATE SET scheme = ?2, pvv = ?3, balance = ?4, status = ?5,
             daily_limit = ?6, spent_day = '', spent_today = 0, pin_tries = 0, expiry = ?7,
             last_atc = -1",
        params![
            seed.pan,
            seed.scheme,
            pin_verification_value,
            seed.balance,
            seed.status.as_str(),
            seed.daily_limit,
            seed.expiry
        ],
    )?;
    Ok(())
}

/// Loads every account's PIN verification value (static; used outside the writer thread).
pub(crate) fn pin_verification_values(
    conn: &Connection,
) -> Result<Vec<(String, Vec<u8>)>, HostError> {
    let mut stmt = conn.prepare("SELECT pan, pvv FROM accounts")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    pan TEXT NOT NULL UNIQUE,
    scheme TEXT NOT NULL,
    pvv BLOB NOT NULL,
    balance INTEGER NOT NULL,
    status TEXT NOT NULL,
    daily_limit INTEGER NOT NULL,
    spent_day TEXT NOT NULL,
    spent_today INTEGER NOT NULL,
    pin_tries INTEGER NOT NULL,
    expiry TEXT NOT NULL,
    last_atc INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    stan TEXT NOT NULL,
    transmission TEXT NOT NULL,
    mti_class TEXT NOT NULL,
    response BLOB NOT NULL,
    created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (terminal_id, stan, transmission, mti_class)
);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    stan TEXT NOT NULL,
    transmission TEXT NOT NULL,
    mti TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    pan_masked TEXT,
    amount INTEGER NOT NULL,
    currency TEXT,
    response_code TEXT NOT NULL,
    approved INTEGER NOT NULL,
    auth_code TEXT,
    reversed INTEGER NOT NULL DEFAULT 0,
    original_id INTEGER REFERENCES transactions(id),
    batch_id INTEGER,
    created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS transactions_original
    ON transactions (terminal_id, stan, transmission, mti);
CREATE INDEX IF NOT EXISTS transactions_by_original
    ON transactions (original_id);
CREATE INDEX IF NOT EXISTS transactions_open_batch
    ON transactions (terminal_id, batch_id);
CREATE TABLE IF NOT EXISTS early_reversals (
    terminal_id TEXT NOT NULL,
    mti TEXT NOT NULL,
    stan TEXT NOT NULL,
    transmission TEXT NOT NULL,
    PRIMARY KEY (terminal_id, mti, stan, transmission)
);
CREATE TABLE IF NOT EXISTS ksn_counters (
    key_id BLOB PRIMARY KEY,
    counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    batch_number TEXT NOT NULL,
    in_balance INTEGER NOT NULL,
    created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
";
