//! The production binary `softpos-pinpad` with a real window, on an X server of its own (Xvfb,
//! installed by `scripts/setup`): in the development profile the window comes up (READY, X11
//! development) and the terminal's CANCEL ends it; in the production profile X11 is refused.
#![cfg(feature = "pinpad-window")]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use softpos::pinpad::{DisplayKind, PinEntry, PinEntryError, PinPadConfig, PinPadProcess};

#[path = "pinpad_support/harness.rs"]
mod harness;
use harness::{Terminal, random_pan, request};

/// An Xvfb server on a free display, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        let number = (40..90)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .unwrap();
        let display = format!(":{number}");
        let child = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "800x700x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (scripts/setup installs it)");
        let socket = format!("/tmp/.X11-unix/X{number}");
        let until = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        Self { child, display }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(terminal: &Terminal, xvfb: &Xvfb, development: bool) -> PinPadConfig {
    let mut config = PinPadConfig::new(env!("CARGO_BIN_EXE_softpos-pinpad"));
    config.store_dir = Some(terminal.store.path().to_path_buf());
    config.development_profile = development;
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
    let terminal = Terminal::enrolled();
    let pan = random_pan();

    let pad = PinPadProcess::new(config(&terminal, &xvfb, true));
    let mut entry = pad.start(&request(&pan)).unwrap();
    let (up, display) = entry.wait_ready().unwrap();
    assert_eq!(display, DisplayKind::X11Development);
    eprintln!("window up {} ms after spawn (debug build)", up.as_millis());
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
