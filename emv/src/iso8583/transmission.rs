//! DE 7, transmission date and time (ISO 8583:1987 §4.3: `MMDDhhmmss`, UTC).

use std::time::SystemTime;

use time::OffsetDateTime;

/// DE 7 for the instant `at` (`MMDDhhmmss`, UTC). The caller reads the clock; DE 12 and DE 13
/// of a request are its last six and first four digits.
pub fn transmission_date_time(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!(
        "{:02}{:02}{:02}{:02}{:02}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn formats_utc_month_day_and_time() {
        // 2024-02-29 23:59:58 UTC.
        let at = UNIX_EPOCH + Duration::from_secs(1_709_251_198);
        assert_eq!(transmission_date_time(at), "0229235958");
        assert_eq!(transmission_date_time(UNIX_EPOCH), "0101000000");
    }
}
