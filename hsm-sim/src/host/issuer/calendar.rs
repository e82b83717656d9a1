//! The issuer's calendar: today's UTC date, for expiry checks, the daily limit and DE 15.

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// The year, e.g. 2026.
    pub year: i64,
    /// The month, 1-12.
    pub month: i64,
    /// The day of the month, 1-31.
    pub day: i64,
}

impl Date {
    /// `YYMM`, the form of a card's expiry date (DE 14).
    pub fn yymm(&self) -> String {
        format!("{:02}{:02}", self.year % 100, self.month)
    }

    /// `YYYYMMDD`, the day of the daily limit.
    pub fn yyyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `MMDD` (DE 13, DE 15).
    pub fn mmdd(&self) -> String {
        format!("{:02}{:02}", self.month, self.day)
    }
}

/// Today's UTC date (civil-from-days, H. Hinnant's algorithm).
pub fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_plausible() {
        let d = today();
        assert!(d.year >= 2024 && (1..=12).contains(&d.month) && (1..=31).contains(&d.day));
        assert_eq!(d.yymm().len(), 4);
        let fixed = Date {
            year: 2026,
            month: 3,
            day: 7,
        };
        assert_eq!(
            (fixed.yymm(), fixed.yyyymmdd(), fixed.mmdd()),
            ("2603".to_owned(), "20260307".to_owned(), "0307".to_owned())
        );
    }
}
