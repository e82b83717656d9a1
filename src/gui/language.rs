//! The merchant's language: the screens' texts come from the translations bundled at build
//! time (`ui/translations/<lang>/LC_MESSAGES/softpos.po`, Slint's `@tr`), and amounts are
//! formatted for the language's locale by ICU4X (`icu_decimal`, compiled data): `EUR 1,234.56`
//! in English, `EUR 1.234,56` in German, `EUR 1 234,56` in French.
//!
//! The default comes from the system locale (`LC_ALL`, then `LC_MESSAGES`, then `LANG`); the
//! settings switch it at run time. The language in force is one per process, like Slint's
//! translation itself.

use std::sync::atomic::{AtomicU8, Ordering};

use fixed_decimal::Decimal;
use icu_decimal::DecimalFormatter;
use icu_locale_core::Locale;

/// A language the merchant's screens speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (the texts as written).
    #[default]
    English,
    /// German.
    German,
    /// French.
    French,
    /// Italian.
    Italian,
    /// Simplified Chinese.
    Chinese,
}

impl Language {
    /// Every language, in the order the settings list them.
    pub const ALL: [Self; 5] = [
        Self::English,
        Self::German,
        Self::French,
        Self::Italian,
        Self::Chinese,
    ];

    /// The BCP 47 tag (`zh-CN`), as the preferences file keeps it.
    pub fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::German => "de",
            Self::French => "fr",
            Self::Italian => "it",
            Self::Chinese => "zh-CN",
        }
    }

    /// Its own name for itself, as the settings show it.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::English => "English",
            Self::German => "Deutsch",
            Self::French => "Français",
            Self::Italian => "Italiano",
            Self::Chinese => "简体中文",
        }
    }

    /// The language of a tag or a POSIX locale name (`de`, `de_CH.UTF-8`, `zh-CN`,
    /// `fr_FR@euro`); `None` for a language the screens do not speak (or `C`, `POSIX`).
    pub fn from_locale_name(name: &str) -> Option<Self> {
        let language: String = name
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_lowercase();
        match language.as_str() {
            "en" => Some(Self::English),
            "de" => Some(Self::German),
            "fr" => Some(Self::French),
            "it" => Some(Self::Italian),
            // Simplified Chinese; the traditional script's regions have no translation.
            "zh" if !["TW", "HK", "MO"].iter().any(|r| name.contains(r))
                && !name.contains("Hant") =>
            {
                Some(Self::Chinese)
            }
            _ => None,
        }
    }

    /// The system's language: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and
    /// not empty decides (POSIX order); English when it names another language.
    pub fn from_system() -> Self {
        Self::from_variables(|name| std::env::var(name).ok())
    }

    /// [`Language::from_system`] with the variables read through `var`.
    pub fn from_variables(var: impl Fn(&str) -> Option<String>) -> Self {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| var(v))
            .find(|value| !value.is_empty())
            .and_then(|value| Self::from_locale_name(&value))
            .unwrap_or_default()
    }

    /// The name of its bundled translation (the directory under `ui/translations`); empty for
    /// English, the texts as written.
    fn bundle(self) -> &'static str {
        match self {
            Self::English => "",
            Self::German => "de",
            Self::French => "fr",
            Self::Italian => "it",
            Self::Chinese => "zh_CN",
        }
    }

    fn index(self) -> u8 {
        match self {
            Self::English => 0,
            Self::German => 1,
            Self::French => 2,
            Self::Italian => 3,
            Self::Chinese => 4,
        }
    }
}

/// Switches the screens (after the first window exists) and the amounts to `language`.
pub fn select(language: Language) {
    CURRENT.store(language.index(), Ordering::Relaxed);
    if let Err(e) = slint::select_bundled_translation(language.bundle()) {
        tracing::warn!(language = language.tag(), error = %e, "no bundled translation");
    }
}

/// The language in force.
pub fn current() -> Language {
    let index = CURRENT.load(Ordering::Relaxed);
    Language::ALL
        .into_iter()
        .find(|l| l.index() == index)
        .unwrap_or_default()
}

/// `minor` minor units with `exponent` decimals, as the language in force writes numbers
/// (`1,234.56`, `1.234,56`).
pub(crate) fn format_number(minor: u64, exponent: u8) -> String {
    format_number_in(current(), minor, exponent)
}

/// [`format_number`] in `language`.
pub(crate) fn format_number_in(language: Language, minor: u64, exponent: u8) -> String {
    let mut decimal = Decimal::from(minor);
    decimal.multiply_pow10(-i16::from(exponent));
    // Keeps trailing zeros: 12.30, not 12.3.
    decimal.pad_end(-i16::from(exponent));
    let formatter = language
        .tag()
        .parse::<Locale>()
        .ok()
        .and_then(|locale| DecimalFormatter::try_new(locale.into(), Default::default()).ok());
    match formatter {
        Some(formatter) => formatter.format(&decimal).to_string(),
        None => crate::journal::export::format_amount(minor, exponent),
    }
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_locale_chooses_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            Language::from_variables(env(&[("LANG", "de_DE.UTF-8")])),
            Language::German
        );
        assert_eq!(
            Language::from_variables(env(&[("LANG", "de_DE.UTF-8"), ("LC_MESSAGES", "fr_CH")])),
            Language::French
        );
        assert_eq!(
            Language::from_variables(env(&[("LC_ALL", "zh_CN.UTF-8"), ("LANG", "it_IT")])),
            Language::Chinese
        );
        // Empty is unset; an unknown language or C is English.
        assert_eq!(
            Language::from_variables(env(&[("LC_ALL", ""), ("LANG", "it_IT")])),
            Language::Italian
        );
        assert_eq!(
            Language::from_variables(env(&[("LANG", "C.UTF-8")])),
            Language::English
        );
        assert_eq!(
            Language::from_variables(env(&[("LANG", "pt_BR")])),
            Language::English
        );
        assert_eq!(Language::from_variables(env(&[])), Language::English);
        assert_eq!(Language::from_locale_name("zh_TW.UTF-8"), None);
        assert_eq!(Language::from_locale_name("zh-Hant"), None);
        for l in Language::ALL {
            assert_eq!(Language::from_locale_name(l.tag()), Some(l));
        }
    }

    /// CLDR's separators (ICU4X compiled data): grouping and decimal marks per locale.
    #[test]
    fn amounts_in_each_locale() {
        let cases = [
            (Language::English, "1,234.56"),
            (Language::German, "1.234,56"),
            (Language::French, "1\u{202f}234,56"),
            // Italian groups only from five integer digits (CLDR minimumGroupingDigits 2).
            (Language::Italian, "1234,56"),
            (Language::Chinese, "1,234.56"),
        ];
        for (language, want) in cases {
            assert_eq!(format_number_in(language, 123_456, 2), want, "{language:?}");
        }
        assert_eq!(
            format_number_in(Language::Italian, 1_234_567, 2),
            "12.345,67"
        );
        assert_eq!(format_number_in(Language::English, 1230, 2), "12.30");
        assert_eq!(format_number_in(Language::German, 5, 2), "0,05");
        // JPY: no decimals.
        assert_eq!(format_number_in(Language::English, 1234, 0), "1,234");
        assert_eq!(format_number_in(Language::English, 0, 3), "0.000");
    }
}
