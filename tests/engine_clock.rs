//! The engine's wall clock set forward or back (`Engine::set_clock`), against the real hsm-sim
//! host: pre-authorizations expire after their lifetime with a reversal and their sealed PAN
//! wiped; a clock set back does not reopen the offline queue's age cap.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use softpos::engine::{Clock, Engine, EngineError, EngineSettings, Tip, TxResult, TxStatus};
use softpos::journal::TxState;
use support::{TestPin, VISA_PAN, World};

/// Visa with a 50.00 floor limit: at or below it the `visa-offline` card approves offline.
const FLOOR_5000: &str = "[[aid]]\naid = \"A0000000031010\"\nfloor_limit = 5000\n";

/// A clock the test moves: the system's time plus an offset (seconds, may be negative).
#[derive(Clone, Default)]
struct TestClock(Arc<Mutex<i64>>);

impl TestClock {
    fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Clock::from_fn(move || {
            let secs = *offset.lock().unwrap();
            let now = SystemTime::now();
            if secs >= 0 {
                now + Duration::from_secs(secs.unsigned_abs())
            } else {
                now - Duration::from_secs(secs.unsigned_abs())
            }
        })
    }

    fn set(&self, secs: i64) {
        *self.0.lock().unwrap() = secs;
    }
}

fn engine(world: &World, overrides: &str, clock: &TestClock) -> Engine {
    let settings = support::engine_settings(Duration::from_secs(5));
    engine_with(world, overrides, clock, settings)
}

/// An engine on `clock` with `settings`, signed on.
fn engine_with(
    world: &World,
    overrides: &str,
    clock: &TestClock,
    settings: EngineSettings,
) -> Engine {
    let mut engine = support::open_engine(world, &world.credentials, overrides, settings);
    engine.set_clock(clock.clock());
    engine.sign_on().unwrap();
    engine
}

const DAY: i64 = 24 * 3600;

#[test]
fn an_uncompleted_preauth_expires_after_its_lifetime_with_a_reversal_and_its_pan_wiped() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let clock = TestClock::default();
    let mut engine = engine(&world, "", &clock);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let preauth = engine
        .preauth(
            &mut support::in_process("visa"),
            &mut pin,
            2_500,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    assert!(engine.journal().sealed_pan(preauth.id).unwrap().is_some());
    assert_eq!(world.balance(VISA_PAN), before - 2_500);
    // Six days on (the lifetime is 7): nothing happens.
    clock.set(6 * DAY);
    assert_eq!(engine.flush_pending(), 0);
    assert!(engine.expire_preauths().unwrap().is_empty());
    let rec = engine.journal().get(preauth.id).unwrap().unwrap();
    assert!(rec.state == TxState::Done && rec.approved, "{rec:?}");
    // Eight days on: before the next operation, the hold is released and the PAN wiped.
    clock.set(8 * DAY);
    assert_eq!(engine.flush_pending(), 0);
    let rec = engine.journal().get(preauth.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Reversed, "{rec:?}");
    assert!(!rec.approved);
    assert!(
        rec.result
            .as_deref()
            .unwrap_or("")
            .contains("not completed"),
        "{:?}",
        rec.result
    );
    assert!(engine.journal().sealed_pan(preauth.id).unwrap().is_none());
    let authorization = world
        .ledger()
        .into_iter()
        .find(|e| e.kind == "authorization")
        .unwrap();
    assert!(authorization.reversed, "{authorization:?}");
    assert_eq!(world.balance(VISA_PAN), before);
    // It can no longer be completed, and nothing is expired twice.
    assert!(matches!(
        engine.complete(preauth.id, 2_000, &mut |_| {}),
        Err(EngineError::NotCompletable(_))
    ));
    assert!(engine.expire_preauths().unwrap().is_empty());
    // Settlement (its DE 7 must be fresh at the host) with the clock back on the host's time.
    clock.set(0);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
}

#[test]
fn the_preauth_lifetime_is_a_setting() {
    let world = World::start();
    let clock = TestClock::default();
    let settings = EngineSettings {
        preauth_lifetime: Duration::from_secs(3600),
        ..EngineSettings::default()
    };
    let mut engine = engine_with(&world, "", &clock, settings);
    let mut pin = TestPin::new(&world.bundle, &[]);
    let preauth = engine
        .preauth(
            &mut support::in_process("visa"),
            &mut pin,
            1_000,
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    clock.set(2 * 3600);
    // Recovery at the next start expires it too.
    let report = engine.recover().unwrap();
    assert_eq!(report.expired, vec![preauth.id], "{report:?}");
    let rec = engine.journal().get(preauth.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Reversed, "{rec:?}");
}

fn sale(
    engine: &mut Engine,
    world: &World,
    profile: &str,
    amount: u64,
) -> Result<TxResult, EngineError> {
    let mut pin = TestPin::new(&world.bundle, &[]);
    engine.sale(
        &mut support::in_process(profile),
        &mut pin,
        amount,
        Tip::None,
        &mut |_| {},
    )
}

#[test]
fn a_clock_set_back_does_not_reopen_the_offline_queue() {
    let mut world = World::start();
    let clock = TestClock::default();
    let mut engine = engine(&world, FLOOR_5000, &clock);
    // The host is down: card approvals (TC) stay queued.
    world.host.take().expect("host").shutdown();
    let first = sale(&mut engine, &world, "visa-offline", 1_000).unwrap();
    assert_eq!(first.status, TxStatus::ApprovedOffline, "{}", first.message);
    // The clock is set back an hour: the queued advice would look an hour in the future (a
    // negative age, under any age cap). The next offline approval is refused.
    clock.set(-3600);
    let second = sale(&mut engine, &world, "visa-offline", 1_000).unwrap();
    assert_eq!(second.status, TxStatus::Declined, "{}", second.message);
    assert!(
        second.message.contains("clock set back"),
        "{}",
        second.message
    );
    assert_eq!(engine.journal().advice_queue().unwrap().0, 1);
    // The clock right again: offline approvals resume within the caps.
    clock.set(0);
    let third = sale(&mut engine, &world, "visa-offline", 1_000).unwrap();
    assert_eq!(third.status, TxStatus::ApprovedOffline, "{}", third.message);
}

#[test]
fn a_host_that_refuses_the_clock_blocks_operations_until_a_sign_on_succeeds() {
    let world = World::start();
    let clock = TestClock::default();
    let mut engine = engine(&world, "", &clock);
    // An hour off: the host refuses DE 7 (more than 15 minutes from its clock).
    clock.set(-3600);
    assert!(
        matches!(engine.sign_on(), Err(EngineError::ClockSkew)),
        "the sign-on says why"
    );
    let refused = sale(&mut engine, &world, "visa", 1_000);
    assert!(
        matches!(refused, Err(EngineError::ClockSkew)),
        "{refused:?}"
    );
    assert!(engine.journal().all().unwrap().is_empty());
    assert!(world.ledger().iter().all(|e| e.kind != "purchase"));
    // Set right and signed on again: operations resume.
    clock.set(0);
    engine.sign_on().unwrap();
    let sale = sale(&mut engine, &world, "visa", 1_000).unwrap();
    assert_eq!(sale.status, TxStatus::Approved, "{}", sale.message);
}
