//! Tests of the key store: installation, sealing, the counter and the hourly limit.

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

/// A temporary store with the test key installed.
fn installed_store() -> tempfile::TempDir {
    let Ok(tmp) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    install(tmp.path());
    tmp
}

fn open(dir: &Path) -> Keystore {
    match Keystore::open(dir) {
        Ok(store) => store,
        Err(e) => panic!("open: {e}"),
    }
}

/// Security doc P11: 120 entries in an hour pass, the 121st is refused until the oldest
/// leaves the hour; the count survives reopening the store; setting the clock back does
/// not reopen the limit, and a wrong clock blocks entry for an hour at most.
#[test]
fn the_hundred_and_twenty_first_entry_in_an_hour_is_refused() {
    let tmp = installed_store();
    let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let at = |s: u64| t0 + Duration::from_secs(s);
    for i in 0..120u64 {
        let mut store = open(tmp.path());
        assert!(
            store.reserve_at(&Layout::phone(), at(i * 10)).is_ok(),
            "entry {i}"
        );
    }
    let mut store = open(tmp.path());
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
    let mut skewed = open(other.path());
    for _ in 0..120 {
        assert!(skewed.reserve_at(&Layout::phone(), far).is_ok());
    }
    assert!(skewed.reserve_at(&Layout::phone(), at(0)).is_err());
    assert!(skewed.reserve_at(&Layout::phone(), at(3599)).is_err());
    assert!(skewed.reserve_at(&Layout::phone(), at(3600)).is_ok());
}

#[test]
fn a_damaged_rate_file_refuses_entry() {
    let tmp = installed_store();
    let mut store = open(tmp.path());
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
    let tmp = installed_store();
    let mut store = open(tmp.path());
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
    let mut store = open(tmp.path());
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
    let tmp = installed_store();
    for name in [DEVICE_SECRET_FILE, SEALED_KEY_FILE, STATE_FILE, RATE_FILE] {
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
    let tmp = installed_store();
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

/// A second installation (the same bundle again, or another key) is refused: starting the
/// counter over would reuse KSNs.
#[test]
fn a_key_is_installed_once() {
    let Ok(tmp) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let initial = install(tmp.path());
    let mut store = open(tmp.path());
    let Ok(used) = store.reserve(&Layout::phone()) else {
        panic!("reserve")
    };
    let key = AesKey::from_bytes_128(hex!("1273671EA26AC29AFA4D1084127652A1"));
    assert!(matches!(
        Keystore::install(tmp.path(), &key, initial),
        Err(KeystoreError::AlreadyInstalled(_))
    ));
    let Ok(reopened) = Keystore::open(tmp.path()) else {
        panic!("reopen")
    };
    assert_eq!(reopened.last_ksn(), used, "the counter did not go back");
}

/// Restoring an old copy of either counter file, or a file of another store, does not move
/// the counter back: the two files are sealed under the KEK and the higher KSN wins.
#[test]
fn restoring_an_old_counter_file_does_not_roll_the_counter_back() {
    let tmp = installed_store();
    let mut store = open(tmp.path());
    let Ok(first) = store.reserve(&Layout::phone()) else {
        panic!("reserve")
    };
    let read = |name: &str| fs::read(tmp.path().join(name)).unwrap_or_default();
    let (old_state, old_rate) = (read(STATE_FILE), read(RATE_FILE));
    for _ in 0..3 {
        assert!(store.reserve(&Layout::phone()).is_ok());
    }
    let mut last = store.last_ksn();
    assert!(last.counter() > first.counter());
    drop(store);
    for (name, old) in [(STATE_FILE, &old_state), (RATE_FILE, &old_rate)] {
        assert!(fs::write(tmp.path().join(name), old).is_ok());
        let Ok(mut reopened) = Keystore::open(tmp.path()) else {
            panic!("open with an old {name}")
        };
        assert_eq!(reopened.last_ksn(), last, "old {name} moved the counter");
        let Ok(next) = reopened.reserve(&Layout::phone()) else {
            panic!("reserve")
        };
        assert!(next.counter() > last.counter(), "a KSN reused");
        last = next;
    }
    // The state file of another store (same key, other device secret) does not open here.
    let Ok(other) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    install(other.path());
    let foreign = fs::read(other.path().join(STATE_FILE)).unwrap_or_default();
    assert!(fs::write(tmp.path().join(STATE_FILE), foreign).is_ok());
    assert!(matches!(
        Keystore::open(tmp.path()),
        Err(KeystoreError::Damaged(_))
    ));
}

/// Deleting the rate file does not reset the hourly limit: entry is refused.
#[test]
fn a_deleted_rate_file_refuses_entry() {
    let tmp = installed_store();
    let mut store = open(tmp.path());
    assert!(store.reserve(&Layout::phone()).is_ok());
    assert!(fs::remove_file(tmp.path().join(RATE_FILE)).is_ok());
    let before = store.last_ksn();
    assert!(matches!(
        store.reserve(&Layout::phone()),
        Err(KeystoreError::Damaged(_))
    ));
    assert!(matches!(
        Keystore::open(tmp.path()),
        Err(KeystoreError::Damaged(_))
    ));
    assert_eq!(store.last_ksn(), before);
}

/// No machine ID, or an empty one: the store refuses instead of keying on the device
/// secret alone.
#[test]
fn a_missing_or_empty_machine_id_refuses() {
    let Ok(tmp) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let missing = tmp.path().join("no-machine-id");
    let empty = tmp.path().join("empty-machine-id");
    assert!(fs::write(&empty, "\n").is_ok());
    let store = tmp.path().join("store");
    let ksn = Ksn::new(InitialKeyId(hex!("1234567890123456")), 0);
    let key = AesKey::from_bytes_128([0x11; 16]);
    assert!(matches!(
        Keystore::install_with(&store, &key, ksn, &missing),
        Err(KeystoreError::Io { .. })
    ));
    assert!(matches!(
        Keystore::install_with(&store, &key, ksn, &empty),
        Err(KeystoreError::Damaged(_))
    ));
    install(&store);
    assert!(Keystore::open(&store).is_ok());
    assert!(matches!(
        Keystore::open_with(&store, &missing),
        Err(KeystoreError::Io { .. })
    ));
    assert!(matches!(
        Keystore::open_with(&store, &empty),
        Err(KeystoreError::Damaged(_))
    ));
}

/// Two processes with the store open at once never reserve the same KSN.
#[test]
fn two_openers_reserving_at_once_never_share_a_ksn() {
    let tmp = installed_store();
    let run = |dir: PathBuf| {
        std::thread::spawn(move || {
            let Ok(mut store) = Keystore::open(&dir) else {
                panic!("open")
            };
            (0..50)
                .map(|_| store.reserve(&Layout::phone()).map(|k| k.counter()))
                .collect::<Vec<_>>()
        })
    };
    let (a, b) = (run(tmp.path().to_path_buf()), run(tmp.path().to_path_buf()));
    let (Ok(a), Ok(b)) = (a.join(), b.join()) else {
        panic!("thread")
    };
    let mut all: Vec<u32> = a.into_iter().chain(b).filter_map(Result::ok).collect();
    assert_eq!(all.len(), 100);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100, "a KSN was reserved twice");
}

/// Only the test build lets the parent process name the store directory.
#[test]
fn the_parent_names_the_store_only_in_the_test_build() {
    let env = |name: &str| match name {
        STORE_ENV => Some(OsString::from("/tmp/chosen-by-parent")),
        DEMO_STORE_ENV => Some(OsString::from("/tmp/demo-store")),
        "HOME" => Some(OsString::from("/home/pad")),
        _ => None,
    };
    let dir = dir_from_env(env);
    if cfg!(feature = "pinpad-test-input") {
        assert_eq!(dir, PathBuf::from("/tmp/chosen-by-parent"));
    } else if cfg!(feature = "demo") {
        assert_eq!(dir, PathBuf::from("/tmp/demo-store"));
    } else {
        assert_eq!(dir, PathBuf::from("/home/pad/.local/state/softpos/pinpad"));
    }
}

/// The demo mode names its own store in demo builds only; a production build (no `demo`, no
/// `pinpad-test-input`: `--no-default-features --features pinpad-window,gui`) keeps its own.
#[test]
fn the_demo_names_the_store_only_in_a_demo_build() {
    let env = |name: &str| match name {
        DEMO_STORE_ENV => Some(OsString::from("/tmp/demo-store")),
        "XDG_STATE_HOME" => Some(OsString::from("/home/pad/state")),
        _ => None,
    };
    let dir = dir_from_env(env);
    if cfg!(feature = "demo") {
        assert_eq!(dir, PathBuf::from("/tmp/demo-store"));
    } else {
        assert_eq!(dir, PathBuf::from("/home/pad/state/softpos/pinpad"));
    }
}
