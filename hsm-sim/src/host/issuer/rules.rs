//! The issuer's rules as pure functions (`docs/iso8583.md` §4-§5): given the account as the
//! ledger holds it and the facts of the request (amount, PIN and ARQC outcomes, ATC, KSN,
//! expiry, kind), each rule decides DE 39 and the effect on the account. Nothing here reads or
//! writes the ledger; the callers load the facts, call the rule and store what it returns.

use super::PinOutcome;
use super::calendar::Date;
use super::demo::{CONTACTLESS_CVM_LIMIT, PIN_TRY_LIMIT};

/// An issuer account as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) id: i64,
    /// `visa`, `mastercard` or `unionpay`.
    pub(crate) scheme: String,
    /// Available balance, minor units.
    pub(crate) balance: i64,
    /// `active`, `blocked` or `lost`.
    pub(crate) status: String,
    pub(crate) daily_limit: i64,
    /// The day (`YYYYMMDD`) `spent_today` counts.
    pub(crate) spent_day: String,
    pub(crate) spent_today: i64,
    /// Wrong PINs in a row.
    pub(crate) pin_tries: i64,
    /// `YYMM`.
    pub(crate) expiry: String,
    /// The highest ATC seen in an ARQC.
    pub(crate) last_atc: i64,
}

/// The ARQC check's outcome as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chip {
    /// No DE 55.
    Absent,
    /// The HSM could not check it.
    Unavailable,
    /// Checked: whether the cryptogram verified, and the card's ATC.
    Checked { valid: bool, atc: u16 },
}

/// The PIN key's KSN of a request with DE 63: its counter and the highest counter already seen
/// for that key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KsnFacts {
    pub(crate) counter: i64,
    pub(crate) highest_seen: Option<i64>,
}

/// The facts of an authorization, purchase or account verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizationFacts {
    /// A zero-amount account verification (DE 25 `51`).
    pub(crate) verification: bool,
    /// DE 4, minor units.
    pub(crate) amount: i64,
    /// The card's expiry (`YYMM`) from the request, if it has one.
    pub(crate) expiry: Option<String>,
    /// Read contactless (DE 22 `07x` or `91x`).
    pub(crate) contactless: bool,
    /// The card says it verified the cardholder itself (CDCVM).
    pub(crate) consumer_device_cvm: bool,
    pub(crate) pin: PinOutcome,
    pub(crate) chip: Chip,
    pub(crate) pin_ksn: Option<KsnFacts>,
    pub(crate) today: Date,
}

/// An authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// DE 39.
    pub(crate) code: &'static str,
    /// The account with its new balance and counters, to be saved whatever the code (PIN
    /// tries, ATC and the daily total change on declines too); `None` for an unknown card.
    pub(crate) account: Option<Account>,
    /// Whether the request's PIN KSN counter becomes the highest seen for its key.
    pub(crate) record_ksn: bool,
}

impl Decision {
    /// Approved: `00`, or `85` for an account verification.
    pub(crate) fn approved(&self) -> bool {
        self.code == APPROVED || self.code == APPROVED_VERIFICATION
    }
}

/// The authorization decision, in the order an issuer applies its checks: card known (`14`),
/// amount (`13`), account status (`57`), expiry (`54`), cryptogram (`91`, `05`), ATC (`05`),
/// PIN KSN (`05`), PIN (`91`, `05`, `75`, `55`), then for an account verification `85`, and
/// otherwise the contactless CVM limit (`1A` Visa, `65` others), the daily limit (`61`), the
/// balance (`51`), and `00` with the amount held.
pub(crate) fn authorize(found: Option<Account>, facts: &AuthorizationFacts) -> Decision {
    let mut decision = Decision {
        code: APPROVED,
        account: None,
        record_ksn: false,
    };
    let Some(mut a) = found else {
        decision.code = "14";
        return decision;
    };
    decision.code = authorize_account(&mut a, facts, &mut decision.record_ksn);
    decision.account = Some(a);
    decision
}

fn authorize_account(
    a: &mut Account,
    facts: &AuthorizationFacts,
    record_ksn: &mut bool,
) -> &'static str {
    let amount = facts.amount;
    if (facts.verification && amount != 0) || (!facts.verification && amount <= 0) {
        return "13";
    }
    if a.status != "active" {
        return "57";
    }
    let expiry = facts.expiry.as_deref().unwrap_or(&a.expiry);
    if expiry < facts.today.yymm().as_str() {
        return "54";
    }
    match facts.chip {
        Chip::Unavailable => return "91",
        Chip::Checked { valid: false, .. } => return "05",
        Chip::Checked { atc, .. } => {
            if i64::from(atc) <= a.last_atc {
                tracing::warn!("ATC replay");
                return "05";
            }
            a.last_atc = i64::from(atc);
        }
        Chip::Absent => {}
    }
    if let Some(ksn) = facts.pin_ksn {
        if ksn.highest_seen.is_some_and(|seen| ksn.counter <= seen) {
            tracing::warn!("DUKPT KSN replay");
            return "05";
        }
        *record_ksn = true;
    }
    match facts.pin {
        PinOutcome::Unavailable => return "91",
        PinOutcome::Replayed => {
            tracing::warn!("DUKPT KSN replay (HSM)");
            return "05";
        }
        _ if facts.pin != PinOutcome::Absent && a.pin_tries >= PIN_TRY_LIMIT => return "75",
        PinOutcome::Wrong => {
            a.pin_tries += 1;
            return if a.pin_tries >= PIN_TRY_LIMIT {
                "75"
            } else {
                "55"
            };
        }
        PinOutcome::Correct => a.pin_tries = 0,
        PinOutcome::Absent => {}
    }
    if facts.verification {
        // Card, status, expiry, ARQC, ATC, KSN and PIN all passed: no amount to check, hold
        // or post.
        return APPROVED_VERIFICATION;
    }
    if facts.contactless
        && facts.pin == PinOutcome::Absent
        && !facts.consumer_device_cvm
        && amount > CONTACTLESS_CVM_LIMIT
    {
        return if a.scheme == "visa" { "1A" } else { "65" };
    }
    let today = facts.today.yyyymmdd();
    if a.spent_day != today {
        a.spent_day = today;
        a.spent_today = 0;
    }
    if a.spent_today.saturating_add(amount) > a.daily_limit {
        return "61";
    }
    if a.balance < amount {
        return "51";
    }
    a.balance -= amount;
    a.spent_today += amount;
    APPROVED
}

/// A refund: unknown card `14`, no amount `13`, account not active `57`, else `00` (credited).
pub(crate) fn refund(found: Option<&Account>, amount: i64) -> &'static str {
    match found {
        None => "14",
        Some(_) if amount <= 0 => "13",
        Some(a) if a.status != "active" => "57",
        Some(_) => APPROVED,
    }
}

/// A refund that names its original sale in DE 90 (`docs/iso8583.md` §4): unknown original
/// `25`; an original that is not an approved, unreversed sale `12`; refunds of it approved so
/// far (`refunded`) plus this one above the sale's amount `13`; else `00`.
pub(crate) fn refund_of(original: Option<&Original>, refunded: i64, amount: i64) -> &'static str {
    match original {
        None => "25",
        Some(o) if !matches!(o.kind.as_str(), "purchase" | "advice" | "completion") => "12",
        Some(o) if !o.approved || o.reversed => "12",
        Some(o) if refunded.saturating_add(amount) > o.amount => "13",
        Some(_) => APPROVED,
    }
}

/// An original transaction that a void, reversal or completion names (DE 90).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Original {
    pub(crate) id: i64,
    /// Its ledger kind (`purchase`, `refund`, `authorization`, ...).
    pub(crate) kind: String,
    pub(crate) approved: bool,
    pub(crate) reversed: bool,
    pub(crate) account_id: Option<i64>,
    pub(crate) amount: i64,
}

/// What undoing `original` gives back to its account (a debit comes back, a credit goes);
/// `None` when there is nothing to undo (declined, already reversed, or a kind without money).
pub(crate) fn undo(original: &Original) -> Option<i64> {
    if !original.approved || original.reversed {
        return None;
    }
    match original.kind.as_str() {
        "authorization" | "purchase" | "advice" | "completion" => Some(original.amount),
        "refund" => Some(-original.amount),
        _ => None,
    }
}

/// A void: unknown original `25`, not a purchase (or refund, for a void of a refund) or not
/// approved `12`, else `00` (the original is undone).
pub(crate) fn void(original: Option<&Original>, of_refund: bool) -> &'static str {
    let voidable = if of_refund { "refund" } else { "purchase" };
    match original {
        None => "25",
        Some(o) if o.kind != voidable || !o.approved => "12",
        Some(_) => APPROVED,
    }
}

/// A reversal is always acknowledged; DE 39 says what there was to undo: `25` the original
/// never arrived, `21` it was declined, `00` it was approved (reversed now or before).
pub(crate) fn reversal(original: Option<&Original>) -> &'static str {
    match original {
        None => "25",
        Some(o) if !o.approved => "21",
        Some(_) => APPROVED,
    }
}

/// An advice is acknowledged `00` whatever happens; it is posted (balance down even below zero,
/// daily total up, ATC kept as the highest seen) unless the card is unknown or its cryptogram
/// does not verify. Returns the account to save, if it is posted.
pub(crate) fn post_advice(found: Option<&Account>, amount: i64, chip: Chip) -> Option<Account> {
    if matches!(chip, Chip::Checked { valid: false, .. }) {
        return None;
    }
    let mut a = found?.clone();
    a.balance -= amount;
    a.spent_today += amount;
    if let Chip::Checked { atc, .. } = chip {
        a.last_atc = a.last_atc.max(i64::from(atc));
    }
    Some(a)
}

/// DE 39 of an approval.
pub(crate) const APPROVED: &str = "00";
/// DE 39 of an approved account verification: `85`, no reason to decline (ISO 8583:1987).
pub(crate) const APPROVED_VERIFICATION: &str = "85";

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date {
        year: 2026,
        month: 12,
        day: 3,
    };

    fn account() -> Account {
        Account {
            id: 1,
            scheme: "visa".into(),
            balance: 10_000,
            status: "active".into(),
            daily_limit: 8_000,
            spent_day: "20261203".into(),
            spent_today: 0,
            pin_tries: 0,
            expiry: "2812".into(),
            last_atc: 10,
        }
    }

    fn facts(amount: i64) -> AuthorizationFacts {
        AuthorizationFacts {
            verification: false,
            amount,
            expiry: None,
            contactless: false,
            consumer_device_cvm: false,
            pin: PinOutcome::Absent,
            chip: Chip::Checked {
                valid: true,
                atc: 11,
            },
            pin_ksn: None,
            today: TODAY,
        }
    }

    fn code(found: Option<Account>, facts: &AuthorizationFacts) -> &'static str {
        authorize(found, facts).code
    }

    #[test]
    fn an_approval_holds_the_amount_and_keeps_the_atc() {
        let d = authorize(Some(account()), &facts(1_500));
        assert_eq!(d.code, "00");
        assert!(d.approved());
        let a = d.account.unwrap();
        assert_eq!((a.balance, a.spent_today, a.last_atc), (8_500, 1_500, 11));
    }

    #[test]
    fn every_authorization_decline_code() {
        assert_eq!(code(None, &facts(100)), "14");
        assert_eq!(code(Some(account()), &facts(0)), "13");
        let blocked = Account {
            status: "blocked".into(),
            ..account()
        };
        assert_eq!(code(Some(blocked), &facts(100)), "57");
        let expired = Account {
            expiry: "2611".into(),
            ..account()
        };
        assert_eq!(code(Some(expired), &facts(100)), "54");
        // The request's expiry wins over the account's.
        let f = AuthorizationFacts {
            expiry: Some("2001".into()),
            ..facts(100)
        };
        assert_eq!(code(Some(account()), &f), "54");
        let bad_arqc = AuthorizationFacts {
            chip: Chip::Checked {
                valid: false,
                atc: 11,
            },
            ..facts(100)
        };
        assert_eq!(code(Some(account()), &bad_arqc), "05");
        let replayed_atc = AuthorizationFacts {
            chip: Chip::Checked {
                valid: true,
                atc: 10,
            },
            ..facts(100)
        };
        assert_eq!(code(Some(account()), &replayed_atc), "05");
        let hsm_down = AuthorizationFacts {
            chip: Chip::Unavailable,
            ..facts(100)
        };
        assert_eq!(code(Some(account()), &hsm_down), "91");
        let low = Account {
            balance: 99,
            ..account()
        };
        assert_eq!(code(Some(low), &facts(100)), "51");
        assert_eq!(code(Some(account()), &facts(8_001)), "61");
    }

    #[test]
    fn pin_rules() {
        let with_pin = |pin| AuthorizationFacts { pin, ..facts(100) };
        let d = authorize(Some(account()), &with_pin(PinOutcome::Wrong));
        assert_eq!(d.code, "55");
        assert_eq!(d.account.as_ref().map(|a| a.pin_tries), Some(1));
        assert_eq!(d.account.as_ref().map(|a| a.balance), Some(10_000));
        let two_wrong = Account {
            pin_tries: 2,
            ..account()
        };
        let d = authorize(Some(two_wrong), &with_pin(PinOutcome::Wrong));
        assert_eq!(d.code, "75", "the third wrong PIN");
        let blocked_pin = Account {
            pin_tries: 3,
            ..account()
        };
        assert_eq!(
            code(Some(blocked_pin.clone()), &with_pin(PinOutcome::Correct)),
            "75",
            "a correct PIN does not unblock"
        );
        assert_eq!(
            code(Some(blocked_pin), &facts(100)),
            "00",
            "no PIN, no PIN check"
        );
        let d = authorize(
            Some(Account {
                pin_tries: 2,
                ..account()
            }),
            &with_pin(PinOutcome::Correct),
        );
        assert_eq!((d.code, d.account.map(|a| a.pin_tries)), ("00", Some(0)));
        assert_eq!(code(Some(account()), &with_pin(PinOutcome::Replayed)), "05");
        assert_eq!(
            code(Some(account()), &with_pin(PinOutcome::Unavailable)),
            "91"
        );
    }

    #[test]
    fn the_pin_ksn_must_advance() {
        let with_ksn = |counter, highest_seen| AuthorizationFacts {
            pin: PinOutcome::Correct,
            pin_ksn: Some(KsnFacts {
                counter,
                highest_seen,
            }),
            ..facts(100)
        };
        let d = authorize(Some(account()), &with_ksn(5, Some(5)));
        assert_eq!((d.code, d.record_ksn), ("05", false));
        let d = authorize(Some(account()), &with_ksn(6, Some(5)));
        assert_eq!((d.code, d.record_ksn), ("00", true));
        let d = authorize(Some(account()), &with_ksn(1, None));
        assert_eq!((d.code, d.record_ksn), ("00", true));
        // Declined before the KSN is looked at: not recorded.
        let d = authorize(None, &with_ksn(7, None));
        assert_eq!((d.code, d.record_ksn), ("14", false));
    }

    #[test]
    fn contactless_above_the_cvm_limit_is_a_soft_decline() {
        let tap = |amount| AuthorizationFacts {
            contactless: true,
            ..facts(amount)
        };
        assert_eq!(code(Some(account()), &tap(CONTACTLESS_CVM_LIMIT)), "00");
        assert_eq!(code(Some(account()), &tap(CONTACTLESS_CVM_LIMIT + 1)), "1A");
        let mastercard = Account {
            scheme: "mastercard".into(),
            ..account()
        };
        assert_eq!(
            code(Some(mastercard), &tap(CONTACTLESS_CVM_LIMIT + 1)),
            "65"
        );
        let cdcvm = AuthorizationFacts {
            consumer_device_cvm: true,
            ..tap(CONTACTLESS_CVM_LIMIT + 1)
        };
        assert_eq!(code(Some(account()), &cdcvm), "00");
    }

    #[test]
    fn the_daily_total_restarts_on_a_new_day() {
        let yesterday = Account {
            spent_day: "20261202".into(),
            spent_today: 8_000,
            ..account()
        };
        let d = authorize(Some(yesterday), &facts(1_000));
        assert_eq!(d.code, "00");
        let a = d.account.unwrap();
        assert_eq!((a.spent_day.as_str(), a.spent_today), ("20261203", 1_000));
    }

    #[test]
    fn account_verification() {
        let check = |amount| AuthorizationFacts {
            verification: true,
            pin: PinOutcome::Correct,
            ..facts(amount)
        };
        let d = authorize(Some(account()), &check(0));
        assert_eq!(d.code, "85");
        assert!(d.approved());
        assert_eq!(d.account.map(|a| a.balance), Some(10_000), "nothing held");
        assert_eq!(code(Some(account()), &check(1)), "13");
        assert_eq!(code(None, &check(0)), "14");
        let wrong_pin = AuthorizationFacts {
            pin: PinOutcome::Wrong,
            ..check(0)
        };
        assert_eq!(code(Some(account()), &wrong_pin), "55");
    }

    #[test]
    fn refunds_of_a_sale_never_exceed_it() {
        let sale = original("purchase", true, false);
        assert_eq!(sale.amount, 250);
        assert_eq!(refund_of(Some(&sale), 0, 250), "00");
        assert_eq!(refund_of(Some(&sale), 150, 100), "00");
        assert_eq!(refund_of(Some(&sale), 150, 101), "13");
        assert_eq!(refund_of(Some(&sale), 250, 1), "13");
        assert_eq!(
            refund_of(Some(&original("completion", true, false)), 0, 250),
            "00"
        );
        assert_eq!(refund_of(None, 0, 1), "25");
        assert_eq!(
            refund_of(Some(&original("purchase", false, false)), 0, 1),
            "12"
        );
        assert_eq!(
            refund_of(Some(&original("purchase", true, true)), 0, 1),
            "12"
        );
        assert_eq!(
            refund_of(Some(&original("refund", true, false)), 0, 1),
            "12"
        );
    }

    #[test]
    fn refund_codes() {
        assert_eq!(refund(None, 100), "14");
        assert_eq!(refund(Some(&account()), 0), "13");
        let lost = Account {
            status: "lost".into(),
            ..account()
        };
        assert_eq!(refund(Some(&lost), 100), "57");
        assert_eq!(refund(Some(&account()), 100), "00");
    }

    fn original(kind: &str, approved: bool, reversed: bool) -> Original {
        Original {
            id: 7,
            kind: kind.into(),
            approved,
            reversed,
            account_id: Some(1),
            amount: 250,
        }
    }

    #[test]
    fn voids_reversals_and_what_they_undo() {
        assert_eq!(void(None, false), "25");
        assert_eq!(void(Some(&original("purchase", true, false)), false), "00");
        assert_eq!(void(Some(&original("purchase", false, false)), false), "12");
        assert_eq!(void(Some(&original("refund", true, false)), false), "12");
        assert_eq!(void(Some(&original("refund", true, false)), true), "00");
        assert_eq!(void(Some(&original("void", true, false)), false), "12");

        assert_eq!(reversal(None), "25");
        assert_eq!(reversal(Some(&original("purchase", false, false))), "21");
        assert_eq!(reversal(Some(&original("purchase", true, true))), "00");

        assert_eq!(undo(&original("purchase", true, false)), Some(250));
        assert_eq!(undo(&original("completion", true, false)), Some(250));
        assert_eq!(undo(&original("refund", true, false)), Some(-250));
        assert_eq!(undo(&original("purchase", true, true)), None);
        assert_eq!(undo(&original("purchase", false, false)), None);
        assert_eq!(undo(&original("verification", true, false)), None);
    }

    #[test]
    fn advices_post_unless_forged_or_unknown() {
        let valid = Chip::Checked {
            valid: true,
            atc: 3,
        };
        let a = post_advice(Some(&account()), 12_000, valid).unwrap();
        assert_eq!(
            (a.balance, a.last_atc),
            (-2_000, 10),
            "below zero; ATC not lowered"
        );
        let forged = Chip::Checked {
            valid: false,
            atc: 30,
        };
        assert_eq!(post_advice(Some(&account()), 100, forged), None);
        assert_eq!(post_advice(None, 100, Chip::Absent), None);
    }
}
