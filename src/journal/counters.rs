//! The journal's counters: the STAN (DE 11) and the batch number (DE 60).

use rusqlite::OptionalExtension;

use super::{Journal, JournalError};

impl Journal {
    /// Takes the next STAN (DE 11, `000001`-`999999`), persisted before it is used so it is
    /// never reused (`docs/iso8583.md` §8).
    pub fn next_stan(&self) -> Result<u32, JournalError> {
        let value: i64 = self.conn.query_row(
            "INSERT INTO counters (name, value) VALUES ('stan', 1)
             ON CONFLICT(name) DO UPDATE SET value = value % 999999 + 1
             RETURNING value",
            [],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(value).unwrap_or(1))
    }

    /// The open batch number (DE 60).
    pub fn batch_number(&self) -> Result<u32, JournalError> {
        let value: Option<i64> = self
            .conn
            .query_row("SELECT value FROM counters WHERE name = 'batch'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(value.and_then(|v| u32::try_from(v).ok()).unwrap_or(1))
    }
}
