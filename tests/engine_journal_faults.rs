//! The journal cannot be written when the host's answer arrives: another connection holds an
//! exclusive SQLite lock on the journal (as a stuck backup or a full disk would refuse writes).
//! An approval is shown only once the journal says approved: the write is retried, and if it
//! still fails the approval is reversed before anything is shown.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hsm_sim::host::Fault;
use softpos::engine::{Engine, Event, TxStatus};
use softpos::journal::{JOURNAL_FILE, TxState};
use support::{VISA_PAN, World};

/// How long the host holds its answer: the lock is taken in that time.
const HOST_DELAY: Duration = Duration::from_millis(1_500);

fn engine(world: &World, journal_write_attempts: u32) -> Engine {
    let mut settings = support::engine_settings(Duration::from_secs(20));
    settings.journal_write_attempts = journal_write_attempts;
    let engine = support::signed_on_engine(world, "", settings);
    world.host().faults().set_delay(HOST_DELAY);
    world.host().faults().set(Fault::Delay, 1);
    engine
}

/// A second connection to the journal that waits for a row in `sent`, then holds `BEGIN
/// EXCLUSIVE` until released (or `at_most` passed).
struct LockHolder {
    release: mpsc::Sender<()>,
    thread: JoinHandle<Duration>,
}

impl LockHolder {
    fn once_sent(path: PathBuf, at_most: Duration) -> Self {
        let (release, released) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            support::wait_until(Duration::from_secs(30), "sent", || {
                conn.query_row(
                    "SELECT COUNT(*) FROM transactions WHERE state = 'sent'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                    > 0
            });
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            let held = Instant::now();
            let _ = released.recv_timeout(at_most);
            conn.execute_batch("COMMIT").unwrap();
            held.elapsed()
        });
        Self { release, thread }
    }

    /// Releases the lock; returns how long it was held.
    fn release(self) -> Duration {
        let _ = self.release.send(());
        self.thread.join().unwrap()
    }
}

#[test]
fn an_approval_is_shown_once_the_journal_takes_it_after_a_retry() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, 3);
    // Held past the first attempt (the answer comes at 1.5 s, the lock timeout is 5 s).
    let lock = LockHolder::once_sent(
        world.terminal_dir().join(JOURNAL_FILE),
        Duration::from_secs(8),
    );
    // The sale ends with a result, not a journal error.
    let (result, events) = support::sale_on(&mut engine, &world, "visa", 1_300);
    assert!(lock.release() >= Duration::from_secs(7));
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert!(events.iter().any(|e| matches!(e, Event::Approved { .. })));
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert!(rec.state == TxState::Done && rec.approved, "{rec:?}");
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn an_approval_the_journal_cannot_record_is_reversed_and_never_shown() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, 1);
    let lock = LockHolder::once_sent(
        world.terminal_dir().join(JOURNAL_FILE),
        Duration::from_secs(40),
    );
    // The sale ends with a result, not a journal error.
    let (result, events) = support::sale_on(&mut engine, &world, "visa", 1_400);
    // Reversed while the journal was still locked: the host undid the approval...
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Approved { .. })),
        "{events:?}"
    );
    assert!(events.contains(&Event::Reversing), "{events:?}");
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Reversed {
                acknowledged: true,
                ..
            }
        )),
        "{events:?}"
    );
    let ledger = world.ledger();
    let sale = ledger
        .iter()
        .find(|e| e.kind == "purchase")
        .expect("the host has the sale");
    assert!(sale.approved && sale.reversed, "{sale:?}");
    assert_eq!(world.balance(VISA_PAN), before);
    lock.release();
    // ...and the journal, which could record neither the answer nor the reversal, still has
    // the row unfinished and never approved.
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Sent, "{rec:?}");
    assert!(!rec.approved);
    // Before the next operation, the engine finishes it: the same reversal again, which the
    // host answers as the first time.
    assert_eq!(engine.flush_pending(), 0);
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Reversed, "{rec:?}");
    assert_eq!(
        world
            .ledger()
            .iter()
            .filter(|e| e.kind == "reversal")
            .count(),
        1
    );
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}
