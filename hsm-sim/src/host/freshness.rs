//! DE 7 freshness (`docs/iso8583.md` §7): a request's transmission date and time (UTC
//! `MMDDhhmmss`, no year) must lie within [`WINDOW`] of the host's clock, or it is refused
//! `63` (security violation) as a possible replay.
//!
//! Advices and reversals (0220/0221, 0400/0401, 0420/0421) are exempt: they keep the DE 7 of
//! their first transmission (§7) and the terminal's store-and-forward sends them late, after an
//! outage or a restart. They can only record what the card already approved or undo what the
//! host holds, and the idempotency key and the MAC KSN, which must always advance, still refuse
//! a replay of them.
//!
//! DE 7 has no year: the year is the one (of last, this and next year) that puts the date
//! closest to the host's clock, so a request sent at 23:59:59 on 31 December and received just
//! after midnight is fresh.

use std::time::{Duration, SystemTime};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::iso8583::Mti;

/// How far DE 7 may be from the host's clock, either way.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// DE 39 for a request outside the window: ISO 8583:1987 `63`, security violation.
pub const STALE_CODE: &str = "63";

/// Whether requests of `mti` are held to the window (not advices or reversals).
pub fn applies_to(mti: Mti) -> bool {
    !matches!(
        mti.original(),
        Mti::FINANCIAL_ADVICE | Mti::REVERSAL_REQUEST | Mti::REVERSAL_ADVICE
    )
}

/// Whether `transmission` (DE 7, `MMDDhhmmss`) is within `window` of `now`. A malformed or
/// impossible date is not fresh.
pub fn is_fresh(transmission: &str, now: SystemTime, window: Duration) -> bool {
    let Some(offset) = distance(transmission, now) else {
        return false;
    };
    offset <= window
}

/// The distance between DE 7 (in the year that makes it closest) and `now`.
fn distance(transmission: &str, now: SystemTime) -> Option<Duration> {
    if transmission.len() != 10 || !transmission.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| transmission.get(i..i + 2)?.parse::<u8>().ok();
    let month = Month::try_from(field(0)?).ok()?;
    let (day, hour, minute, second) = (field(2)?, field(4)?, field(6)?, field(8)?);
    let time = Time::from_hms(hour, minute, second).ok()?;
    let now = OffsetDateTime::from(now);
    let year = now.year();
    [year - 1, year, year + 1]
        .into_iter()
        .filter_map(|y| Date::from_calendar_date(y, month, day).ok())
        .map(|date| PrimitiveDateTime::new(date, time).assume_utc())
        .map(|sent| (sent - now).unsigned_abs())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `"YYYY-MM-DD hh:mm:ss"` in UTC.
    fn at(text: &str) -> SystemTime {
        let n = |r: std::ops::Range<usize>| text[r].parse::<u8>().unwrap();
        let year = text[..4].parse::<i32>().unwrap();
        let date = Date::from_calendar_date(year, Month::try_from(n(5..7)).unwrap(), n(8..10));
        let time = Time::from_hms(n(11..13), n(14..16), n(17..19)).unwrap();
        PrimitiveDateTime::new(date.unwrap(), time)
            .assume_utc()
            .into()
    }

    #[test]
    fn within_the_window_either_way() {
        let now = at("2026-06-15 12:00:00");
        assert!(is_fresh("0615120000", now, WINDOW));
        assert!(is_fresh("0615114500", now, WINDOW));
        assert!(is_fresh("0615121500", now, WINDOW));
        assert!(!is_fresh("0615114459", now, WINDOW));
        assert!(!is_fresh("0615121501", now, WINDOW));
        assert!(!is_fresh("0614120000", now, WINDOW));
    }

    #[test]
    fn new_year_wraps() {
        let just_after = at("2027-01-01 00:05:00");
        assert!(is_fresh("1231235959", just_after, WINDOW));
        let just_before = at("2026-12-31 23:55:00");
        assert!(is_fresh("0101000500", just_before, WINDOW));
        assert!(!is_fresh("1231230000", just_after, WINDOW));
    }

    #[test]
    fn malformed_dates_are_not_fresh() {
        let now = at("2026-06-15 12:00:00");
        for bad in [
            "",
            "061512000",
            "06151200000",
            "1315120000",
            "0632120000",
            "0615250000",
            "06151200x0",
            "0229120000",
        ] {
            assert!(!is_fresh(bad, now, WINDOW), "{bad}");
        }
        // 29 February exists in a leap year.
        assert!(is_fresh("0229120000", at("2028-02-29 12:00:00"), WINDOW));
    }

    #[test]
    fn advices_and_reversals_are_exempt() {
        for mti in [
            Mti::AUTHORIZATION_REQUEST,
            Mti::FINANCIAL_REQUEST,
            Mti::NETWORK_REQUEST,
            Mti::RECONCILIATION_REQUEST,
        ] {
            assert!(applies_to(mti), "{mti}");
        }
        for mti in [
            Mti::FINANCIAL_ADVICE,
            Mti::FINANCIAL_ADVICE_REPEAT,
            Mti::REVERSAL_REQUEST,
            Mti::REVERSAL_REQUEST_REPEAT,
            Mti::REVERSAL_ADVICE,
            Mti::REVERSAL_ADVICE_REPEAT,
        ] {
            assert!(!applies_to(mti), "{mti}");
        }
    }
}
