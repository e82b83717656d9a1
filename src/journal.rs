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
use emv::pan::Pan;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::dir_lock::{DirLock, LockError as DirLockError};

mod card_details;
pub mod export;
pub mod seal;
mod settlement;

pub use settlement::Settlement;

/// Batch totals (`docs/iso8583.md` §4, DE 74-77 and 86-89): the type the 0500 builder
/// (`emv::iso8583::messages::reconciliation`) takes.
pub use emv::iso8583::BatchTotals;

/// The journal's file name inside the data directory.
pub const JOURNAL_FILE: &str = "journal.sqlite";
/// The data directory's lock file, which holds the owning process's id.
pub const LOCK_FILE: &str = "softpos.lock";
/// The device key's file name inside the data directory (mode 0600).
pub const DEVICE_KEY_FILE: &str = "device.key";

/// What a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxKind {
    /// A purchase (0200, processing code `000000`).
    Sale,
    /// A refund (0200, `200000`).
    Refund,
    /// A void of an earlier sale or refund (0200, `020000`/`220000`, DE 90).
    Void,
    /// A pre-authorization (0100).
    Preauth,
    /// The completion of a pre-authorization (0220 with DE 90).
    Completion,
    /// A card check: a zero-amount 0100 that verifies the card without charging it.
    CardCheck,
}

impl TxKind {
    /// The journal's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "sale",
            Self::Refund => "refund",
            Self::Void => "void",
            Self::Preauth => "preauth",
            Self::Completion => "completion",
            Self::CardCheck => "card-check",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sale" => Self::Sale,
            "refund" => Self::Refund,
            "void" => Self::Void,
            "preauth" => Self::Preauth,
            "completion" => Self::Completion,
            "card-check" => Self::CardCheck,
            _ => return None,
        })
    }
}

/// The persisted states of a transaction (the issue's "created → card read → PIN done → sent →
/// answered → done, or → reversal pending → reversed", plus the offline queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TxState {
    /// Started; nothing read yet.
    Created,
    /// The card was read (masked PAN and hash stored).
    CardRead,
    /// The encrypted PIN was collected (the block itself is never stored).
    PinDone,
    /// The request is about to go, or went, to the host: from here on it may have reached it.
    Sent,
    /// The host's answer is stored; the outcome is not yet shown.
    Answered,
    /// Finished: the result in the row is final and was shown.
    Done,
    /// The request must be reversed (no answer, bad answer, crash before the end).
    ReversalPending,
    /// The host acknowledged the reversal.
    Reversed,
    /// Approved offline, waiting to go to the host as an 0220 advice.
    AdvicePending,
    /// Ended before anything reached the host (card pulled, cancelled, host unreachable).
    Aborted,
}

impl TxState {
    /// The journal's name (also the crash-hook name, `docs/engine.md`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::CardRead => "card-read",
            Self::PinDone => "pin-done",
            Self::Sent => "sent",
            Self::Answered => "answered",
            Self::Done => "done",
            Self::ReversalPending => "reversal-pending",
            Self::Reversed => "reversed",
            Self::AdvicePending => "advice-pending",
            Self::Aborted => "aborted",
        }
    }

    /// Parses [`TxState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => Self::Created,
            "card-read" => Self::CardRead,
            "pin-done" => Self::PinDone,
            "sent" => Self::Sent,
            "answered" => Self::Answered,
            "done" => Self::Done,
            "reversal-pending" => Self::ReversalPending,
            "reversed" => Self::Reversed,
            "advice-pending" => Self::AdvicePending,
            "aborted" => Self::Aborted,
            _ => return None,
        })
    }

    /// Whether the transaction is over (nothing left to do for it).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Reversed | Self::Aborted)
    }
}

/// One journal row. Holds no secret: the PAN is masked, the sealed PAN is not exposed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Row id (the transaction number shown to the merchant).
    pub id: i64,
    /// What it is.
    pub kind: TxKind,
    /// Where it is.
    pub state: TxState,
    /// Amount in minor units, tip included.
    pub amount: u64,
    /// The tip part of `amount`.
    pub tip: u64,
    /// ISO 4217 numeric currency.
    pub currency: u16,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Masked PAN (first 6, last 4).
    pub pan_masked: Option<String>,
    /// Keyed hash of the PAN (hex AES-CMAC under the device key).
    pub pan_hash: Option<String>,
    /// Application label.
    pub card_label: Option<String>,
    /// The request MTI, once built.
    pub mti: Option<String>,
    /// DE 3.
    pub processing: Option<String>,
    /// DE 11.
    pub stan: Option<u32>,
    /// DE 7.
    pub transmission: Option<String>,
    /// DE 39 answered.
    pub response_code: Option<String>,
    /// DE 38.
    pub auth_code: Option<String>,
    /// DE 37.
    pub rrn: Option<String>,
    /// Whether money moved (approved and not undone by this row's own reversal).
    pub approved: bool,
    /// A human summary of the result.
    pub result: Option<String>,
    /// The transaction this one refers to (void, completion, refund of a sale).
    pub original_id: Option<i64>,
    /// Whether a later void undid it.
    pub voided: bool,
    /// Whether a completion used this pre-authorization.
    pub completed: bool,
    /// DE 11 of this transaction's reversal.
    pub reversal_stan: Option<u32>,
    /// DE 7 of this transaction's reversal.
    pub reversal_transmission: Option<String>,
    /// Reversal messages sent so far.
    pub reversal_attempts: u32,
    /// Advice uploads tried so far.
    pub advice_attempts: u32,
    /// The settlement batch that closed it.
    pub batch: Option<u32>,
    /// What the issuer sent back in DE 55 for the card (`91` ARPC, `71`/`72` scripts) and what
    /// became of it, e.g. `91 (10 bytes); recorded, not for this card`. `None` if nothing.
    pub issuer_data: Option<String>,
    /// What the receipt shows of the card read (AID, entry mode, CVM, TVR, TSI).
    pub card_details: CardDetails,
}

pub use card_details::CardDetails;

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

    /// Starts a transaction in [`TxState::Created`]; returns its id.
    pub fn create(
        &self,
        kind: TxKind,
        amount: u64,
        tip: u64,
        currency: u16,
        original_id: Option<i64>,
    ) -> Result<i64, JournalError> {
        let now = now();
        self.conn.execute(
            "INSERT INTO transactions (kind, state, amount, tip, currency, created_at, updated_at,
                                       original_id)
             VALUES (?1, 'created', ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                kind.as_str(),
                to_i64(amount),
                to_i64(tip),
                currency,
                now,
                original_id
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the card (masked PAN, keyed hash, label) and moves to [`TxState::CardRead`].
    /// `keep_sealed` keeps the PAN sealed under the device key for a later message.
    pub fn card_read(
        &self,
        id: i64,
        pan: &Pan,
        label: Option<&str>,
        keep_sealed: bool,
    ) -> Result<(), JournalError> {
        let masked = pan.masked();
        let hash = self.pan_hash(pan);
        let sealed = if keep_sealed {
            Some(seal::seal(
                &self.device_key,
                pan.expose_digits().as_bytes(),
            )?)
        } else {
            None
        };
        self.conn.execute(
            "UPDATE transactions SET state = 'card-read', pan_masked = ?2, pan_hash = ?3,
                    card_label = ?4, pan_sealed = ?5, updated_at = ?6 WHERE id = ?1",
            params![id, masked.as_str(), hash, label, sealed, now()],
        )?;
        Ok(())
    }

    /// Copies the card of transaction `from` (masked PAN, hash, label) to `id`.
    pub fn copy_card(&self, id: i64, from: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET (pan_masked, pan_hash, card_label, aid, entry_mode, cvm) =
                 (SELECT pan_masked, pan_hash, card_label, aid, entry_mode, cvm
                  FROM transactions WHERE id = ?2),
                 updated_at = ?3 WHERE id = ?1",
            params![id, from, now()],
        )?;
        Ok(())
    }

    /// The sealed PAN of transaction `id`, opened, if it was kept.
    pub fn sealed_pan(&self, id: i64) -> Result<Option<Pan>, JournalError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT pan_sealed FROM transactions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let digits = seal::open(&self.device_key, &sealed)?;
        let text = std::str::from_utf8(&digits).map_err(|_| JournalError::Sealed)?;
        Pan::from_digits(text)
            .map(Some)
            .map_err(|_| JournalError::Sealed)
    }

    /// Erases the sealed PAN of `id` (after its last use).
    pub fn forget_pan(&self, id: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET pan_sealed = NULL WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// The keyed hash of `pan` (hex AES-CMAC under the device key).
    pub fn pan_hash(&self, pan: &Pan) -> String {
        let mut input = b"softpos PAN hash v1:".to_vec();
        input.extend_from_slice(pan.expose_digits().as_bytes());
        let mac = emv::crypto::mac::aes_cmac(&self.device_key, &input);
        zeroize::Zeroize::zeroize(&mut input);
        hex::encode(mac)
    }

    /// Moves `id` to `state` (for states that carry no data of their own).
    pub fn set_state(&self, id: i64, state: TxState) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, state.as_str(), now()],
        )?;
        Ok(())
    }

    /// Records the request about to be sent and moves to [`TxState::Sent`]: from this commit
    /// on, the request may have reached the host.
    pub fn sent(
        &self,
        id: i64,
        mti: &str,
        processing: Option<&str>,
        stan: u32,
        transmission: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = 'sent', mti = ?2, processing = ?3, stan = ?4,
                    transmission = ?5, updated_at = ?6 WHERE id = ?1",
            params![id, mti, processing, stan, transmission, now()],
        )?;
        Ok(())
    }

    /// Records the host's answer and moves to [`TxState::Answered`].
    pub fn answered(
        &self,
        id: i64,
        response_code: &str,
        auth_code: Option<&str>,
        rrn: Option<&str>,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = 'answered', response_code = ?2, auth_code = ?3,
                    rrn = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, response_code, auth_code, rrn, now()],
        )?;
        Ok(())
    }

    /// Records what the issuer sent back for the card in DE 55 (a summary, no bytes).
    pub fn issuer_data(&self, id: i64, summary: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET issuer_data = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, summary, now()],
        )?;
        Ok(())
    }

    /// Ends `id` in `state` ([`TxState::Done`], [`TxState::Aborted`], [`TxState::Reversed`]
    /// or [`TxState::AdvicePending`]) with whether money moved and a human summary.
    pub fn finish(
        &self,
        id: i64,
        state: TxState,
        approved: bool,
        result: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = ?2, approved = ?3, result = ?4, updated_at = ?5
             WHERE id = ?1",
            params![id, state.as_str(), approved, result, now()],
        )?;
        Ok(())
    }

    /// Ends `id` as [`TxState::Reversed`] with the DE 39 of the host's 0410 (`00`: the host
    /// undid an approval; `25`: it never had the original; `21`: the original was not
    /// approved), in one write. Only `00` reversals count in the batch totals, as at the host.
    pub fn reversed(&self, id: i64, code: &str, result: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = 'reversed', approved = 0, result = ?2,
                 reversal_code = ?3, updated_at = ?4
             WHERE id = ?1",
            params![id, result, code, now()],
        )?;
        Ok(())
    }

    /// Moves `id` to [`TxState::ReversalPending`] with the reversal's own DE 11 and DE 7
    /// (kept for every repeat, so the host sees one reversal: `docs/iso8583.md` §7).
    pub fn reversal_pending(
        &self,
        id: i64,
        stan: u32,
        transmission: &str,
        why: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = 'reversal-pending', approved = 0,
                    reversal_stan = COALESCE(reversal_stan, ?2),
                    reversal_transmission = COALESCE(reversal_transmission, ?3),
                    result = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, stan, transmission, why, now()],
        )?;
        Ok(())
    }

    /// Counts one reversal message sent for `id`.
    pub fn reversal_attempted(&self, id: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET reversal_attempts = reversal_attempts + 1, updated_at = ?2
             WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(())
    }

    /// Counts one advice upload tried for `id`.
    pub fn advice_attempted(&self, id: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET advice_attempts = advice_attempts + 1, updated_at = ?2
             WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(())
    }

    /// Queues `id` as an offline approval to upload as an 0220 advice (store-and-forward):
    /// the PAN sealed under the device key, DE 55 (no PAN, no track 2), the expiry and PSN,
    /// and the advice's own DE 11 and DE 7 (kept for every repeat, `docs/iso8583.md` §7).
    #[allow(clippy::too_many_arguments)]
    pub fn queue_advice(
        &self,
        id: i64,
        pan: &Pan,
        icc_data: &[u8],
        expiry: &str,
        psn: Option<u8>,
        stan: u32,
        transmission: &str,
    ) -> Result<(), JournalError> {
        let sealed = seal::seal(&self.device_key, pan.expose_digits().as_bytes())?;
        self.conn.execute(
            "UPDATE transactions SET state = 'advice-pending', approved = 1, mti = '0220',
                    processing = '000000', stan = ?2, transmission = ?3, pan_sealed = ?4,
                    advice_icc = ?5, expiry = ?6, psn = ?7,
                    result = 'approved offline; advice queued for the host', updated_at = ?8
             WHERE id = ?1",
            params![id, stan, transmission, sealed, icc_data, expiry, psn, now()],
        )?;
        Ok(())
    }

    /// DE 55, expiry and PSN kept for the advice of `id`.
    pub fn advice_data(&self, id: i64) -> Result<Option<AdviceData>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT advice_icc, expiry, psn FROM transactions
                 WHERE id = ?1 AND advice_icc IS NOT NULL",
                [id],
                |r| {
                    Ok(AdviceData {
                        icc_data: r.get(0)?,
                        expiry: r.get(1)?,
                        pan_sequence_number: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The advices waiting for the host: count, total amount and the age of the oldest in
    /// seconds.
    pub fn advice_queue(&self) -> Result<(u64, u64, Option<f64>), JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0),
                    (julianday('now') - julianday(MIN(created_at))) * 86400.0
             FROM transactions WHERE state = 'advice-pending'",
            [],
            |r| {
                Ok((
                    to_u64(r.get(0)?),
                    to_u64(r.get(1)?),
                    r.get::<_, Option<f64>>(2)?,
                ))
            },
        )?)
    }

    /// Marks `id` voided (by a later approved void).
    pub fn mark_voided(&self, id: i64) -> Result<(), JournalError> {
        self.conn
            .execute("UPDATE transactions SET voided = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Marks the pre-authorization `id` completed.
    pub fn mark_completed(&self, id: i64) -> Result<(), JournalError> {
        self.conn
            .execute("UPDATE transactions SET completed = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

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

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What an advice needs besides the PAN (none of it secret: DE 55 holds no PAN or track 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdviceData {
    /// DE 55 of the card's online request.
    pub icc_data: Vec<u8>,
    /// Expiry `YYMM` (DE 14).
    pub expiry: Option<String>,
    /// `5F34` (DE 23).
    pub pan_sequence_number: Option<u8>,
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

fn record(r: &Row<'_>) -> rusqlite::Result<TxRecord> {
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let bad = |i, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what}").into(),
        )
    };
    Ok(TxRecord {
        id: r.get(0)?,
        kind: TxKind::parse(&kind).ok_or_else(|| bad(1, "kind"))?,
        state: TxState::parse(&state).ok_or_else(|| bad(2, "state"))?,
        amount: to_u64(r.get(3)?),
        tip: to_u64(r.get(4)?),
        currency: r.get(5)?,
        created_at: r.get(6)?,
        pan_masked: r.get(7)?,
        pan_hash: r.get(8)?,
        card_label: r.get(9)?,
        mti: r.get(10)?,
        processing: r.get(11)?,
        stan: r.get(12)?,
        transmission: r.get(13)?,
        response_code: r.get(14)?,
        auth_code: r.get(15)?,
        rrn: r.get(16)?,
        approved: r.get(17)?,
        result: r.get(18)?,
        original_id: r.get(19)?,
        voided: r.get(20)?,
        completed: r.get(21)?,
        reversal_stan: r.get(22)?,
        reversal_transmission: r.get(23)?,
        reversal_attempts: r.get(24)?,
        advice_attempts: r.get(25)?,
        batch: r.get(26)?,
        issuer_data: r.get(27)?,
        card_details: CardDetails {
            aid: r.get(28)?,
            entry_mode: r.get(29)?,
            cvm: r.get(30)?,
            tvr: r.get(31)?,
            tsi: r.get(32)?,
        },
    })
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Brings a journal written by an older version up to [`SCHEMA`] (columns added since).
fn migrate(conn: &Connection) -> Result<(), JournalError> {
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
    for column in ["aid", "entry_mode", "cvm", "tvr", "tsi"] {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE transactions ADD COLUMN {column} TEXT"
            ))?;
        }
    }
    Ok(())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const COLUMNS: &str = "id, kind, state, amount, tip, currency, created_at, pan_masked, pan_hash,
    card_label, mti, processing, stan, transmission, response_code, auth_code, rrn, approved,
    result, original_id, voided, completed, reversal_stan, reversal_transmission,
    reversal_attempts, advice_attempts, batch, issuer_data, aid, entry_mode, cvm, tvr, tsi";

const SCHEMA: &str = "
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
    tsi TEXT
);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions(state);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";
