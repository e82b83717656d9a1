//! Crash recovery: the `softpos` binary is killed with SIGKILL in each persisted state (the
//! engine's `SOFTPOS_CRASH_AT` hook, `docs/engine.md`) and at random moments from outside.
//! After a restart (`softpos status` recovers and signs on), the terminal's journal and the
//! host's ledger must agree: no double charge, no lost approval, nothing left pending.
//!
//! Needs `pcscd` with the vpcd driver running (`scripts/test` starts it). The random-kill test
//! runs `SOFTPOS_CRASH_ROUNDS` rounds (default 8; `SOFTPOS_CRASH_ROUNDS=200` for the long run
//! in `docs/security.md`) and prints the journal's final states and the time taken.

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::process::{Command, Output};
use std::time::Duration;

use hsm_sim::host::Fault;
use softpos::journal::{Journal, TxState};
use support::{VISA_PAN, World, assert_consistent, assert_journal_consistent, take_vpcd};

fn softpos(world: &World, args: &[&str], crash_at: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_softpos"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(world.terminal_dir())
        .env_remove("SOFTPOS_CRASH_AT")
        .env_remove("SOFTPOS_CRASH_SKIP");
    if let Some(point) = crash_at {
        cmd.env("SOFTPOS_CRASH_AT", point);
    }
    cmd.output().expect("softpos runs")
}

fn pay(world: &World, crash_at: Option<&str>) -> Output {
    forget_atc(world);
    let out = softpos(
        world,
        &[
            "pay",
            "--amount",
            "12.34",
            "--demo",
            "--wait",
            "5",
            "--host-timeout",
            "2",
        ],
        crash_at,
    );
    card_gone();
    out
}

/// The virtual card of a killed process leaves the reader with it; wait until pcscd has seen
/// it go, so the next run plugs a fresh card rather than finding a stale "card present".
fn card_gone() {
    let reader = softpos::reader::PcscReader::open(Some(softpos::demo::VIRTUAL_READER))
        .expect("vpcd reader: is pcscd with vsmartcard-vpcd running?");
    reader
        .wait_for_removal(Duration::from_secs(10))
        .expect("the killed process's card leaves the reader");
}

/// Each `softpos` process starts its virtual card at the profile's initial ATC, which the
/// issuer would reject as a replay after the first run: make the issuer forget the last ATC
/// it saw for the card, as if each run used a new card.
fn forget_atc(world: &World) {
    let ledger = rusqlite::Connection::open(world.dir.path().join("host").join("ledger.sqlite"))
        .expect("ledger");
    ledger
        .busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    ledger
        .execute(
            "UPDATE accounts SET last_atc = 0 WHERE pan = ?1",
            [VISA_PAN],
        )
        .expect("ATC reset");
}

/// The host's closed batches of the test terminal: (batch number, in balance), and how many of
/// its transactions are in no batch yet.
fn host_batches(world: &World) -> (Vec<(String, bool)>, i64) {
    let ledger = rusqlite::Connection::open(world.dir.path().join("host").join("ledger.sqlite"))
        .expect("ledger");
    ledger
        .busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut stmt = ledger
        .prepare("SELECT batch_number, in_balance FROM batches WHERE terminal_id = ?1 ORDER BY id")
        .expect("batches");
    let batches = stmt
        .query_map([support::TERMINAL], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches");
    let open = ledger
        .query_row(
            "SELECT COUNT(*) FROM transactions WHERE terminal_id = ?1 AND batch_id IS NULL",
            [support::TERMINAL],
            |r| r.get(0),
        )
        .expect("open transactions");
    (batches, open)
}

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

/// The run stopped at `point` was killed there (SIGKILL), with its output if it was not.
fn assert_killed(point: &str, out: &Output) {
    assert!(
        killed(out),
        "{point}: not killed: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigkill_in_each_persisted_state_then_restart_agrees_with_the_ledger() {
    let _turn = take_vpcd();
    let world = World::start();
    let initial = world.balance(VISA_PAN);
    for point in [
        "created",
        "card-read",
        "sent",
        "answer-received",
        "answered",
        "done",
    ] {
        let out = pay(&world, Some(point));
        assert_killed(point, &out);
        let status = softpos(&world, &["status"], None);
        assert!(
            status.status.success(),
            "{point}: status after the crash: {}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        assert_consistent(&world, VISA_PAN, initial);
    }
    // A kill while a reversal is pending: the response is dropped, the reversal state is
    // written, and the process dies before sending it.
    world.host().faults().set(Fault::DropResponse, 1);
    let out = pay(&world, Some("reversal-pending"));
    assert_killed("reversal-pending", &out);
    let status = softpos(&world, &["status"], None);
    assert!(status.status.success());
    assert_consistent(&world, VISA_PAN, initial);
    // And the terminal still works: one clean sale.
    let out = pay(&world, None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_consistent(&world, VISA_PAN, initial);
    let journal = Journal::open(&world.terminal_dir()).unwrap();
    let states: Vec<TxState> = journal.all().unwrap().iter().map(|r| r.state).collect();
    assert!(states.contains(&TxState::Reversed), "{states:?}");
    assert!(states.contains(&TxState::Aborted), "{states:?}");
}

#[test]
fn sigkill_around_settlement_then_restart_closes_the_batch_the_host_closed() {
    let _turn = take_vpcd();
    let world = World::start();
    let initial = world.balance(VISA_PAN);
    let mut expected_batches = Vec::new();
    for point in ["settlement-sent", "settlement-answered"] {
        let out = pay(&world, None);
        assert!(
            out.status.success(),
            "{point}: the sale before the settlement"
        );
        let batch = Journal::open(&world.terminal_dir())
            .unwrap()
            .batch_number()
            .unwrap();
        let out = softpos(&world, &["settle"], Some(point));
        assert_killed(point, &out);
        let unclosed = Journal::open(&world.terminal_dir())
            .unwrap()
            .unclosed_settlement()
            .unwrap()
            .expect("the killed settlement is journalled as sent");
        assert_eq!(unclosed.batch, batch);
        assert_eq!(unclosed.totals.debits, 1, "{point}: {unclosed:?}");
        // The host closed its batch only if the 0500 reached it.
        let (host, _) = host_batches(&world);
        assert_eq!(
            host.len(),
            expected_batches.len() + usize::from(point == "settlement-answered"),
            "{point}: {host:?}"
        );
        // The restart repeats the same 0500 and closes the batch.
        let status = softpos(&world, &["status"], None);
        assert!(
            status.status.success(),
            "{point}: status after the crash: {}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        let journal = Journal::open(&world.terminal_dir()).unwrap();
        assert!(journal.unclosed_settlement().unwrap().is_none(), "{point}");
        let closed = journal.settlement(batch).unwrap().expect("settlement");
        assert!(closed.closed);
        assert_eq!(closed.response_code.as_deref(), Some("00"), "{point}");
        assert!(journal.open_batch_ids().unwrap().is_empty(), "{point}");
        assert_eq!(journal.batch_number().unwrap(), batch + 1);
        // The host closed that batch exactly once, in balance, and nothing of the terminal's
        // is left outside a batch on either side.
        expected_batches.push((format!("{batch:06}"), true));
        let (host, host_open) = host_batches(&world);
        assert_eq!(host, expected_batches, "{point}");
        assert_eq!(host_open, 0, "{point}");
        assert_journal_consistent(&journal, &world, VISA_PAN, initial);
    }
    // The next settlement: an empty batch on both sides, in balance.
    let out = softpos(&world, &["settle"], None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn random_sigkills_never_double_charge_or_lose_an_approval() {
    let _turn = take_vpcd();
    let world = World::start();
    let initial = world.balance(VISA_PAN);
    let rounds: u32 = std::env::var("SOFTPOS_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut seed = support::seed("SOFTPOS_CRASH_SEED");
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let delay = Duration::from_millis(150 + (seed >> 33) % 1_100);
        forget_atc(&world);
        let mut child = Command::new(env!("CARGO_BIN_EXE_softpos"))
            .args(["pay", "--amount", "12.34", "--demo", "--wait", "5"])
            .arg("--data-dir")
            .arg(world.terminal_dir())
            .env_remove("SOFTPOS_CRASH_AT")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("softpos starts");
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        card_gone();
        let status = softpos(&world, &["status"], None);
        assert!(
            status.status.success(),
            "{}{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        assert_consistent(&world, VISA_PAN, initial);
    }
    // Then a clean sale, so the rounds are not all stopped before the host.
    let out = pay(&world, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_consistent(&world, VISA_PAN, initial);
    let journal = Journal::open(&world.terminal_dir()).expect("journal");
    let states: Vec<TxState> = journal
        .all()
        .expect("all")
        .iter()
        .map(|r| r.state)
        .collect();
    let mut counts: Vec<(TxState, usize)> = Vec::new();
    for state in &states {
        match counts.iter_mut().find(|(s, _)| s == state) {
            Some((_, n)) => *n += 1,
            None => counts.push((*state, 1)),
        }
    }
    eprintln!(
        "random kills: {rounds} rounds in {:.1?}; journal states {counts:?}",
        started.elapsed()
    );
}
