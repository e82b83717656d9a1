//! Amounts on the merchant's screens: the currency's alphabetic code and exponent (from
//! `iso_currency`: JPY has no decimals), and the amount typed on the keypad.

/// The terminal's currency, as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    /// ISO 4217 numeric code.
    pub numeric: u16,
    /// ISO 4217 alphabetic code (`EUR`), or the numeric code when it is unknown.
    pub alpha: String,
    /// Digits after the decimal point.
    pub exponent: u8,
}

impl Currency {
    /// The currency of ISO 4217 numeric code `numeric`; `fallback_exponent` (the terminal
    /// configuration's) when `iso_currency` does not know it.
    pub fn from_numeric(numeric: u16, fallback_exponent: u8) -> Self {
        match iso_currency::Currency::from_numeric(numeric) {
            Some(c) => Self {
                numeric,
                alpha: c.code().to_owned(),
                exponent: c
                    .exponent()
                    .and_then(|e| u8::try_from(e).ok())
                    .unwrap_or(fallback_exponent),
            },
            None => Self {
                numeric,
                alpha: format!("{numeric:03}"),
                exponent: fallback_exponent,
            },
        }
    }

    /// `minor` minor units as shown, the number written as the language in force writes it
    /// ([`super::language`]): `EUR 12.34`, `JPY 1,234`, in German `EUR 1.234,56`.
    pub fn format(&self, minor: u64) -> String {
        format!(
            "{} {}",
            self.alpha,
            super::language::format_number(minor, self.exponent)
        )
    }
}

/// An amount typed digit by digit on the keypad, in minor units: `1`, `2`, `3`, `4` is 12.34
/// with two decimals (and 1234 with none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmountEntry {
    digits: String,
}

impl AmountEntry {
    /// An empty entry (zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the digits of a key (`"7"`, `"00"`); anything else is ignored, as are leading
    /// zeros and digits past [`MAX_DIGITS`].
    pub fn press(&mut self, key: &str) {
        for c in key.chars().filter(char::is_ascii_digit) {
            if self.digits.is_empty() && c == '0' {
                continue;
            }
            if self.digits.len() < MAX_DIGITS {
                self.digits.push(c);
            }
        }
    }

    /// Removes the last digit.
    pub fn delete(&mut self) {
        self.digits.pop();
    }

    /// Back to zero.
    pub fn clear(&mut self) {
        self.digits.clear();
    }

    /// The amount in minor units.
    pub fn minor_units(&self) -> u64 {
        self.digits.parse().unwrap_or(0)
    }
}

/// The most digits an amount can have (999 999 999 minor units: far above any contactless
/// limit, and safe in every integer the engine uses).
pub const MAX_DIGITS: usize = 9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_fill_the_minor_units_from_the_right() {
        let mut entry = AmountEntry::new();
        for key in ["0", "1", "2", "00", "x"] {
            entry.press(key);
        }
        assert_eq!(entry.minor_units(), 1200);
        entry.delete();
        assert_eq!(entry.minor_units(), 120);
        for _ in 0..20 {
            entry.press("9");
        }
        assert_eq!(entry.minor_units(), 120_999_999);
        entry.clear();
        assert_eq!(entry.minor_units(), 0);
    }

    #[test]
    fn the_exponent_comes_from_the_currency() {
        let eur = Currency::from_numeric(978, 2);
        assert_eq!(eur.format(1234), "EUR 12.34");
        assert_eq!(eur.format(5), "EUR 0.05");
        // The yen has no minor unit, whatever the configuration says.
        let jpy = Currency::from_numeric(392, 2);
        assert_eq!((jpy.alpha.as_str(), jpy.exponent), ("JPY", 0));
        assert_eq!(jpy.format(1234), "JPY 1,234");
        let bhd = Currency::from_numeric(48, 2);
        assert_eq!(bhd.format(1234), "BHD 1.234");
        let unknown = Currency::from_numeric(1, 2);
        assert_eq!(unknown.format(1234), "001 12.34");
    }
}
