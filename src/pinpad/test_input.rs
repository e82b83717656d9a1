//! Test input mode (`pinpad-test-input` feature, `softpos-pinpad-test` only): the key presses
//! come from a script file instead of the screen, so automated tests can type a PIN headless.
//!
//! The file named by `SOFTPOS_PINPAD_TEST_KEYS` holds ASCII: `0`-`9` press the key showing
//! that digit (looked up in the entry's shuffled layout, so the session sees slot presses as
//! from the window), `C` Clear, `K` OK, `X` Cancel, `w<ms>;` waits, `!` makes the process abort
//! after OK is accepted and before it answers (crash injection), whitespace is ignored. When the
//! script ends without ending the entry, the process waits for the terminal or a timeout.
//!
//! The script is read into a fixed buffer, turned into slot presses at once and zeroized.

use std::fs::File;
use std::io::Read;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::keypad::Layout;
use super::process::{Finisher, TEST_KEYS_ENV, TerminalEvent};
use super::protocol::DisplayKind;
use super::session::{Key, Progress, Session};

/// Runs one entry from the key script. Returns whether an answer was written.
pub(crate) fn run(
    mut finisher: Finisher,
    layout: Layout,
    terminal: mpsc::Receiver<TerminalEvent>,
) -> bool {
    let (steps, count, crash) = load_script(&layout);
    let request = finisher.request();
    let mut session = Session::new(layout, request.length, request.timeouts, Instant::now());
    if !finisher.ready(DisplayKind::HeadlessTest) {
        return false;
    }
    let mut end = None;
    for step in steps.iter().take(count) {
        let progress = match *step {
            Step::Press(key) => session.press(key, Instant::now()),
            Step::Wait(ms) => wait(&mut session, &terminal, Duration::from_millis(ms.into())),
        };
        if !matches!(progress, Progress::Collecting { .. }) {
            end = Some(progress);
            break;
        }
    }
    let end = match end {
        Some(e) => e,
        None => loop {
            let left = session.deadline().saturating_duration_since(Instant::now());
            let p = wait(&mut session, &terminal, left.max(Duration::from_millis(1)));
            if !matches!(p, Progress::Collecting { .. }) {
                break p;
            }
        },
    };
    if crash && end == Progress::Confirmed {
        // The KSN is already durable; the process dies before encrypting and answering.
        session.wipe();
        std::process::abort();
    }
    let written = finisher.finish(end, &mut session);
    session.wipe();
    written
}

#[derive(Clone, Copy)]
enum Step {
    Press(Key),
    Wait(u32),
}

fn wait(
    session: &mut Session,
    terminal: &mpsc::Receiver<TerminalEvent>,
    duration: Duration,
) -> Progress {
    match terminal.recv_timeout(duration) {
        Ok(_) | Err(RecvTimeoutError::Disconnected) => session.cancel(),
        Err(RecvTimeoutError::Timeout) => session.tick(Instant::now()),
    }
}

/// Reads and parses the script; unknown characters are skipped.
fn load_script(layout: &Layout) -> ([Step; MAX_STEPS], usize, bool) {
    let mut raw = [0u8; MAX_SCRIPT];
    let mut len = 0;
    if let Some(path) = std::env::var_os(TEST_KEYS_ENV)
        && let Ok(mut file) = File::open(path)
    {
        while len < raw.len() {
            match file.read(raw.get_mut(len..).unwrap_or(&mut [])) {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
    }
    let mut steps = [Step::Wait(0); MAX_STEPS];
    let mut count = 0;
    let mut crash = false;
    let mut i = 0;
    while let Some(&c) = raw.get(i).filter(|_| i < len) {
        i += 1;
        let step = match c {
            b'0'..=b'9' => layout.slot_of(c - b'0').map(|s| Step::Press(Key::Slot(s))),
            b'C' => Some(Step::Press(Key::Clear)),
            b'K' => Some(Step::Press(Key::Ok)),
            b'X' => Some(Step::Press(Key::Cancel)),
            b'!' => {
                crash = true;
                None
            }
            b'w' => {
                let mut ms = 0u32;
                while let Some(&d) = raw.get(i).filter(|d| i < len && d.is_ascii_digit()) {
                    ms = ms.saturating_mul(10).saturating_add(u32::from(d - b'0'));
                    i += 1;
                }
                if raw.get(i) == Some(&b';') {
                    i += 1;
                }
                Some(Step::Wait(ms))
            }
            _ => None,
        };
        if let (Some(step), Some(slot)) = (step, steps.get_mut(count)) {
            *slot = step;
            count += 1;
        }
    }
    raw.zeroize();
    (steps, count, crash)
}

const MAX_SCRIPT: usize = 1024;
const MAX_STEPS: usize = 256;
