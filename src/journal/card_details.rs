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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{JOURNAL_FILE, TxKind};

    #[test]
    fn an_older_journal_gains_the_columns_and_keeps_the_details() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let id = {
            let journal = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            journal
                .create(TxKind::Sale, 1_000, 0, 978, None)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        // A journal written before the receipt columns existed.
        let conn = rusqlite::Connection::open(dir.path().join(JOURNAL_FILE))
            .unwrap_or_else(|e| panic!("{e}"));
        for column in ["aid", "entry_mode", "cvm", "tvr", "tsi"] {
            conn.execute_batch(&format!("ALTER TABLE transactions DROP COLUMN {column}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(conn);
        let journal = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let rec = journal.get(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.map(|r| r.card_details), Some(CardDetails::default()));
        let details = CardDetails {
            aid: Some("A0000000031010".into()),
            entry_mode: Some("contactless chip".into()),
            cvm: Some("PIN verified".into()),
            tvr: Some("0000008000".into()),
            tsi: None,
        };
        journal
            .card_details(id, &details)
            .unwrap_or_else(|e| panic!("{e}"));
        let rec = journal.get(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.map(|r| r.card_details), Some(details));
    }
}
