//! Which of the terminal's four doors a payment came through ([`PaymentMethod`]), kept with the
//! transaction so that the history, the receipt and the settlement can tell them apart.

use rusqlite::params;

use super::{Journal, JournalError, now};

/// How the customer paid. Every door lands in the same journal, with the same states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PaymentMethod {
    /// A contactless card or a phone wallet tapped on the reader.
    #[default]
    Card,
    /// The customer's EMVCo consumer-presented code, scanned by the terminal.
    CustomerCode,
    /// The customer's signed code made while their phone was offline, scanned by the terminal.
    OfflineCode,
    /// The merchant's dynamic code, scanned and paid by the customer's wallet.
    MerchantCode,
    /// A request sent to the customer's phone and confirmed there.
    RequestToPay,
}

impl PaymentMethod {
    /// The journal's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::CustomerCode => "customer-code",
            Self::OfflineCode => "offline-code",
            Self::MerchantCode => "merchant-code",
            Self::RequestToPay => "request-to-pay",
        }
    }

    /// Parses [`PaymentMethod::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "card" => Self::Card,
            "customer-code" => Self::CustomerCode,
            "offline-code" => Self::OfflineCode,
            "merchant-code" => Self::MerchantCode,
            "request-to-pay" => Self::RequestToPay,
            _ => return None,
        })
    }
}

impl Journal {
    /// Records that `id` is paid through `method` (a new row is [`PaymentMethod::Card`]).
    pub fn set_method(&self, id: i64, method: PaymentMethod) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE transactions SET method = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, method.as_str(), now()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{JOURNAL_FILE, TxKind};

    #[test]
    fn every_method_round_trips_through_its_name() {
        for m in [
            PaymentMethod::Card,
            PaymentMethod::CustomerCode,
            PaymentMethod::OfflineCode,
            PaymentMethod::MerchantCode,
            PaymentMethod::RequestToPay,
        ] {
            assert_eq!(PaymentMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(PaymentMethod::parse("cash"), None);
    }

    #[test]
    fn a_new_row_is_a_card_and_an_older_journal_gains_the_column() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let id = {
            let journal = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            journal
                .create(TxKind::Sale, 1_000, 0, 978, None)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let conn = rusqlite::Connection::open(dir.path().join(JOURNAL_FILE))
            .unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("ALTER TABLE transactions DROP COLUMN method")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let journal = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let rec = journal.get(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.map(|r| r.method), Some(PaymentMethod::Card));
        journal
            .set_method(id, PaymentMethod::MerchantCode)
            .unwrap_or_else(|e| panic!("{e}"));
        let rec = journal.get(id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.map(|r| r.method), Some(PaymentMethod::MerchantCode));
    }
}
