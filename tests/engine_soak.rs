//! Soak: many sales through the engine against the real hsm-sim over TLS, with random host
//! faults (dropped answers, answers later than the timeout, closed connections, bad MACs),
//! then the journal and the ledger must agree and the settlement must balance.
//!
//! The card runs in process (this is about the engine and the host, not pcscd). The short
//! version runs by default; `SOFTPOS_SOAK_COUNT=3000 cargo test --test engine_soak -- --ignored`
//! runs the long one. The seed is printed; `SOFTPOS_SOAK_SEED=0x...` replays a run.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use hsm_sim::host::Fault;
use hsm_sim::host::ledger::{AccountSeed, AccountStatus};
use softpos::engine::{Engine, EngineSettings, Tip, TxStatus};
use support::{TestPin, VISA_PAN, World, assert_journal_consistent};

fn soak(count: usize) {
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
    let mut card =
        softpos::reader::VirtualCardSource::new(softpos::demo::virtual_card("visa").expect("card"));
    let mut pin = TestPin::new(&world.bundle, &[]);
    let faults = world.host().faults();
    faults.set_delay(Duration::from_millis(600));
    let mut seed = support::seed("SOFTPOS_SOAK_SEED");
    let mut statuses = [0usize; 5];
    for _ in 0..count {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let roll = (seed >> 33) % 100;
        faults.clear();
        match roll {
            0..=4 => faults.set(Fault::DropResponse, 1),
            5..=9 => faults.set(Fault::Delay, 1),
            10..=12 => faults.set(Fault::CloseConnection, 1),
            13..=15 => faults.set(Fault::BadMac, 1),
            _ => {}
        }
        let amount = 100 + (seed >> 40) % 4_000;
        let result = engine
            .sale(&mut card, &mut pin, amount, Tip::None, &mut |_| {})
            .expect("sale runs");
        let slot = match result.status {
            TxStatus::Approved => 0,
            TxStatus::Declined => 1,
            TxStatus::Reversed => 2,
            TxStatus::Aborted => 3,
            _ => 4,
        };
        statuses[slot] += 1;
    }
    faults.clear();
    // Every pending reversal acknowledged (a late original that lands after its reversal is
    // not charged by the host, so nothing has to wait for it).
    support::wait_until(
        Duration::from_secs(20),
        "all reversals acknowledged",
        || engine.flush_pending() == 0,
    );
    eprintln!("soak of {count}: approved, declined, reversed, aborted, other = {statuses:?}");
    assert!(statuses[0] > count / 2, "{statuses:?}");
    assert!(statuses[2] > 0, "{statuses:?}");
    assert_journal_consistent(engine.journal(), &world, VISA_PAN, initial);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
}

#[test]
fn soak_short_with_random_host_faults() {
    soak(120);
}

#[test]
#[ignore = "long: SOFTPOS_SOAK_COUNT (default 3000) sales"]
fn soak_long_with_random_host_faults() {
    let count = std::env::var("SOFTPOS_SOAK_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    soak(count);
}
