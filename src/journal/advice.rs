//! Store-and-forward in the journal: offline approvals queued as advices, their data and the
//! queue's size and age.

use emv::pan::Pan;
use rusqlite::{OptionalExtension, params};

use super::{Journal, JournalError, now, rfc3339, seal, to_u64};

impl Journal {
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
    /// `merchant_risk`: the card asked for the issuer (ARQC) and the merchant accepted it
    /// offline at its own risk (counted by [`Journal::merchant_risk_queue`]).
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
        merchant_risk: bool,
    ) -> Result<(), JournalError> {
        let sealed = seal::seal(&self.device_key, pan.expose_digits().as_bytes())?;
        let result = if merchant_risk {
            "accepted offline at the merchant's risk; advice queued for the host"
        } else {
            "approved offline; advice queued for the host"
        };
        self.conn.execute(
            "UPDATE transactions SET state = 'advice-pending', approved = 1, mti = '0220',
                    processing = '000000', stan = ?2, transmission = ?3, pan_sealed = ?4,
                    advice_icc = ?5, expiry = ?6, psn = ?7, result = ?8, updated_at = ?9,
                    merchant_risk = ?10
             WHERE id = ?1",
            params![
                id,
                stan,
                transmission,
                sealed,
                icc_data,
                expiry,
                psn,
                result,
                now(),
                merchant_risk
            ],
        )?;
        Ok(())
    }

    /// Queues `id`, paid with a customer's signed offline code while the host could not be
    /// reached, as an 0220 advice carrying the code (`code`, DE 104); it has no card number.
    pub fn queue_code_advice(
        &self,
        id: i64,
        code: &[u8],
        stan: u32,
        transmission: &str,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET state = 'advice-pending', approved = 1, mti = '0220',
                    processing = '000000', stan = ?2, transmission = ?3, advice_icc = ?4,
                    result = ?5, updated_at = ?6
             WHERE id = ?1",
            params![
                id,
                stan,
                transmission,
                code,
                "offline code accepted offline; advice queued for the host",
                now()
            ],
        )?;
        Ok(())
    }

    /// The merchant-risk advices (ARQCs accepted offline) waiting for the host: count and
    /// total amount.
    pub fn merchant_risk_queue(&self) -> Result<(u64, u64), JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM transactions
             WHERE state = 'advice-pending' AND merchant_risk = 1",
            [],
            |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
        )?)
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
    /// seconds (by the system clock).
    pub fn advice_queue(&self) -> Result<(u64, u64, Option<f64>), JournalError> {
        let queue = self.advice_queue_at(std::time::SystemTime::now())?;
        Ok((queue.count, queue.total, queue.oldest_age))
    }

    /// The advices waiting for the host, their ages measured at `now`.
    pub fn advice_queue_at(&self, now: std::time::SystemTime) -> Result<AdviceQueue, JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0),
                    (julianday(?1) - julianday(MIN(created_at))) * 86400.0,
                    (julianday(?1) - julianday(MAX(created_at))) * 86400.0
             FROM transactions WHERE state = 'advice-pending'",
            [rfc3339(now)],
            |r| {
                Ok(AdviceQueue {
                    count: to_u64(r.get(0)?),
                    total: to_u64(r.get(1)?),
                    oldest_age: r.get(2)?,
                    newest_age: r.get(3)?,
                })
            },
        )?)
    }
}

/// The store-and-forward queue at a given time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdviceQueue {
    /// Advices waiting.
    pub count: u64,
    /// Their total amount (minor units).
    pub total: u64,
    /// Seconds since the oldest was queued.
    pub oldest_age: Option<f64>,
    /// Seconds since the newest was queued: negative when the clock is behind it (set back).
    pub newest_age: Option<f64>,
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
