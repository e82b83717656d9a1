//! Batch totals of a reconciliation (`docs/iso8583.md` §4, 0500/0510): the one type the
//! terminal's journal counts, the 0500 carries and the 0510 echoes.

use super::Message;

/// Counts and sums, in minor units of the batch's currency, of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTotals {
    /// DE 74: approved refunds not reversed.
    pub credits: u64,
    /// DE 75: reversed or voided refunds.
    pub credit_reversals: u64,
    /// DE 76: approved purchases and accepted advices not reversed.
    pub debits: u64,
    /// DE 77: reversed or voided purchases.
    pub debit_reversals: u64,
    /// DE 86: sum matching DE 74.
    pub credits_amount: u64,
    /// DE 87: sum matching DE 75.
    pub credit_reversals_amount: u64,
    /// DE 88: sum matching DE 76.
    pub debits_amount: u64,
    /// DE 89: sum matching DE 77.
    pub debit_reversals_amount: u64,
}

impl BatchTotals {
    /// DE 97, amount, net settlement (`x+n16`): `D` + debits − credits when debits are not
    /// smaller, else `C` + credits − debits (DE 88 and DE 86: reversed items are not in them).
    pub fn net_settlement(&self) -> String {
        if self.debits_amount >= self.credits_amount {
            format!("D{:016}", self.debits_amount - self.credits_amount)
        } else {
            format!("C{:016}", self.credits_amount - self.debits_amount)
        }
    }

    /// The totals a 0500 or 0510 carries in DE 74-77 and 86-89, if every one is present and
    /// numeric.
    pub fn from_message(message: &Message) -> Option<Self> {
        let n = |field: u8| message.text(field)?.parse::<u64>().ok();
        Some(Self {
            credits: n(74)?,
            credit_reversals: n(75)?,
            debits: n(76)?,
            debit_reversals: n(77)?,
            credits_amount: n(86)?,
            credit_reversals_amount: n(87)?,
            debits_amount: n(88)?,
            debit_reversals_amount: n(89)?,
        })
    }

    /// Writes the totals into DE 74-77 (10 digits), 86-89 (16 digits) and DE 97: the 0500's
    /// terminal totals, or the host's own in the 0510.
    pub fn write_into(&self, message: &mut Message) {
        message
            .set(74, format!("{:010}", self.credits))
            .set(75, format!("{:010}", self.credit_reversals))
            .set(76, format!("{:010}", self.debits))
            .set(77, format!("{:010}", self.debit_reversals))
            .set(86, format!("{:016}", self.credits_amount))
            .set(87, format!("{:016}", self.credit_reversals_amount))
            .set(88, format!("{:016}", self.debits_amount))
            .set(89, format!("{:016}", self.debit_reversals_amount))
            .set(97, self.net_settlement());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso8583::Mti;

    #[test]
    fn net_settlement_side() {
        let credit_heavy = BatchTotals {
            credits_amount: 700,
            debits_amount: 200,
            ..BatchTotals::default()
        };
        assert_eq!(credit_heavy.net_settlement(), "C0000000000000500");
        assert_eq!(BatchTotals::default().net_settlement(), "D0000000000000000");
    }

    #[test]
    fn totals_read_back_from_a_message() {
        let totals = BatchTotals {
            credits: 1,
            credit_reversals: 2,
            debits: 3,
            debit_reversals: 4,
            credits_amount: 5,
            credit_reversals_amount: 6,
            debits_amount: 7,
            debit_reversals_amount: 8,
        };
        let mut m = Message::new(Mti::RECONCILIATION_RESPONSE);
        totals.write_into(&mut m);
        assert_eq!(BatchTotals::from_message(&m), Some(totals));
        m.remove(89);
        assert_eq!(BatchTotals::from_message(&m), None);
    }
}
