//! Builders of the dialect's requests that the terminal and the simulator's own clients share,
//! so that one message type is built in one place (`docs/iso8583.md` §4).

use super::{Message, Mti};

/// Batch totals of a reconciliation (`docs/iso8583.md` §4, 0500): counts and sums in minor
/// units of the batch's currency.
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
}

/// A 0500 reconciliation request (`docs/iso8583.md` §4): DE 7 `transmission` (`MMDDhhmmss`,
/// UTC), DE 11 `stan`, DE 41 `terminal_id`, DE 60 `batch` (6 digits), the totals in DE 74-77
/// (10 digits) and 86-89 (16 digits), and the net in DE 97. The terminal (`softpos`'s engine)
/// and `hsm_sim::host::client::requests::reconciliation` both build it here.
pub fn reconciliation_request(
    terminal_id: &str,
    stan: u32,
    transmission: &str,
    batch: u32,
    totals: &BatchTotals,
) -> Message {
    Message::new(Mti::RECONCILIATION_REQUEST)
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(41, terminal_id)
        .with(60, format!("{batch:06}"))
        .with(74, format!("{:010}", totals.credits))
        .with(75, format!("{:010}", totals.credit_reversals))
        .with(76, format!("{:010}", totals.debits))
        .with(77, format!("{:010}", totals.debit_reversals))
        .with(86, format!("{:016}", totals.credits_amount))
        .with(87, format!("{:016}", totals.credit_reversals_amount))
        .with(88, format!("{:016}", totals.debits_amount))
        .with(89, format!("{:016}", totals.debit_reversals_amount))
        .with(97, totals.net_settlement())
}

/// A zero-amount account verification ("card check", `docs/iso8583.md` §4): a 0100 with
/// DE 3 `000000`, DE 4 zero and DE 25 `51`, for `pan` read with POS entry mode `entry_mode`
/// (DE 22), in `currency` (DE 49, ISO 4217 numeric). Chip data (DE 55), PIN (DE 62/63) and
/// the MAC are added by the caller. The host answers `85` when nothing declines the card.
pub fn account_verification_request(
    terminal_id: &str,
    merchant_id: &str,
    stan: u32,
    transmission: &str,
    pan: &str,
    entry_mode: &str,
    currency: &str,
) -> Message {
    Message::new(Mti::AUTHORIZATION_REQUEST)
        .with(2, pan)
        .with(3, "000000")
        .with(4, "000000000000")
        .with(7, transmission)
        .with(11, format!("{stan:06}"))
        .with(12, transmission.get(4..).unwrap_or("000000"))
        .with(13, transmission.get(..4).unwrap_or("0101"))
        .with(22, entry_mode)
        .with(25, "51")
        .with(41, terminal_id)
        .with(42, merchant_id)
        .with(49, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciliation_encodes_every_total_and_the_net_side() {
        let debit_heavy = BatchTotals {
            credits: 1,
            credit_reversals: 0,
            debits: 3,
            debit_reversals: 2,
            credits_amount: 500,
            credit_reversals_amount: 0,
            debits_amount: 12_345,
            debit_reversals_amount: 999,
        };
        let m = reconciliation_request("T0000001", 42, "1122334455", 7, &debit_heavy);
        let decoded = Message::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(decoded.mti(), Mti::RECONCILIATION_REQUEST);
        assert_eq!(decoded.text(11), Some("000042"));
        assert_eq!(decoded.text(60), Some("000007"));
        assert_eq!(decoded.text(76), Some("0000000003"));
        assert_eq!(decoded.text(77), Some("0000000002"));
        assert_eq!(decoded.text(88), Some("0000000000012345"));
        assert_eq!(decoded.text(89), Some("0000000000000999"));
        assert_eq!(decoded.text(97), Some("D0000000000011845"));

        let credit_heavy = BatchTotals {
            credits_amount: 700,
            debits_amount: 200,
            ..BatchTotals::default()
        };
        assert_eq!(credit_heavy.net_settlement(), "C0000000000000500");
        assert_eq!(BatchTotals::default().net_settlement(), "D0000000000000000");
    }

    #[test]
    fn account_verification_is_a_zero_amount_0100_with_condition_51() {
        let m = account_verification_request(
            "T0000001",
            "MERCHANT0000001",
            5,
            "1122334455",
            "4761739001010119",
            "071",
            "978",
        );
        let d = Message::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(d.mti(), Mti::AUTHORIZATION_REQUEST);
        assert_eq!(d.text(3), Some("000000"));
        assert_eq!(d.text(4), Some("000000000000"));
        assert_eq!(d.text(25), Some("51"));
        assert_eq!(d.text(12), Some("334455"));
        assert_eq!(d.text(13), Some("1122"));
    }
}
