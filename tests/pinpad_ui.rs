//! The PIN pad window, headless (`i-slint-backend-testing` with the software renderer):
//! - the accessibility tree never names a digit and does not depend on the layout at all
//!   (security doc P10);
//! - every digit key gives the same feedback: the same pressed colour, and the same spoken
//!   "N digits entered" (P5);
//! - keys report slots that the session turns into dots; OK enables at four digits;
//! - the X11 development banner is drawn, and only then (P3);
//! - accessible mode: the fixed phone layout, in phone geometry, announced through a live region
//!   and the keypad's description;
//! - the first drawn frame calls `frame-drawn`, the signal the process answers READY on.
//!
//! It renders the window to PNG: `target/tmp/pinpad.png`, and to `$PINPAD_SCREENSHOT` when set
//! (that is how `docs/img/pinpad.png` is made).
//!
//! One test function only: the testing platform can be set once per process.
#![cfg(feature = "pinpad-window")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/png.rs"]
mod png_file;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use i_slint_backend_testing::{
    AccessibleLiveness, AccessibleRole, ElementHandle, ElementQuery, TestingBackend,
    TestingBackendOptions,
};
use png_file::save_png;
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, Model};
use softpos::pinpad::keypad::Layout;
use softpos::pinpad::protocol::EntryRequest;
use softpos::pinpad::session::{Key, Progress, Session};
use softpos::pinpad::window::{PinPadAdapter, PinPadWindow, configure};
use softpos::pinpad::{DisplayKind, LengthLimits, Timeouts};
use zeroize::Zeroizing;

const WIDTH: u32 = 360;
const HEIGHT: u32 = 640;
// ui/theme.slint
const SURFACE: [u8; 3] = [0x1D, 0x25, 0x30];
const SURFACE_PRESSED: [u8; 3] = [0x35, 0x50, 0x6E];
const WARNING: [u8; 3] = [0xD6, 0x89, 0x10];
const BANNER: &str = "NOT SECURE: development mode";
const ANNOUNCEMENT: &str = "PIN entry. Phone layout: 1 2 3 on top, 0 alone at the bottom. \
                            Clear bottom left, OK bottom right, Cancel at the very bottom.";

#[test]
fn pin_pad_window_headless() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .unwrap();

    let window = PinPadWindow::new().unwrap();
    window
        .window()
        .set_size(slint::PhysicalSize::new(WIDTH, HEIGHT));
    let adapter = window.global::<PinPadAdapter>();
    let frames = Rc::new(Cell::new(0u32));
    {
        let frames = Rc::clone(&frames);
        adapter.on_frame_drawn(move |colour| {
            frames.set(frames.get() + 1);
            colour
        });
    }
    let layout = Layout::shuffled(None).unwrap();
    configure(
        &adapter,
        &request(false),
        &layout,
        DisplayKind::X11Development,
    );
    window.show().unwrap();

    // The screen reader sees ten "PIN key" buttons and no digit anywhere; and the whole tree is
    // the same for another layout, so nothing in it (labels, order, positions) can tell where
    // a digit is.
    let tree = accessibility_tree(&window);
    let keys = tree.iter().filter(|n| n.label == "PIN key").count();
    assert_eq!(keys, 10, "{tree:#?}");
    assert_no_digit_named(&tree);
    let other = Layout::shuffled(Some(&layout)).unwrap();
    assert_ne!(other.to_bytes(), layout.to_bytes());
    configure(
        &adapter,
        &request(false),
        &other,
        DisplayKind::X11Development,
    );
    assert_eq!(
        accessibility_tree(&window),
        tree,
        "the tree depends on the layout"
    );
    let keypad = group(&window);
    assert_eq!(keypad.accessible_label().unwrap(), "PIN keypad");
    assert_eq!(
        keypad.accessible_description().unwrap(),
        "The keys are in a random order."
    );

    // The first frame drawn calls `frame-drawn` (READY in the process).
    let rgba = snapshot(&window);
    assert!(frames.get() >= 1, "frame-drawn not called by the renderer");

    // The development banner is drawn: its text is in the tree and its orange fills the top of
    // the frame (the Clear key is orange too, lower down).
    assert!(tree.iter().any(|n| n.label == BANNER));
    assert!(
        banner_pixels(&rgba) > 5000,
        "banner pixels: {}",
        banner_pixels(&rgba)
    );

    // Same feedback: held down, every digit key shows the same pressed colour on its face (and
    // no other key changes); released, it is back to the resting colour. No key is wired to a
    // session yet, so these presses type nothing.
    let key_handles = pin_keys(&window);
    assert_eq!(key_handles.len(), 10);
    for (i, key) in key_handles.iter().enumerate() {
        let face = face_point(key);
        window.window().dispatch_event(WindowEvent::PointerPressed {
            position: face,
            button: PointerEventButton::Left,
        });
        let pressed = snapshot(&window);
        for (j, other) in key_handles.iter().enumerate() {
            let expected = if i == j { SURFACE_PRESSED } else { SURFACE };
            assert_eq!(pixel(&pressed, face_point(other)), expected);
        }
        window
            .window()
            .dispatch_event(WindowEvent::PointerReleased {
                position: face,
                button: PointerEventButton::Left,
            });
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
        assert_eq!(pixel(&snapshot(&window), face), SURFACE);
    }

    // Wire the keys to a session as the process does, then tap four different keys: the dots,
    // and the words the screen reader says after each key, follow the count only.
    let session = Rc::new(RefCell::new(Session::new(
        other.clone(),
        LengthLimits::default(),
        Timeouts::default(),
        Instant::now(),
    )));
    {
        let session = Rc::clone(&session);
        let weak = window.as_weak();
        adapter.on_key_pressed(move |slot| {
            let p = session
                .borrow_mut()
                .press(Key::Slot(u8::try_from(slot).unwrap()), Instant::now());
            if let (Some(w), Progress::Collecting { dots, ok_enabled }) = (weak.upgrade(), p) {
                let a = w.global::<PinPadAdapter>();
                a.set_dots(i32::from(dots));
                a.set_ok_enabled(ok_enabled);
            }
        });
    }
    let counter = live_region(&window, AccessibleLiveness::Polite);
    assert_eq!(counter.accessible_label().unwrap(), "0 digits entered");
    for (n, key) in [9usize, 0, 5].iter().map(|i| &key_handles[*i]).enumerate() {
        key.mock_single_click(PointerEventButton::Left);
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
        assert_eq!(
            counter.accessible_label().unwrap(),
            format!("{} digits entered", n + 1)
        );
    }
    assert_eq!(adapter.get_dots(), 3);
    assert!(!adapter.get_ok_enabled());
    // The screenshot: three dots, OK not yet enabled.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pinpad.png");
    save_png(&snapshot(&window), WIDTH, HEIGHT, &out);
    if let Some(path) = std::env::var_os("PINPAD_SCREENSHOT") {
        std::fs::copy(&out, path).unwrap();
    }
    let ok = ElementHandle::find_by_accessible_label(&window, "OK")
        .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .unwrap();
    assert_eq!(ok.accessible_enabled(), Some(false));
    key_handles[3].mock_single_click(PointerEventButton::Left);
    assert_eq!(adapter.get_dots(), 4);
    assert!(adapter.get_ok_enabled());
    assert_eq!(ok.accessible_enabled(), Some(true));
    assert_eq!(counter.accessible_label().unwrap(), "4 digits entered");
    assert!(session.borrow().pin_buffer().is_none(), "not confirmed yet");

    // Accessible mode: the fixed phone layout, in phone geometry, announced; still no digit
    // in the accessibility tree. Under Wayland there is no banner.
    let phone = Layout::phone();
    configure(&adapter, &request(true), &phone, DisplayKind::Wayland);
    let shown: Vec<String> = (0..10)
        .map(|i| adapter.get_key_labels().row_data(i).unwrap().to_string())
        .collect();
    assert_eq!(shown, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]);
    assert!(adapter.get_accessible());
    let keys = pin_keys(&window);
    let centre = |i: usize| {
        let p = keys[i].absolute_position();
        let s = keys[i].size();
        (p.x + s.width / 2.0, p.y + s.height / 2.0)
    };
    for row in 0..3 {
        let (x0, y0) = centre(row * 3);
        let (x1, y1) = centre(row * 3 + 1);
        let (x2, y2) = centre(row * 3 + 2);
        assert!(x0 < x1 && x1 < x2 && y0 == y1 && y1 == y2, "row {row}");
        if row > 0 {
            assert!(centre((row - 1) * 3).1 < y0, "rows go down");
        }
    }
    let (x0, y0) = centre(9);
    assert!(
        (x0 - centre(7).0).abs() < 0.5 && y0 > centre(7).1,
        "0 under 8"
    );

    let tree = accessibility_tree(&window);
    assert_no_digit_named(&tree);
    let announcement = live_region(&window, AccessibleLiveness::Assertive);
    assert_eq!(announcement.accessible_label().unwrap(), ANNOUNCEMENT);
    assert_eq!(
        group(&window).accessible_description().unwrap(),
        ANNOUNCEMENT
    );
    assert!(!tree.iter().any(|n| n.label == BANNER));
    assert_eq!(banner_pixels(&snapshot(&window)), 0);
}

/// One node of the accessibility tree as a screen reader gets it.
#[derive(Debug, PartialEq)]
struct Node {
    role: Option<AccessibleRole>,
    label: String,
    description: String,
    value: String,
    position: (i32, i32),
    size: (i32, i32),
}

fn accessibility_tree(window: &PinPadWindow) -> Vec<Node> {
    let text = |s: Option<slint::SharedString>| s.map(|s| s.to_string()).unwrap_or_default();
    ElementQuery::from_root(window)
        .find_all()
        .iter()
        .filter(|e| {
            e.accessible_role()
                .is_some_and(|r| r != AccessibleRole::None)
        })
        .map(|e| {
            let p = e.absolute_position();
            let s = e.size();
            // Whole pixels: the keys may be laid out at fractional positions.
            #[allow(clippy::cast_possible_truncation)]
            let px = |v: f32| v.round() as i32;
            Node {
                role: e.accessible_role(),
                label: text(e.accessible_label()),
                description: text(e.accessible_description()),
                value: text(e.accessible_value()),
                position: (px(p.x), px(p.y)),
                size: (px(s.width), px(s.height)),
            }
        })
        .collect()
}

/// No node is named, described or valued as a single digit, whatever the layout.
fn assert_no_digit_named(tree: &[Node]) {
    for node in tree {
        for text in [&node.label, &node.description, &node.value] {
            let digit = text.trim().len() == 1 && text.trim().chars().all(|c| c.is_ascii_digit());
            assert!(!digit, "a digit in the accessibility tree: {node:?}");
        }
    }
}

fn pin_keys(window: &PinPadWindow) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(window, "PIN key")
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect()
}

fn group(window: &PinPadWindow) -> ElementHandle {
    ElementQuery::from_root(window)
        .match_accessible_role(AccessibleRole::Groupbox)
        .find_first()
        .unwrap()
}

fn live_region(window: &PinPadWindow, liveness: AccessibleLiveness) -> ElementHandle {
    let found: Vec<_> = ElementQuery::from_root(window)
        .find_all()
        .into_iter()
        .filter(|e| e.accessible_live_region() == Some(liveness))
        .collect();
    assert_eq!(found.len(), 1, "one {liveness:?} live region");
    found.into_iter().next().unwrap()
}

/// A point on a key's face, between its top edge and its label.
fn face_point(key: &ElementHandle) -> LogicalPosition {
    let p = key.absolute_position();
    let s = key.size();
    LogicalPosition::new(p.x + s.width / 2.0, p.y + 5.0)
}

fn snapshot(window: &PinPadWindow) -> Vec<u8> {
    let shot = window.window().take_snapshot().unwrap();
    assert_eq!((shot.width(), shot.height()), (WIDTH, HEIGHT));
    shot.as_bytes().to_vec()
}

fn pixel(rgba: &[u8], at: LogicalPosition) -> [u8; 3] {
    #[allow(clippy::cast_possible_truncation)]
    let (x, y) = (at.x as usize, at.y as usize);
    let i = (y * WIDTH as usize + x) * 4;
    [rgba[i], rgba[i + 1], rgba[i + 2]]
}

/// Orange pixels in the top 60 rows, where the banner goes (16 px padding, 36 px high).
fn banner_pixels(rgba: &[u8]) -> usize {
    rgba.chunks_exact(4)
        .take(60 * WIDTH as usize)
        .filter(|p| p[..3] == WARNING)
        .count()
}

fn request(accessible: bool) -> EntryRequest {
    EntryRequest {
        pan: Zeroizing::new("4111111111111111".to_owned()),
        amount: 4250,
        currency_code: 978,
        currency_exponent: 2,
        merchant_name: "Bäckerei Test".to_owned(),
        language: "en".to_owned(),
        accessible,
        length: LengthLimits::default(),
        timeouts: Timeouts::default(),
        attestation_token: None,
    }
}
