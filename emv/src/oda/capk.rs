//! The certification authority public key store (EMV Book 2 §5.1, §11.2 "Certification
//! Authority Public Key Management").
//!
//! Keys are kept by RID and index. They come from the human-editable TOML files of
//! `assets/capk/` (the format is in `docs/capk.md`): one `[[key]]` table per key with `rid`,
//! `index`, `modulus`, `exponent`, `expiry` and `checksum`. The checksum, SHA-1 over
//! RID ‖ index ‖ modulus ‖ exponent (Book 2 §11.2.2 "Certification Authority Public Key Check
//! Sum"), is checked on load, so a mistyped modulus never reaches a transaction.
//!
//! The store takes file contents; the app reads the files (the shipped ones are embedded
//! here with `include_str!`, and a tester's own directory is read by the app and merged).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use sha1::{Digest, Sha1};

use super::rsa_key::RsaKey;

/// A certification authority public key, checked against its checksum.
#[derive(Clone)]
pub struct CaPublicKey {
    rid: [u8; 5],
    index: u8,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    expiry: KeyExpiry,
    label: Option<String>,
    key: RsaKey,
}

impl CaPublicKey {
    /// Builds a key from its parts and checks `checksum` (SHA-1 of RID ‖ index ‖ modulus ‖
    /// exponent, Book 2 §11.2.2). Used by the file loader and by tests that make keys.
    pub fn new(
        rid: [u8; 5],
        index: u8,
        modulus: &[u8],
        exponent: &[u8],
        expiry: KeyExpiry,
        checksum: &[u8],
    ) -> Result<Self, CapkError> {
        let key = RsaKey::new(modulus, exponent).ok_or(CapkError::InvalidKey { rid, index })?;
        if checksum != Self::checksum_of(rid, index, modulus, exponent) {
            return Err(CapkError::ChecksumMismatch { rid, index });
        }
        Ok(Self {
            rid,
            index,
            modulus: modulus.to_vec(),
            exponent: exponent.to_vec(),
            expiry,
            label: None,
            key,
        })
    }

    /// The CA public key checksum of Book 2 §11.2.2: SHA-1(RID ‖ index ‖ modulus ‖ exponent).
    pub fn checksum_of(rid: [u8; 5], index: u8, modulus: &[u8], exponent: &[u8]) -> [u8; 20] {
        let mut hash = Sha1::new();
        hash.update(rid);
        hash.update([index]);
        hash.update(modulus);
        hash.update(exponent);
        hash.finalize().into()
    }

    /// The registered application provider identifier.
    pub fn rid(&self) -> [u8; 5] {
        self.rid
    }

    /// The CA public key index (tag `8F` on the card).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The public exponent (`03` or `010001`).
    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    /// When the key stops being valid.
    pub fn expiry(&self) -> KeyExpiry {
        self.expiry
    }

    /// The human label from the key file, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Whether the key is still valid on `transaction_date` (`9A`, YYMMDD in BCD). A date that
    /// is not valid BCD counts as "not valid" so a broken clock fails closed.
    pub fn is_valid_on(&self, transaction_date: [u8; 3]) -> bool {
        match self.expiry {
            KeyExpiry::None => true,
            KeyExpiry::Date { year, month, day } => match bcd_date(transaction_date) {
                Some(today) => today <= (year, month, day),
                None => false,
            },
        }
    }

    pub(crate) fn rsa_key(&self) -> &RsaKey {
        &self.key
    }
}

impl fmt::Debug for CaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaPublicKey")
            .field("rid", &hex::encode_upper(self.rid))
            .field("index", &format_args!("{:02X}", self.index))
            .field("bits", &(self.modulus.len() * 8))
            .field("exponent", &hex::encode_upper(&self.exponent))
            .field("expiry", &self.expiry)
            .field("label", &self.label)
            .finish()
    }
}

/// The expiry of a CA public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExpiry {
    /// No expiry recorded (test keys): `expiry = "none"` in the file.
    None,
    /// Valid up to and including this date: `expiry = "2028-12-31"`.
    Date {
        /// Four-digit year.
        year: u16,
        /// Month, 1-12.
        month: u8,
        /// Day of the month, 1-31.
        day: u8,
    },
}

/// CA public keys by RID and index.
#[derive(Debug, Clone, Default)]
pub struct CaKeyStore {
    keys: BTreeMap<([u8; 5], u8), CaPublicKey>,
}

impl CaKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the contents of one key file (format: `docs/capk.md`) and checks every key's
    /// checksum. Two entries with the same RID and index in one file are an error.
    #[allow(clippy::should_implement_trait)] // `FromStr` is implemented too; this needs no import.
    pub fn from_str(text: &str) -> Result<Self, CapkError> {
        let file: KeyFile = toml::from_str(text).map_err(CapkError::Syntax)?;
        let mut store = Self::new();
        for (position, entry) in file.key.into_iter().enumerate() {
            let key = entry.into_key(position + 1)?;
            let id = (key.rid, key.index);
            if store.keys.insert(id, key).is_some() {
                return Err(CapkError::Duplicate {
                    rid: id.0,
                    index: id.1,
                });
            }
        }
        Ok(store)
    }

    /// Adds every key of `other`; a key of `other` replaces a key of `self` with the same RID
    /// and index (so a tester's directory can override a shipped key).
    pub fn merge(&mut self, other: CaKeyStore) {
        self.keys.extend(other.keys);
    }

    /// Adds one key, replacing any key with the same RID and index.
    pub fn insert(&mut self, key: CaPublicKey) {
        self.keys.insert((key.rid, key.index), key);
    }

    /// Every shipped key: live, test and simulator. This is the development terminal's store;
    /// a production build should use [`CaKeyStore::embedded_live`] only.
    pub fn embedded() -> Result<Self, CapkError> {
        let mut store = Self::embedded_live()?;
        store.merge(Self::embedded_test()?);
        Ok(store)
    }

    /// The shipped live keys (`assets/capk/live.toml`).
    pub fn embedded_live() -> Result<Self, CapkError> {
        Self::from_str(LIVE_KEYS)
    }

    /// The shipped test keys of the schemes (`assets/capk/test.toml`) and the keys of our own
    /// simulator CA (`assets/capk/simulator.toml`). Never trust these in production.
    pub fn embedded_test() -> Result<Self, CapkError> {
        let mut store = Self::from_str(TEST_KEYS)?;
        store.merge(Self::from_str(SIMULATOR_KEYS)?);
        Ok(store)
    }

    /// The key for a RID and index, whatever its expiry.
    pub fn get(&self, rid: [u8; 5], index: u8) -> Option<&CaPublicKey> {
        self.keys.get(&(rid, index))
    }

    /// Every key, ordered by RID then index.
    pub fn iter(&self) -> impl Iterator<Item = &CaPublicKey> {
        self.keys.values()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl std::str::FromStr for CaKeyStore {
    type Err = CapkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CaKeyStore::from_str(text)
    }
}

/// Why a key file was refused. Entries are numbered from 1 in file order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CapkError {
    /// The file is not valid TOML, or an entry lacks a field or has an unknown one.
    #[error("CA key file syntax: {0}")]
    Syntax(#[source] toml::de::Error),
    /// A field is not hexadecimal or has the wrong length.
    #[error("CA key entry {entry}: field `{field}` is not valid (hex of the right length)")]
    InvalidField {
        /// The entry number, from 1.
        entry: usize,
        /// The field name.
        field: &'static str,
    },
    /// The modulus or exponent cannot be an EMV CA key (exponent 3 or 65537, odd modulus of at
    /// least 512 bits).
    #[error("CA key {} {index:02X}: not a usable RSA key", hex::encode_upper(rid))]
    InvalidKey {
        /// The key's RID.
        rid: [u8; 5],
        /// The key's index.
        index: u8,
    },
    /// The checksum does not match the key: a byte was mistyped.
    #[error(
        "CA key {} {index:02X}: checksum does not match",
        hex::encode_upper(rid)
    )]
    ChecksumMismatch {
        /// The key's RID.
        rid: [u8; 5],
        /// The key's index.
        index: u8,
    },
    /// Two entries of one file have the same RID and index.
    #[error("CA key {} {index:02X} appears twice", hex::encode_upper(rid))]
    Duplicate {
        /// The key's RID.
        rid: [u8; 5],
        /// The key's index.
        index: u8,
    },
}

/// One key file: a list of `[[key]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

/// One `[[key]]` table, as written by people: hex strings, whitespace allowed in the modulus.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    rid: String,
    index: String,
    modulus: String,
    exponent: String,
    expiry: String,
    checksum: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

impl KeyEntry {
    fn into_key(self, entry: usize) -> Result<CaPublicKey, CapkError> {
        let invalid = |field| CapkError::InvalidField { entry, field };
        let rid: [u8; 5] = parse_hex(&self.rid)
            .and_then(|v| v.try_into().ok())
            .ok_or(invalid("rid"))?;
        let [index]: [u8; 1] = parse_hex(&self.index)
            .and_then(|v| v.try_into().ok())
            .ok_or(invalid("index"))?;
        let modulus = parse_hex(&self.modulus).ok_or(invalid("modulus"))?;
        let exponent = parse_hex(&self.exponent).ok_or(invalid("exponent"))?;
        let checksum: [u8; 20] = parse_hex(&self.checksum)
            .and_then(|v| v.try_into().ok())
            .ok_or(invalid("checksum"))?;
        let expiry = parse_expiry(&self.expiry).ok_or(invalid("expiry"))?;
        let _ = self.source;
        let mut key = CaPublicKey::new(rid, index, &modulus, &exponent, expiry, &checksum)?;
        key.label = self.label;
        Ok(key)
    }
}

/// Hex with any whitespace (line breaks in a long modulus) ignored.
fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).ok()
}

/// `none`, or an ISO date `YYYY-MM-DD`.
fn parse_expiry(text: &str) -> Option<KeyExpiry> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Some(KeyExpiry::None);
    }
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: u16 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    let day: u8 = day.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(KeyExpiry::Date { year, month, day })
}

/// A `9A`-style date (YYMMDD, BCD) as (year, month, day); years 00-49 are 20xx, 50-99 19xx
/// (EMV Book 4 §6.7.3 convention for two-digit years).
pub(crate) fn bcd_date(date: [u8; 3]) -> Option<(u16, u8, u8)> {
    let [yy, mm, dd] = date.map(bcd_byte);
    let (yy, mm, dd) = (yy?, mm?, dd?);
    if !(1..=12).contains(&mm) || !(1..=31).contains(&dd) {
        return None;
    }
    Some((full_year(yy), mm, dd))
}

/// Two BCD digits as a number, or `None`.
pub(crate) fn bcd_byte(byte: u8) -> Option<u8> {
    let (high, low) = (byte >> 4, byte & 0x0F);
    (high <= 9 && low <= 9).then_some(high * 10 + low)
}

/// A two-digit year as a four-digit one (00-49 → 2000-2049, 50-99 → 1950-1999).
pub(crate) fn full_year(yy: u8) -> u16 {
    if yy < 50 {
        2000 + u16::from(yy)
    } else {
        1900 + u16::from(yy)
    }
}

/// The shipped key files, embedded so the kernel needs no file access.
const LIVE_KEYS: &str = include_str!("../../../assets/capk/live.toml");
const TEST_KEYS: &str = include_str!("../../../assets/capk/test.toml");
const SIMULATOR_KEYS: &str = include_str!("../../../assets/capk/simulator.toml");

#[cfg(test)]
mod tests {
    use super::*;

    const VISA: [u8; 5] = [0xA0, 0x00, 0x00, 0x00, 0x03];

    /// Visa test key 92 as in `assets/capk/test.toml`; the checksum 429C954A…B253 is the one
    /// the shared doc §3 re-computed independently.
    fn visa_92_entry(checksum: &str) -> String {
        let file = TEST_KEYS;
        let start = file.find("index = \"92\"").expect("Visa 92 in test.toml");
        let modulus_start = file[start..].find("modulus = \"\"\"").expect("modulus") + start;
        let modulus_end =
            file[modulus_start + 14..].find("\"\"\"").expect("end") + modulus_start + 14;
        format!(
            "[[key]]\nrid = \"A000000003\"\nindex = \"92\"\nexponent = \"03\"\nexpiry = \"none\"\n\
             checksum = \"{checksum}\"\n{}\"\"\"\n",
            &file[modulus_start..modulus_end]
        )
    }

    #[test]
    fn shipped_files_load_and_every_checksum_holds() {
        let live = CaKeyStore::embedded_live().expect("live keys load");
        let test = CaKeyStore::embedded_test().expect("test keys load");
        assert!(live.get(VISA, 0x09).is_some());
        assert!(test.get(VISA, 0x92).is_some());
        assert!(
            live.get(VISA, 0x92).is_none(),
            "test keys stay out of the live store"
        );
        for key in live.iter() {
            assert!(
                test.get(key.rid(), key.index()).is_none(),
                "live and test overlap"
            );
        }
        let all = CaKeyStore::embedded().expect("all keys load");
        assert_eq!(all.len(), live.len() + test.len());
    }

    #[test]
    fn visa_92_checksum_matches_the_independent_value() {
        let store =
            CaKeyStore::from_str(&visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253"))
                .expect("valid entry");
        let key = store.get(VISA, 0x92).expect("key");
        assert_eq!(key.modulus().len() * 8, 1408);
        assert_eq!(key.expiry(), KeyExpiry::None);
    }

    #[test]
    fn wrong_checksum_is_refused() {
        let err = CaKeyStore::from_str(&visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB254"))
            .expect_err("checksum off by one");
        assert!(
            matches!(err, CapkError::ChecksumMismatch { index: 0x92, .. }),
            "{err}"
        );
    }

    #[test]
    fn syntax_and_field_errors_are_reported() {
        assert!(matches!(
            CaKeyStore::from_str("[[key]]\nrid = 1"),
            Err(CapkError::Syntax(_))
        ));
        let mut entry = visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253");
        entry = entry.replace("A000000003", "A0000003");
        assert!(matches!(
            CaKeyStore::from_str(&entry),
            Err(CapkError::InvalidField {
                entry: 1,
                field: "rid"
            })
        ));
        let unknown =
            visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253").replace("expiry", "expiri");
        assert!(matches!(
            CaKeyStore::from_str(&unknown),
            Err(CapkError::Syntax(_))
        ));
        let twice = visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253").repeat(2);
        assert!(matches!(
            CaKeyStore::from_str(&twice),
            Err(CapkError::Duplicate { index: 0x92, .. })
        ));
        let bad_date = visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253")
            .replace("\"none\"", "\"2028-13-01\"");
        assert!(matches!(
            CaKeyStore::from_str(&bad_date),
            Err(CapkError::InvalidField {
                field: "expiry",
                ..
            })
        ));
    }

    #[test]
    fn merge_replaces_keys_with_the_same_rid_and_index() {
        let mut store = CaKeyStore::embedded_live().expect("live");
        let before = store.len();
        let dated = visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253")
            .replace("\"none\"", "\"2030-06-30\"");
        store.merge(CaKeyStore::from_str(&dated).expect("valid"));
        store.merge(
            CaKeyStore::from_str(&visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253"))
                .expect("valid"),
        );
        assert_eq!(store.len(), before + 1);
        assert_eq!(
            store.get(VISA, 0x92).expect("key").expiry(),
            KeyExpiry::None
        );
    }

    #[test]
    fn expiry_is_checked_against_the_transaction_date() {
        let dated = visa_92_entry("429C954A3859CEF91295F663C963E582ED6EB253")
            .replace("\"none\"", "\"2028-12-31\"");
        let store = CaKeyStore::from_str(&dated).expect("valid");
        let key = store.get(VISA, 0x92).expect("key");
        assert!(key.is_valid_on([0x28, 0x12, 0x31]));
        assert!(!key.is_valid_on([0x29, 0x01, 0x01]));
        assert!(key.is_valid_on([0x99, 0x01, 0x01]), "99 is 1999");
        assert!(!key.is_valid_on([0x2A, 0x01, 0x01]), "not BCD fails closed");
    }
}
