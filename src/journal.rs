//! The transaction journal: one SQLite file (`journal.sqlite`, WAL, `synchronous=FULL`) in the
//! terminal's data directory.
//!
//! Every transaction moves through persisted [`TxState`]s, and the engine writes a state
//! *before* the step it protects, so that after a crash it knows whether a request can have
//! reached the host (`docs/engine.md` "Crash recovery").
//!
//! Never stored, in any state: PIN blocks, track 2, CVV, a full PAN in clear. A card is kept as
//! its masked PAN (first 6, last 4) and a keyed hash (AES-CMAC under the terminal's device key,
//! so the same card can be recognised without the PAN being recoverable from the journal).
//! Where a later message needs the PAN (completion of a pre-authorization, the upload of a
//! store-and-forward advice), it is kept sealed under the device key
//! ([`seal`]) and erased when no longer needed.

use std::fs::Permissions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use emv::crypto::key::AesKey;
use rusqlite::Connection;

use crate::dir_lock::{DirLock, LockError as DirLockError};

mod advice;
mod card_details;
mod counters;
pub mod export;
mod method;
mod pan;
mod queries;
mod record;
mod schema;
pub mod seal;
mod settlement;
mod transitions;

pub use advice::{AdviceData, AdviceQueue};
pub use record::{TxKind, TxRecord, TxState};
pub use settlement::Settlement;

use schema::{SCHEMA, migrate};

/// Batch totals (`docs/iso8583.md` §4, DE 74-77 and 86-89): the type the 0500 builder
/// (`emv::iso8583::messages::reconciliation`) takes.
pub use emv::iso8583::BatchTotals;

/// The journal's file name inside the data directory.
pub const JOURNAL_FILE: &str = "journal.sqlite";
/// The data directory's lock file, which holds the owning process's id.
pub const LOCK_FILE: &str = "softpos.lock";
/// The device key's file name inside the data directory (mode 0600).
pub const DEVICE_KEY_FILE: &str = "device.key";

pub use card_details::CardDetails;
pub use method::PaymentMethod;

/// The journal.
pub struct Journal {
    conn: Connection,
    device_key: AesKey,
    path: PathBuf,
    // Declared last: released after the connection closes.
    _lock: DirLock,
}

impl Journal {
    /// Opens (creating if needed) the journal and the device key in `data_dir`, and holds the
    /// data directory's lock ([`LOCK_FILE`]) for the journal's life: a second process opening
    /// the same directory gets [`JournalError::Locked`] and touches nothing (in particular it
    /// cannot recover, and so reverse, a transaction the first one has in flight). The
    /// directory is made owner-only (0700) and its files 0600.
    pub fn open(data_dir: &Path) -> Result<Self, JournalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(io(data_dir))?;
        std::fs::set_permissions(data_dir, Permissions::from_mode(0o700)).map_err(io(data_dir))?;
        let lock = DirLock::try_acquire(data_dir, LOCK_FILE)?;
        let path = data_dir.join(JOURNAL_FILE);
        // SQLite gives the -wal and -shm files the mode of the database file.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        for name in [
            JOURNAL_FILE,
            "journal.sqlite-wal",
            "journal.sqlite-shm",
            DEVICE_KEY_FILE,
        ] {
            let file = data_dir.join(name);
            match std::fs::set_permissions(&file, Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&file)(e)),
                _ => {}
            }
        }
        let device_key = seal::load_or_create_device_key(&data_dir.join(DEVICE_KEY_FILE))?;
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(settlement::SETTLEMENT_SCHEMA)?;
        migrate(&conn)?;
        Ok(Self {
            conn,
            device_key,
            path,
            _lock: lock,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The database failed.
    #[error("journal database error")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The device key file is malformed.
    #[error("the device key file {0} is malformed")]
    BadDeviceKey(PathBuf),
    /// A sealed PAN does not open under the device key.
    #[error("a sealed card number does not open under this terminal's device key")]
    Sealed,
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
    /// Another process has the data directory open (or its lock file cannot be taken).
    #[error(transparent)]
    Locked(#[from] DirLockError),
}

fn now() -> String {
    rfc3339(std::time::SystemTime::now())
}

/// `at` as the journal writes times (RFC 3339, UTC), which SQLite's date functions read.
fn rfc3339(at: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
