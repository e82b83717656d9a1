//! Shared pieces of the headless GUI tests (`i-slint-backend-testing`): finding and clicking
//! controls by accessible label, pumping the UI thread's queued work, waiting for a screen, and
//! screenshots at the phone and desktop sizes checked for emptiness, touch targets and full PANs.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use i_slint_backend_testing::{
    AccessibleRole, ElementHandle, ElementQuery, TestingBackend, TestingBackendOptions,
};
use slint::ComponentHandle;
use slint::platform::PointerEventButton;
use softpos::demo::CardDrawer;
use softpos::engine::{CardSource, Engine};
use softpos::gui::{AppAdapter, Currency, GuiSetup, Language, MainWindow, Screen, TerminalStatus};
use softpos::pinpad::PinEntry;

use super::png_file::save_png;
use super::support::{DEMO_PIN, MASTERCARD_PAN, VISA_PAN, World};

/// Sets the headless platform: the testing backend with mocked time, threads, and the software
/// renderer. Once per process.
pub fn headless() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: true,
        renderer_name: Some("software".into()),
    })))
    .expect("the testing platform");
}

/// What the GUI drives in these tests: `engine` on the world's terminal, cards from `card`,
/// PINs from `pin`, EUR, a reachable host, and the testers' `drawer` if any.
pub fn demo_setup(
    world: &World,
    engine: Engine,
    card: Box<dyn CardSource>,
    pin: Box<dyn PinEntry + Send>,
    drawer: Option<CardDrawer>,
) -> GuiSetup {
    GuiSetup {
        engine,
        card,
        pin,
        currency: Currency::from_numeric(978, 2),
        status: TerminalStatus {
            host_online: true,
            offline_queue: 0,
            reader: "In-process virtual cards".into(),
            terminal_id: super::support::TERMINAL.into(),
            development: true,
        },
        data_dir: world.dir.path().join("gui"),
        drawer,
    }
}

/// The phone and the desktop sizes every screen is rendered at.
pub const SIZES: [(u32, u32); 2] = [(360, 640), (1280, 800)];

/// The enabled button labelled `label`, clicked.
pub fn click(window: &impl ComponentHandle, label: &str) {
    // Lay out and draw first, as a screen would before anyone could touch it.
    window.window().take_snapshot().unwrap();
    let b = button(window, label);
    assert_eq!(b.accessible_enabled(), Some(true), "{label} is disabled");
    b.mock_single_click(PointerEventButton::Left);
    pump();
}

pub fn button(window: &impl ComponentHandle, label: &str) -> ElementHandle {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(window, label)
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one button {label:?} among {:?}",
        texts(window)
    );
    found.into_iter().next().unwrap()
}

/// Every text a screen reader can read on the window now.
pub fn texts(window: &impl ComponentHandle) -> Vec<String> {
    ElementQuery::from_root(window)
        .find_all()
        .iter()
        .flat_map(|e| {
            [
                e.accessible_label(),
                e.accessible_value(),
                e.accessible_description(),
            ]
        })
        .flatten()
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn has_text(window: &impl ComponentHandle, text: &str) -> bool {
    texts(window).iter().any(|t| t == text)
}

/// Types `keys` as the amount, continues without a tip and taps "Tap card".
pub fn start_card_sale(window: &MainWindow, keys: &[&str]) {
    for key in keys {
        click(window, key);
    }
    click(window, "Continue");
    click(window, "No tip");
    click(window, "Tap card");
}

/// Runs the UI thread's queued work (the engine's updates arrive through it).
pub fn pump() {
    slint::quit_event_loop().unwrap();
    slint::run_event_loop().unwrap();
}

pub fn wait_until(window: &MainWindow, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        pump();
        if done() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still not {what}: screen {:?}, texts {:?}",
            window.global::<AppAdapter>().get_screen(),
            texts(window)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn wait_for_screen(window: &MainWindow, screen: Screen) {
    wait_until(window, &format!("on {screen:?}"), || {
        window.global::<AppAdapter>().get_screen() == screen
    });
}

/// The screens rendered so far: each at both sizes, checked not empty and free of full PANs.
pub struct Screenshots {
    dir: PathBuf,
    extra: Option<PathBuf>,
    taken: Vec<String>,
}

impl Screenshots {
    pub fn new() -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui");
        std::fs::create_dir_all(&dir).unwrap();
        let extra = std::env::var_os("SOFTPOS_SCREENSHOTS").map(PathBuf::from);
        if let Some(extra) = &extra {
            std::fs::create_dir_all(extra).unwrap();
        }
        Self {
            dir,
            extra,
            taken: Vec::new(),
        }
    }

    /// Renders the screen at both sizes, in English and in Chinese (`<name>-zh-…`), then
    /// goes back to the language in force.
    pub fn take(&mut self, window: &impl ComponentHandle, name: &str) {
        pump();
        let language = softpos::gui::current_language();
        for (suffix, shown) in [("", Language::English), ("-zh", Language::Chinese)] {
            softpos::gui::select_language(shown);
            pump();
            let what = format!("{name}{suffix}");
            assert_no_full_pan(&texts(window), &what);
            for (width, height) in SIZES {
                window
                    .window()
                    .set_size(slint::PhysicalSize::new(width, height));
                pump();
                let shot = window.window().take_snapshot().unwrap();
                assert_eq!((shot.width(), shot.height()), (width, height));
                let rgba = shot.as_bytes();
                assert_not_empty(rgba, &format!("{what} at {width}x{height}"));
                assert_touch_targets(window, &format!("{what} at {width}x{height}"));
                let file = format!("{what}-{width}x{height}.png");
                save_png(rgba, width, height, &self.dir.join(&file));
                if let Some(extra) = &self.extra {
                    std::fs::copy(self.dir.join(&file), extra.join(&file)).unwrap();
                }
            }
        }
        softpos::gui::select_language(language);
        window
            .window()
            .set_size(slint::PhysicalSize::new(SIZES[0].0, SIZES[0].1));
        pump();
        self.taken.push(name.to_owned());
    }

    /// Asserts that every screen in `screens` was rendered.
    pub fn check_all_taken(&self, screens: &[&str]) {
        for screen in screens {
            assert!(
                self.taken.iter().any(|t| t == screen),
                "{screen} not rendered"
            );
        }
    }
}

/// Every control on screen (a button, by role) has an accessible label and is a touch target
/// of at least 48 x 48 px. Controls of a list scrolled out of sight keep their size.
pub fn assert_touch_targets(window: &impl ComponentHandle, what: &str) {
    for e in ElementQuery::from_root(window).find_all() {
        if e.accessible_role() != Some(AccessibleRole::Button) {
            continue;
        }
        let label = e
            .accessible_label()
            .map(|l| l.to_string())
            .unwrap_or_default();
        assert!(
            !label.trim().is_empty(),
            "a button without a label on {what}"
        );
        let size = e.size();
        assert!(
            size.width >= 48.0 && size.height >= 48.0,
            "{label:?} on {what} is {} x {} px, below 48 x 48",
            size.width,
            size.height
        );
    }
}

/// No text holds a full PAN, track data, a PIN or a PIN block: no run of 13 to 19 digits
/// that passes the Luhn check, nor a test card's PAN (an AID such as `A0000000031010` is hex,
/// and fails Luhn); no track 2 (digits, the `D` or `=` separator, an expiry); no run of 16
/// hex digits or more (a PIN block, a key, a cryptogram: the longest hex on a receipt is a
/// 14-digit AID); not the test PIN as a text, nor "PIN" followed by digits.
pub fn assert_no_full_pan(texts: &[String], screen: &str) {
    for text in texts {
        for run in text.split(|c: char| !c.is_ascii_digit()) {
            assert!(!is_full_pan(run), "a full PAN on {screen}: {text:?}");
        }
        for pan in [VISA_PAN, MASTERCARD_PAN] {
            assert!(!text.contains(pan), "a full PAN on {screen}: {text:?}");
        }
        for hex in text.split(|c: char| !c.is_ascii_hexdigit()) {
            assert!(hex.len() < 16, "a PIN block or key on {screen}: {text:?}");
        }
        let chars: Vec<char> = text.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let digits_before = chars[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let digits_after = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            assert!(
                !(matches!(c, 'D' | '=') && digits_before >= 12 && digits_after >= 4),
                "track data on {screen}: {text:?}"
            );
        }
        assert_ne!(text.trim(), DEMO_PIN, "the PIN on {screen}");
        let after_pin = text.split("PIN").skip(1);
        for rest in after_pin {
            assert!(
                !rest.trim_start().starts_with(|c: char| c.is_ascii_digit()),
                "a PIN on {screen}: {text:?}"
            );
        }
    }
}

/// A run of 13 to 19 digits that passes the Luhn check (`emv::pan::Pan`'s own check).
pub fn is_full_pan(run: &str) -> bool {
    (13..=19).contains(&run.len()) && emv::pan::Pan::from_digits(run).is_ok()
}

/// A screen is not empty: a good part of it differs from the background, in several colours.
pub fn assert_not_empty(rgba: &[u8], what: &str) {
    let background = [0x10, 0x15, 0x1c];
    let pixels: Vec<&[u8]> = rgba.chunks_exact(4).collect();
    let drawn = pixels.iter().filter(|p| p[..3] != background).count();
    let mut colours: Vec<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        drawn * 20 > pixels.len(),
        "{what} is nearly empty: {drawn} pixels drawn"
    );
    assert!(colours.len() > 8, "{what} has {} colours", colours.len());
}

/// Sets the text field labelled `label` to `value`, as a keyboard or screen reader would.
pub fn type_into(window: &impl ComponentHandle, label: &str, value: &str) {
    let fields: Vec<_> = ElementHandle::find_by_accessible_label(window, label).collect();
    assert!(!fields.is_empty(), "no text field {label:?}");
    fields[0].set_accessible_value(value);
    pump();
}
