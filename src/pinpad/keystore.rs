//! The PIN pad's key store: the AES DUKPT initial key, sealed at rest, and the KSN counter,
//! persisted with fsync before every use (X9.24-3-2017 §6.1; security doc C2, C3).
//!
//! A directory only `softpos-pinpad` reads (mode 0700, files 0600):
//! - `device.secret`: 32 random bytes made at installation.
//! - `initial-key.sealed`: `"SPIK"` ‖ version `01` ‖ initial KSN (12) ‖ nonce (12) ‖
//!   ChaCha20-Poly1305(initial key) with the magic, version and KSN as associated data. The key
//!   encryption key is SHA-256(`"softpos-pinpad kek v1"` ‖ device secret ‖ `/etc/machine-id`),
//!   so the sealed file alone, or the directory copied to another machine, opens nothing.
//! - `ksn.state`: `"SPKS"` ‖ version `01` ‖ last reserved KSN (12) ‖ last keypad layout (10, or
//!   `FF`s) ‖ CRC-32/ISO-HDLC of what precedes. Replaced atomically: temporary file, fsync,
//!   rename, fsync of the directory.
//! - `pin-rate`: `"SPRL"` ‖ version `01` ‖ count (1) ‖ that many Unix times (8 bytes each, big
//!   endian) of the entries of the last hour ‖ CRC-32/ISO-HDLC. At most
//!   [`MAX_ENTRIES_PER_HOUR`] entries in any hour (security doc P11, PCI PTS B8: deter
//!   exhaustive PIN determination); replaced the same way.
//!
//! [`Keystore::reserve`] advances the KSN and makes it durable before it returns, so a crash at
//! any later point (even between encrypting and answering) never lets a KSN be used twice. What
//! the sealing does and does not protect against is in `docs/pinpad.md`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use emv::crypto::dukpt::{self, DukptError, KeyType, KeyUsage, Ksn};
use emv::crypto::key::AesKey;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::keypad::Layout;

/// An opened key store: the initial key in memory (zeroized on drop) and the KSN state.
pub struct Keystore {
    dir: PathBuf,
    initial_key: AesKey,
    last_ksn: Ksn,
    last_layout: Option<Layout>,
}

/// Errors of the key store. They never carry key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// No key is installed in this directory.
    #[error("no PIN key installed in {0}")]
    NotInstalled(PathBuf),
    /// A file is damaged, or the sealed key does not open on this machine.
    #[error("{0}: damaged or from another device")]
    Damaged(PathBuf),
    /// The DUKPT counter is exhausted: the terminal needs new keys.
    #[error("DUKPT keys exhausted: the terminal needs new keys")]
    Exhausted,
    /// A DUKPT derivation failed.
    #[error("DUKPT: {0}")]
    Dukpt(DukptError),
    /// The key or KSN to install is not usable.
    #[error("invalid initial key or KSN")]
    InvalidKey,
    /// The OS random source failed.
    #[error("random source unavailable")]
    Random,
    /// [`MAX_ENTRIES_PER_HOUR`] PIN entries were already made in the last hour (security doc
    /// P11). The terminal should alert the merchant: this is what a PIN-guessing attack looks
    /// like.
    #[error("too many PIN entries in the last hour; the next one is possible in {} s", retry_after.as_secs())]
    TooManyEntries {
        /// When the oldest counted entry leaves the hour.
        retry_after: Duration,
    },
}

/// The most PIN entries the pad allows in any hour (security doc P11: the figure commonly
/// quoted from the PCI PTS FAQs for requirement B8).
pub const MAX_ENTRIES_PER_HOUR: usize = 120;

/// The file that counts the last hour's entries. Public for test and bench tooling, which
/// resets it by removing the file: whoever can write the store directory can do that anyway.
pub const RATE_FILE: &str = "pin-rate";

const HOUR: Duration = Duration::from_secs(3600);

impl Keystore {
    /// Installs an initial key and its initial KSN (counter 0, as `hsm-sim enroll` issues it)
    /// into `dir`, replacing any key there. The device secret is kept if present.
    pub fn install(
        dir: &Path,
        initial_key: &AesKey,
        initial_ksn: Ksn,
    ) -> Result<(), KeystoreError> {
        if KeyType::for_length(initial_key.len()).is_none() {
            return Err(KeystoreError::InvalidKey);
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))?;
        let secret_path = dir.join(DEVICE_SECRET_FILE);
        if !secret_path.exists() {
            let mut secret = Zeroizing::new([0u8; 32]);
            getrandom::fill(secret.as_mut()).map_err(|_| KeystoreError::Random)?;
            write_durably(dir, DEVICE_SECRET_FILE, secret.as_ref())?;
        }
        let cipher = kek_cipher(dir)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| KeystoreError::Random)?;
        let header = sealed_header(initial_ksn);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: initial_key.expose_secret(),
                    aad: &header,
                },
            )
            .map_err(|_| KeystoreError::InvalidKey)?;
        let mut file = Vec::with_capacity(header.len() + 12 + sealed.len());
        file.extend_from_slice(&header);
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&sealed);
        write_durably(dir, SEALED_KEY_FILE, &file)?;
        write_state(dir, initial_ksn, None)
    }

    /// Opens the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        let sealed_path = dir.join(SEALED_KEY_FILE);
        if !sealed_path.exists() {
            return Err(KeystoreError::NotInstalled(dir.to_path_buf()));
        }
        let sealed = read_small(&sealed_path)?;
        let damaged = || KeystoreError::Damaged(sealed_path.clone());
        let (header, rest) = sealed
            .split_at_checked(SEALED_HEADER_LEN)
            .ok_or_else(damaged)?;
        let (nonce, ciphertext) = rest.split_first_chunk::<12>().ok_or_else(damaged)?;
        let initial_ksn = parse_sealed_header(header).ok_or_else(damaged)?;
        let cipher = kek_cipher(dir)?;
        let key_bytes = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(*nonce),
                    Payload {
                        msg: ciphertext,
                        aad: header,
                    },
                )
                .map_err(|_| damaged())?,
        );
        let initial_key = AesKey::from_slice(&key_bytes).ok_or_else(damaged)?;
        let (last_ksn, last_layout) = read_state(dir)?;
        if last_ksn.initial_key_id() != initial_ksn.initial_key_id() {
            return Err(KeystoreError::Damaged(dir.join(STATE_FILE)));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            initial_key,
            last_ksn,
            last_layout,
        })
    }

    /// Reserves the next KSN for an entry shown with `layout`: counts the entry against the
    /// hourly limit, advances the counter (skipping counters with more than 16 one-bits), writes
    /// both and the layout durably, and only then returns it. [`KeystoreError::Exhausted`]
    /// after `0xFFFF0000`; [`KeystoreError::TooManyEntries`] beyond
    /// [`MAX_ENTRIES_PER_HOUR`].
    pub fn reserve(&mut self, layout: &Layout) -> Result<Ksn, KeystoreError> {
        self.reserve_at(layout, SystemTime::now())
    }

    /// [`Keystore::reserve`] at the wall-clock time `now`.
    pub fn reserve_at(&mut self, layout: &Layout, now: SystemTime) -> Result<Ksn, KeystoreError> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut recent = read_rate(&self.dir)?;
        // Entries stamped in the future (the clock was set back) count as made now, and are
        // written back so: setting the clock back does not reopen the limit, and a clock that
        // was wrong for a while blocks entry for an hour at most, not until it catches up.
        let skewed = recent.iter().any(|&t| t > now);
        for t in &mut recent {
            *t = (*t).min(now);
        }
        recent.retain(|&t| t > now.saturating_sub(HOUR.as_secs()));
        if recent.len() >= MAX_ENTRIES_PER_HOUR {
            if skewed {
                write_rate(&self.dir, &recent)?;
            }
            let oldest = recent.iter().copied().min().unwrap_or(now);
            let retry_after = Duration::from_secs(
                oldest
                    .saturating_add(HOUR.as_secs())
                    .saturating_sub(now)
                    .max(1),
            );
            return Err(KeystoreError::TooManyEntries { retry_after });
        }
        let next = dukpt::next_ksn(self.last_ksn).map_err(|e| match e {
            DukptError::KeyExhausted => KeystoreError::Exhausted,
            other => KeystoreError::Dukpt(other),
        })?;
        recent.push(now);
        write_rate(&self.dir, &recent)?;
        write_state(&self.dir, next, Some(layout))?;
        self.last_ksn = next;
        self.last_layout = Some(layout.clone());
        Ok(next)
    }

    /// The PIN encryption key of `ksn` (X9.24-3 §6.3.4, usage `1000`, AES-128). The caller uses
    /// it once and drops it (it zeroizes on drop).
    pub fn pin_key(&self, ksn: Ksn) -> Result<AesKey, KeystoreError> {
        dukpt::derive_working_key(
            &self.initial_key,
            ksn,
            KeyUsage::PinEncryption,
            KeyType::Aes128,
        )
        .map_err(KeystoreError::Dukpt)
    }

    /// The last KSN reserved (or the initial KSN if none yet).
    pub fn last_ksn(&self) -> Ksn {
        self.last_ksn
    }

    /// The layout of the previous entry, so the next one differs.
    pub fn last_layout(&self) -> Option<&Layout> {
        self.last_layout.as_ref()
    }

    /// Moves the counter to `ksn` without using it. Test and re-key tooling only (for example
    /// to reach the exhaustion point); refuses to move backwards.
    pub fn fast_forward(&mut self, ksn: Ksn) -> Result<(), KeystoreError> {
        if ksn.initial_key_id() != self.last_ksn.initial_key_id()
            || ksn.counter() < self.last_ksn.counter()
        {
            return Err(KeystoreError::InvalidKey);
        }
        write_state(&self.dir, ksn, self.last_layout.as_ref())?;
        self.last_ksn = ksn;
        Ok(())
    }
}

/// The default store directory: `$SOFTPOS_PINPAD_STORE`, else
/// `$XDG_STATE_HOME/softpos/pinpad`, else `$HOME/.local/state/softpos/pinpad`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(STORE_ENV) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    base.join("softpos/pinpad")
}

/// The environment variable naming the store directory.
pub const STORE_ENV: &str = "SOFTPOS_PINPAD_STORE";

fn kek_cipher(dir: &Path) -> Result<ChaCha20Poly1305, KeystoreError> {
    let secret_path = dir.join(DEVICE_SECRET_FILE);
    let secret = Zeroizing::new(read_small(&secret_path)?);
    if secret.len() != 32 {
        return Err(KeystoreError::Damaged(secret_path));
    }
    // Missing machine-id (containers): the device secret alone keys the store.
    let machine_id = fs::read("/etc/machine-id").unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(KEK_LABEL);
    hash.update(secret.as_slice());
    hash.update(&machine_id);
    let mut kek: [u8; 32] = hash.finalize().into();
    let cipher = ChaCha20Poly1305::new(&kek.into());
    kek.zeroize();
    Ok(cipher)
}

fn sealed_header(initial_ksn: Ksn) -> [u8; SEALED_HEADER_LEN] {
    let mut header = [0u8; SEALED_HEADER_LEN];
    header[..4].copy_from_slice(SEALED_MAGIC);
    header[4] = FILE_VERSION;
    header[5..].copy_from_slice(&initial_ksn.to_bytes());
    header
}

fn parse_sealed_header(header: &[u8]) -> Option<Ksn> {
    let (magic, rest) = header.split_first_chunk::<4>()?;
    let ([version], ksn) = rest.split_first_chunk::<1>()?;
    let ksn: [u8; 12] = ksn.try_into().ok()?;
    (magic == SEALED_MAGIC && *version == FILE_VERSION).then(|| Ksn::from_bytes(ksn))
}

fn write_state(dir: &Path, ksn: Ksn, layout: Option<&Layout>) -> Result<(), KeystoreError> {
    let mut state = [0u8; STATE_LEN];
    state[..4].copy_from_slice(STATE_MAGIC);
    state[4] = FILE_VERSION;
    state[5..17].copy_from_slice(&ksn.to_bytes());
    state[17..27].copy_from_slice(&layout.map_or([0xFF; 10], Layout::to_bytes));
    let crc = CRC32.checksum(&state[..27]);
    state[27..].copy_from_slice(&crc.to_be_bytes());
    write_durably(dir, STATE_FILE, &state)
}

fn read_state(dir: &Path) -> Result<(Ksn, Option<Layout>), KeystoreError> {
    let path = dir.join(STATE_FILE);
    let bytes = read_small(&path)?;
    let damaged = || KeystoreError::Damaged(path.clone());
    let state: [u8; STATE_LEN] = bytes.as_slice().try_into().map_err(|_| damaged())?;
    let (body, crc) = state.split_at(27);
    if crc != CRC32.checksum(body).to_be_bytes()
        || &body[..4] != STATE_MAGIC
        || body[4] != FILE_VERSION
    {
        return Err(damaged());
    }
    let mut ksn = [0u8; 12];
    ksn.copy_from_slice(&body[5..17]);
    let mut layout = [0u8; 10];
    layout.copy_from_slice(&body[17..27]);
    let layout = if layout == [0xFF; 10] {
        None
    } else {
        Some(Layout::from_bytes(layout).ok_or_else(damaged)?)
    };
    Ok((Ksn::from_bytes(ksn), layout))
}

fn write_rate(dir: &Path, times: &[u64]) -> Result<(), KeystoreError> {
    let count =
        u8::try_from(times.len()).map_err(|_| KeystoreError::Damaged(dir.join(RATE_FILE)))?;
    let mut bytes = Vec::with_capacity(10 + times.len() * 8);
    bytes.extend_from_slice(RATE_MAGIC);
    bytes.push(FILE_VERSION);
    bytes.push(count);
    for t in times {
        bytes.extend_from_slice(&t.to_be_bytes());
    }
    let crc = CRC32.checksum(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    write_durably(dir, RATE_FILE, &bytes)
}

/// The entries of the rate file; none if there is no file yet (a fresh store). A damaged file
/// refuses entry rather than resetting the count.
fn read_rate(dir: &Path) -> Result<Vec<u64>, KeystoreError> {
    let path = dir.join(RATE_FILE);
    let bytes = match read_small(&path) {
        Ok(b) => b,
        Err(KeystoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let damaged = || KeystoreError::Damaged(path.clone());
    let (body, crc) = bytes.split_last_chunk::<4>().ok_or_else(damaged)?;
    let (header, times) = body.split_first_chunk::<6>().ok_or_else(damaged)?;
    if *crc != CRC32.checksum(body).to_be_bytes()
        || &header[..4] != RATE_MAGIC
        || header[4] != FILE_VERSION
        || times.len() != usize::from(header[5]) * 8
    {
        return Err(damaged());
    }
    Ok(times
        .chunks_exact(8)
        .map(|c| {
            let mut t = [0u8; 8];
            t.copy_from_slice(c);
            u64::from_be_bytes(t)
        })
        .collect())
}

/// Writes `name` in `dir` atomically and durably ([`crate::durable::replace`]).
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), KeystoreError> {
    crate::durable::replace(dir, name, bytes).map_err(io_error(&dir.join(name)))
}

fn read_small(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut bytes = Vec::with_capacity(128);
    file.take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    Ok(bytes)
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeystoreError + '_ {
    move |source| KeystoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

const DEVICE_SECRET_FILE: &str = "device.secret";
const SEALED_KEY_FILE: &str = "initial-key.sealed";
const STATE_FILE: &str = "ksn.state";
const SEALED_MAGIC: &[u8; 4] = b"SPIK";
const STATE_MAGIC: &[u8; 4] = b"SPKS";
const RATE_MAGIC: &[u8; 4] = b"SPRL";
const FILE_VERSION: u8 = 0x01;
const SEALED_HEADER_LEN: usize = 4 + 1 + 12;
const STATE_LEN: usize = 4 + 1 + 12 + 10 + 4;
const KEK_LABEL: &[u8] = b"softpos-pinpad kek v1";
const MAX_FILE: u64 = 4096;
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

#[cfg(test)]
mod tests {
    use emv::crypto::dukpt::InitialKeyId;
    use hex_literal::hex;

    use super::*;

    fn install(dir: &Path) -> Ksn {
        let ksn = Ksn::new(InitialKeyId(hex!("1234567890123456")), 0);
        // X9.24-3-2017 supplement initial key for BDK FEDCBA9876543210F1F1F1F1F1F1F1F1 and IKID
        // 1234567890123456 (security doc C2).
        let key = AesKey::from_bytes_128(hex!("1273671EA26AC29AFA4D1084127652A1"));
        assert!(Keystore::install(dir, &key, ksn).is_ok());
        ksn
    }

    /// Security doc P11: 120 entries in an hour pass, the 121st is refused until the oldest
    /// leaves the hour; the count survives reopening the store; setting the clock back does
    /// not reopen the limit, and a wrong clock blocks entry for an hour at most.
    #[test]
    fn the_hundred_and_twenty_first_entry_in_an_hour_is_refused() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(tmp.path());
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        for i in 0..120u64 {
            let Ok(mut store) = Keystore::open(tmp.path()) else {
                panic!("open")
            };
            assert!(
                store.reserve_at(&Layout::phone(), at(i * 10)).is_ok(),
                "entry {i}"
            );
        }
        let Ok(mut store) = Keystore::open(tmp.path()) else {
            panic!("open")
        };
        let before = store.last_ksn();
        match store.reserve_at(&Layout::phone(), at(1200)) {
            Err(KeystoreError::TooManyEntries { retry_after }) => {
                assert_eq!(retry_after, Duration::from_secs(3600 - 1200));
            }
            other => panic!("121st entry: {:?}", other.map(|k| k.counter())),
        }
        assert_eq!(store.last_ksn(), before, "a refused entry uses no KSN");
        // The first entry (at t0) leaves the hour at t0 + 3600: one more is allowed, not two.
        assert!(store.reserve_at(&Layout::phone(), at(3600)).is_ok());
        assert!(store.reserve_at(&Layout::phone(), at(3601)).is_err());
        assert!(store.reserve_at(&Layout::phone(), at(3610)).is_ok());
        // The clock set back an hour: the entries now look like the future; they count as made
        // now, so entry stays closed for the hour and then reopens.
        assert!(store.reserve_at(&Layout::phone(), at(0)).is_err());
        assert!(store.reserve_at(&Layout::phone(), at(3599)).is_err());
        assert!(store.reserve_at(&Layout::phone(), at(3600)).is_ok());
        // A clock once wrong by years blocks entry for an hour, not for years.
        let far = at(10 * 365 * 24 * 3600);
        let Ok(other) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(other.path());
        let Ok(mut skewed) = Keystore::open(other.path()) else {
            panic!("open")
        };
        for _ in 0..120 {
            assert!(skewed.reserve_at(&Layout::phone(), far).is_ok());
        }
        assert!(skewed.reserve_at(&Layout::phone(), at(0)).is_err());
        assert!(skewed.reserve_at(&Layout::phone(), at(3599)).is_err());
        assert!(skewed.reserve_at(&Layout::phone(), at(3600)).is_ok());
    }

    #[test]
    fn a_damaged_rate_file_refuses_entry() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(tmp.path());
        let Ok(mut store) = Keystore::open(tmp.path()) else {
            panic!("open")
        };
        assert!(store.reserve(&Layout::phone()).is_ok());
        let path = tmp.path().join(RATE_FILE);
        let Ok(mut bytes) = fs::read(&path) else {
            panic!("rate file")
        };
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        assert!(fs::write(&path, &bytes).is_ok());
        assert!(matches!(
            store.reserve(&Layout::phone()),
            Err(KeystoreError::Damaged(_))
        ));
    }

    #[test]
    fn reserves_durably_and_derives_the_published_pin_key() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(tmp.path());
        let Ok(mut store) = Keystore::open(tmp.path()) else {
            panic!("open")
        };
        let layout = Layout::phone();
        let Ok(first) = store.reserve(&layout) else {
            panic!("reserve")
        };
        assert_eq!(first.counter(), 1);
        // A second process opening the store sees the reserved KSN at once.
        let Ok(reopened) = Keystore::open(tmp.path()) else {
            panic!("reopen")
        };
        assert_eq!(reopened.last_ksn(), first);
        assert!(reopened.last_layout() == Some(&layout));
        // X9.24-3-2017 supplement, KSN 123456789012345600000001: the PIN encryption key.
        let Ok(key) = store.pin_key(first) else {
            panic!("pin key")
        };
        assert_eq!(
            key.expose_secret(),
            hex!("AF8CB133A78F8DC2D1359F18527593FB")
        );
    }

    #[test]
    fn skips_counters_with_seventeen_one_bits_and_stops_at_exhaustion() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let initial = install(tmp.path());
        let Ok(mut store) = Keystore::open(tmp.path()) else {
            panic!("open")
        };
        let id = initial.initial_key_id();
        assert!(store.fast_forward(Ksn::new(id, 0x0001_FFFE)).is_ok());
        let Ok(next) = store.reserve(&Layout::phone()) else {
            panic!("reserve")
        };
        assert_eq!(next.counter(), 0x0002_0000);
        assert!(store.fast_forward(Ksn::new(id, 0xFFFF_0000)).is_ok());
        assert!(matches!(
            store.reserve(&Layout::phone()),
            Err(KeystoreError::Exhausted)
        ));
        assert!(
            store.fast_forward(Ksn::new(id, 5)).is_err(),
            "never backwards"
        );
    }

    #[test]
    fn files_are_private_and_the_key_is_not_in_clear() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(tmp.path());
        for name in [DEVICE_SECRET_FILE, SEALED_KEY_FILE, STATE_FILE] {
            let Ok(meta) = fs::metadata(tmp.path().join(name)) else {
                panic!("{name}")
            };
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
        let Ok(sealed) = fs::read(tmp.path().join(SEALED_KEY_FILE)) else {
            panic!("read")
        };
        let key = hex!("1273671EA26AC29AFA4D1084127652A1");
        assert!(!sealed.windows(16).any(|w| w == key));
    }

    #[test]
    fn tampered_or_foreign_files_are_refused() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(tmp.path());
        let sealed_path = tmp.path().join(SEALED_KEY_FILE);
        let Ok(mut sealed) = fs::read(&sealed_path) else {
            panic!("read")
        };
        if let Some(b) = sealed.last_mut() {
            *b ^= 1;
        }
        assert!(fs::write(&sealed_path, &sealed).is_ok());
        assert!(matches!(
            Keystore::open(tmp.path()),
            Err(KeystoreError::Damaged(_))
        ));

        // Another device secret (the store copied without it): does not open.
        let Ok(other) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        install(other.path());
        assert!(fs::write(other.path().join(DEVICE_SECRET_FILE), [7u8; 32]).is_ok());
        assert!(matches!(
            Keystore::open(other.path()),
            Err(KeystoreError::Damaged(_))
        ));

        let Ok(empty) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        assert!(matches!(
            Keystore::open(empty.path()),
            Err(KeystoreError::NotInstalled(_))
        ));
    }
}
