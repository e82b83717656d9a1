//! What the kernel needs for a tap besides the card: the request, with the clock and the
//! unpredictable number supplied here so the kernel stays free of I/O, and the CA public keys
//! of offline data authentication. The tap itself is [`crate::card_session::run_kernel`].

use std::path::{Path, PathBuf};

use emv::config::TerminalConfig;
use emv::kernel::TransactionRequest;
use emv::oda::{Authenticator, CaKeyStore, CapkError, OfflineDataAuthenticator};

/// Amount, currency and type of the transaction a tap is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale {
    /// Amount in minor units of the currency.
    pub amount: u64,
    /// ISO 4217 numeric currency code.
    pub currency_code: u16,
    /// `9C` transaction type: `00` purchase, `20` refund.
    pub transaction_type: u8,
}

/// Builds the kernel's request for `sale`: today's date and time (UTC) and a fresh
/// unpredictable number from the OS random source.
pub fn transaction_request(sale: Sale) -> Result<TransactionRequest, getrandom::Error> {
    let mut unpredictable_number = [0u8; 4];
    getrandom::fill(&mut unpredictable_number)?;
    let now = time::OffsetDateTime::now_utc();
    let two = |n: u8| ((n / 10) << 4) | (n % 10);
    // The year modulo 100 always fits in a byte.
    let year = u8::try_from(now.year().rem_euclid(100)).unwrap_or(0);
    Ok(TransactionRequest {
        amount: sale.amount,
        amount_other: 0,
        currency_code: sale.currency_code,
        transaction_type: sale.transaction_type,
        date: [two(year), two(u8::from(now.month())), two(now.day())],
        time: [two(now.hour()), two(now.minute()), two(now.second())],
        unpredictable_number,
    })
}

/// The terminal's offline data authentication engine for `config`, trusting the keys of
/// [`ca_key_store`].
pub fn authenticator(
    config: &TerminalConfig,
) -> Result<Box<dyn OfflineDataAuthenticator + Send + Sync>, CaKeyLoadError> {
    Ok(Box::new(Authenticator::new(ca_key_store(config)?)))
}

/// The CA public keys `config` asks for: the shipped live keys; the schemes' test keys and the
/// simulator's when `trust_test_ca_keys` is set; then every `*.toml` key file of the
/// `ca_key_directories` (format: `docs/capk.md`), whose keys replace shipped keys with the same
/// RID and index. A key file that does not load is an error: a terminal must not silently run
/// without the keys its operator gave it.
pub fn ca_key_store(config: &TerminalConfig) -> Result<CaKeyStore, CaKeyLoadError> {
    let mut store = CaKeyStore::embedded_live().map_err(CaKeyLoadError::Embedded)?;
    if config.terminal.trust_test_ca_keys {
        store.merge(CaKeyStore::embedded_test().map_err(CaKeyLoadError::Embedded)?);
    }
    for directory in &config.terminal.ca_key_directories {
        let directory = Path::new(directory);
        let entries = std::fs::read_dir(directory).map_err(|source| CaKeyLoadError::Read {
            path: directory.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| CaKeyLoadError::Read {
                path: path.clone(),
                source,
            })?;
            let keys = CaKeyStore::from_str(&text).map_err(|source| CaKeyLoadError::Invalid {
                path: path.clone(),
                source,
            })?;
            store.merge(keys);
        }
    }
    Ok(store)
}

/// Why the CA public keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaKeyLoadError {
    /// A key directory or file could not be read.
    #[error("cannot read CA key file or directory {}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not valid (syntax, or a key whose checksum does not match).
    #[error("the CA key file {} is not valid", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: CapkError,
    },
    /// The shipped key files do not load (a build defect).
    #[error("the shipped CA key files do not load")]
    Embedded(#[source] CapkError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(overrides: &str) -> TerminalConfig {
        TerminalConfig::default_embedded()
            .unwrap()
            .with_overrides(overrides)
            .unwrap()
    }

    const SIMULATOR_KEYS: &str = include_str!("../assets/capk/simulator.toml");

    /// The simulator's Visa CA key: RID A000000003, index D0 (`assets/capk/simulator.toml`).
    const SIMULATOR_VISA: ([u8; 5], u8) = ([0xA0, 0x00, 0x00, 0x00, 0x03], 0xD0);

    #[test]
    fn test_and_simulator_keys_only_when_asked() {
        let production = ca_key_store(&config("[terminal]\ntrust_test_ca_keys = false\n")).unwrap();
        assert!(production.get(SIMULATOR_VISA.0, SIMULATOR_VISA.1).is_none());
        assert!(
            production.get([0xA0, 0, 0, 0, 0x03], 0x09).is_some(),
            "live Visa 09"
        );
        let demo = ca_key_store(&config("[terminal]\ntrust_test_ca_keys = true\n")).unwrap();
        assert!(demo.get(SIMULATOR_VISA.0, SIMULATOR_VISA.1).is_some());
    }

    #[test]
    fn a_testers_key_directory_is_merged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), SIMULATOR_KEYS).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a key file").unwrap();
        let overrides = format!(
            "[terminal]\ntrust_test_ca_keys = false\nca_key_directories = [{:?}]\n",
            dir.path().display().to_string()
        );
        let store = ca_key_store(&config(&overrides)).unwrap();
        assert!(store.get(SIMULATOR_VISA.0, SIMULATOR_VISA.1).is_some());
    }

    #[test]
    fn a_bad_key_file_or_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let tampered = SIMULATOR_KEYS.replacen("checksum = \"", "checksum = \"00", 1);
        std::fs::write(dir.path().join("bad.toml"), tampered).unwrap();
        let overrides = format!(
            "[terminal]\nca_key_directories = [{:?}]\n",
            dir.path().display().to_string()
        );
        assert!(matches!(
            ca_key_store(&config(&overrides)),
            Err(CaKeyLoadError::Invalid { .. })
        ));
        let missing = "[terminal]\nca_key_directories = [\"/nonexistent/softpos-keys\"]\n";
        assert!(matches!(
            ca_key_store(&config(missing)),
            Err(CaKeyLoadError::Read { .. })
        ));
    }
}
