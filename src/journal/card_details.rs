//! What a receipt shows of the card read, kept with the transaction so that the receipt of a
//! past transaction can be printed again from the journal alone.

use rusqlite::params;

use super::{Journal, JournalError, now};

/// The card read as a receipt shows it. Nothing here is secret: no PAN, no track data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardDetails {
    /// The application identifier, hex.
    pub aid: Option<String>,
    /// How the card was read: `contactless chip`, `wallet` (a phone or watch).
    pub entry_mode: Option<String>,
    /// The cardholder verification: `PIN verified`, `Verified on device`, `No CVM`,
    /// `Signature`.
    pub cvm: Option<String>,
    /// `95` terminal verification results, hex.
    pub tvr: Option<String>,
    /// `9B` transaction status information, hex (contactless kernels rarely set it).
    pub tsi: Option<String>,
}

impl Journal {
    /// Records what the receipt shows of the card read of `id`.
    pub fn card_details(&self, id: i64, details: &CardDetails) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET aid = ?2, entry_mode = ?3, cvm = ?4, tvr = ?5, tsi = ?6,
                    updated_at = ?7 WHERE id = ?1",
            params![
                id,
                details.aid,
                details.entry_mode,
                details.cvm,
                details.tvr,
                details.tsi,
                now()
            ],
        )?;
        Ok(())
    }
}
