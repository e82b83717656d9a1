//! The terminal's MAC key (`docs/iso8583.md` §6) and its durable counter.
//!
//! The key is an AES DUKPT initial key (X9.24-3-2017) of the terminal's own, separate from the
//! PIN pad's PIN key. Every request takes the next KSN, and that KSN is made durable before the
//! request is signed ([`MacKey::reserve`]), so no KSN is ever used twice, not even across a
//! crash: in the file `mac-ksn.state` of the enrolment bundle's directory (24 hex digits and a
//! newline, mode 0600, replaced with [`crate::durable::replace`]), or in memory for a key that
//! has no directory. Clones share the counter. Each reservation holds the lock file
//! `mac-ksn.lock` of the directory from reading the counter to its durable write, so two
//! processes using one bundle never reserve the same KSN. The file must exist: the bundle's
//! writer starts it at the initial KSN ([`MacKey::start_counter_in`]); once a counter has been
//! used, a missing file refuses ([`MacKeyError::MissingCounter`]) instead of starting again at
//! counter 0, which would reuse every KSN. The MAC itself is `emv::iso8583::mac`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use emv::crypto::dukpt::{self, DukptError, KeyType, Ksn};
use emv::crypto::key::AesKey;
use emv::iso8583::Message;
use emv::iso8583::mac::{self, MacError};

/// A terminal's AES DUKPT MAC key and its counter. `Debug` shows the initial KSN only; the key
/// is zeroized on drop.
#[derive(Clone)]
pub struct MacKey {
    initial_key: AesKey,
    initial_ksn: Ksn,
    counter: Arc<Mutex<CounterHome>>,
}

impl MacKey {
    /// A MAC key whose counter lives in memory, starting at `initial_ksn`.
    pub fn in_memory(initial_key: AesKey, initial_ksn: Ksn) -> Result<Self, MacKeyError> {
        Self::new(initial_key, initial_ksn, CounterHome::Memory(initial_ksn))
    }

    /// A MAC key whose counter is the file `mac-ksn.state` in `dir`, which must exist (see
    /// [`MacKey::start_counter_in`]); reserving refuses while it is missing.
    pub fn with_counter_in(
        initial_key: AesKey,
        initial_ksn: Ksn,
        dir: &Path,
    ) -> Result<Self, MacKeyError> {
        let home = CounterHome::File(dir.to_path_buf());
        Self::new(initial_key, initial_ksn, home)
    }

    fn new(initial_key: AesKey, initial_ksn: Ksn, home: CounterHome) -> Result<Self, MacKeyError> {
        if KeyType::for_length(initial_key.len()).is_none() {
            return Err(MacKeyError::BadKey);
        }
        Ok(Self {
            initial_key,
            initial_ksn,
            counter: Arc::new(Mutex::new(home)),
        })
    }

    /// Starts the counter of a fresh bundle in `dir` at `initial_ksn`. Refuses if a counter is
    /// already there: a started counter is never reset.
    pub fn start_counter_in(dir: &Path, initial_ksn: Ksn) -> Result<(), MacKeyError> {
        let _lock = lock(dir)?;
        if read_counter(dir)?.is_some() {
            return Err(MacKeyError::AlreadyStarted(dir.join(COUNTER_FILE)));
        }
        write_counter(dir, initial_ksn)
    }

    /// The initial KSN (counter 0) the host issued.
    pub fn initial_ksn(&self) -> Ksn {
        self.initial_ksn
    }

    /// Reserves the next KSN (X9.24-3 §6.1: counter + 1, skipping counters with more than 16
    /// one-bits) and makes it durable before returning it.
    pub fn reserve(&self) -> Result<Ksn, MacKeyError> {
        let mut home = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        // Held until the new counter is durable: no other process reads the old one meanwhile.
        let _lock = match &*home {
            CounterHome::File(dir) => Some(lock(dir)?),
            CounterHome::Memory(_) => None,
        };
        let last = home.last(self.initial_ksn)?;
        let next = dukpt::next_ksn(last).map_err(|e| match e {
            DukptError::KeyExhausted => MacKeyError::Exhausted,
            other => MacKeyError::Dukpt(other),
        })?;
        match &mut *home {
            CounterHome::Memory(k) => *k = next,
            CounterHome::File(dir) => write_counter(dir, next)?,
        }
        Ok(next)
    }

    /// The last KSN reserved (the initial KSN if none yet).
    pub fn last_ksn(&self) -> Result<Ksn, MacKeyError> {
        self.counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last(self.initial_ksn)
    }

    /// Reserves a KSN and MACs `message` with it ([`mac::sign_request`]); returns the KSN, which
    /// the answer's MAC is checked with.
    pub fn sign(&self, message: &mut Message) -> Result<Ksn, MacKeyError> {
        let ksn = self.reserve()?;
        mac::sign_request(message, &self.initial_key, ksn).map_err(MacKeyError::Mac)?;
        Ok(ksn)
    }

    /// Checks that the encoded answer `body` carries the host's MAC for `ksn`
    /// ([`mac::verify_response`]).
    pub fn verify_response(&self, ksn: Ksn, body: &[u8]) -> Result<(), MacError> {
        mac::verify_response(&self.initial_key, ksn, body)
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

/// Why the MAC key cannot give a KSN or a MAC. Nothing was sent when this happens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MacKeyError {
    /// The counter file cannot be read or written.
    #[error("the MAC key counter {path} cannot be read or written")]
    Io {
        /// The counter file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The counter file is missing: its KSNs may have been used already, so the key refuses
    /// rather than start again at counter 0. Enrol the terminal again.
    #[error("the MAC key counter {0} is missing: enrol the terminal again")]
    MissingCounter(PathBuf),
    /// A counter was already started in this directory.
    #[error("the MAC key counter {0} already exists")]
    AlreadyStarted(PathBuf),
    /// Another reservation's lock could not be taken.
    #[error("the MAC key counter cannot be locked")]
    Lock(#[source] crate::dir_lock::LockError),
    /// The counter file does not hold a KSN.
    #[error("the MAC key counter {0} is damaged")]
    Damaged(PathBuf),
    /// The counter file holds a KSN of another initial key.
    #[error("the MAC key counter {0} belongs to another MAC key")]
    OtherKey(PathBuf),
    /// The counter cannot advance: the terminal must be enrolled again.
    #[error("the MAC key is exhausted: enrol the terminal again")]
    Exhausted,
    /// The KSN is not usable for DUKPT.
    #[error("the MAC key's KSN is not usable")]
    Dukpt(#[source] DukptError),
    /// The initial key has a length AES DUKPT does not take.
    #[error("the MAC initial key has a bad length")]
    BadKey,
    /// The message could not be MACed.
    #[error("the request could not be MACed")]
    Mac(#[source] MacError),
}

enum CounterHome {
    Memory(Ksn),
    /// The bundle directory holding [`COUNTER_FILE`].
    File(PathBuf),
}

impl CounterHome {
    fn last(&self, initial: Ksn) -> Result<Ksn, MacKeyError> {
        match self {
            Self::Memory(k) => Ok(*k),
            Self::File(dir) => match read_counter(dir)? {
                None => Err(MacKeyError::MissingCounter(dir.join(COUNTER_FILE))),
                Some(k) if k.initial_key_id() == initial.initial_key_id() => Ok(k),
                Some(_) => Err(MacKeyError::OtherKey(dir.join(COUNTER_FILE))),
            },
        }
    }
}

fn lock(dir: &Path) -> Result<crate::dir_lock::DirLock, MacKeyError> {
    crate::dir_lock::DirLock::acquire(dir, LOCK_FILE).map_err(MacKeyError::Lock)
}

/// The counter file: the last reserved KSN as 24 hex digits and a newline.
fn read_counter(dir: &Path) -> Result<Option<Ksn>, MacKeyError> {
    let path = dir.join(COUNTER_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MacKeyError::Io { path, source }),
    };
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 12]>::try_from(b).ok())
        .map(|b| Some(Ksn::from_bytes(b)))
        .ok_or(MacKeyError::Damaged(path))
}

fn write_counter(dir: &Path, ksn: Ksn) -> Result<(), MacKeyError> {
    let text = format!("{}\n", hex::encode_upper(ksn.to_bytes()));
    crate::durable::replace(dir, COUNTER_FILE, text.as_bytes()).map_err(|source| MacKeyError::Io {
        path: dir.join(COUNTER_FILE),
        source,
    })
}

/// The counter file's name in the bundle directory (`docs/enrolment-bundle.md`).
pub const COUNTER_FILE: &str = "mac-ksn.state";
/// The lock file each reservation holds.
const LOCK_FILE: &str = "mac-ksn.lock";

#[cfg(test)]
mod tests {
    use emv::crypto::dukpt::InitialKeyId;
    use emv::iso8583::Mti;

    use super::*;

    fn ik() -> AesKey {
        // Any 128-bit key; the derivation and the MAC are checked against vectors in emv.
        AesKey::from_bytes_128([0x11; 16])
    }

    fn initial_ksn() -> Ksn {
        Ksn::new(
            InitialKeyId([0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]),
            0,
        )
    }

    #[test]
    fn clones_share_the_counter_and_never_repeat() {
        let a = MacKey::in_memory(ik(), initial_ksn()).unwrap();
        let b = a.clone();
        assert_eq!(a.reserve().unwrap().counter(), 1);
        assert_eq!(b.reserve().unwrap().counter(), 2);
        assert_eq!(a.last_ksn().unwrap().counter(), 2);
    }

    #[test]
    fn the_counter_file_survives_a_restart_and_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        MacKey::start_counter_in(dir.path(), initial_ksn()).unwrap();
        let a = MacKey::with_counter_in(ik(), initial_ksn(), dir.path()).unwrap();
        assert_eq!(a.reserve().unwrap().counter(), 1);
        assert_eq!(a.reserve().unwrap().counter(), 2);
        drop(a);
        // A restart: a fresh key reading the same directory.
        let b = MacKey::with_counter_in(ik(), initial_ksn(), dir.path()).unwrap();
        assert_eq!(b.last_ksn().unwrap().counter(), 2);
        assert_eq!(b.reserve().unwrap().counter(), 3);
        let text = fs::read_to_string(dir.path().join(COUNTER_FILE)).unwrap();
        assert_eq!(text, "123456789012345600000003\n");
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

    /// A counter file that disappears after use (or a bundle without one) refuses: starting
    /// again at 0 would reuse every KSN. A started counter is never restarted.
    #[test]
    fn a_missing_counter_file_refuses_and_a_started_one_is_not_restarted() {
        let dir = tempfile::tempdir().unwrap();
        let key = MacKey::with_counter_in(ik(), initial_ksn(), dir.path()).unwrap();
        assert!(matches!(key.reserve(), Err(MacKeyError::MissingCounter(_))));
        MacKey::start_counter_in(dir.path(), initial_ksn()).unwrap();
        assert_eq!(key.reserve().unwrap().counter(), 1);
        assert!(matches!(
            MacKey::start_counter_in(dir.path(), initial_ksn()),
            Err(MacKeyError::AlreadyStarted(_))
        ));
        fs::remove_file(dir.path().join(COUNTER_FILE)).unwrap();
        let mut m = Message::new(Mti::NETWORK_REQUEST).with(11, "000001");
        assert!(matches!(
            key.sign(&mut m),
            Err(MacKeyError::MissingCounter(_))
        ));
        assert!(!m.has(64), "nothing signed");
    }

    /// Two keys loaded from one bundle (two processes, or two loads) reserving at the same
    /// time never get the same KSN.
    #[test]
    fn two_loads_of_one_bundle_never_reserve_the_same_ksn() {
        let dir = tempfile::tempdir().unwrap();
        MacKey::start_counter_in(dir.path(), initial_ksn()).unwrap();
        let reserve_many = |dir: PathBuf| {
            std::thread::spawn(move || {
                let key = MacKey::with_counter_in(ik(), initial_ksn(), &dir).unwrap();
                (0..100)
                    .map(|_| key.reserve().unwrap().counter())
                    .collect::<Vec<_>>()
            })
        };
        let a = reserve_many(dir.path().to_path_buf());
        let b = reserve_many(dir.path().to_path_buf());
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a KSN was reserved twice");
        assert_eq!(all.last(), Some(&200));
    }

    #[test]
    fn a_damaged_or_foreign_counter_refuses_to_sign() {
        let dir = tempfile::tempdir().unwrap();
        let key = MacKey::with_counter_in(ik(), initial_ksn(), dir.path()).unwrap();
        fs::write(dir.path().join(COUNTER_FILE), "not hex\n").unwrap();
        let mut m = Message::new(Mti::NETWORK_REQUEST).with(11, "000001");
        assert!(matches!(key.sign(&mut m), Err(MacKeyError::Damaged(_))));
        assert!(!m.has(64), "nothing signed");
        fs::write(dir.path().join(COUNTER_FILE), "FFFFFFFFFFFFFFFF00000009\n").unwrap();
        assert!(matches!(key.reserve(), Err(MacKeyError::OtherKey(_))));
    }

    #[test]
    fn a_signed_request_carries_the_reserved_ksn() {
        let key = MacKey::in_memory(ik(), initial_ksn()).unwrap();
        let mut m = Message::new(Mti::NETWORK_REQUEST)
            .with(7, "1122334455")
            .with(11, "000001")
            .with(41, "T0000001")
            .with(70, "301");
        let ksn = key.sign(&mut m).unwrap();
        assert_eq!(ksn.counter(), 1);
        assert_eq!(m.field(mac::MAC_KSN_FIELD), Some(&ksn.to_bytes()[..]));
        let body = m.encode().unwrap();
        assert_eq!(mac::verify_request(&ik(), &body), Ok(ksn));
    }
}
