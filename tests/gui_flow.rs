//! The merchant's GUI, headless (`i-slint-backend-testing`, software renderer), driven as a
//! merchant drives it: by accessible label, with clicks, against the real engine service, the
//! embedded hsm-sim host over TLS and in-process virtual cards tapped from the testers' drawer.
//!
//! - a sale with a 10 % tip, tapped with a Visa card: approved, brand and last four, receipt
//!   with the masked PAN (customer and merchant copy), checked against the host's ledger;
//! - a decline (a card that answers an offline approval the terminal did not ask for);
//! - a cancel while waiting for a card: nothing charged;
//! - a sale that asks for the PIN: the PIN screen, then Cancel there: nothing charged; then
//!   the PIN typed: approved;
//! - the history: today's five transactions newest first, the totals, a row's receipt;
//! - from the history, a partial refund of the first sale (approved, credited at the host),
//!   then a refund of more than remains (refused on screen, nothing sent), then a void of the
//!   last sale (nothing stays charged at the host); the history searched by amount and by
//!   the card's last four;
//! - the host gone: the next sale cannot reach it and the status bar turns offline;
//!
//! Every screen is rendered at 360 x 640 and 1280 x 800; a screen that renders empty fails, and
//! so does any text on any screen that holds a full PAN. The PNGs go to `target/tmp/gui/`, and
//! also to `$SOFTPOS_SCREENSHOTS` when set (`SOFTPOS_SCREENSHOTS=$PWD/docs/screenshots`).
//!
//! One test function only: the testing platform can be set once per process.
#![cfg(all(feature = "gui", feature = "demo"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/gui.rs"]
mod gui;
#[path = "support/png.rs"]
mod png_file;
#[path = "support/engine.rs"]
mod support;

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::ComponentHandle;
use softpos::demo::CardDrawer;
use softpos::engine::EngineSettings;
use softpos::gui::{
    AppAdapter, Gui, HistoryAdapter, MainWindow, PresentCardAdapter, ReceiptAdapter, Screen,
    SettingsAdapter, StatusAdapter,
};
use softpos::pinpad::{EncryptedPin, PinEntry, PinEntryError, PinRequest};
use support::{MASTERCARD_PAN, TestPin, VISA_PAN, World};

use gui::{
    SIZES, Screenshots, assert_no_full_pan, button, click, has_text, is_full_pan, pump, texts,
    type_into, wait_for_screen, wait_until,
};

#[test]
fn gui_headless() {
    gui::headless();
    let mut world = World::start();
    let before = world.balance(VISA_PAN);
    let (pins, pin) = GatedPin::new(&world);
    let (drawer, reader) = CardDrawer::new(None);
    let engine = support::signed_on_engine(&world, "", EngineSettings::default());
    let window = MainWindow::new().unwrap();
    let setup = gui::demo_setup(
        &world,
        engine,
        Box::new(reader),
        Box::new(pin),
        Some(drawer),
    );
    let gui = Gui::attach(&window, setup).unwrap();
    window.show().unwrap();
    let mut shots = Screenshots::new();

    // 1. A sale of 12.34 with a 10 % tip (1.23): approved on a Visa card.
    shots.take(&window, "sale-amount-empty");
    for key in ["1", "2", "3", "4"] {
        click(&window, key);
    }
    assert!(has_text(&window, "Amount EUR 12.34"));
    shots.take(&window, "sale-amount");
    click(&window, "Continue");
    click(&window, "10 %");
    assert!(has_text(&window, "Total EUR 13.57"));
    // Every door is offered: the customer's code, and the merchant's code and the request to
    // pay (the host's API and the country are configured).
    for choice in ["Scan customer's code", "Show my code", "Request to phone"] {
        assert_eq!(
            button(&window, choice).accessible_enabled(),
            Some(true),
            "{choice}"
        );
    }
    assert_eq!(button(&window, "Tap card").accessible_enabled(), Some(true));
    shots.take(&window, "sale-tip");
    click(&window, "Tap card");
    wait_for_screen(&window, Screen::PresentCard);
    wait_until(&window, "the engine asks for the card", || {
        has_text(&window, "Present card")
            && window.global::<PresentCardAdapter>().get_seconds_left() == 30
    });
    assert!(has_text(&window, "Amount EUR 13.57"));
    assert!(has_text(&window, "Status: 1 of 4 lights on"));
    // The countdown runs on screen.
    for _ in 0..3 {
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(1_010));
    }
    let left = window.global::<PresentCardAdapter>().get_seconds_left();
    assert!((26..=28).contains(&left), "{left} seconds left");
    assert!(has_text(&window, &format!("{left} seconds left")));
    shots.take(&window, "present-card");
    tap_from_drawer(&window, "visa");
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "approved", || has_text(&window, "Approved"));
    assert!(has_text(&window, "EUR 13.57"));
    assert!(
        texts(&window).iter().any(|t| t.ends_with(" ending 0119")),
        "{:?}",
        texts(&window)
    );
    shots.take(&window, "approved");
    assert_eq!(world.balance(VISA_PAN), before - 1357);
    click(&window, "Receipt");
    wait_for_screen(&window, Screen::Receipt);
    let receipt = texts(&window);
    assert!(
        receipt.iter().any(|t| t.contains("476173******0119")),
        "{receipt:?}"
    );
    assert!(receipt.iter().any(|t| t == "APPROVED"), "{receipt:?}");
    assert!(receipt.iter().any(|t| t.starts_with("TIP ")), "{receipt:?}");
    // The time to the second, zone stated (`2026-12-03 14:16:34 UTC`).
    assert!(
        receipt
            .iter()
            .any(|t| t.ends_with(" UTC") && t.len() == "2026-12-03 14:16:34 UTC".len()),
        "{receipt:?}"
    );
    assert!(!receipt.iter().any(|t| t.contains("MERCHANT COPY")));
    shots.take(&window, "receipt");
    receipt_code_and_files(&window, &world);
    click(&window, "Merchant copy");
    assert!(has_text(&window, "MERCHANT COPY"));
    assert!(texts(&window).iter().any(|t| t.starts_with("TVR ")));
    shots.take(&window, "receipt-merchant");
    click(&window, "Done");
    wait_for_screen(&window, Screen::Result);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);
    assert!(has_text(&window, "Amount EUR 0.00"));

    // 2. A decline: the card answers an offline approval (TC) though the terminal asked for an
    // online cryptogram; the terminal does not trust it.
    sell(&window, &["1", "0", "0", "0"]);
    click(&window, "Open the testers' drawer");
    shots.take(&window, "testers-drawer");
    click(&window, "Tap tc-despite-online");
    wait_until(&window, "not approved", || {
        has_text(&window, "Not approved")
    });
    assert!(!has_text(&window, "Nothing was charged"));
    assert!(!has_text(&window, "Approved"));
    shots.take(&window, "declined");
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 3. Cancel while waiting for the card: nothing charged.
    sell(&window, &["5", "0", "0"]);
    wait_until(&window, "the engine asks for the card", || {
        has_text(&window, "Present card")
    });
    click(&window, "Cancel");
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "cancelled", || {
        has_text(&window, "Nothing was charged")
    });
    assert!(has_text(&window, "Not approved"));
    shots.take(&window, "cancelled");
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 4. 80.00 (above the CVM limit) asks for the PIN: the PIN screen, then Cancel there.
    let before_pin = world.balance(VISA_PAN);
    sell(&window, &["8", "0", "0", "0"]);
    tap_from_drawer(&window, "visa");
    wait_for_screen(&window, Screen::Pin);
    assert!(has_text(&window, "Customer is entering PIN"));
    assert!(has_text(&window, "EUR 80.00"));
    shots.take(&window, "pin");
    click(&window, "Cancel");
    wait_until(&window, "cancelled at the PIN", || {
        has_text(&window, "Nothing was charged")
    });
    assert_eq!(pins.asked(), 1);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 5. The same with the PIN typed on the pad: approved.
    assert_eq!(world.balance(VISA_PAN), before_pin);
    sell(&window, &["8", "0", "0", "0"]);
    tap_from_drawer(&window, "visa");
    wait_for_screen(&window, Screen::Pin);
    pins.enter(support::DEMO_PIN);
    wait_until(&window, "approved with the PIN", || {
        has_text(&window, "Approved")
    });
    assert_eq!(world.balance(VISA_PAN), before_pin - 8000);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // 6. The history: today's transactions, newest first, with the totals; a row opens its
    // receipt, and Done goes back to the history.
    click(&window, "History");
    wait_for_screen(&window, Screen::History);
    wait_until(&window, "the history", || {
        has_text(&window, "Today: 2 sales, EUR 93.57")
    });
    let rows: Vec<String> = ElementQuery::from_root(&window)
        .find_all()
        .iter()
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .filter_map(|e| e.accessible_label())
        .map(|l| l.to_string())
        .filter(|l| l.starts_with('#'))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows[0].ends_with("EUR 80.00 Approved"), "{rows:?}");
    assert!(rows[4].ends_with("EUR 13.57 Approved"), "{rows:?}");
    shots.take(&window, "history");
    click(&window, &rows[4]);
    wait_for_screen(&window, Screen::Receipt);
    assert!(
        has_text(&window, "TOTAL  EUR 13.57"),
        "{:?}",
        texts(&window)
    );
    click(&window, "Done");
    wait_for_screen(&window, Screen::History);
    click(&window, "Back to sale");
    wait_for_screen(&window, Screen::Sale);

    // 7. Refunds and voids from the history.
    refund_part_of_a_sale(&window, &world, &mut shots);
    refund_above_what_remains_is_refused(&window, &world, &mut shots);
    void_the_last_sale(&window, &world, &mut shots);
    search_the_history(&window, &mut shots);

    // 8. End of day: the batch settled with the host, its totals per type and per scheme.
    settle_the_day(&window, &world, &mut shots);

    // 9. Settings: the readers found off the UI thread, tip presets, sounds, a bundle import,
    // and a switch of language at run time (texts and amounts).
    settings_and_language(&window, &world, &mut shots);

    // 10. The host goes away: the next sale cannot reach it, and the status bar, refreshed after
    // the transaction, says the host is offline (it said online since the sign-on).
    let status = window.global::<StatusAdapter>();
    assert!(status.get_host_online());
    assert_eq!(status.get_offline_queue(), 0);
    world.host.take().unwrap().shutdown();
    sell(&window, &["5", "0", "0"]);
    tap_from_drawer(&window, "visa");
    wait_for_screen(&window, Screen::Result);
    wait_until(&window, "the status bar says offline", || {
        !window.global::<StatusAdapter>().get_host_online()
    });
    assert_eq!(status.get_offline_queue(), 0);
    click(&window, "New sale");
    wait_for_screen(&window, Screen::Sale);

    // The journal and the host agree.
    gui.shutdown();
    support::assert_consistent(&world, VISA_PAN, before);
    // Two sales stand (13.57 and 80.00), less the 5.00 refunded; the 3.00 sale was voided.
    assert_eq!(world.balance(VISA_PAN), before - 1357 - 8000 + 500);
    shots.check_all_taken(&[
        "sale-amount",
        "sale-tip",
        "present-card",
        "pin",
        "approved",
        "declined",
        "cancelled",
        "receipt",
        "history",
        "refund-amount",
        "void-confirm",
        "end-of-day",
        "end-of-day-settled",
        "settings",
        "settings-german",
    ]);
    // The PAN check itself catches a PAN.
    assert!(is_full_pan(VISA_PAN) && is_full_pan(MASTERCARD_PAN));
    for secret in [
        format!("CARD {VISA_PAN}"),
        format!(";{VISA_PAN}D2812201?"),
        "PIN block 0412AC89ABCDEF67".to_owned(),
        "PIN 1234".to_owned(),
        support::DEMO_PIN.to_owned(),
    ] {
        let caught = std::panic::catch_unwind(|| {
            assert_no_full_pan(std::slice::from_ref(&secret), "a test text");
        });
        assert!(caught.is_err(), "{secret:?} not caught");
    }
    assert_no_full_pan(
        &["AID A0000000031010".to_owned(), "EUR 1,234.56".to_owned()],
        "a test text",
    );
}

/// The history's rows (their accessible labels, "#1  13:15 EUR 13.57 Approved"), newest
/// first, once the history has loaded.
fn history_rows(window: &MainWindow) -> Vec<String> {
    click(window, "History");
    wait_for_screen(window, Screen::History);
    wait_until(window, "the history", || {
        !window.global::<HistoryAdapter>().get_loading()
    });
    visible_rows(window)
}

/// Searches the history for `amount` ("13.57"), opens the row whose label ends with `ending`
/// and waits for its receipt to offer the refund and void the engine allows.
fn open_from_history(window: &MainWindow, amount: &str, ending: &str) -> String {
    history_rows(window);
    search(window, amount);
    let rows = visible_rows(window);
    let row = rows
        .iter()
        .find(|r| r.ends_with(ending))
        .unwrap_or_else(|| panic!("no row {ending:?} in {rows:?}"))
        .clone();
    click(window, &row);
    wait_for_screen(window, Screen::Receipt);
    wait_until(window, "the receipt's actions", || {
        window.global::<ReceiptAdapter>().get_actions()
    });
    row
}

/// Deletes what the keypad holds and types `keys`.
fn retype(window: &MainWindow, keys: &[&str]) {
    for _ in 0..softpos::gui::MAX_DIGITS {
        click(window, "Delete");
    }
    for key in keys {
        click(window, key);
    }
}

/// A refund of 5.00 of the 13.57 sale, from its receipt in the history: the keypad starts at
/// what remains, the void is greyed out with its reason (the sale is not the last), and the
/// refund runs through the present-card screen to an approval the host's ledger shows.
fn refund_part_of_a_sale(window: &MainWindow, world: &World, shots: &mut Screenshots) {
    let before = world.balance(VISA_PAN);
    open_from_history(window, "13.57", "EUR 13.57 Approved");
    assert_eq!(button(window, "Void").accessible_enabled(), Some(false));
    assert!(
        texts(window)
            .iter()
            .any(|t| t.contains("Refundable: EUR 13.57.") && t.contains("last approved")),
        "{:?}",
        texts(window)
    );
    shots.take(window, "receipt-actions");
    click(window, "Refund");
    wait_for_screen(window, Screen::Refund);
    assert!(has_text(window, "Refund amount EUR 13.57"));
    retype(window, &["5", "0", "0"]);
    assert!(has_text(window, "Refund amount EUR 5.00"));
    shots.take(window, "refund-amount");
    click(window, "Refund by card");
    wait_for_screen(window, Screen::PresentCard);
    assert!(has_text(window, "Amount EUR 5.00"));
    tap_from_drawer(window, "visa");
    wait_for_screen(window, Screen::Result);
    wait_until(window, "the refund approved", || {
        has_text(window, "Approved")
    });
    assert_eq!(world.balance(VISA_PAN), before + 500);
    click(window, "New sale");
    wait_for_screen(window, Screen::Sale);
}

/// A second refund of the same sale for more than the 8.57 that remains: refused on the refund
/// screen, before anything is sent (no present-card screen, no new transaction, the host's
/// ledger unchanged).
fn refund_above_what_remains_is_refused(
    window: &MainWindow,
    world: &World,
    shots: &mut Screenshots,
) {
    let before = world.balance(VISA_PAN);
    let rows = history_rows(window).len();
    click(window, "Back to sale");
    open_from_history(window, "13.57", "EUR 13.57 Approved");
    click(window, "Refund");
    wait_for_screen(window, Screen::Refund);
    assert!(has_text(window, "Refund amount EUR 8.57"));
    retype(window, &["9", "0", "0"]);
    click(window, "Refund by card");
    pump();
    assert!(has_text(window, "At most EUR 8.57 can be refunded."));
    assert_eq!(window.global::<AppAdapter>().get_screen(), Screen::Refund);
    shots.take(window, "refund-refused");
    click(window, "Back");
    wait_for_screen(window, Screen::Receipt);
    click(window, "Done");
    wait_for_screen(window, Screen::History);
    click(window, "Back to sale");
    assert_eq!(history_rows(window).len(), rows);
    click(window, "Back to sale");
    assert_eq!(world.balance(VISA_PAN), before);
}

/// A sale of 3.00, then its void from the history after the confirmation: approved, and the
/// host's ledger is back where it was.
fn void_the_last_sale(window: &MainWindow, world: &World, shots: &mut Screenshots) {
    let before = world.balance(VISA_PAN);
    sell(window, &["3", "0", "0"]);
    tap_from_drawer(window, "visa");
    wait_until(window, "the sale approved", || has_text(window, "Approved"));
    assert_eq!(world.balance(VISA_PAN), before - 300);
    click(window, "New sale");
    wait_for_screen(window, Screen::Sale);
    open_from_history(window, "3.00", "EUR 3.00 Approved");
    click(window, "Void");
    wait_for_screen(window, Screen::Refund);
    shots.take(window, "void-confirm");
    click(window, "Confirm void");
    wait_for_screen(window, Screen::Result);
    wait_until(window, "the void approved", || has_text(window, "Approved"));
    assert_eq!(world.balance(VISA_PAN), before);
    click(window, "New sale");
    wait_for_screen(window, Screen::Sale);
}

/// End of day: the settlement closes the batch (two sales, 93.57; one refund, 5.00; the
/// voided 3.00 sale), the host finds it in balance, Visa nets 88.57 over three transactions,
/// and the report is saved as a PDF in the data directory.
fn settle_the_day(window: &MainWindow, world: &World, shots: &mut Screenshots) {
    click(window, "End of day");
    wait_for_screen(window, Screen::EndOfDay);
    shots.take(window, "end-of-day");
    click(window, "Settle now");
    wait_until(window, "settled", || {
        texts(window)
            .iter()
            .any(|t| t.starts_with("Batch ") && t.ends_with(" closed"))
    });
    assert!(
        has_text(window, "In balance: the host answered 00"),
        "{:?}",
        texts(window)
    );
    for line in [
        "Sales: 2, EUR 93.57",
        "Refunds: 1, EUR 5.00",
        "Voided or reversed sales: 1, EUR 3.00",
        "Visa: 3, EUR 88.57",
    ] {
        assert!(has_text(window, line), "{line}: {:?}", texts(window));
    }
    shots.take(window, "end-of-day-settled");
    click(window, "Save report as PDF");
    let saved = texts(window)
        .into_iter()
        .find_map(|t| t.strip_prefix("Report saved: ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("no report saved: {:?}", texts(window)));
    assert!(saved.starts_with(world.dir.path()), "{}", saved.display());
    let pdf = std::fs::read(&saved).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.windows(b"EUR 93.57".len()).any(|w| w == b"EUR 93.57"),
        "the report's totals"
    );
    click(window, "Back to sale");
    wait_for_screen(window, Screen::Sale);
}

/// The receipt on screen has the customer's QR code (a compact text with the last four digits
/// only, signed), and saves as a PDF and as a PNG of the screen into the data directory.
fn receipt_code_and_files(window: &MainWindow, world: &World) {
    let adapter = window.global::<ReceiptAdapter>();
    assert!(adapter.get_has_qr());
    assert!(has_text(
        window,
        "QR code: the customer's signed copy of this receipt"
    ));
    let code = adapter.get_code_text().to_string();
    assert!(code.starts_with("SOFTPOS RECEIPT 1\n"), "{code}");
    assert!(
        code.contains("****0119\n") && code.contains("\nMAC "),
        "{code}"
    );
    assert_no_full_pan(std::slice::from_ref(&code), "the receipt's QR code");
    let saved = |label: &str| -> PathBuf {
        click(window, label);
        let file = texts(window)
            .into_iter()
            .find_map(|t| t.strip_prefix("Saved: ").map(PathBuf::from))
            .unwrap_or_else(|| panic!("{label}: nothing saved: {:?}", texts(window)));
        assert!(file.starts_with(world.dir.path()), "{}", file.display());
        file
    };
    let pdf = std::fs::read(saved("Save PDF")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.windows(b"476173******0119".len())
            .any(|w| w == b"476173******0119")
    );
    let png_file = saved("Save PNG");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_file).unwrap(),
    ));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), SIZES[0]);
}

/// The settings: the poller's reader list arrives, the tip presets change the sale screen's
/// choices, sounds toggle, an enrolment bundle imports once (a directory that is not one is
/// refused), and German then English switch the texts and the amounts; every choice is kept
/// in the data directory's `gui.toml`.
fn settings_and_language(window: &MainWindow, world: &World, shots: &mut Screenshots) {
    use slint::Model;
    let data_dir = world.dir.path().join("gui");
    let prefs_file = data_dir.join("gui.toml");
    click(window, "Settings");
    wait_for_screen(window, Screen::Settings);
    wait_until(window, "the readers listed", || {
        window.global::<SettingsAdapter>().get_readers_note() != "Looking for readers…"
    });
    assert!(has_text(
        window,
        "Development profile: simulated or test keys. Not for real payments."
    ));
    assert!(
        has_text(
            window,
            "No camera found: QR codes can still be read from image files."
        ) || window.global::<SettingsAdapter>().get_cameras().row_count() > 0
    );
    shots.take(window, "settings");
    // The whole list at once: the controls scrolled out of sight are not laid out.
    let size = |(width, height): (u32, u32)| {
        window
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        pump();
    };
    size((1280, 2000));

    type_into(window, "Tip presets", "5, 10, 12");
    click(window, "Save tips");
    assert!(has_text(window, "Tips saved."), "{:?}", texts(window));
    type_into(window, "Tip presets", "0, 10");
    click(window, "Save tips");
    assert!(has_text(
        window,
        "Three whole percentages from 1 to 99, such as 10, 15, 20."
    ));
    click(window, "Sounds on");
    assert_eq!(
        button(window, "Sounds off").accessible_enabled(),
        Some(true)
    );
    let kept = std::fs::read_to_string(&prefs_file).unwrap();
    assert!(kept.contains("tip_presets = [5, 10, 12]"), "{kept}");
    assert!(kept.contains("sounds = false"), "{kept}");

    type_into(
        window,
        "Enrolment bundle directory to import",
        &world.dir.path().display().to_string(),
    );
    click(window, "Import bundle");
    assert!(
        texts(window)
            .iter()
            .any(|t| t.starts_with("Not imported: ") && t.contains("is not an enrolment bundle")),
        "{:?}",
        texts(window)
    );
    let bundle = world.dir.path().join("terminal/enrolment");
    type_into(
        window,
        "Enrolment bundle directory to import",
        &bundle.display().to_string(),
    );
    click(window, "Import bundle");
    assert!(
        texts(window)
            .iter()
            .any(|t| t.starts_with(&format!("Imported terminal {}", support::TERMINAL))),
        "{:?}",
        texts(window)
    );
    assert!(data_dir.join("enrolment/terminal.toml").is_file());
    assert!(
        !data_dir.join("enrolment/dukpt-ik.hex").exists(),
        "the PIN key is the pad's"
    );
    click(window, "Import bundle");
    assert!(texts(window).iter().any(|t| t.contains("already enrolled")));

    click(window, "Deutsch");
    assert!(has_text(window, "Einstellungen"), "{:?}", texts(window));
    size(SIZES[0]);
    shots.take(window, "settings-german");
    assert!(
        std::fs::read_to_string(&prefs_file)
            .unwrap()
            .contains("language = \"de\"")
    );
    click(window, "Zurück zum Verkauf");
    wait_for_screen(window, Screen::Sale);
    assert_eq!(
        button(window, "Einstellungen").accessible_enabled(),
        Some(true)
    );
    assert!(has_text(window, "Betrag EUR 0,00"), "{:?}", texts(window));
    for key in ["1", "2", "3", "4", "5", "6"] {
        click(window, key);
    }
    assert!(
        has_text(window, "Betrag EUR 1.234,56"),
        "{:?}",
        texts(window)
    );
    click(window, "Weiter");
    // The tip presets of the settings.
    for preset in ["5 %", "10 %", "12 %"] {
        assert_eq!(
            button(window, preset).accessible_enabled(),
            Some(true),
            "{preset}"
        );
    }
    click(window, "12 %");
    // 12 % of 1,234.56 is 148.15 (rounded either way, 1,382.7x).
    assert!(
        texts(window)
            .iter()
            .any(|t| t.starts_with("Gesamt EUR 1.382,7")),
        "{:?}",
        texts(window)
    );
    click(window, "Zurück");
    click(window, "Einstellungen");
    size((1280, 2000));
    click(window, "English");
    assert!(
        std::fs::read_to_string(&prefs_file)
            .unwrap()
            .contains("language = \"en\"")
    );
    size(SIZES[0]);
    click(window, "Back to sale");
    wait_for_screen(window, Screen::Sale);
    assert!(
        has_text(window, "Amount EUR 1,234.56"),
        "{:?}",
        texts(window)
    );
    retype(window, &[]);
    assert!(has_text(window, "Amount EUR 0.00"), "{:?}", texts(window));
}

/// Types `query` into the history's search field, as a screen reader or keyboard would.
fn search(window: &MainWindow, query: &str) {
    let fields: Vec<_> =
        ElementHandle::find_by_accessible_label(window, "Search by amount or last 4").collect();
    assert!(!fields.is_empty(), "no search field");
    fields[0].set_accessible_value(query);
    pump();
}

/// The history filtered by amount ("13.57" or "8000"), then by the card's last four, then
/// cleared.
fn search_the_history(window: &MainWindow, shots: &mut Screenshots) {
    let all = history_rows(window);
    assert!(all.len() >= 8, "{all:?}");
    // The voided sale is listed but no longer counted.
    assert!(
        has_text(window, "Today: 2 sales, EUR 93.57; 1 refund, EUR 5.00"),
        "{:?}",
        texts(window)
    );
    search(window, "13.57");
    let rows = visible_rows(window);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].ends_with("EUR 13.57 Approved"), "{rows:?}");
    shots.take(window, "history-search");
    search(window, "8000");
    let rows = visible_rows(window);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains("EUR 80.00")), "{rows:?}");
    search(window, "0119");
    let visa = visible_rows(window);
    assert!(!visa.is_empty() && visa.len() < all.len(), "{visa:?}");
    search(window, "");
    assert_eq!(visible_rows(window), all);
    click(window, "Back to sale");
    wait_for_screen(window, Screen::Sale);
}

/// The history's rows in its list now, newest first, each as its accessible label
/// ("#1  13:15 EUR 13.57 Approved"); from the list's model, as rows scrolled out of sight are
/// not laid out.
fn visible_rows(window: &MainWindow) -> Vec<String> {
    use slint::Model;
    window
        .global::<HistoryAdapter>()
        .get_rows()
        .iter()
        .map(|r| format!("{} {} {}", r.title, r.amount, r.status))
        .collect()
}

/// Types `keys`, continues, and taps "Tap card" without a tip.
fn sell(window: &MainWindow, keys: &[&str]) {
    gui::start_card_sale(window, keys);
    wait_for_screen(window, Screen::PresentCard);
}

/// Opens the testers' drawer and taps a card of `profile`.
fn tap_from_drawer(window: &MainWindow, profile: &str) {
    click(window, "Open the testers' drawer");
    click(window, &format!("Tap {profile}"));
}

/// A PIN entry the test controls: it waits, as the PIN pad does, until the test types a PIN
/// or the operator cancels; the PIN block is real (format 4 under the bundle's DUKPT key).
struct GatedPin {
    typed: Receiver<&'static str>,
    inner: TestPin,
    asked: Sender<()>,
}

struct PinControl {
    typed: Sender<&'static str>,
    asked: Receiver<()>,
    count: std::cell::Cell<usize>,
}

impl GatedPin {
    fn new(world: &World) -> (PinControl, Self) {
        let (typed_tx, typed) = mpsc::channel();
        let (asked, asked_rx) = mpsc::channel();
        (
            PinControl {
                typed: typed_tx,
                asked: asked_rx,
                count: std::cell::Cell::new(0),
            },
            Self {
                typed,
                inner: TestPin::new(&world.bundle, &[]),
                asked,
            },
        )
    }
}

impl PinControl {
    fn asked(&self) -> usize {
        self.count
            .set(self.count.get() + self.asked.try_iter().count());
        self.count.get()
    }

    fn enter(&self, pin: &'static str) {
        self.typed.send(pin).unwrap();
    }
}

impl PinEntry for GatedPin {
    fn collect(&mut self, request: &PinRequest<'_>) -> Result<EncryptedPin, PinEntryError> {
        self.collect_until(request, &|| false)
    }

    fn collect_until(
        &mut self,
        request: &PinRequest<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<EncryptedPin, PinEntryError> {
        let _ = self.asked.send(());
        loop {
            if stop() {
                return Err(PinEntryError::Cancelled);
            }
            match self.typed.recv_timeout(Duration::from_millis(20)) {
                Ok(pin) => {
                    self.inner.queue(pin);
                    return self.inner.collect(request);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PinEntryError::Cancelled),
            }
        }
    }
}
