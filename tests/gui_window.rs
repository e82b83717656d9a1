//! The real `softpos` binary with no arguments, on an X server of its own (Xvfb, installed by
//! `scripts/setup`): it opens the merchant's window in demo mode (an unenrolled data directory),
//! whose first frame, with the orange demo banner, appears on the screen; the time to that frame
//! is printed. Without any display it says so in one line and runs the command-line demo sale
//! instead (approved, exit code 0).
#![cfg(all(feature = "gui", feature = "demo"))]
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

#[path = "support/engine.rs"]
mod support;
#[path = "support/xvfb.rs"]
mod xvfb;

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use xvfb::Xvfb;

#[test]
fn softpos_without_arguments_opens_the_demo_window() {
    let xvfb = Xvfb::start();
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut app = Running(
        isolated(Command::new(env!("CARGO_BIN_EXE_softpos")), home.path())
            .env("DISPLAY", &xvfb.display)
            .env("SLINT_BACKEND", "winit-software")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The banner's orange on screen: the window is up, in demo mode.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            app.0.try_wait().unwrap().is_none(),
            "softpos exited before its window appeared"
        );
        let shot = screen(&xvfb.display);
        // The banner, and the window's background and keys: a whole frame.
        if shot.count(BANNER) > 2_000
            && shot.count(BACKGROUND) > 20_000
            && shot.count(SURFACE) > 5_000
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no demo window after 30 s; most common colours: {:02x?}",
            shot.most_common()
        );
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "softpos (debug build): first frame with the demo banner after {} ms, embedded host \
         start and sign-on included",
        started.elapsed().as_millis()
    );
    drop(app);
}

#[test]
fn without_a_display_it_says_so_and_runs_the_command_line_demo_sale() {
    // The command-line demo plugs its card into the vpcd reader when pcscd runs.
    let _vpcd = support::take_vpcd();
    let home = tempfile::tempdir().unwrap();
    let out = isolated(Command::new(env!("CARGO_BIN_EXE_softpos")), home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("No display"), "{stdout}");
    assert!(stdout.contains("APPROVED"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
}

/// `command` with no display, and its home, data and configuration in `home` (nothing
/// enrolled: demo mode).
fn isolated(mut command: Command, home: &std::path::Path) -> Command {
    command
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SOFTPOS_DATA_DIR")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("TMPDIR", home);
    command
}

/// A child process killed (SIGTERM, then SIGKILL) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ui/theme.slint
const BANNER: [u8; 3] = [0xD6, 0x89, 0x10];
const BACKGROUND: [u8; 3] = [0x10, 0x15, 0x1C];
const SURFACE: [u8; 3] = [0x1D, 0x25, 0x30];

/// The X screen's pixels (`xwd -root`: 24 or 32 bits per pixel, least significant byte first).
struct Shot {
    pixels: Vec<[u8; 3]>,
}

impl Shot {
    fn most_common(&self) -> Vec<([u8; 3], usize)> {
        let mut counts = std::collections::HashMap::new();
        for p in &self.pixels {
            *counts.entry(*p).or_insert(0usize) += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        counts.truncate(6);
        counts
    }

    /// Pixels of `colour`. The software renderer's frame on Xvfb's 24-bit screen shows its
    /// channels rotated from pixel to pixel (seen with `SLINT_BACKEND=winit-software`), so each
    /// rotation of the colour counts.
    fn count(&self, colour: [u8; 3]) -> usize {
        let [r, g, b] = colour;
        let rotations = [[r, g, b], [b, r, g], [g, b, r]];
        self.pixels.iter().filter(|p| rotations.contains(p)).count()
    }
}

fn screen(display: &str) -> Shot {
    let out = Command::new("xwd")
        .args(["-root", "-silent", "-display", display])
        .output()
        .expect("xwd (x11-apps, scripts/setup installs it)");
    let d = out.stdout;
    let be = |at: usize| u32::from_be_bytes(d[at..at + 4].try_into().unwrap()) as usize;
    let (header, width, height) = (be(0), be(16), be(20));
    let (bits_per_pixel, bytes_per_line, colours) = (be(44), be(48), be(76));
    assert!(
        bits_per_pixel == 32 || bytes_per_line == width * 4,
        "xwd format"
    );
    let start = header + colours * 12;
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = &d[start + y * bytes_per_line..start + y * bytes_per_line + width * 4];
        pixels.extend(row.chunks_exact(4).map(|p| [p[2], p[1], p[0]]));
    }
    Shot { pixels }
}
