//! Terminal configuration: the terminal's own data objects and the per-AID (per AID-kernel
//! combination) parameters of EMV Book A §5 / Book B §3.1, loaded from TOML.
//!
//! The defaults ship in `assets/terminal.toml` ([`TerminalConfig::default_embedded`]); a user's
//! file overrides them ([`TerminalConfig::with_overrides`]). Every field is documented in
//! `docs/terminal-config.md`. This module reads no file: the app passes the text.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kernel::KernelId;

/// The embedded default configuration (`assets/terminal.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../assets/terminal.toml");

/// The whole terminal configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
    /// Terminal-wide data.
    pub terminal: TerminalSettings,
    /// The supported AIDs, in the terminal's order of preference for equal card priorities.
    #[serde(rename = "aid")]
    pub aids: Vec<AidConfig>,
}

/// Terminal-wide data objects (EMV Book 3 Annex A1, Book 4 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalSettings {
    /// `9F1A` terminal country code, ISO 3166-1 numeric (for example 276 for Germany).
    pub country_code: u16,
    /// The terminal's currency, ISO 4217 numeric (978 for EUR). Limits are in this currency.
    pub currency_code: u16,
    /// `5F36` currency exponent (2 for EUR).
    pub currency_exponent: u8,
    /// `9F35` terminal type (Book 4 Annex A1), for example `0x22`.
    pub terminal_type: u8,
    /// `9F33` terminal capabilities (Book 4 Annex A2), 3 bytes hex.
    pub terminal_capabilities: Hex<3>,
    /// `9F40` additional terminal capabilities (Book 4 Annex A3), 5 bytes hex.
    pub additional_terminal_capabilities: Hex<5>,
    /// `9F1E` interface device serial number, 8 characters.
    pub ifd_serial_number: String,
    /// `9F1C` terminal identification, 8 characters.
    pub terminal_id: String,
    /// `9F15` merchant category code (ISO 18245), for example 5999.
    pub merchant_category_code: u16,
    /// `9F4E` merchant name and location.
    #[serde(default)]
    pub merchant_name_location: String,
    /// The merchant's country, ISO 3166-1 alpha-2 (`DE`), for the merchant's code (EMVCo
    /// merchant-presented QR tag `58`). Empty: the terminal shows no merchant's code.
    #[serde(default)]
    pub country_alpha2: String,
    /// Whether offline data authentication trusts the schemes' public *test* CA keys and the
    /// simulator's CA keys (`assets/capk/test.toml`, `simulator.toml`) besides the live keys.
    /// A development and demo setting: a production terminal leaves it `false`.
    #[serde(default)]
    pub trust_test_ca_keys: bool,
    /// Directories of extra CA public key files (`*.toml`, format in `docs/capk.md`), for
    /// example the keys of a tester's own test cards. A key there replaces a shipped key with the
    /// same RID and index.
    #[serde(default)]
    pub ca_key_directories: Vec<String>,
}

/// Parameters of one AID-kernel combination (Book B §3.1.1, Book C-2 Annex A, C-3, C-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AidConfig {
    /// The terminal AID (`9F06`), 5-16 bytes hex.
    pub aid: HexVec,
    /// A label for logs and the UI when the card sends none.
    pub label: String,
    /// The kernel ID of this combination (2 Mastercard, 3 Visa, 7 UnionPay).
    pub kernel_id: u8,
    /// Book B §3.3.2.5 B: the card's ADF name may extend this AID (partial selection).
    #[serde(default = "yes")]
    pub partial_match: bool,
    /// Book B §3.3.3.3: append the card's Extended Selection (`9F29`) to the ADF name.
    #[serde(default)]
    pub extended_selection: bool,
    /// `9F09` application version number (terminal), 2 bytes hex.
    pub application_version: Hex<2>,
    /// Reader Contactless Transaction Limit, minor units: amount **≥** limit is not allowed.
    #[serde(default)]
    pub transaction_limit: Option<u64>,
    /// Reader Contactless Transaction Limit when the card does on-device CVM (`DF8125`, Kernel
    /// 2 only), minor units.
    #[serde(default)]
    pub transaction_limit_on_device_cvm: Option<u64>,
    /// Reader Contactless Floor Limit, minor units: amount **>** limit goes online.
    #[serde(default)]
    pub floor_limit: Option<u64>,
    /// Reader CVM Required Limit, minor units: amount **≥** limit requires a CVM.
    #[serde(default)]
    pub cvm_required_limit: Option<u64>,
    /// Book B §3.1.1.2 status check support (an amount of one currency unit goes online).
    #[serde(default)]
    pub status_check: bool,
    /// Book B §3.1.1.3: whether a zero amount is allowed.
    #[serde(default = "yes")]
    pub zero_amount_allowed: bool,
    /// `9F66` terminal transaction qualifiers (Kernels 3 and 7), 4 bytes hex.
    #[serde(default)]
    pub ttq: Option<Hex<4>>,
    /// Terminal action code - default (Kernel 2: `DF8120`), 5 bytes hex.
    #[serde(default)]
    pub tac_default: Option<Hex<5>>,
    /// Terminal action code - denial (Kernel 2: `DF8121`), 5 bytes hex.
    #[serde(default)]
    pub tac_denial: Option<Hex<5>>,
    /// Terminal action code - online (Kernel 2: `DF8122`), 5 bytes hex.
    #[serde(default)]
    pub tac_online: Option<Hex<5>>,
    /// Kernel 2 `DF811B` kernel configuration (`0x80` EMV mode only, `0x20` on-device CVM).
    #[serde(default)]
    pub kernel_configuration: Option<u8>,
    /// Kernel 2 `DF8118` CVM capability when a CVM is required (`0x40` online PIN, `0x20`
    /// signature, `0x08` no CVM).
    #[serde(default)]
    pub cvm_capability_cvm_required: Option<u8>,
    /// Kernel 2 `DF8119` CVM capability when no CVM is required.
    #[serde(default)]
    pub cvm_capability_no_cvm_required: Option<u8>,
}

impl TerminalConfig {
    /// Parses and checks a complete configuration.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(ConfigError::Toml)?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded defaults from `assets/terminal.toml`.
    pub fn default_embedded() -> Result<Self, ConfigError> {
        Self::from_toml_str(DEFAULT_TOML)
    }

    /// The embedded defaults overridden by a user's (partial) TOML file; see
    /// [`merge_toml`] for the rules.
    pub fn from_user_toml(user: &str) -> Result<Self, ConfigError> {
        Self::from_toml_str(&merge_toml(DEFAULT_TOML, user)?)
    }

    /// This configuration overridden by a user's (partial) TOML file.
    pub fn with_overrides(&self, user: &str) -> Result<Self, ConfigError> {
        let base = toml::to_string(self).map_err(ConfigError::Serialize)?;
        Self::from_toml_str(&merge_toml(&base, user)?)
    }

    /// The configured AID that `card_aid` (an ADF name) matches: exact, or partial when the
    /// entry allows it (Book B §3.3.2.5 B). The longest matching AID wins.
    pub fn aid_for(&self, card_aid: &[u8]) -> Option<&AidConfig> {
        self.aids
            .iter()
            .filter(|entry| {
                entry.aid.0 == card_aid
                    || (entry.partial_match && card_aid.starts_with(&entry.aid.0))
            })
            .max_by_key(|entry| entry.aid.0.len())
    }

    /// Checks lengths and ranges that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.terminal;
        if t.country_code > 999 || t.currency_code > 999 {
            return Err(ConfigError::Invalid(
                "country and currency codes have 3 digits",
            ));
        }
        if t.ifd_serial_number.len() != 8 || !t.ifd_serial_number.is_ascii() {
            return Err(ConfigError::Invalid(
                "ifd_serial_number must be 8 ASCII characters",
            ));
        }
        if t.terminal_id.len() != 8 || !t.terminal_id.is_ascii() {
            return Err(ConfigError::Invalid(
                "terminal_id must be 8 ASCII characters",
            ));
        }
        if t.merchant_category_code > 9999 {
            return Err(ConfigError::Invalid("merchant_category_code has 4 digits"));
        }
        if self.aids.is_empty() {
            return Err(ConfigError::Invalid("at least one [[aid]] is needed"));
        }
        for entry in &self.aids {
            if !(5..=16).contains(&entry.aid.0.len()) {
                return Err(ConfigError::Invalid("an AID has 5 to 16 bytes"));
            }
            let kernel = KernelId::from_byte(entry.kernel_id);
            if !kernel.is_supported() {
                return Err(ConfigError::Invalid("kernel_id must be 2, 3 or 7"));
            }
            if kernel != KernelId::Mastercard && entry.ttq.is_none() {
                return Err(ConfigError::Invalid("Kernels 3 and 7 need a ttq"));
            }
        }
        Ok(())
    }

    /// `9F1A` as BCD.
    pub fn country_code_bcd(&self) -> [u8; 2] {
        bcd2(self.terminal.country_code)
    }
}

/// Merges a user TOML document over a base document: tables merge key by key (the user's value
/// wins), and `[[aid]]` entries merge by their `aid` value (an entry with a new `aid` is
/// appended; `remove = true` in a user entry removes that AID).
pub fn merge_toml(base: &str, user: &str) -> Result<String, ConfigError> {
    let mut base: toml::Table = toml::from_str(base).map_err(ConfigError::Toml)?;
    let user: toml::Table = toml::from_str(user).map_err(ConfigError::Toml)?;
    merge_tables(&mut base, user)?;
    toml::to_string(&base).map_err(ConfigError::Serialize)
}

fn merge_tables(base: &mut toml::Table, user: toml::Table) -> Result<(), ConfigError> {
    for (key, value) in user {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge_tables(b, u)?,
            (Some(toml::Value::Array(b)), toml::Value::Array(u)) if key == "aid" => {
                merge_aids(b, u)?;
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    Ok(())
}

fn merge_aids(base: &mut Vec<toml::Value>, user: Vec<toml::Value>) -> Result<(), ConfigError> {
    let key = |v: &toml::Value| {
        v.get("aid")
            .and_then(toml::Value::as_str)
            .map(str::to_ascii_uppercase)
    };
    for entry in user {
        let toml::Value::Table(mut table) = entry else {
            return Err(ConfigError::Invalid("[[aid]] entries must be tables"));
        };
        let id = key(&toml::Value::Table(table.clone()))
            .ok_or(ConfigError::Invalid("every [[aid]] override needs its aid"))?;
        let remove = table
            .remove("remove")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let existing = base
            .iter()
            .position(|b| key(b).as_deref() == Some(id.as_str()));
        match (existing, remove) {
            (Some(i), true) => {
                base.remove(i);
            }
            (Some(i), false) => {
                if let Some(toml::Value::Table(b)) = base.get_mut(i) {
                    merge_tables(b, table)?;
                }
            }
            (None, true) => {}
            (None, false) => base.push(toml::Value::Table(table)),
        }
    }
    Ok(())
}

/// Errors in the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not valid TOML, or a field of the wrong type or unknown.
    #[error("terminal configuration: {0}")]
    Toml(#[source] toml::de::Error),
    /// The merged configuration could not be written back.
    #[error("terminal configuration: {0}")]
    Serialize(#[source] toml::ser::Error),
    /// A value out of range.
    #[error("terminal configuration: {0}")]
    Invalid(&'static str),
}

/// Fixed-length bytes written in TOML as a hex string (`"E068C8"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hex<const N: usize>(pub [u8; N]);

/// Variable-length bytes written in TOML as a hex string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexVec(pub Vec<u8>);

impl<const N: usize> fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

impl fmt::Debug for HexVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(&self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for Hex<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text.replace(' ', "")).map_err(serde::de::Error::custom)?;
        let array = <[u8; N]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes of hex")))?;
        Ok(Self(array))
    }
}

impl<const N: usize> Serialize for Hex<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(self.0))
    }
}

impl<'de> Deserialize<'de> for HexVec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text.replace(' ', ""))
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HexVec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(&self.0))
    }
}

/// A number below 10 000 as two BCD bytes (`978` → `09 78`).
pub fn bcd2(value: u16) -> [u8; 2] {
    let v = value % 10_000;
    let digit = |d: u16| u8::try_from(d % 10).unwrap_or(0);
    [
        (digit(v / 1000) << 4) | digit(v / 100),
        (digit(v / 10) << 4) | digit(v),
    ]
}

/// An amount as the 6-byte BCD `n12` of `9F02`/`9F03` (amounts above 12 digits saturate).
pub fn amount_bcd(amount: u64) -> [u8; 6] {
    let mut v = amount.min(999_999_999_999);
    let mut out = [0u8; 6];
    for byte in out.iter_mut().rev() {
        let low = u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
        let high = u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
        *byte = (high << 4) | low;
    }
    out
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    #[test]
    fn embedded_defaults_parse_and_hold_the_five_aids() {
        let config = TerminalConfig::default_embedded().unwrap();
        for aid in [
            &hex!("A0000000031010")[..],
            &hex!("A0000000041010"),
            &hex!("A000000333010101"),
            &hex!("A000000333010102"),
            &hex!("A000000333010103"),
        ] {
            assert!(
                config.aids.iter().any(|a| a.aid.0 == aid),
                "{}",
                hex::encode(aid)
            );
        }
        let visa = config.aid_for(&hex!("A0000000031010")).unwrap();
        assert_eq!(visa.kernel_id, 3);
        assert_eq!(visa.cvm_required_limit, Some(5_000));
        assert_eq!(visa.floor_limit, Some(0));
        assert_eq!(config.country_code_bcd(), hex!("0276"));
    }

    #[test]
    fn user_file_overrides_fields_and_aids() {
        let user = r#"
            [terminal]
            country_code = 826
            currency_code = 826

            [[aid]]
            aid = "A0000000031010"
            cvm_required_limit = 10000

            [[aid]]
            aid = "A000000333010103"
            remove = true
        "#;
        let config = TerminalConfig::from_user_toml(user).unwrap();
        assert_eq!(config.terminal.country_code, 826);
        assert_eq!(config.terminal.terminal_type, 0x22, "untouched fields stay");
        let visa = config.aid_for(&hex!("A0000000031010")).unwrap();
        assert_eq!(visa.cvm_required_limit, Some(10_000));
        assert_eq!(
            visa.transaction_limit,
            Some(100_000),
            "untouched AID fields stay"
        );
        assert!(config.aid_for(&hex!("A000000333010103")).is_none());
        let again = config
            .with_overrides("[terminal]\nterminal_type = 0x21\n")
            .unwrap();
        assert_eq!(again.terminal.terminal_type, 0x21);
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(TerminalConfig::from_user_toml("[terminal]\ncolour = 1\n").is_err());
        assert!(TerminalConfig::from_user_toml("[[aid]]\nkernel_id = 3\n").is_err());
        assert!(
            TerminalConfig::from_user_toml("[[aid]]\naid = \"A0000000031010\"\nttq = \"12\"\n")
                .is_err()
        );
    }

    #[test]
    fn bcd_helpers() {
        assert_eq!(bcd2(978), hex!("0978"));
        assert_eq!(amount_bcd(1_000), hex!("000000001000"));
        assert_eq!(amount_bcd(123_456_789_012), hex!("123456789012"));
    }
}
