//! The HSM key file (`hsm-keys` in the data directory): one `name=HEX` line per key. Clear
//! keys on disk are acceptable only because this is a simulator; the file is created 0600.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use emv::crypto::key::AesKey;
use zeroize::Zeroizing;

use super::HsmError;

/// The keys kept in the file.
pub(super) struct StoredKeys {
    pub(super) bdk_id: [u8; 4],
    pub(super) bdk: AesKey,
    pub(super) zone_pin_key: AesKey,
    pub(super) pin_verification_key: AesKey,
}

/// Reads the key file, or creates it with random keys and a random BDK ID.
pub(super) fn load_or_create(data_dir: &Path) -> Result<StoredKeys, HsmError> {
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let text = Zeroizing::new(fs::read_to_string(&path)?);
        return parse(&text);
    }
    fs::create_dir_all(data_dir)?;
    let mut random = Zeroizing::new([0u8; 4 + 16 * 3]);
    getrandom::fill(random.as_mut_slice()).map_err(|_| HsmError::RandomUnavailable)?;
    let text = Zeroizing::new(format!(
        "bdk_id={}\nbdk={}\nzone_pin_key={}\npin_verification_key={}\n",
        hex::encode_upper(&random[..4]),
        hex::encode_upper(&random[4..20]),
        hex::encode_upper(&random[20..36]),
        hex::encode_upper(&random[36..52]),
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    parse(&text)
}

fn parse(text: &str) -> Result<StoredKeys, HsmError> {
    let field = |name: &str| -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let value = text
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .ok_or(HsmError::MalformedKeyFile)?;
        hex::decode(value.trim())
            .map(Zeroizing::new)
            .map_err(|_| HsmError::MalformedKeyFile)
    };
    let aes = |name: &str| -> Result<AesKey, HsmError> {
        AesKey::from_slice(&field(name)?).ok_or(HsmError::MalformedKeyFile)
    };
    let bdk_id: [u8; 4] = field("bdk_id")?
        .as_slice()
        .try_into()
        .map_err(|_| HsmError::MalformedKeyFile)?;
    Ok(StoredKeys {
        bdk_id,
        bdk: aes("bdk")?,
        zone_pin_key: aes("zone_pin_key")?,
        pin_verification_key: aes("pin_verification_key")?,
    })
}

const KEY_FILE: &str = "hsm-keys";
