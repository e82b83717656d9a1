//! The host's durable MAC KSN counters (`docs/iso8583.md` §6 rule 3): per MAC initial key ID,
//! the highest counter whose request MAC verified, in the ledger database (table
//! `mac_ksn_counters`, like the PIN keys' `ksn_counters`), so that a restart of the host does
//! not make old KSNs acceptable again.
//!
//! The HSM keeps the same rule in memory; this table is what survives it. A KSN is accepted
//! only if its counter is above the stored one, and is stored only after its MAC verified
//! ([`MacCounters::advance`], one conditional upsert, so two connections cannot both take it).

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::HostError;

/// The MAC counters of one host, on a connection of their own to the ledger database.
pub(crate) struct MacCounters {
    conn: Mutex<Connection>,
}

impl MacCounters {
    /// Opens the table in the ledger database `path` (created if needed).
    pub(crate) fn open(path: &Path) -> Result<Self, HostError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Whether `ksn`'s counter is not above the highest stored for its key.
    pub(crate) fn is_stale(&self, ksn: &[u8; 12]) -> Result<bool, HostError> {
        let (key_id, counter) = split(ksn);
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let highest: Option<i64> = conn
            .prepare_cached("SELECT counter FROM mac_ksn_counters WHERE key_id = ?1")?
            .query_row([key_id], |r| r.get(0))
            .optional()?;
        Ok(highest.is_some_and(|h| counter <= h))
    }

    /// Stores `ksn`'s counter as the highest of its key if it is above the stored one; `false`
    /// (nothing stored) if it is not.
    pub(crate) fn advance(&self, ksn: &[u8; 12]) -> Result<bool, HostError> {
        let (key_id, counter) = split(ksn);
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = conn
            .prepare_cached(
                "INSERT INTO mac_ksn_counters (key_id, counter) VALUES (?1, ?2)
                 ON CONFLICT (key_id) DO UPDATE SET counter = excluded.counter
                 WHERE mac_ksn_counters.counter < excluded.counter",
            )?
            .execute(params![key_id, counter])?;
        Ok(changed == 1)
    }
}

/// Initial key ID (8 bytes) and the 32-bit counter (last 4 bytes) of an AES DUKPT KSN.
fn split(ksn: &[u8; 12]) -> (&[u8], i64) {
    let (key_id, counter) = ksn.split_at(8);
    let counter = counter
        .iter()
        .fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    (key_id, counter)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mac_ksn_counters (
    key_id BLOB PRIMARY KEY,
    counter INTEGER NOT NULL
);
";

#[cfg(test)]
mod tests {
    use super::*;

    fn ksn(counter: u32) -> [u8; 12] {
        let mut k = [0x12; 12];
        k[8..].copy_from_slice(&counter.to_be_bytes());
        k
    }

    #[test]
    fn counters_must_rise_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let counters = MacCounters::open(&path).unwrap();
        assert!(!counters.is_stale(&ksn(1)).unwrap());
        assert!(counters.advance(&ksn(1)).unwrap());
        assert!(counters.is_stale(&ksn(1)).unwrap());
        assert!(!counters.advance(&ksn(1)).unwrap());
        assert!(counters.advance(&ksn(3)).unwrap());
        drop(counters);
        let reopened = MacCounters::open(&path).unwrap();
        assert!(reopened.is_stale(&ksn(2)).unwrap());
        assert!(reopened.is_stale(&ksn(3)).unwrap());
        assert!(!reopened.is_stale(&ksn(4)).unwrap());
        assert!(!reopened.advance(&ksn(2)).unwrap());
    }
}
