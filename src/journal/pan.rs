//! The card number in the journal: a keyed hash to recognise a card, and a sealed copy kept
//! only while a later message needs it (a completion, an advice), then erased.

use emv::pan::Pan;
use rusqlite::{OptionalExtension, params};

use super::{Journal, JournalError, now, seal};

impl Journal {
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
}
