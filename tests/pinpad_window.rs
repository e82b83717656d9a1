//! The production binary `softpos-pinpad` with a real window, on an X server of its own (Xvfb,
//! installed by `scripts/setup`): in the development profile the window comes up (READY, X11
//! development) and the terminal's CANCEL ends it; in the production profile X11 is refused.
#![cfg(feature = "pinpad-window")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::process::Command;

use softpos::pinpad::{DisplayKind, PinEntry, PinEntryError, PinPadConfig, PinPadProcess};

#[path = "pinpad_support/harness.rs"]
mod harness;
#[path = "support/xvfb.rs"]
mod xvfb;
use harness::{Terminal, random_pan, request};
use xvfb::Xvfb;

fn config(terminal: &Terminal, xvfb: &Xvfb, development: bool) -> PinPadConfig {
    let mut config = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad"));
    config.store_dir = Some(terminal.store.path().to_path_buf());
    // The profile is the pad's own configuration, in its store; the terminal cannot set it.
    let profile = terminal
        .store
        .path()
        .join(softpos::pinpad::profile::PROFILE_FILE);
    if development {
        std::fs::write(&profile, "profile = \"development\"\n").unwrap();
    } else {
        let _ = std::fs::remove_file(&profile);
    }
    config
        .env
        .push(("DISPLAY".into(), xvfb.display.clone().into()));
    config.env.push(("WAYLAND_DISPLAY".into(), "".into()));
    config
        .env
        .push(("SLINT_BACKEND".into(), "winit-software".into()));
    config
}

#[test]
fn window_under_x11_development_profile_and_refusal_in_production() {
    let xvfb = Xvfb::start();
    let empty = screenshot(&xvfb);
    assert_eq!(empty.count(BACKGROUND), 0);
    let terminal = Terminal::enrolled();
    let pan = random_pan();

    let pad = PinPadProcess::new(config(&terminal, &xvfb, true));
    let mut entry = pad.start(&request(&pan)).unwrap();
    let (up, display) = entry.wait_ready().unwrap();
    assert_eq!(display, DisplayKind::X11Development);
    eprintln!("window up {} ms after spawn (debug build)", up.as_millis());
    // READY means drawn: the X server's screen now holds the keypad's background and the
    // orange development banner (before the pad starts, the screen is black).
    let screen = screenshot(&xvfb);
    assert!(
        screen.count(BACKGROUND) > 50_000,
        "background: {}",
        screen.count(BACKGROUND)
    );
    // Without a window manager the window sits at the top left; the banner fills its top rows
    // (the Clear key is orange too, further down).
    let banner = screen.count_in_rows(WARNING, 0..60);
    assert!(banner > 5_000, "banner: {banner}");
    entry.cancel();
    let result = entry.wait_answer();
    assert!(
        matches!(result, Err(PinEntryError::Cancelled)),
        "{result:?}"
    );
    entry.close();

    let result = PinPadProcess::new(config(&terminal, &xvfb, false)).collect(&request(&pan));
    let Err(PinEntryError::Unavailable(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains("X11"), "{reason}");
}

// ui/theme.slint
const BACKGROUND: [u8; 3] = [0x10, 0x15, 0x1C];
const WARNING: [u8; 3] = [0xD6, 0x89, 0x10];

/// The X server's whole screen, from `xwd` (x11-apps, installed by `scripts/setup`).
struct Screen {
    width: usize,
    /// RGB of every pixel, row by row.
    pixels: Vec<[u8; 3]>,
}

impl Screen {
    fn count(&self, colour: [u8; 3]) -> usize {
        self.count_in_rows(colour, 0..usize::MAX)
    }

    fn count_in_rows(&self, colour: [u8; 3], rows: std::ops::Range<usize>) -> usize {
        self.pixels
            .chunks_exact(self.width)
            .skip(rows.start)
            .take(rows.len())
            .flatten()
            .filter(|p| **p == colour)
            .count()
    }
}

/// Reads an XWD dump (X11 `XWDFileHeader`: 25 big-endian u32 fields, then the window name, then
/// `ncolors` 12-byte colour entries, then the pixels); only the 32-bit TrueColor form Xvfb gives
/// at depth 24 is accepted.
fn screenshot(xvfb: &Xvfb) -> Screen {
    let out = Command::new("xwd")
        .args(["-root", "-silent", "-display", xvfb.display.as_str()])
        .output()
        .expect("xwd (x11-apps, scripts/setup installs it)");
    assert!(out.status.success());
    let dump = out.stdout;
    let field = |i: usize| {
        let b: [u8; 4] = dump[i * 4..i * 4 + 4].try_into().unwrap();
        u32::from_be_bytes(b) as usize
    };
    let (header_size, width, height) = (field(0), field(4), field(5));
    let (byte_order, bits_per_pixel, bytes_per_line) = (field(7), field(11), field(12));
    let ncolors = field(19);
    assert!(
        bits_per_pixel == 24 || bits_per_pixel == 32,
        "{bits_per_pixel} bits per pixel"
    );
    let bytes = bits_per_pixel / 8;
    let data = &dump[header_size + ncolors * 12..];
    let mut pixels = Vec::with_capacity(width * height);
    for row in data.chunks_exact(bytes_per_line).take(height) {
        for p in row.chunks_exact(bytes).take(width) {
            // byte_order 0: LSB first (B, G, R[, pad]); 1: MSB first ([pad, ]R, G, B).
            pixels.push(if byte_order == 0 {
                [p[2], p[1], p[0]]
            } else {
                [p[bytes - 3], p[bytes - 2], p[bytes - 1]]
            });
        }
    }
    assert_eq!(pixels.len(), width * height);
    Screen { width, pixels }
}
