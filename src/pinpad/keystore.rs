//! The PIN pad's key store: the AES DUKPT initial key, sealed at rest, and the KSN counter,
//! persisted with fsync before every use (X9.24-3-2017 §6.1; security doc C2, C3).
//!
//! A directory only `softpos-pinpad` reads (mode 0700, files 0600):
//! - `device.secret`: 32 random bytes made at installation.
//! - `initial-key.sealed`: `"SPIK"` ‖ version `01` ‖ initial KSN (12) ‖ nonce (12) ‖
//!   ChaCha20-Poly1305(initial key) with the magic, version and KSN as associated data. The key
//!   encryption key (KEK) is SHA-256(`"softpos-pinpad kek v1"` ‖ device secret ‖
//!   `/etc/machine-id`), so the sealed file alone, or the directory copied to another machine,
//!   opens nothing. A missing or empty machine-id refuses (fails closed).
//! - `ksn.state`: `"SPKS"` ‖ version `02` ‖ nonce (12) ‖ ChaCha20-Poly1305 under the KEK of
//!   last reserved KSN (12) ‖ last keypad layout (10, or `FF`s).
//! - `pin-rate`: `"SPRL"` ‖ version `02` ‖ nonce (12) ‖ ChaCha20-Poly1305 under the KEK of
//!   last reserved KSN (12) ‖ count (1) ‖ that many Unix times (8 bytes each, big endian) of
//!   the entries of the last hour. At most [`MAX_ENTRIES_PER_HOUR`] entries in any hour
//!   (security doc P11, PCI PTS B8: deter exhaustive PIN determination).
//! - `store.lock`: the lock each installation and reservation holds.
//!
//! Both state files are sealed with the magic, version and initial KSN as associated data: they
//! cannot be forged, moved to another key or edited without the KEK, and either one missing
//! refuses entry. The counter is the higher of the two files' KSNs, so restoring an old copy of
//! one file does not move it back; restoring an old copy of the whole directory does, which
//! only a hardware monotonic counter can prevent (`docs/security.md`). Files are replaced
//! atomically: temporary file, fsync, rename, fsync of the directory.
//!
//! [`Keystore::reserve`] advances the KSN and makes it durable before it returns, so a crash at
//! any later point (even between encrypting and answering) never lets a KSN be used twice, and
//! holds the store's lock meanwhile, so two processes never reserve the same KSN. A key is
//! installed once: [`Keystore::install`] refuses a store that has one, since starting its
//! counter again would reuse KSNs. What the sealing does and does not protect against is in
//! `docs/pinpad.md` and `docs/security.md`.

use std::ffi::OsString;
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
use zeroize::Zeroizing;

use super::keypad::Layout;
use crate::dir_lock::{DirLock, LockError};

/// An opened key store: the initial key and the KEK in memory (zeroized on drop) and the KSN
/// state.
pub struct Keystore {
    dir: PathBuf,
    initial_key: AesKey,
    initial_ksn: Ksn,
    kek: Zeroizing<[u8; 32]>,
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
    /// A key is already installed: installing again would start its counter over and reuse
    /// KSNs.
    #[error("a PIN key is already installed in {0}; a key is installed once")]
    AlreadyInstalled(PathBuf),
    /// A file is damaged or missing, or the sealed key does not open on this machine.
    #[error("{0}: damaged, missing or from another device")]
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
    /// The store's lock could not be taken.
    #[error("cannot lock the key store")]
    Lock(#[source] LockError),
    /// The wrapped PIN key does not open with this pad's key ([`pad_key::install_wrapped`]):
    /// it was wrapped for another device, or altered, or the pad has no key pair yet.
    #[error("{0}")]
    WrappedKey(emv::crypto::key_wrap::KeyWrapError),
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

/// The file that counts the last hour's entries. Sealed: removing it refuses entry, it does not
/// reset the count.
pub const RATE_FILE: &str = "pin-rate";

const HOUR: Duration = Duration::from_secs(3600);

impl Keystore {
    /// Installs an initial key and its initial KSN (counter 0, as `hsm-sim enroll` issues it)
    /// into `dir`. Refuses ([`KeystoreError::AlreadyInstalled`]) if a key is installed there:
    /// the counter never goes backwards. The device secret is kept if present.
    pub fn install(
        dir: &Path,
        initial_key: &AesKey,
        initial_ksn: Ksn,
    ) -> Result<(), KeystoreError> {
        Self::install_with(dir, initial_key, initial_ksn, Path::new(MACHINE_ID))
    }

    fn install_with(
        dir: &Path,
        initial_key: &AesKey,
        initial_ksn: Ksn,
        machine_id: &Path,
    ) -> Result<(), KeystoreError> {
        if KeyType::for_length(initial_key.len()).is_none() {
            return Err(KeystoreError::InvalidKey);
        }
        create_dir(dir)?;
        let _lock = lock(dir)?;
        if dir.join(SEALED_KEY_FILE).exists() {
            return Err(KeystoreError::AlreadyInstalled(dir.to_path_buf()));
        }
        ensure_device_secret(dir)?;
        let kek = derive_kek(dir, machine_id)?;
        // The counter files first and the key last: a crash before the key is written leaves a
        // store that is not installed, which installing again completes.
        write_rate(dir, &kek, initial_ksn, initial_ksn, &[])?;
        write_state(dir, &kek, initial_ksn, initial_ksn, None)?;
        let header = sealed_header(initial_ksn);
        let sealed = seal(&kek, &header, initial_key.expose_secret())?;
        let mut file = Vec::with_capacity(header.len() + sealed.len());
        file.extend_from_slice(&header);
        file.extend_from_slice(&sealed);
        write_durably(dir, SEALED_KEY_FILE, &file)
    }

    /// Opens the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        Self::open_with(dir, Path::new(MACHINE_ID))
    }

    fn open_with(dir: &Path, machine_id: &Path) -> Result<Self, KeystoreError> {
        let sealed_path = dir.join(SEALED_KEY_FILE);
        if !sealed_path.exists() {
            return Err(KeystoreError::NotInstalled(dir.to_path_buf()));
        }
        let sealed = read_small(&sealed_path)?;
        let damaged = || KeystoreError::Damaged(sealed_path.clone());
        let (header, rest) = sealed
            .split_at_checked(SEALED_HEADER_LEN)
            .ok_or_else(damaged)?;
        let initial_ksn = parse_sealed_header(header).ok_or_else(damaged)?;
        let kek = derive_kek(dir, machine_id)?;
        let key_bytes = unseal(&kek, header, rest).ok_or_else(damaged)?;
        let initial_key = AesKey::from_slice(&key_bytes).ok_or_else(damaged)?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            initial_key,
            initial_ksn,
            kek,
            last_ksn: initial_ksn,
            last_layout: None,
        };
        store.refresh()?;
        Ok(store)
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
        let _lock = lock(&self.dir)?;
        // Another process may have reserved since this one opened the store.
        let mut recent = self.refresh()?;
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
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
                write_rate(
                    &self.dir,
                    &self.kek,
                    self.initial_ksn,
                    self.last_ksn,
                    &recent,
                )?;
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
        write_rate(&self.dir, &self.kek, self.initial_ksn, next, &recent)?;
        write_state(&self.dir, &self.kek, self.initial_ksn, next, Some(layout))?;
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

    /// The last KSN reserved (or the initial KSN if none yet), as of opening or the last
    /// reservation.
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
        let _lock = lock(&self.dir)?;
        self.refresh()?;
        if ksn.initial_key_id() != self.last_ksn.initial_key_id()
            || ksn.counter() < self.last_ksn.counter()
        {
            return Err(KeystoreError::InvalidKey);
        }
        write_state(
            &self.dir,
            &self.kek,
            self.initial_ksn,
            ksn,
            self.last_layout.as_ref(),
        )?;
        self.last_ksn = ksn;
        Ok(())
    }

    /// Forgets the last hour's entries, as if an hour had passed without any. Test and bench
    /// tooling only: the test build alone has it.
    #[cfg(feature = "pinpad-test-input")]
    pub fn reset_rate_limit(&mut self) -> Result<(), KeystoreError> {
        let _lock = lock(&self.dir)?;
        self.refresh()?;
        write_rate(&self.dir, &self.kek, self.initial_ksn, self.last_ksn, &[])
    }

    /// Reads both counter files: sets the last KSN (the higher of the two) and layout, and
    /// returns the rate file's entry times.
    fn refresh(&mut self) -> Result<Vec<u64>, KeystoreError> {
        let (state_ksn, layout) = read_state(&self.dir, &self.kek, self.initial_ksn)?;
        let (rate_ksn, times) = read_rate(&self.dir, &self.kek, self.initial_ksn)?;
        let last = if rate_ksn.counter() > state_ksn.counter() {
            rate_ksn
        } else {
            state_ksn
        };
        if last.initial_key_id() != self.initial_ksn.initial_key_id()
            || last.counter() < self.initial_ksn.counter()
        {
            return Err(KeystoreError::Damaged(self.dir.join(STATE_FILE)));
        }
        self.last_ksn = last;
        self.last_layout = layout;
        Ok(times)
    }
}

/// The default store directory: `$XDG_STATE_HOME/softpos/pinpad`, else
/// `$HOME/.local/state/softpos/pinpad`. Test builds (feature `pinpad-test-input`) also take
/// `$SOFTPOS_PINPAD_STORE`, and demo builds (feature `demo`) take the demo mode's own store
/// from `$SOFTPOS_PINPAD_DEMO_STORE`; the production build (neither feature) never lets its
/// parent name the store.
pub fn default_dir() -> PathBuf {
    dir_from_env(|name| std::env::var_os(name))
}

/// Whether a key is installed in `dir` (its sealed key file exists; whether it opens is
/// [`Keystore::open`]'s question).
pub fn is_installed(dir: &Path) -> bool {
    dir.join(SEALED_KEY_FILE).exists()
}

/// The environment variable naming the store directory, read by test builds only.
pub const STORE_ENV: &str = "SOFTPOS_PINPAD_STORE";

/// The environment variable naming the demo mode's store directory (`src/demo/pad.rs`), read
/// by demo builds only: a production build has no demo feature and ignores it.
pub const DEMO_STORE_ENV: &str = "SOFTPOS_PINPAD_DEMO_STORE";

fn dir_from_env(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    #[cfg(feature = "pinpad-test-input")]
    if let Some(dir) = var(STORE_ENV) {
        return PathBuf::from(dir);
    }
    #[cfg(feature = "demo")]
    if let Some(dir) = var(DEMO_STORE_ENV) {
        return PathBuf::from(dir);
    }
    let base = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    base.join("softpos/pinpad")
}

/// Creates the store directory (mode 0700) if needed.
fn create_dir(dir: &Path) -> Result<(), KeystoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Makes the device secret if the store has none yet. The caller holds the store's lock.
fn ensure_device_secret(dir: &Path) -> Result<(), KeystoreError> {
    if !dir.join(DEVICE_SECRET_FILE).exists() {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| KeystoreError::Random)?;
        write_durably(dir, DEVICE_SECRET_FILE, secret.as_ref())?;
    }
    Ok(())
}

/// The KEK: SHA-256 of the label, the device secret and the machine ID. A machine ID that
/// cannot be read, or is empty, refuses: the store never falls back to the secret alone.
fn derive_kek(dir: &Path, machine_id: &Path) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let secret_path = dir.join(DEVICE_SECRET_FILE);
    let secret = Zeroizing::new(read_small(&secret_path)?);
    if secret.len() != 32 {
        return Err(KeystoreError::Damaged(secret_path));
    }
    let id = read_small(machine_id)?;
    if id.trim_ascii().is_empty() {
        return Err(KeystoreError::Damaged(machine_id.to_path_buf()));
    }
    let mut hash = Sha256::new();
    hash.update(KEK_LABEL);
    hash.update(secret.as_slice());
    hash.update(&id);
    Ok(Zeroizing::new(hash.finalize().into()))
}

/// nonce (12) ‖ ChaCha20-Poly1305(`plaintext`) under `kek` with `aad` as associated data.
fn seal(kek: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|_| KeystoreError::Random)?;
    let sealed = ChaCha20Poly1305::new(kek.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| KeystoreError::InvalidKey)?;
    let mut out = Vec::with_capacity(12 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`seal`] made; `None` if it was altered or sealed under another key or `aad`.
fn unseal(kek: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (nonce, ciphertext) = sealed.split_first_chunk::<12>()?;
    ChaCha20Poly1305::new(kek.into())
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

fn sealed_header(initial_ksn: Ksn) -> [u8; SEALED_HEADER_LEN] {
    let mut header = [0u8; SEALED_HEADER_LEN];
    header[..4].copy_from_slice(SEALED_MAGIC);
    header[4] = KEY_FILE_VERSION;
    header[5..].copy_from_slice(&initial_ksn.to_bytes());
    header
}

fn parse_sealed_header(header: &[u8]) -> Option<Ksn> {
    let (magic, rest) = header.split_first_chunk::<4>()?;
    let ([version], ksn) = rest.split_first_chunk::<1>()?;
    let ksn: [u8; 12] = ksn.try_into().ok()?;
    (magic == SEALED_MAGIC && *version == KEY_FILE_VERSION).then(|| Ksn::from_bytes(ksn))
}

/// Writes a counter file: magic ‖ version ‖ sealed `body`, bound to the installed key.
fn write_counter_file(
    dir: &Path,
    kek: &[u8; 32],
    name: &str,
    magic: &[u8; 4],
    initial_ksn: Ksn,
    body: &[u8],
) -> Result<(), KeystoreError> {
    let sealed = seal(kek, &counter_aad(magic, initial_ksn), body)?;
    let mut file = Vec::with_capacity(5 + sealed.len());
    file.extend_from_slice(magic);
    file.push(STATE_FILE_VERSION);
    file.extend_from_slice(&sealed);
    write_durably(dir, name, &file)
}

/// Reads a counter file written by [`write_counter_file`]. Missing, altered, sealed for
/// another key or another file: [`KeystoreError::Damaged`].
fn read_counter_file(
    dir: &Path,
    kek: &[u8; 32],
    name: &str,
    magic: &[u8; 4],
    initial_ksn: Ksn,
) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let path = dir.join(name);
    let damaged = || KeystoreError::Damaged(path.clone());
    let bytes = match read_small(&path) {
        Ok(b) => b,
        Err(KeystoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(damaged());
        }
        Err(e) => return Err(e),
    };
    let (header, sealed) = bytes.split_first_chunk::<5>().ok_or_else(damaged)?;
    if &header[..4] != magic || header[4] != STATE_FILE_VERSION {
        return Err(damaged());
    }
    unseal(kek, &counter_aad(magic, initial_ksn), sealed).ok_or_else(damaged)
}

fn counter_aad(magic: &[u8; 4], initial_ksn: Ksn) -> [u8; 17] {
    let mut aad = [0u8; 17];
    aad[..4].copy_from_slice(magic);
    aad[4] = STATE_FILE_VERSION;
    aad[5..].copy_from_slice(&initial_ksn.to_bytes());
    aad
}

fn write_state(
    dir: &Path,
    kek: &[u8; 32],
    initial_ksn: Ksn,
    ksn: Ksn,
    layout: Option<&Layout>,
) -> Result<(), KeystoreError> {
    let mut body = [0u8; 22];
    body[..12].copy_from_slice(&ksn.to_bytes());
    body[12..].copy_from_slice(&layout.map_or([0xFF; 10], Layout::to_bytes));
    write_counter_file(dir, kek, STATE_FILE, STATE_MAGIC, initial_ksn, &body)
}

fn read_state(
    dir: &Path,
    kek: &[u8; 32],
    initial_ksn: Ksn,
) -> Result<(Ksn, Option<Layout>), KeystoreError> {
    let body = read_counter_file(dir, kek, STATE_FILE, STATE_MAGIC, initial_ksn)?;
    let damaged = || KeystoreError::Damaged(dir.join(STATE_FILE));
    let (ksn, layout) = body.split_first_chunk::<12>().ok_or_else(damaged)?;
    let layout: [u8; 10] = layout.try_into().map_err(|_| damaged())?;
    let layout = if layout == [0xFF; 10] {
        None
    } else {
        Some(Layout::from_bytes(layout).ok_or_else(damaged)?)
    };
    Ok((Ksn::from_bytes(*ksn), layout))
}

fn write_rate(
    dir: &Path,
    kek: &[u8; 32],
    initial_ksn: Ksn,
    ksn: Ksn,
    times: &[u64],
) -> Result<(), KeystoreError> {
    let count =
        u8::try_from(times.len()).map_err(|_| KeystoreError::Damaged(dir.join(RATE_FILE)))?;
    let mut body = Vec::with_capacity(13 + times.len() * 8);
    body.extend_from_slice(&ksn.to_bytes());
    body.push(count);
    for t in times {
        body.extend_from_slice(&t.to_be_bytes());
    }
    write_counter_file(dir, kek, RATE_FILE, RATE_MAGIC, initial_ksn, &body)
}

/// The KSN and the entry times of the rate file. Missing or damaged refuses entry rather than
/// resetting the count.
fn read_rate(
    dir: &Path,
    kek: &[u8; 32],
    initial_ksn: Ksn,
) -> Result<(Ksn, Vec<u64>), KeystoreError> {
    let body = read_counter_file(dir, kek, RATE_FILE, RATE_MAGIC, initial_ksn)?;
    let damaged = || KeystoreError::Damaged(dir.join(RATE_FILE));
    let (ksn, rest) = body.split_first_chunk::<12>().ok_or_else(damaged)?;
    let ([count], times) = rest.split_first_chunk::<1>().ok_or_else(damaged)?;
    if times.len() != usize::from(*count) * 8 {
        return Err(damaged());
    }
    let times = times
        .chunks_exact(8)
        .map(|c| {
            let mut t = [0u8; 8];
            t.copy_from_slice(c);
            u64::from_be_bytes(t)
        })
        .collect();
    Ok((Ksn::from_bytes(*ksn), times))
}

fn lock(dir: &Path) -> Result<DirLock, KeystoreError> {
    DirLock::acquire(dir, LOCK_FILE).map_err(KeystoreError::Lock)
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
const LOCK_FILE: &str = "store.lock";
const MACHINE_ID: &str = "/etc/machine-id";
const SEALED_MAGIC: &[u8; 4] = b"SPIK";
const STATE_MAGIC: &[u8; 4] = b"SPKS";
const RATE_MAGIC: &[u8; 4] = b"SPRL";
const KEY_FILE_VERSION: u8 = 0x01;
const STATE_FILE_VERSION: u8 = 0x02;
const SEALED_HEADER_LEN: usize = 4 + 1 + 12;
const KEK_LABEL: &[u8] = b"softpos-pinpad kek v1";
const MAX_FILE: u64 = 4096;

pub mod attestation_trust;
pub mod pad_key;
mod sealed_file;
#[cfg(test)]
mod tests;
