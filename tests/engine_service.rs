//! The engine service driven from another thread, as a screen drives it: commands in, progress
//! events (with their Book A user-interface requests) and one reply per command out, and a
//! cancel that acts at once, checked against the real hsm-sim host's ledger. Cards are the
//! in-process virtual cards (no PC/SC reader needed).

#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use emv::CardTransport;
use emv::kernel::UiRequest;
use hsm_sim::card::VirtualCard;
use hsm_sim::host::Fault;
use softpos::engine::{
    CardSource, Command, Engine, EngineService, Event, Reply, ServiceEvent, ServiceHandle, Tip,
    TxResult, TxStatus,
};
use softpos::journal::TxState;
use softpos::pinpad::{EncryptedPin, PinEntry, PinEntryError, PinRequest};
use softpos::reader::{ReaderError, TapInfo, VirtualCardSource};
use support::{DEMO_PIN, TestPin, VISA_PAN, World};

fn engine(world: &World, response_timeout: Duration) -> Engine {
    support::signed_on_engine(world, "", support::engine_settings(response_timeout))
}

fn visa() -> Box<VirtualCardSource> {
    Box::new(VirtualCardSource::new(
        VirtualCard::from_profile("visa").unwrap(),
    ))
}

/// What one command produced.
struct Run {
    events: Vec<Event>,
    ui: Vec<UiRequest>,
    reply: Reply,
}

impl Run {
    fn result(&self) -> &TxResult {
        match &self.reply {
            Reply::Transaction { result, .. } => result,
            other => panic!("not a transaction: {other:?}"),
        }
    }
}

/// Sends `command` and collects its events until its one reply; `on_event` sees each event
/// as it arrives (with the handle, to cancel).
fn drive(
    handle: &ServiceHandle,
    events: &Receiver<ServiceEvent>,
    command: Command,
    mut on_event: impl FnMut(&Event, &ServiceHandle),
) -> Run {
    let id = handle.send(command).unwrap();
    let mut seen = Vec::new();
    let mut ui = Vec::new();
    loop {
        match events.recv_timeout(Duration::from_secs(60)).unwrap() {
            ServiceEvent::Progress {
                command,
                event,
                ui: request,
            } => {
                assert_eq!(command, id);
                on_event(&event, handle);
                ui.extend(request);
                seen.push(event);
            }
            ServiceEvent::Finished { command, reply } => {
                assert_eq!(command, id);
                // Exactly one reply: nothing more for this command.
                assert!(events.try_recv().is_err());
                return Run {
                    events: seen,
                    ui,
                    reply: reply.unwrap(),
                };
            }
            other => panic!("{other:?}"),
        }
    }
}

fn no_decline(events: &[Event]) {
    assert!(
        !events.iter().any(|e| matches!(e, Event::Declined { .. })),
        "{events:?}"
    );
}

/// A card source in front of which no card is ever presented: its wait blocks until the
/// deadline or until it is woken.
#[derive(Clone, Default)]
struct NoCard(Arc<(Mutex<bool>, Condvar)>);

impl CardSource for NoCard {
    fn with_card(
        &mut self,
        _f: &mut dyn FnMut(&mut dyn CardTransport),
    ) -> Result<TapInfo, ReaderError> {
        Err(ReaderError::NoCard)
    }

    fn wait_for_card(&mut self, timeout: Duration) -> Result<(), ReaderError> {
        let (woken, signal) = &*self.0;
        let guard = woken.lock().unwrap();
        let (mut guard, _) = signal
            .wait_timeout_while(guard, timeout, |woken| !*woken)
            .unwrap();
        if std::mem::take(&mut *guard) {
            Err(ReaderError::Cancelled)
        } else {
            Err(ReaderError::NoCardInTime)
        }
    }

    fn waker(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let this = self.0.clone();
        Some(Box::new(move || {
            *this.0.lock().unwrap() = true;
            this.1.notify_all();
        }))
    }
}

/// A PIN pad whose window stays up until it is cancelled; says whether it was up and whether
/// it closed.
#[derive(Clone, Default)]
struct PadLeftOpen {
    up: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
}

impl PinEntry for PadLeftOpen {
    fn collect(&mut self, _request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        Err(PinEntryError::TimedOut)
    }

    fn collect_until(
        &mut self,
        _request: &PinRequest<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<EncryptedPin, PinEntryError> {
        self.up.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !stop() {
            if Instant::now() > deadline {
                return Err(PinEntryError::TimedOut);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.closed.store(true, Ordering::SeqCst);
        Err(PinEntryError::Cancelled)
    }
}

#[test]
fn a_sale_cancelled_while_waiting_for_a_card_is_aborted_and_charges_nothing() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let engine = engine(&world, Duration::from_secs(5));
    let pin = TestPin::new(&world.bundle, &[]);
    let (handle, events, service) =
        EngineService::spawn(engine, Box::new(NoCard::default()), Box::new(pin)).unwrap();
    let mut asked_at = None;
    let run = drive(
        &handle,
        &events,
        Command::Sale {
            amount: 1_234,
            tip: Tip::None,
        },
        |event, handle| {
            if matches!(event, Event::PresentCard { .. }) {
                // The screen's Cancel button, from this (another) thread.
                std::thread::sleep(Duration::from_millis(100));
                asked_at = Some(Instant::now());
                handle.cancel();
            }
        },
    );
    let latency = asked_at.unwrap().elapsed();
    eprintln!("cancel while waiting for a card: result after {latency:?}");
    let result = run.result();
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    assert!(
        result.message.contains("nothing was charged"),
        "{}",
        result.message
    );
    assert!(
        latency < Duration::from_secs(1),
        "the card wait took {latency:?} to notice the cancel"
    );
    assert!(
        run.events.iter().any(|e| matches!(
            e,
            Event::Aborted {
                cancelled: true,
                ..
            }
        )),
        "{:?}",
        run.events
    );
    no_decline(&run.events);
    assert_eq!(run.ui.last().map(|u| u.message.id()), Some(0x1E));
    handle.shutdown();
    service.join();
    // Nothing was sent: no STAN, nothing at the host.
    let journal = softpos::journal::Journal::open(&world.terminal_dir()).unwrap();
    let rec = journal.get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Aborted);
    assert_eq!(rec.stan, None);
    assert!(rec.result.unwrap().contains("cancelled"));
    assert!(world.ledger().is_empty(), "{:?}", world.ledger());
    support::assert_journal_consistent(&journal, &world, VISA_PAN, before);
}

#[test]
fn a_sale_cancelled_during_pin_entry_closes_the_pad_and_charges_nothing() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let engine = engine(&world, Duration::from_secs(5));
    let pad = PadLeftOpen::default();
    let (handle, events, service) =
        EngineService::spawn(engine, visa(), Box::new(pad.clone())).unwrap();
    // The screen: once the pad's window is up, the operator presses Cancel.
    let screen = {
        let handle = handle.clone();
        let up = pad.up.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !up.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            handle.cancel();
        })
    };
    // 80.00 is above the Visa CVM limit: the card asks for an online PIN.
    let run = drive(
        &handle,
        &events,
        Command::Sale {
            amount: 8_000,
            tip: Tip::None,
        },
        |_, _| {},
    );
    screen.join().unwrap();
    let result = run.result();
    assert!(run.events.contains(&Event::EnterPin), "{:?}", run.events);
    assert!(
        pad.closed.load(Ordering::SeqCst),
        "the pad's window stayed up"
    );
    assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
    no_decline(&run.events);
    assert!(!run.events.contains(&Event::Authorising));
    handle.shutdown();
    service.join();
    let journal = softpos::journal::Journal::open(&world.terminal_dir()).unwrap();
    let rec = journal.get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Aborted);
    assert_eq!(rec.stan, None);
    assert!(world.ledger().is_empty(), "{:?}", world.ledger());
    support::assert_journal_consistent(&journal, &world, VISA_PAN, before);
}

#[test]
fn a_sale_cancelled_after_the_request_was_sent_is_reversed_at_the_host() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    // The host decides at once but answers only after 4 s; the terminal would wait 10 s.
    world.host().faults().set_delay(Duration::from_secs(4));
    world.host().faults().set(Fault::Delay, 1);
    let engine = engine(&world, Duration::from_secs(10));
    let pin = TestPin::new(&world.bundle, &[]);
    let (handle, events, service) = EngineService::spawn(engine, visa(), Box::new(pin)).unwrap();
    let started = Instant::now();
    let run = drive(
        &handle,
        &events,
        Command::Sale {
            amount: 1_234,
            tip: Tip::None,
        },
        |event, handle| {
            if *event == Event::Authorising {
                std::thread::sleep(Duration::from_millis(300));
                handle.cancel();
            }
        },
    );
    let took = started.elapsed();
    eprintln!("cancel after the request was sent: reversed result after {took:?} (host delay 4 s)");
    let result = run.result();
    assert_eq!(result.status, TxStatus::Reversed, "{}", result.message);
    assert!(
        took < Duration::from_secs(4),
        "waited {took:?}: cancel did not stop the wait"
    );
    assert!(run.events.contains(&Event::Reversing), "{:?}", run.events);
    assert!(
        run.events.iter().any(|e| matches!(
            e,
            Event::Reversed {
                acknowledged: true,
                ..
            }
        )),
        "{:?}",
        run.events
    );
    no_decline(&run.events);
    handle.shutdown();
    service.join();
    let journal = softpos::journal::Journal::open(&world.terminal_dir()).unwrap();
    let rec = journal.get(result.id).unwrap().unwrap();
    assert_eq!(rec.state, TxState::Reversed);
    assert!(!rec.approved);
    assert!(rec.result.unwrap().contains("cancelled"));
    // The host charged the sale and then reversed it.
    let sale = world
        .ledger()
        .into_iter()
        .find(|e| e.kind == "purchase")
        .expect("the host saw the sale");
    assert!(sale.approved && sale.reversed, "{sale:?}");
    support::assert_journal_consistent(&journal, &world, VISA_PAN, before);
}

#[test]
fn an_approved_sale_shows_book_a_messages_in_order_and_its_receipt_hides_the_pan() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let engine = engine(&world, Duration::from_secs(5));
    let pin = TestPin::new(&world.bundle, &[DEMO_PIN]);
    let (handle, events, service) = EngineService::spawn(engine, visa(), Box::new(pin)).unwrap();
    let run = drive(
        &handle,
        &events,
        Command::Sale {
            amount: 8_000,
            tip: Tip::Amount(500),
        },
        |_, _| {},
    );
    let result = run.result().clone();
    assert_eq!(result.status, TxStatus::Approved, "{}", result.message);
    let ids: Vec<u8> = run.ui.iter().map(|u| u.message.id()).collect();
    // Present card, processing, card read OK remove card, enter PIN, authorising, approved.
    assert_eq!(ids, [0x15, 0x16, 0x17, 0x09, 0x1B, 0x03]);
    let statuses: Vec<u8> = run.ui.iter().map(|u| u.status.code()).collect();
    assert_eq!(statuses, [0x02, 0x03, 0x04, 0x04, 0x04, 0x01]);
    assert_eq!(run.ui[0].value.qualifier(), 0x10);
    assert!(run.ui[5].hold_time_units() > 0);
    let Reply::Transaction {
        receipt: Some(receipt),
        ..
    } = run.reply
    else {
        panic!("no receipt");
    };
    let text = receipt.to_string();
    let debug = format!("{receipt:?}");
    let merchant = receipt.merchant_copy();
    for shown in [&text, &debug, &merchant] {
        assert!(!shown.contains(VISA_PAN), "full PAN shown: {shown}");
        assert!(
            !shown.contains(&VISA_PAN[6..12]),
            "middle digits shown: {shown}"
        );
    }
    assert!(
        text.contains(&VISA_PAN[..6]) && text.contains(&VISA_PAN[12..]),
        "{text}"
    );
    assert!(text.contains("A0000000031010"), "{text}");
    assert!(text.contains("TID T0000001"), "{text}");
    assert!(text.contains("TOTAL  EUR 85.00"), "{text}");
    assert!(text.contains("TIP    EUR 5.00"), "{text}");
    assert!(text.contains("PIN verified"), "{text}");
    assert!(text.contains("contactless chip"), "{text}");
    assert!(text.contains("APPROVED"), "{text}");
    assert!(text.contains("RESPONSE 00 Approved"), "{text}");
    assert_eq!(receipt.auth_code, result.auth_code);
    assert!(receipt.stan.is_some() && receipt.rrn.is_some());
    assert!(merchant.contains("TVR "), "{merchant}");
    // History → receipt: the same receipt from the journal alone.
    let again = drive(
        &handle,
        &events,
        Command::Receipt { id: result.id },
        |_, _| {},
    );
    let Reply::Receipt(Some(again)) = again.reply else {
        panic!("no receipt for {}", result.id);
    };
    assert_eq!(again, receipt);
    handle.shutdown();
    service.join();
    support::assert_consistent(&world, VISA_PAN, before);
}

#[test]
fn settlement_runs_through_the_service() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let engine = engine(&world, Duration::from_secs(5));
    let pin = TestPin::new(&world.bundle, &[]);
    let (handle, events, service) = EngineService::spawn(engine, visa(), Box::new(pin)).unwrap();
    let sale = drive(
        &handle,
        &events,
        Command::Sale {
            amount: 1_000,
            tip: Tip::None,
        },
        |_, _| {},
    );
    assert_eq!(sale.result().status, TxStatus::Approved);
    let settled = drive(&handle, &events, Command::Settle, |_, _| {});
    let Reply::Settled(report) = settled.reply else {
        panic!("{:?}", settled.reply);
    };
    assert!(report.in_balance, "{report:?}");
    assert_eq!(report.totals.debits, 1);
    assert_eq!(report.totals.debits_amount, 1_000);
    assert!(report.transactions.contains(&sale.result().id));
    // The handle is usable from any thread, and a shut-down service says so.
    let other = handle.clone();
    std::thread::spawn(move || other.shutdown()).join().unwrap();
    service.join();
    assert!(handle.send(Command::Settle).is_err());
    support::assert_consistent(&world, VISA_PAN, before);
}

#[test]
fn a_pcsc_card_wait_is_woken_by_a_cancel_at_once() {
    let _turn = support::take_vpcd();
    let reader = softpos::reader::PcscReader::open(Some(softpos::demo::VIRTUAL_READER))
        .unwrap_or_else(|e| panic!("{e}: is pcscd with vsmartcard-vpcd running?"));
    let _ = reader.wait_for_removal(Duration::from_secs(5));
    let wake = CardSource::waker(&reader).unwrap();
    let started = Instant::now();
    let screen = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        wake();
    });
    // Without the wake this would block for the whole 20 s.
    let result = reader.wait_for_card(Duration::from_secs(20));
    let took = started.elapsed();
    eprintln!("PC/SC card wait woken after {took:?} (200 ms before the wake)");
    screen.join().unwrap();
    assert!(matches!(result, Err(ReaderError::Cancelled)), "{result:?}");
    assert!(took < Duration::from_secs(2), "woken after {took:?}");
}

#[test]
fn a_cancel_stops_the_running_sale_and_the_queued_one() {
    let world = World::start();
    let before = world.balance(VISA_PAN);
    let engine = engine(&world, Duration::from_secs(5));
    let pin = TestPin::new(&world.bundle, &[]);
    let (handle, events, service) =
        EngineService::spawn(engine, Box::new(NoCard::default()), Box::new(pin)).unwrap();
    let sale = Command::Sale {
        amount: 500,
        tip: Tip::None,
    };
    let first = handle.send(sale.clone()).unwrap();
    let second = handle.send(sale).unwrap();
    let mut finished = Vec::new();
    while finished.len() < 2 {
        match events.recv_timeout(Duration::from_secs(30)).unwrap() {
            ServiceEvent::Progress {
                command,
                event: Event::PresentCard { .. },
                ..
            } if command == first => handle.cancel(),
            ServiceEvent::Progress { event, .. } => {
                assert!(!matches!(event, Event::Declined { .. }), "{event:?}");
            }
            ServiceEvent::Finished { command, reply } => {
                let Ok(Reply::Transaction { result, .. }) = reply else {
                    panic!("{reply:?}");
                };
                assert_eq!(result.status, TxStatus::Aborted, "{}", result.message);
                finished.push(command);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(finished, [first, second]);
    handle.shutdown();
    service.join();
    assert!(world.ledger().is_empty());
    support::assert_consistent(&world, VISA_PAN, before);
}
