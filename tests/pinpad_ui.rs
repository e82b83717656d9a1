//! The PIN pad window, headless (`i-slint-backend-testing` with the software renderer): the
//! accessibility tree never names a digit (security doc P10), keys report slots that the session
//! turns into dots, OK enables at four digits, the X11 development banner shows, accessible mode
//! shows the fixed phone layout. It also renders the window to PNG: `target/.../pinpad.png`, and
//! to `$PINPAD_SCREENSHOT` when set (that is how `docs/img/pinpad.png` is made).
//!
//! One test function only: the testing platform can be set once per process.
#![cfg(feature = "pinpad-window")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use i_slint_backend_testing::{
    AccessibleRole, ElementHandle, ElementQuery, TestingBackend, TestingBackendOptions,
};
use slint::ComponentHandle;
use slint::platform::PointerEventButton;
use softpos::pinpad::keypad::Layout;
use softpos::pinpad::protocol::EntryRequest;
use softpos::pinpad::session::{Key, Progress, Session};
use softpos::pinpad::window::{PinPadAdapter, PinPadWindow, configure};
use softpos::pinpad::{DisplayKind, LengthLimits, Timeouts};
use zeroize::Zeroizing;

fn request(accessible: bool) -> EntryRequest {
    EntryRequest {
        pan: Zeroizing::new("4111111111111111".to_owned()),
        amount: 4250,
        currency_code: 978,
        currency_exponent: 2,
        merchant_name: "Bäckerei Test".to_owned(),
        language: "en".to_owned(),
        accessible,
        development_profile: true,
        length: LengthLimits::default(),
        timeouts: Timeouts::default(),
    }
}

fn labels(window: &PinPadWindow) -> Vec<(Option<AccessibleRole>, String)> {
    ElementQuery::from_root(window)
        .find_all()
        .iter()
        .filter_map(|e| {
            e.accessible_label()
                .map(|l| (e.accessible_role(), l.to_string()))
        })
        .collect()
}

fn save_png(window: &PinPadWindow, path: &std::path::Path) -> Vec<u8> {
    let shot = window.window().take_snapshot().unwrap();
    let (w, h) = (shot.width(), shot.height());
    let rgba: Vec<u8> = shot.as_bytes().to_vec();
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&rgba)
        .unwrap();
    rgba
}

#[test]
fn pin_pad_window_headless() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .unwrap();

    let window = PinPadWindow::new().unwrap();
    window.window().set_size(slint::PhysicalSize::new(360, 640));
    let layout = Layout::shuffled(None).unwrap();
    let adapter = window.global::<PinPadAdapter>();
    configure(
        &adapter,
        &request(false),
        &layout,
        DisplayKind::X11Development,
    );
    window.show().unwrap();

    // The screen reader sees ten "PIN key" buttons and no digit anywhere.
    let tree = labels(&window);
    let keys: Vec<_> = tree.iter().filter(|(_, l)| l == "PIN key").collect();
    assert_eq!(keys.len(), 10, "{tree:?}");
    for (role, label) in &tree {
        let digitish = label.len() == 1 && label.chars().all(|c| c.is_ascii_digit());
        assert!(
            !digitish,
            "a digit in the accessibility tree: {role:?} {label:?}"
        );
    }

    // Wire the keys to a session as the process does, then tap four keys.
    let session = Rc::new(RefCell::new(Session::new(
        layout.clone(),
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
    let key_handles: Vec<ElementHandle> =
        ElementHandle::find_by_accessible_label(&window, "PIN key")
            .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
            .collect();
    assert_eq!(key_handles.len(), 10);
    for key in key_handles.iter().take(3) {
        key.mock_single_click(PointerEventButton::Left);
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
    }
    assert_eq!(adapter.get_dots(), 3);
    assert!(!adapter.get_ok_enabled());
    key_handles[3].mock_single_click(PointerEventButton::Left);
    assert_eq!(adapter.get_dots(), 4);
    assert!(adapter.get_ok_enabled());
    assert_eq!(
        session.borrow().pin_buffer().map(|_| ()),
        None,
        "not confirmed yet"
    );

    // The development banner is drawn (its orange appears in the frame) and the PNG is written.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pinpad.png");
    let rgba = save_png(&window, &out);
    let orange = rgba
        .chunks_exact(4)
        .filter(|p| p[..3] == [0xD6, 0x89, 0x10])
        .count();
    assert!(orange > 1000, "banner pixels: {orange}");
    if let Some(path) = std::env::var_os("PINPAD_SCREENSHOT") {
        std::fs::copy(&out, path).unwrap();
    }

    // Accessible mode: the fixed phone layout, still no digit in the accessibility tree.
    let phone = Layout::phone();
    configure(&adapter, &request(true), &phone, DisplayKind::Wayland);
    let shown: Vec<String> = (0..10)
        .map(|i| {
            slint::Model::row_data(&adapter.get_key_labels(), i)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(shown, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]);
    assert!(adapter.get_accessible());
    assert!(!adapter.get_insecure_banner());
    for (role, label) in labels(&window) {
        let digitish = label.len() == 1 && label.chars().all(|c| c.is_ascii_digit());
        assert!(
            !digitish,
            "a digit in the accessibility tree: {role:?} {label:?}"
        );
    }
    let announced = ElementHandle::find_by_accessible_label(&window, "PIN entry. Phone layout: 1 2 3 on top, 0 alone at the bottom. Clear bottom left, OK bottom right, Cancel at the very bottom.").count();
    assert_eq!(announced, 1, "the phone layout is announced");
}
