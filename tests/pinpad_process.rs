//! The PIN pad process end to end, through its pipe protocol, in test input mode
//! (`softpos-pinpad-test`, `pinpad-test-input` feature): the blocks decrypt at `hsm-sim` to the
//! typed PIN, the length, timeout and cancel rules, key exhaustion, a crash after the KSN is
//! persisted, the hourly limit of entries, and the production binary's refusals.
#![cfg(feature = "pinpad-test-input")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::time::Duration;

use emv::crypto::dukpt::Ksn;
use softpos::pinpad::keypad::Layout;
use softpos::pinpad::keystore::{self, Keystore};
use softpos::pinpad::{
    DisplayKind, LengthLimits, PinEntry, PinEntryError, PinPadProcess, Timeouts,
};

#[path = "pinpad_support/harness.rs"]
mod harness;
use harness::{Terminal, random_pan, random_pin, request, script_of};

#[test]
fn blocks_decrypt_at_the_host_to_the_typed_pin() {
    let terminal = Terminal::enrolled();
    let mut last_counter = terminal.last_ksn().counter();
    for i in 0..24 {
        let pin = random_pin(4 + i % 9);
        let pan = random_pan();
        let script = format!("{}K", script_of(&pin));
        let mut pad = PinPadProcess::new(terminal.config(&script));
        let encrypted = pad.collect(&request(&pan)).unwrap();
        assert_eq!(usize::from(encrypted.digits), pin.len());
        let ksn = Ksn::from_bytes(encrypted.ksn);
        assert!(ksn.counter() > last_counter, "a fresh KSN every entry");
        last_counter = ksn.counter();
        assert_eq!(terminal.pin_at_host(&encrypted, pan.expose_digits()), pin);
    }
}

#[test]
fn same_pin_and_pan_twice_give_different_blocks() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let a = PinPadProcess::new(terminal.config("8531K"))
        .collect(&request(&pan))
        .unwrap();
    let b = PinPadProcess::new(terminal.config("8531K"))
        .collect(&request(&pan))
        .unwrap();
    assert_ne!(a.pin_block, b.pin_block);
    assert_ne!(a.ksn, b.ksn);
    assert_eq!(terminal.pin_at_host(&a, pan.expose_digits()), [8, 5, 3, 1]);
    assert_eq!(terminal.pin_at_host(&b, pan.expose_digits()), [8, 5, 3, 1]);
}

fn short(terminal: &Terminal, script: &str) -> PinPadProcess {
    let mut config = terminal.config(script);
    config.timeouts = Timeouts {
        first_key: Duration::from_millis(400),
        between_keys: Duration::from_millis(300),
        total: Duration::from_millis(1500),
    };
    PinPadProcess::new(config)
}

#[test]
fn three_digits_are_refused_twelve_accepted_and_the_thirteenth_ignored() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    // OK after 3 digits does nothing; the entry then times out with nothing sent.
    let result = short(&terminal, "123K").collect(&request(&pan));
    assert!(matches!(result, Err(PinEntryError::TimedOut)), "{result:?}");
    let four = short(&terminal, "1234K").collect(&request(&pan)).unwrap();
    assert_eq!(
        terminal.pin_at_host(&four, pan.expose_digits()),
        [1, 2, 3, 4]
    );
    let thirteen = short(&terminal, "9876543210987K")
        .collect(&request(&pan))
        .unwrap();
    assert_eq!(thirteen.digits, 12);
    assert_eq!(
        terminal.pin_at_host(&thirteen, pan.expose_digits()),
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8]
    );
    // Configured limits: at most 6.
    let mut config = terminal.config("12345678K");
    config.length = LengthLimits::new(4, 6).unwrap();
    let six = PinPadProcess::new(config).collect(&request(&pan)).unwrap();
    assert_eq!(
        terminal.pin_at_host(&six, pan.expose_digits()),
        [1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn clear_then_retype() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let e = short(&terminal, "999C2468K")
        .collect(&request(&pan))
        .unwrap();
    assert_eq!(terminal.pin_at_host(&e, pan.expose_digits()), [2, 4, 6, 8]);
}

#[test]
fn first_key_between_keys_and_total_timeouts_send_nothing() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    for script in ["", "12w450;34K", "1w250;2w250;3w250;4w250;5w250;6w250;K"] {
        let result = short(&terminal, script).collect(&request(&pan));
        assert!(
            matches!(result, Err(PinEntryError::TimedOut)),
            "{script:?}: {result:?}"
        );
    }
    // Within every limit: accepted.
    let ok = short(&terminal, "1w200;2w200;3w200;4K").collect(&request(&pan));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn cancel_key_and_terminal_cancel() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let result = PinPadProcess::new(terminal.config("123X")).collect(&request(&pan));
    assert!(
        matches!(result, Err(PinEntryError::Cancelled)),
        "{result:?}"
    );

    // The terminal cancels while the cardholder is typing.
    let pad = PinPadProcess::new(terminal.config("12"));
    let mut entry = pad.start(&request(&pan)).unwrap();
    let (_, display) = entry.wait_ready().unwrap();
    assert_eq!(display, DisplayKind::HeadlessTest);
    entry.cancel();
    let result = entry.wait_answer();
    assert!(
        matches!(result, Err(PinEntryError::Cancelled)),
        "{result:?}"
    );
    entry.close();
}

#[test]
fn an_operator_cancel_closes_the_pad_at_once() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    // The cardholder types two digits and stops; the operator cancels 300 ms later.
    let mut pad = PinPadProcess::new(terminal.config("12"));
    let started = std::time::Instant::now();
    let stop_at = started + Duration::from_millis(300);
    let result = pad.collect_until(&request(&pan), &|| std::time::Instant::now() >= stop_at);
    let took = started.elapsed();
    eprintln!("PIN pad closed {took:?} after the start (cancel at 300 ms)");
    assert!(
        matches!(result, Err(PinEntryError::Cancelled)),
        "{result:?}"
    );
    // The pad answered CANCELLED to the CANCEL (its own first-key timeout is far longer).
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Already cancelled: the pad is not even started.
    let result = pad.collect_until(&request(&pan), &|| true);
    assert!(
        matches!(result, Err(PinEntryError::Cancelled)),
        "{result:?}"
    );
}

#[test]
fn crash_between_persisting_the_ksn_and_answering_never_reuses_it() {
    let terminal = Terminal::enrolled();
    let pan = random_pan();
    let before = terminal.last_ksn();
    // `!`: abort after OK is accepted, before encrypting and answering.
    let crashed = PinPadProcess::new(terminal.config("!1234K")).collect(&request(&pan));
    assert!(
        matches!(crashed, Err(PinEntryError::Unavailable(_))),
        "{crashed:?}"
    );
    let burnt = terminal.last_ksn();
    assert!(
        burnt.counter() > before.counter(),
        "the KSN was persisted before use"
    );
    let next = PinPadProcess::new(terminal.config("1234K"))
        .collect(&request(&pan))
        .unwrap();
    assert!(Ksn::from_bytes(next.ksn).counter() > burnt.counter());
    assert_eq!(
        terminal.pin_at_host(&next, pan.expose_digits()),
        [1, 2, 3, 4]
    );
}

#[test]
fn exhausted_keys_refuse_entry() {
    let terminal = Terminal::enrolled();
    let mut store = Keystore::open(terminal.store.path()).unwrap();
    let id = store.last_ksn().initial_key_id();
    store.fast_forward(Ksn::new(id, 0xFFFF_0000)).unwrap();
    let result = PinPadProcess::new(terminal.config("1234K")).collect(&request(&random_pan()));
    assert!(
        matches!(result, Err(PinEntryError::KeysExhausted)),
        "{result:?}"
    );
}

/// Security doc P11 (PCI PTS B8): after 120 entries in the last hour the pad refuses the
/// 121st before showing anything, the terminal gets the distinct `TooManyEntries` error to alert
/// the merchant, and no KSN is used.
#[test]
fn the_hundred_and_twenty_first_entry_in_an_hour_is_refused() {
    let terminal = Terminal::enrolled();
    let mut store = Keystore::open(terminal.store.path()).unwrap();
    for _ in 0..keystore::MAX_ENTRIES_PER_HOUR {
        store.reserve(&Layout::phone()).unwrap();
    }
    let before = terminal.last_ksn();
    let result = PinPadProcess::new(terminal.config("1234K")).collect(&request(&random_pan()));
    assert!(
        matches!(result, Err(PinEntryError::TooManyEntries)),
        "{result:?}"
    );
    assert_eq!(terminal.last_ksn(), before);
    // Removing the count file does not reset the limit: entry is refused.
    let rate_file = terminal.store.path().join(keystore::RATE_FILE);
    let count = std::fs::read(&rate_file).unwrap();
    std::fs::remove_file(&rate_file).unwrap();
    let result = PinPadProcess::new(terminal.config("1234K")).collect(&request(&random_pan()));
    assert!(
        matches!(result, Err(PinEntryError::Unavailable(_))),
        "{result:?}"
    );
    std::fs::write(&rate_file, count).unwrap();
    // A fresh hour (test tooling forgets the count, as after an hour of no entries) lets
    // entry resume.
    Keystore::open(terminal.store.path())
        .unwrap()
        .reset_rate_limit()
        .unwrap();
    assert_eq!(terminal.last_ksn(), before, "refused entries used no KSN");
    let encrypted = PinPadProcess::new(terminal.config("1234K"))
        .collect(&request(&random_pan()))
        .unwrap();
    assert_eq!(encrypted.digits, 4);
}

#[test]
fn the_production_binary_refuses_test_input() {
    let terminal = Terminal::enrolled();
    let before = terminal.last_ksn();
    let config = terminal.config_for(env!("CARGO_BIN_EXE_softpos-pinpad"), "1234K");
    let result = PinPadProcess::new(config).collect(&request(&random_pan()));
    let Err(PinEntryError::Unavailable(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("test input"), "{reason}");
    assert_eq!(terminal.last_ksn(), before, "no KSN used");
}

#[test]
fn the_production_binary_refuses_x11_outside_the_development_profile() {
    let terminal = Terminal::enrolled();
    let mut config = softpos::pinpad::PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad"));
    config.store_dir = Some(terminal.store.path().to_path_buf());
    config.env.push(("DISPLAY".into(), ":97".into()));
    config.env.push(("WAYLAND_DISPLAY".into(), "".into()));
    let result = PinPadProcess::new(config).collect(&request(&random_pan()));
    let Err(PinEntryError::Unavailable(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("X11"), "{reason}");
}

#[test]
fn a_missing_key_store_is_refused() {
    let empty = tempfile::tempdir().unwrap();
    let terminal = Terminal::enrolled();
    let mut config = terminal.config("1234K");
    config.store_dir = Some(empty.path().to_path_buf());
    let result = PinPadProcess::new(config).collect(&request(&random_pan()));
    let Err(PinEntryError::Unavailable(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("key store"), "{reason}");
}

/// The terminal cannot switch the production pad to X11: a request carrying the old
/// "development profile" flag is refused like any other under X11, and uses no KSN.
#[test]
fn the_terminal_cannot_grant_the_development_profile() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use softpos::pinpad::protocol::{
        EntryRequest, PinPadMessage, Refusal, TerminalMessage, read_frame, write_frame,
    };

    let terminal = Terminal::enrolled();
    let before = terminal.last_ksn();
    let pan = random_pan();
    let mut frame = TerminalMessage::EnterPin(EntryRequest {
        pan: zeroize::Zeroizing::new(pan.expose_digits().to_owned()),
        amount: 100,
        currency_code: 978,
        currency_exponent: 2,
        merchant_name: String::new(),
        language: "en".to_owned(),
        accessible: false,
        length: LengthLimits::default(),
        timeouts: Timeouts::default(),
        attestation_token: None,
    })
    .encode();
    // Set bit 1 of the flags field (tag 07), the old development-profile flag.
    let mut at = 2;
    while at + 2 <= frame.len() {
        let (tag, len) = (frame[at], usize::from(frame[at + 1]));
        if tag == 0x07 {
            frame[at + 2] |= 0x02;
        }
        at += 2 + len;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_softpos-pinpad"))
        .env(keystore::STORE_ENV, terminal.store.path())
        .env("DISPLAY", ":97")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove(softpos::pinpad::process::TEST_KEYS_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    write_frame(&mut stdin, &frame).unwrap();
    stdin.flush().unwrap();
    let answer = PinPadMessage::decode(&read_frame(&mut stdout).unwrap()).unwrap();
    drop(stdin);
    let _ = child.wait();
    assert!(
        matches!(answer, PinPadMessage::Refused(Refusal::InsecureDisplay)),
        "{answer:?}"
    );
    assert_eq!(terminal.last_ksn(), before, "no KSN used");
}
