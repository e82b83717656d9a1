//! Soak: many sales through the engine against the real hsm-sim over TLS, with random faults:
//! at the host (dropped answers, answers later than the timeout, closed connections, bad
//! MACs), in the journal (another connection holds SQLite's write lock: under the journal's
//! busy timeout in the short run, up to 6 s, beyond it, in the long one) and at the card (it leaves the field mid-tap and is presented
//! again). Then the journal and the ledger must agree and the settlement must balance.
//!
//! The card runs in process (this is about the engine and the host, not pcscd). The short
//! version runs by default; `cargo test --test engine_soak -- --ignored` runs the long one,
//! `SOFTPOS_SOAK_COUNT` sales (default 5,000) with `SOFTPOS_SOAK_FAULTS` per cent of them
//! faulted (default 5). The seed is printed; `SOFTPOS_SOAK_SEED=0x...` replays a run.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use emv::{CardTransport, Command, Response, TransportError};
use hsm_sim::host::Fault;
use hsm_sim::host::ledger::{AccountSeed, AccountStatus};
use softpos::engine::{Engine, EngineSettings, Tip, TxStatus};
use softpos::reader::{CardSource, ReaderError, TapInfo, VirtualCardSource};
use support::{TestPin, VISA_PAN, World, assert_journal_consistent};

/// The faults a sale can get, one at most per sale.
const FAULTS: [&str; 6] = [
    "drop",
    "delay",
    "close",
    "bad MAC",
    "journal locked",
    "card torn",
];

/// Runs `count` sales, `fault_percent` of them with one fault of [`FAULTS`] each; a journal
/// lock is held at most `longest_lock`.
fn soak(count: usize, fault_percent: u64, longest_lock: Duration) {
    let world = World::start_seeded(&[AccountSeed {
        pan: VISA_PAN.to_owned(),
        scheme: "visa".to_owned(),
        balance: 1_000_000_000_000,
        status: AccountStatus::Active,
        daily_limit: 1_000_000_000_000,
        expiry: "2812".to_owned(),
    }]);
    let initial = world.balance(VISA_PAN);
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = Duration::from_millis(300);
    settings.reversal_backoff = Duration::from_millis(20);
    let mut engine = Engine::open(
        &world.terminal_dir(),
        &world.credentials,
        support::terminal_config(""),
        softpos::tap::authenticator(&support::terminal_config("")).expect("CA keys"),
        settings,
    )
    .expect("engine");
    engine.sign_on().expect("sign-on");
    let mut card = TearingSource {
        inner: VirtualCardSource::new(softpos::demo::virtual_card("visa").expect("card")),
        tear_after: None,
    };
    let mut pin = TestPin::new(&world.bundle, &[]);
    let faults = world.host().faults();
    faults.set_delay(Duration::from_millis(600));
    let mut seed = support::seed("SOFTPOS_SOAK_SEED");
    let mut statuses = [0usize; 6];
    // Per fault: approved, declined, reversed, aborted, other, error.
    let mut by_fault = [[0usize; 6]; FAULTS.len()];
    let started = Instant::now();
    for _ in 0..count {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let roll = (seed >> 33) % 1_000;
        let fault = (roll < fault_percent * 10).then(|| (seed >> 20) as usize % FAULTS.len());
        faults.clear();
        let mut lock = None;
        match fault {
            Some(0) => faults.set(Fault::DropResponse, 1),
            Some(1) => faults.set(Fault::Delay, 1),
            Some(2) => faults.set(Fault::CloseConnection, 1),
            Some(3) => faults.set(Fault::BadMac, 1),
            Some(4) => {
                // Taken 0-40 ms into the sale (which takes about 50 ms), held from 50 ms to
                // `longest_lock`: beyond the journal's busy timeout (5 s) the sale finds the
                // journal unwritable.
                let after = Duration::from_millis((seed >> 8) % 40);
                let longest = u64::try_from(longest_lock.as_millis()).expect("ms");
                let hold =
                    Duration::from_millis(50 + (seed >> 12) % longest.saturating_sub(50).max(1));
                lock = Some(lock_journal(&world.terminal_dir(), after, hold));
            }
            Some(_) => card.tear_after = Some(1 + (seed >> 8) as usize % 6),
            None => {}
        }
        let amount = 100 + (seed >> 40) % 4_000;
        let result = engine.sale(&mut card, &mut pin, amount, Tip::None, &mut |_| {});
        if let Some((locked, handle)) = lock {
            // The lock must have been taken, or the fault was not injected.
            assert!(locked.recv().is_ok(), "journal lock taken");
            handle.join().expect("lock thread");
        }
        let slot = match result {
            Ok(result) => match result.status {
                TxStatus::Approved => 0,
                TxStatus::Declined => 1,
                TxStatus::Reversed => 2,
                TxStatus::Aborted => 3,
                _ => 4,
            },
            // Only an unwritable journal may stop a sale with an error.
            Err(e) => {
                assert_eq!(fault, Some(4), "sale failed: {e}");
                5
            }
        };
        statuses[slot] += 1;
        if let Some(kind) = fault {
            by_fault[kind][slot] += 1;
        }
    }
    let elapsed = started.elapsed();
    faults.clear();
    // Every pending reversal acknowledged (a late original that lands after its reversal is
    // not charged by the host, so nothing has to wait for it).
    let deadline = Instant::now() + Duration::from_secs(20);
    while engine.flush_pending() != 0 {
        if Instant::now() > deadline {
            let stuck: Vec<_> = engine
                .journal()
                .unfinished()
                .expect("journal")
                .iter()
                .map(|r| (r.id, r.state))
                .collect();
            panic!(
                "rows still unfinished after 20 s: {stuck:?}; outcomes {statuses:?}, per fault \
                 {:?}",
                FAULTS.iter().zip(by_fault).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "soak of {count} in {elapsed:.1?}: approved, declined, reversed, aborted, other, \
         error = {statuses:?}; the same per fault: {:?}",
        FAULTS.iter().zip(by_fault).collect::<Vec<_>>()
    );
    assert!(statuses[0] > count / 2, "{statuses:?}");
    assert!(statuses[2] > 0, "{statuses:?}");
    assert_journal_consistent(engine.journal(), &world, VISA_PAN, initial);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
}

#[test]
fn soak_short_with_random_faults() {
    // Locks shorter than the busy timeout: every sale waits them out.
    soak(150, 16, Duration::from_secs(4));
}

#[test]
#[ignore = "long: SOFTPOS_SOAK_COUNT (default 5000) sales, SOFTPOS_SOAK_FAULTS (default 5) % faulted"]
fn soak_long_with_random_faults() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let count = usize::try_from(var("SOFTPOS_SOAK_COUNT", 5_000)).expect("count");
    soak(count, var("SOFTPOS_SOAK_FAULTS", 5), Duration::from_secs(6));
}

/// Takes SQLite's write lock on the journal from another connection `after` from now and holds
/// it for `hold`. The receiver gets a message once the lock is taken.
fn lock_journal(
    dir: &Path,
    after: Duration,
    hold: Duration,
) -> (mpsc::Receiver<()>, JoinHandle<()>) {
    let path = dir.join(softpos::journal::JOURNAL_FILE);
    let (taken, locked) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        std::thread::sleep(after);
        let conn = rusqlite::Connection::open(&path).expect("journal opens");
        conn.busy_timeout(Duration::from_secs(30))
            .expect("busy timeout");
        conn.execute_batch("BEGIN EXCLUSIVE").expect("write lock");
        taken.send(()).expect("soak waits");
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT").expect("unlock");
    });
    (locked, handle)
}

/// A virtual card whose next tap is torn: it leaves the field after `tear_after` exchanges,
/// then is presented again (the following taps are whole).
struct TearingSource {
    inner: VirtualCardSource,
    tear_after: Option<usize>,
}

impl CardSource for TearingSource {
    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError> {
        self.inner.wait_for_card(timeout)
    }

    fn with_card(
        &mut self,
        f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        match self.tear_after.take() {
            None => self.inner.with_card(f),
            Some(left) => self
                .inner
                .with_card(&mut |card| f(&mut Torn { card, left })),
        }
    }
}

/// A card that answers `left` more commands, then is gone.
struct Torn<'a> {
    card: &'a mut dyn CardTransport,
    left: usize,
}

impl CardTransport for Torn<'_> {
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        self.left = self
            .left
            .checked_sub(1)
            .ok_or(TransportError::CardRemoved)?;
        self.card.transmit(command)
    }
}
