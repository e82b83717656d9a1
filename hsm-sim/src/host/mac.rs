//! Message authentication on the acquirer link (`docs/iso8583.md` §6), for the simulator's
//! test clients. The MAC itself (which field, what it covers, which DUKPT key) is
//! `emv::iso8583::mac`, shared with the terminal; this module keeps a test client's MAC key
//! and its counter.
//!
//! Every request a MAC-enrolled terminal sends carries:
//! - **DE 61**, the 12-byte KSN of the terminal's **MAC key**: an AES DUKPT initial key of its
//!   own (X9.24-3-2017), separate from the PIN pad's PIN key, with its own counter;
//! - **DE 64** (or **DE 128** when a secondary bitmap is present), the leftmost 8 bytes of
//!   AES-CMAC (NIST SP 800-38B) over the encoded message from the MTI up to the MAC bytes, under
//!   the DUKPT working key of that KSN with key usage `2000` (MAC generation, X9.24-3 §6.3.2).
//!
//! The host answers with the same KSN's working key of usage `2001` (MAC verification), so
//! neither side can produce the other's MACs with the key it uses for its own.
//!
//! [`MacKey`] is what the terminal holds: the initial key in memory (zeroized on drop, no
//! `Debug`) and the transaction counter, made durable before each use ([`MacKey::reserve`]):
//! in a file of the enrolment bundle's directory (`mac-ksn.state`, 0600, replaced atomically:
//! temporary file, fsync, rename, fsync of the directory), or in memory for a bundle that was
//! never written to disk. Clones share the counter, so two links built from one bundle never
//! reuse a KSN. One process at a time may use a bundle directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use emv::crypto::dukpt::{self, DukptError, KeyType, Ksn};
use emv::crypto::key::AesKey;
pub use emv::iso8583::mac::{MAC_KSN_FIELD, MacError, MacParts, mac_field, sign_request};

use super::HostError;
use crate::iso8583::Message;

/// Whether the response `body` carries the host's MAC for `ksn`
/// ([`emv::iso8583::mac::verify_response`]).
pub fn verify_response(initial_key: &AesKey, ksn: Ksn, body: &[u8]) -> bool {
    emv::iso8583::mac::verify_response(initial_key, ksn, body).is_ok()
}

/// A terminal's AES DUKPT MAC key (X9.24-3-2017) and its durable counter. `Debug` shows no
/// key; clones share the counter.
#[derive(Clone)]
pub struct MacKey {
    initial_key: AesKey,
    initial_ksn: Ksn,
    counter: Arc<Mutex<CounterHome>>,
}

impl MacKey {
    /// A MAC key whose counter lives in memory until the bundle is written
    /// ([`MacKey::persist_in`]).
    pub fn new(initial_key: AesKey, initial_ksn: [u8; 12]) -> Result<Self, HostError> {
        if KeyType::for_length(initial_key.len()).is_none() {
            return Err(HostError::BadBundle("MAC initial key length".into()));
        }
        let initial_ksn = Ksn::from_bytes(initial_ksn);
        Ok(Self {
            initial_key,
            initial_ksn,
            counter: Arc::new(Mutex::new(CounterHome::Memory(initial_ksn))),
        })
    }

    /// The initial KSN (counter 0) the host issued.
    pub fn initial_ksn(&self) -> [u8; 12] {
        self.initial_ksn.to_bytes()
    }

    /// The initial key ID (BDK ID ‖ derivation ID), which the host binds to the terminal.
    pub fn initial_key_id(&self) -> [u8; 8] {
        self.initial_ksn.initial_key_id().0
    }

    /// The initial key, secret (for writing the bundle).
    pub(crate) fn initial_key(&self) -> &AesKey {
        &self.initial_key
    }

    /// Moves the counter to the file `mac-ksn.state` of `dir` (created with the current
    /// counter, or the higher one already there for the same key), for this key and every
    /// clone of it.
    pub fn persist_in(&self, dir: &Path) -> Result<(), HostError> {
        let mut home = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        let path = dir.join(COUNTER_FILE);
        let mut current = home.last(self.initial_ksn)?;
        if let Some(on_disk) = read_counter(&path)?
            && on_disk.initial_key_id() == self.initial_ksn.initial_key_id()
            && on_disk.counter() > current.counter()
        {
            current = on_disk;
        }
        write_counter(&path, current)?;
        *home = CounterHome::File(path);
        Ok(())
    }

    /// Uses the counter file `mac-ksn.state` of `dir` (a bundle loaded from `dir`).
    pub(crate) fn use_file_in(&self, dir: &Path) {
        let mut home = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        *home = CounterHome::File(dir.join(COUNTER_FILE));
    }

    /// Reserves the next KSN (X9.24-3 §6.1: counter + 1, skipping counters with more than 16
    /// one-bits) and makes it durable before returning it, so no KSN is ever used twice, even
    /// across a crash. [`HostError::Hsm`] once the key is exhausted (re-enrol the terminal).
    pub fn reserve(&self) -> Result<Ksn, HostError> {
        let mut home = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        let last = home.last(self.initial_ksn)?;
        let next = dukpt::next_ksn(last).map_err(|e| match e {
            DukptError::KeyExhausted => {
                HostError::Hsm("the MAC key is exhausted: enrol the terminal again".into())
            }
            other => HostError::Hsm(other.to_string()),
        })?;
        match &mut *home {
            CounterHome::Memory(k) => *k = next,
            CounterHome::File(path) => write_counter(path, next)?,
        }
        Ok(next)
    }

    /// The last KSN reserved (the initial KSN if none yet).
    pub fn last_ksn(&self) -> Result<Ksn, HostError> {
        self.counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last(self.initial_ksn)
    }

    /// Reserves a KSN and MACs `message` with it ([`sign_request`]); returns the KSN, which the
    /// response's MAC is checked with.
    pub fn sign(&self, message: &mut Message) -> Result<Ksn, HostError> {
        let ksn = self.reserve()?;
        sign_request(message, &self.initial_key, ksn)?;
        Ok(ksn)
    }

    /// Whether `body` carries the host's MAC for `ksn` ([`verify_response`]).
    pub fn verify_response(&self, ksn: Ksn, body: &[u8]) -> bool {
        verify_response(&self.initial_key, ksn, body)
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacKey")
            .field(
                "initial_ksn",
                &hex::encode_upper(self.initial_ksn.to_bytes()),
            )
            .finish_non_exhaustive()
    }
}

enum CounterHome {
    Memory(Ksn),
    File(PathBuf),
}

impl CounterHome {
    fn last(&self, initial: Ksn) -> Result<Ksn, HostError> {
        match self {
            Self::Memory(k) => Ok(*k),
            Self::File(path) => match read_counter(path)? {
                None => Ok(initial),
                Some(k) if k.initial_key_id() == initial.initial_key_id() => Ok(k),
                Some(_) => Err(HostError::BadBundle(format!(
                    "{} belongs to another MAC key",
                    path.display()
                ))),
            },
        }
    }
}

/// The counter file: the last reserved KSN as 24 hex digits and a newline.
fn read_counter(path: &Path) -> Result<Option<Ksn>, HostError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io(path)(e)),
    };
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 12]>::try_from(b).ok())
        .map(|b| Some(Ksn::from_bytes(b)))
        .ok_or_else(|| HostError::BadBundle(format!("{} is damaged", path.display())))
}

/// Replaces the counter file atomically and durably: temporary file (0600), fsync, rename,
/// fsync of the directory.
fn write_counter(path: &Path, ksn: Ksn) -> Result<(), HostError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = path.with_extension("tmp");
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp).map_err(HostError::io(&temp))?;
        let text = format!("{}\n", hex::encode_upper(ksn.to_bytes()));
        file.write_all(text.as_bytes())
            .map_err(HostError::io(&temp))?;
        file.sync_all().map_err(HostError::io(&temp))?;
    }
    fs::rename(&temp, path).map_err(HostError::io(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(HostError::io(dir))
}

/// The counter file's name in the bundle directory.
pub const COUNTER_FILE: &str = "mac-ksn.state";

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MacKey {
        // Any 128-bit key; the derivation itself is checked against X9.24-3 in emv.
        let ik = AesKey::from_bytes_128([0x11; 16]);
        let mut ksn = [0u8; 12];
        ksn[..8].copy_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]);
        MacKey::new(ik, ksn).unwrap()
    }

    #[test]
    fn clones_share_the_counter_and_never_repeat() {
        let a = key();
        let b = a.clone();
        let k1 = a.reserve().unwrap();
        let k2 = b.reserve().unwrap();
        assert_eq!(k1.counter(), 1);
        assert_eq!(k2.counter(), 2);
    }

    #[test]
    fn the_counter_file_survives_a_new_key_object() {
        let dir = tempfile::tempdir().unwrap();
        let a = key();
        a.reserve().unwrap();
        a.persist_in(dir.path()).unwrap();
        assert_eq!(a.reserve().unwrap().counter(), 2);
        // A restart: a fresh key object reading the same directory.
        let b = key();
        b.use_file_in(dir.path());
        assert_eq!(b.reserve().unwrap().counter(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(COUNTER_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "counter file readable by others");
        }
    }
}
