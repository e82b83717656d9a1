//! The transaction engine end to end: virtual cards (in process, or through pcscd + vpcd), the real hsm-sim
//! acquirer host over mutual TLS 1.3, real format-4 PIN blocks under the enrolment bundle's
//! DUKPT key. Each test checks the terminal's journal against the host's ledger.
//!
//! Most tests run the virtual card in this process (`VirtualCardSource`): the engine's
//! behaviour does not depend on the reader. A handful go end to end through pcscd + vpcd
//! (`sale_via_vpcd`, the PIN pad process test), which needs `pcscd` with the vpcd driver
//! running (`scripts/test` starts it).

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::time::Duration;

use hsm_sim::host::Fault;
use softpos::acquirer::AcquirerError;
use softpos::engine::{
    CardSource, Engine, EngineError, EngineSettings, Event, Tip, TxResult, TxStatus,
};
use softpos::journal::TxState;
use support::{DEMO_PIN, MASTERCARD_PAN, TestPin, VISA_PAN, World, plug, take_vpcd, unplug};

fn engine(world: &World, overrides: &str, timeout: Duration) -> Engine {
    engine_with(
        world,
        overrides,
        timeout,
        softpos::tap::authenticator(&support::terminal_config("")).expect("CA keys"),
    )
}

fn engine_with(
    world: &World,
    overrides: &str,
    timeout: Duration,
    oda: Box<dyn emv::oda::OfflineDataAuthenticator + Send + Sync>,
) -> Engine {
    let mut settings = EngineSettings::default();
    settings.link.response_timeout = timeout;
    settings.reversal_backoff = Duration::from_millis(50);
    settings.card_wait = Duration::from_secs(5);
    let mut engine = Engine::open(
        &world.terminal_dir(),
        &world.credentials,
        support::terminal_config(overrides),
        oda,
        settings,
    )
    .expect("engine opens");
    engine.sign_on().expect("sign-on");
    engine
}

/// Runs a sale of `amount` on an in-process card of `profile` typing `pins`; returns the
/// result, the events and how many PINs were asked.
fn sale(
    engine: &mut Engine,
    world: &World,
    profile: &str,
    amount: u64,
    pins: &[&'static str],
) -> (TxResult, Vec<Event>, usize) {
    sale_on(
        engine,
        world,
        &mut support::in_process(profile),
        amount,
        pins,
    )
}

/// [`sale`] with the card plugged into the vpcd reader, read through pcscd.
fn sale_via_vpcd(
    engine: &mut Engine,
    world: &World,
    profile: &str,
    amount: u64,
    pins: &[&'static str],
) -> (TxResult, Vec<Event>, usize) {
    let _turn = take_vpcd();
    let (mut reader, card) = plug(profile);
    let out = sale_on(engine, world, &mut reader, amount, pins);
    unplug(&reader, card);
    out
}

fn sale_on(
    engine: &mut Engine,
    world: &World,
    card: &mut dyn CardSource,
    amount: u64,
    pins: &[&'static str],
) -> (TxResult, Vec<Event>, usize) {
    let mut pin = TestPin::new(&world.bundle, pins);
    let mut events = Vec::new();
    let result = engine
        .sale(card, &mut pin, amount, Tip::None, &mut |e| events.push(e))
        .expect("sale runs");
    (result, events, pin.asked)
}

#[test]
fn sale_below_the_cvm_limit_is_approved_without_pin_and_charged_once() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (result, events, asked) = sale_via_vpcd(&mut engine, &world, "visa", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert_eq!(asked, 0);
    assert_eq!(result.masked_pan.as_deref(), Some("476173******0119"));
    assert!(result.auth_code.is_some());
    // The progress events, in order.
    let kinds: Vec<&str> = events.iter().map(event_name).collect();
    assert_eq!(
        kinds,
        ["present", "card-read", "remove", "authorising", "approved"]
    );
    let ledger = world.ledger();
    let purchases: Vec<_> = ledger.iter().filter(|e| e.kind == "purchase").collect();
    assert_eq!(purchases.len(), 1);
    assert!(purchases[0].approved && !purchases[0].reversed);
    assert_eq!(purchases[0].amount, 1_234);
    assert_eq!(world.balance(VISA_PAN), before - 1_234);
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Done);
    assert!(rec.approved);
    assert_eq!(
        rec.stan.map(|s| format!("{s:06}")),
        Some(purchases[0].stan.clone())
    );
    assert_eq!(rec.pan_masked.as_deref(), Some("476173******0119"));
}

#[test]
fn journal_holds_no_pan_track2_or_pin_block() {
    let world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (result, _, _) = sale(&mut engine, &world, "visa", 8_000, &[DEMO_PIN]);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    drop(engine);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(world.terminal_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file()
            && path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal")
        {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!bytes.is_empty());
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(VISA_PAN.as_bytes()), "full PAN in the journal");
    assert!(!contains(b"4761739001010119D"), "track 2 in the journal");
    assert!(!contains(b"4761739001010119="), "track 2 in the journal");
    assert!(contains(b"476173******0119"), "masked PAN missing");
}

#[test]
fn online_pin_above_the_cvm_limit_then_approved() {
    let world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (result, events, asked) = sale(&mut engine, &world, "mastercard", 8_000, &[DEMO_PIN]);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert_eq!(asked, 1);
    assert!(events.contains(&Event::EnterPin));
    let ledger = world.ledger();
    assert!(
        ledger
            .iter()
            .any(|e| e.kind == "purchase" && e.approved && e.amount == 8_000)
    );
    assert!(world.balance(MASTERCARD_PAN) <= 1_000_000 - 8_000);
}

#[test]
fn wrong_pin_then_right_pin_retaps_and_is_approved() {
    let world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (result, events, asked) = sale(&mut engine, &world, "visa", 8_000, &["9999", DEMO_PIN]);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert_eq!(asked, 2);
    assert!(events.contains(&Event::WrongPin));
    let codes: Vec<&str> = world
        .ledger()
        .iter()
        .filter(|e| e.kind == "purchase")
        .map(|e| e.response_code.as_str())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| {
            if c == "55" {
                "55"
            } else if c == "00" {
                "00"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(codes, ["55", "00"]);
}

#[test]
fn three_wrong_pins_are_declined_and_nothing_is_charged() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (result, events, asked) = sale(
        &mut engine,
        &world,
        "visa",
        8_000,
        &["9999", "9998", "9997"],
    );
    assert_eq!(result.status, TxStatus::Declined);
    assert_eq!(asked, 3);
    assert_eq!(result.response_code.as_deref(), Some("75"));
    assert!(matches!(events.last(), Some(Event::Declined { .. })));
    assert_eq!(world.balance(VISA_PAN), before);
    assert!(world.ledger().iter().all(|e| !e.approved));
}

#[test]
fn soft_decline_asks_for_the_pin_and_retaps() {
    let world = World::start();
    // The terminal's CVM limit (100.00) is above the issuer's (50.00): the kernel asks no
    // CVM for 60.00, the issuer answers 1A, the engine asks for the PIN and re-taps.
    let overrides = "[[aid]]\naid = \"A0000000031010\"\ncvm_required_limit = 10000\n";
    let mut engine = engine(&world, overrides, Duration::from_secs(10));
    let (result, events, asked) = sale(&mut engine, &world, "visa", 6_000, &[DEMO_PIN]);
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert_eq!(asked, 1);
    assert!(events.contains(&Event::PinRequired));
    let codes: Vec<String> = world
        .ledger()
        .iter()
        .filter(|e| e.kind == "purchase")
        .map(|e| e.response_code.clone())
        .collect();
    assert_eq!(codes, ["1A", "00"]);
}

#[test]
fn refund_void_preauth_completion_and_settlement_match_the_ledger() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let (sale1, _, _) = sale(&mut engine, &world, "visa", 2_000, &[]);
    assert_eq!(sale1.status, TxStatus::Approved);
    let (sale2, _, _) = sale(&mut engine, &world, "visa", 1_500, &[]);
    assert_eq!(sale2.status, TxStatus::Approved);
    // Void the last sale (no card).
    let mut events = Vec::new();
    let void = engine.void_last(&mut |e| events.push(e)).expect("void");
    assert_eq!(void.status, TxStatus::Approved, "{}", void.message);
    assert!(engine.journal().get(sale2.id).unwrap().unwrap().voided);
    // Refund part of the first sale.
    let refund = {
        let mut reader = support::in_process("visa");
        let mut pin = TestPin::new(&world.bundle, &[]);
        engine
            .refund(&mut reader, &mut pin, 500, Some(sale1.id), &mut |_| {})
            .expect("refund")
    };
    assert_eq!(refund.status, TxStatus::Approved, "{}", refund.message);
    // Pre-authorization of 30.00, completed for 25.00.
    let preauth = {
        let mut reader = support::in_process("visa");
        let mut pin = TestPin::new(&world.bundle, &[]);
        engine
            .preauth(&mut reader, &mut pin, 3_000, &mut |_| {})
            .expect("preauth")
    };
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    assert_eq!(world.balance(VISA_PAN), before - 2_000 + 500 - 3_000);
    let completion = engine
        .complete(preauth.id, 2_500, &mut |_| {})
        .expect("completion");
    assert_eq!(
        completion.status,
        TxStatus::Approved,
        "{}",
        completion.message
    );
    assert!(matches!(
        engine.complete(preauth.id, 2_500, &mut |_| {}),
        Err(EngineError::NotCompletable(_))
    ));
    // The ledger: sale 2 voided, the hold released and replaced by the completion.
    let ledger = world.ledger();
    let kinds: Vec<(&str, bool, bool, i64)> = ledger
        .iter()
        .map(|e| (e.kind.as_str(), e.approved, e.reversed, e.amount))
        .collect();
    assert!(
        kinds.contains(&("purchase", true, false, 2_000)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("purchase", true, true, 1_500)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("refund", true, false, 500)), "{kinds:?}");
    assert!(
        kinds.contains(&("authorization", true, true, 3_000)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("completion", true, false, 2_500)),
        "{kinds:?}"
    );
    // The balance after the completion is checked in
    // `completion_releases_the_pre_authorization_hold`.
    // Settlement: the terminal's totals equal the host's.
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.response_code, "00");
    assert_eq!(report.totals.debits, 2);
    assert_eq!(report.totals.debits_amount, 4_500);
    assert_eq!(report.totals.debit_reversals, 1);
    assert_eq!(report.totals.debit_reversals_amount, 1_500);
    assert_eq!(report.totals.credits, 1);
    assert_eq!(report.totals.credits_amount, 500);
    // A second settlement has an empty batch, in balance too.
    let empty = engine.settle().expect("second settlement");
    assert!(empty.in_balance);
    assert_eq!(empty.totals.debits, 0);
}

#[test]
fn completion_releases_the_pre_authorization_hold() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let preauth = {
        let mut reader = support::in_process("visa");
        let mut pin = TestPin::new(&world.bundle, &[]);
        engine
            .preauth(&mut reader, &mut pin, 3_000, &mut |_| {})
            .expect("preauth")
    };
    assert_eq!(preauth.status, TxStatus::Approved, "{}", preauth.message);
    assert_eq!(world.balance(VISA_PAN), before - 3_000);
    let completion = engine
        .complete(preauth.id, 2_500, &mut |_| {})
        .expect("completion");
    assert_eq!(completion.status, TxStatus::Approved);
    assert_eq!(world.balance(VISA_PAN), before - 2_500);
}

#[test]
fn dropped_response_is_reversed_once_and_nothing_is_charged() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_millis(800));
    world.host().faults().set(Fault::DropResponse, 1);
    let (result, events, _) = sale(&mut engine, &world, "visa", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert!(events.contains(&Event::Reversing));
    assert!(!events.iter().any(|e| matches!(e, Event::Approved { .. })));
    let ledger = world.ledger();
    let purchases: Vec<_> = ledger.iter().filter(|e| e.kind == "purchase").collect();
    assert_eq!(purchases.len(), 1);
    assert!(purchases[0].approved && purchases[0].reversed);
    assert_eq!(ledger.iter().filter(|e| e.kind == "reversal").count(), 1);
    assert_eq!(world.balance(VISA_PAN), before);
    assert_eq!(
        engine.journal().get(result.id).unwrap().unwrap().state,
        TxState::Reversed
    );
    // The host counts an approved-then-reversed purchase; so does the terminal.
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debit_reversals, 1);
}

/// The host declined (wrong PIN) and the 0210 was lost: the terminal reverses, the
/// host's 0410 says `21` (nothing approved to undo), and settlement balances because neither
/// side counts a reversal (`docs/iso8583.md` §4, 0400).
#[test]
fn a_lost_decline_is_reversed_and_settlement_still_balances() {
    let world = World::start();
    let before = world.balance(MASTERCARD_PAN);
    let mut engine = engine(&world, "", Duration::from_millis(800));
    world.host().faults().set(Fault::DropResponse, 1);
    // Above the CVM limit, with a wrong PIN: the host answers 55, which is lost.
    let (result, _, asked) = sale(&mut engine, &world, "mastercard", 8_000, &["9999"]);
    assert_eq!(asked, 1, "no second PIN: the answer never arrived");
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    let ledger = world.ledger();
    let purchase = ledger.iter().find(|e| e.kind == "purchase").unwrap();
    assert!(!purchase.approved, "{purchase:?}");
    let reversal = ledger.iter().find(|e| e.kind == "reversal").unwrap();
    assert_eq!(reversal.response_code, "21");
    assert_eq!(world.balance(MASTERCARD_PAN), before);
    let report = engine.settle().expect("settlement");
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debit_reversals, 0);
}

#[test]
fn late_approval_after_the_timeout_is_reversed_never_shown() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_millis(500));
    let faults = world.host().faults();
    faults.set_delay(Duration::from_millis(1_500));
    faults.set(Fault::Delay, 1);
    let (result, events, _) = sale(&mut engine, &world, "visa", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert!(!events.iter().any(|e| matches!(e, Event::Approved { .. })));
    // The late approval is written, and its reversal applied.
    let purchases = || -> Vec<_> {
        world
            .ledger()
            .into_iter()
            .filter(|e| e.kind == "purchase")
            .collect()
    };
    support::wait_until(Duration::from_secs(10), "the late approval written", || {
        !purchases().is_empty()
    });
    let purchases = purchases();
    assert_eq!(world.balance(VISA_PAN), before);
    assert_eq!(purchases.len(), 1);
    assert!(purchases[0].reversed);
    // The next sale works on a fresh connection and is not confused by the late answer.
    let (next, _, _) = sale(&mut engine, &world, "visa", 1_000, &[]);
    assert_eq!(next.status, TxStatus::Approved, "{}", next.message);
    assert_eq!(world.balance(VISA_PAN), before - 1_000);
}

#[test]
fn host_down_stops_before_anything_is_charged() {
    let mut world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(2));
    world.host.take().expect("host").shutdown();
    let (result, _, _) = sale(&mut engine, &world, "visa", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    assert!(
        result.message.contains("cannot be reached"),
        "{}",
        result.message
    );
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Aborted);
    assert!(!rec.approved);
}

#[test]
fn host_down_never_queues_an_online_pin_transaction() {
    let mut world = World::start();
    let overrides = "[[aid]]\naid = \"A0000000031010\"\nfloor_limit = 10000\n";
    let mut engine = engine_with(
        &world,
        overrides,
        Duration::from_secs(2),
        support::simulator_oda(),
    );
    world.host.take().expect("host").shutdown();
    let (result, events, asked) = sale(&mut engine, &world, "visa", 8_000, &[DEMO_PIN]);
    assert_eq!(asked, 1);
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    assert!(result.message.contains("online PIN"), "{}", result.message);
    assert!(!events.iter().any(|e| matches!(e, Event::Approved { .. })));
    let rec = engine.journal().get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Aborted);
    assert_eq!(engine.journal().advice_queue().unwrap().0, 0);
}

#[test]
fn bad_mac_on_the_answer_is_no_answer_and_is_reversed() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(2));
    world.host().faults().set(Fault::BadMac, 1);
    let (result, _, _) = sale(&mut engine, &world, "visa", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert_eq!(world.balance(VISA_PAN), before);
    support::assert_journal_consistent(engine.journal(), &world, VISA_PAN, before);
}

#[test]
fn card_pulled_after_gpo_stops_without_sending() {
    let world = World::start();
    let mut engine = engine(&world, "", Duration::from_secs(5));
    let (result, events, _) = sale_via_vpcd(&mut engine, &world, "vanish-after-gpo", 1_234, &[]);
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    assert!(events.iter().any(|e| matches!(e, Event::TryAgain { .. })));
    assert!(world.ledger().iter().all(|e| e.kind != "purchase"));
}

#[test]
fn a_certificate_from_another_ca_is_refused_with_a_clear_message() {
    let world = World::start();
    let other = World::start();
    let mut bundle = world.credentials.clone();
    bundle.certificate_pem = other.credentials.certificate_pem.clone();
    bundle.key_pem = other.credentials.key_pem.clone();
    let mut link = softpos::acquirer::Acquirer::new(&bundle, Default::default()).unwrap();
    let err = link.sign_on(1).expect_err("refused");
    assert!(
        matches!(err.cause(), AcquirerError::CertificateRefused(_)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("refused this terminal's certificate")
    );
}

/// The PIN pad process (`softpos-pinpad-test`, test key input) holding the bundle's DUKPT
/// initial key in a fresh key store: one process per entry, each typing its own script.
#[cfg(feature = "pinpad-test-input")]
struct PinPadScripts {
    store: tempfile::TempDir,
    scripts: tempfile::TempDir,
    queue: std::collections::VecDeque<&'static str>,
    asked: usize,
}

#[cfg(feature = "pinpad-test-input")]
impl PinPadScripts {
    fn new(bundle: &hsm_sim::host::EnrolmentBundle, scripts: &[&'static str]) -> Self {
        let dukpt = bundle.dukpt.as_ref().expect("the bundle has a DUKPT key");
        let key = emv::crypto::key::AesKey::from_slice(&dukpt.initial_key).unwrap();
        let ksn = emv::crypto::dukpt::Ksn::from_bytes(dukpt.initial_ksn);
        let store = tempfile::tempdir().unwrap();
        softpos::pinpad::keystore::Keystore::install(store.path(), &key, ksn).unwrap();
        Self {
            store,
            scripts: tempfile::tempdir().unwrap(),
            queue: scripts.iter().copied().collect(),
            asked: 0,
        }
    }
}

#[cfg(feature = "pinpad-test-input")]
impl softpos::pinpad::PinEntry for PinPadScripts {
    fn collect(
        &mut self,
        request: &softpos::pinpad::PinRequest<'_>,
    ) -> Result<softpos::pinpad::EncryptedPin, softpos::pinpad::PinEntryError> {
        self.asked += 1;
        let script = self
            .queue
            .pop_front()
            .ok_or(softpos::pinpad::PinEntryError::Cancelled)?;
        let path = self.scripts.path().join(format!("keys-{}", self.asked));
        std::fs::write(&path, script).unwrap();
        let mut config =
            softpos::pinpad::PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad-test"));
        config.store_dir = Some(self.store.path().to_path_buf());
        config.env.push((
            softpos::pinpad::process::TEST_KEYS_ENV.into(),
            path.into_os_string(),
        ));
        softpos::pinpad::PinPadProcess::new(config).collect(request)
    }
}

/// Online PIN typed through the real PIN pad process: a wrong PIN (the host answers 55), then
/// the right one; the host decrypts both blocks under the terminal's DUKPT key.
#[cfg(feature = "pinpad-test-input")]
#[test]
fn online_pin_typed_through_the_pin_pad_process_is_verified_by_the_host() {
    let world = World::start();
    let before = world.balance(MASTERCARD_PAN);
    let mut engine = engine(&world, "", Duration::from_secs(10));
    let mut pin = PinPadScripts::new(&world.bundle, &["9999K", "1234K"]);
    let mut events = Vec::new();
    let result = {
        let _turn = take_vpcd();
        let (mut reader, card) = plug("mastercard");
        let r = engine
            .sale(&mut reader, &mut pin, 8_000, Tip::None, &mut |e| {
                events.push(e)
            })
            .expect("sale runs");
        unplug(&reader, card);
        r
    };
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    assert_eq!(pin.asked, 2);
    assert!(events.contains(&Event::WrongPin), "{events:?}");
    assert_eq!(world.balance(MASTERCARD_PAN), before - 8_000);
    let purchases: Vec<_> = world
        .ledger()
        .into_iter()
        .filter(|e| e.kind == "purchase")
        .collect();
    assert_eq!(purchases.len(), 2, "{purchases:?}");
    assert_eq!(
        purchases[0].response_code, "55",
        "the wrong PIN reached the host as 55"
    );
    assert!(purchases[1].approved && !purchases[1].reversed);
}

fn event_name(e: &Event) -> &'static str {
    match e {
        Event::PresentCard { .. } => "present",
        Event::CardRead { .. } => "card-read",
        Event::RemoveCard => "remove",
        Event::EnterPin => "pin",
        Event::WrongPin => "wrong-pin",
        Event::PinRequired => "pin-required",
        Event::Authorising => "authorising",
        Event::Approved { .. } => "approved",
        Event::Declined { .. } => "declined",
        Event::TryAgain { .. } => "try-again",
        Event::Reversing => "reversing",
        _ => "other",
    }
}
