//! The journal's state changes of one transaction: each a single committed write, made before
//! the step it protects (`docs/engine.md`, "Journal states").

use emv::pan::Pan;
use rusqlite::params;

use super::{Journal, JournalError, TxKind, TxState, now, seal, to_i64};

impl Journal {
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

    /// [`Journal::sent`] for a request that is reversed if it goes unanswered (a card
    /// operation), and in the same commit the reversal's own DE 11 (taken from the STAN
    /// counter) and DE 7 (`transmission`): should the journal fail later, the reversal can
    /// still be sent with numbers that are never reused. Returns the reversal's DE 11.
    pub fn sent_reversible(
        &self,
        id: i64,
        mti: &str,
        processing: Option<&str>,
        stan: u32,
        transmission: &str,
    ) -> Result<u32, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        let reversal_stan = self.next_stan()?;
        self.sent(id, mti, processing, stan, transmission)?;
        self.conn.execute(
            "UPDATE transactions SET reversal_stan = ?2, reversal_transmission = ?3
             WHERE id = ?1",
            params![id, reversal_stan, transmission],
        )?;
        tx.commit()?;
        Ok(reversal_stan)
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
}
