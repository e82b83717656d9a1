//! Figures of the running GUI, printed on stderr when `SOFTPOS_GUI_TIMING` is set (a measuring
//! aid, never a test's pass mark): the time from the start of `softpos` to the first frame on
//! screen, the resident memory once idle, every frame's rendering time (the longest, and how
//! many took more than 16 ms), and for each card operation the time from the card read (the
//! engine's "card read" indicators) to its result on screen, with the median and p99 at exit.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use slint::{ComponentHandle, RenderingState};

use super::MainWindow;

/// Whether the figures are wanted (`SOFTPOS_GUI_TIMING` set).
pub(crate) fn wanted() -> bool {
    std::env::var_os("SOFTPOS_GUI_TIMING").is_some()
}

/// The figures of one run (UI thread only).
#[derive(Debug, Default)]
pub(crate) struct Timing {
    started: Option<Instant>,
    first_frame: Option<Duration>,
    frame_started: Option<Instant>,
    frames: u64,
    longest_frame: Duration,
    slow_frames: u64,
    card_read: Option<Instant>,
    read_to_result: Vec<Duration>,
}

thread_local! {
    static TIMING: RefCell<Option<Timing>> = const { RefCell::new(None) };
}

/// Starts measuring `window`, from `started` (the process's start); prints the first frame's
/// time when it is drawn and the idle memory two seconds later.
pub(crate) fn start(window: &MainWindow, started: Instant) {
    TIMING.with(|t| {
        *t.borrow_mut() = Some(Timing {
            started: Some(started),
            ..Timing::default()
        });
    });
    let notified = window
        .window()
        .set_rendering_notifier(move |state, _| match state {
            RenderingState::BeforeRendering => {
                with(|t| t.frame_started = Some(Instant::now()));
            }
            RenderingState::AfterRendering => {
                let first = with(|t| {
                    let now = Instant::now();
                    if let Some(began) = t.frame_started.take() {
                        let took = now - began;
                        t.frames += 1;
                        t.longest_frame = t.longest_frame.max(took);
                        if took > FRAME_BUDGET {
                            t.slow_frames += 1;
                        }
                    }
                    match (t.first_frame, t.started) {
                        (None, Some(started)) => {
                            let first = now - started;
                            t.first_frame = Some(first);
                            Some(first)
                        }
                        _ => None,
                    }
                })
                .flatten();
                if let Some(first) = first {
                    eprintln!("timing: first frame {} ms after start", first.as_millis());
                    slint::Timer::single_shot(IDLE_AFTER, || {
                        if let Some(kb) = resident_kb() {
                            eprintln!("timing: resident memory when idle {} MB", kb / 1024);
                        }
                    });
                }
            }
            _ => {}
        });
    if let Err(e) = notified {
        eprintln!("timing: no rendering notifier ({e}): frame times not measured");
    }
}

/// The card was read (the indicators' fourth light): the clock for its result starts.
pub(crate) fn card_read() {
    with(|t| {
        t.card_read.get_or_insert_with(Instant::now);
    });
}

/// A result is on screen (applied; drawn with the next frame).
pub(crate) fn result_shown() {
    let took = with(|t| {
        let took = t.card_read.take().map(|read| read.elapsed());
        if let Some(took) = took {
            t.read_to_result.push(took);
        }
        took
    })
    .flatten();
    if let Some(took) = took {
        eprintln!(
            "timing: card read to result on screen {} ms",
            took.as_millis()
        );
    }
}

/// Prints the summary (at exit).
pub(crate) fn report() {
    let Some(t) = TIMING.with(|t| t.borrow_mut().take()) else {
        return;
    };
    eprintln!(
        "timing: {} frames, longest {:.1} ms, {} over 16 ms",
        t.frames,
        t.longest_frame.as_secs_f64() * 1000.0,
        t.slow_frames
    );
    let mut results = t.read_to_result;
    if !results.is_empty() {
        results.sort_unstable();
        let at = |q: usize| results[(results.len() * q / 100).min(results.len() - 1)];
        eprintln!(
            "timing: card read to result, {} operations: median {} ms, p99 {} ms",
            results.len(),
            at(50).as_millis(),
            at(99).as_millis()
        );
    }
}

/// `f` on the timing, when measuring.
fn with<R>(f: impl FnOnce(&mut Timing) -> R) -> Option<R> {
    TIMING.with(|t| t.borrow_mut().as_mut().map(f))
}

/// When this process started: its start time since boot (`/proc/self/stat`, field 22, in
/// clock ticks) against the time since boot (`/proc/uptime`); now when unknown.
pub(crate) fn process_start() -> Instant {
    let since = || -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) may hold spaces: count after its closing parenthesis.
        let after_name = stat.rsplit_once(')')?.1;
        let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let hz = rustix::param::clock_ticks_per_second();
        // Display only: ticks since boot fit an f64 exactly for centuries.
        #[allow(clippy::cast_precision_loss)]
        let started = ticks as f64 / hz as f64;
        Duration::try_from_secs_f64(uptime - started).ok()
    };
    let now = Instant::now();
    since().and_then(|d| now.checked_sub(d)).unwrap_or(now)
}

/// The process's resident set (`VmRSS` of `/proc/self/status`), in kB.
pub(crate) fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One frame at 60 Hz.
const FRAME_BUDGET: Duration = Duration::from_millis(16);
/// When the window counts as idle after its first frame.
const IDLE_AFTER: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc() {
        let kb = resident_kb().expect("VmRSS in /proc/self/status");
        assert!(kb > 100, "{kb} kB");
    }

    #[test]
    fn the_process_started_before_now_and_not_long_ago() {
        let since = process_start().elapsed();
        assert!(since < Duration::from_secs(24 * 3600), "{since:?}");
    }

    #[test]
    fn nothing_is_measured_unless_started() {
        card_read();
        result_shown();
        assert!(with(|_| ()).is_none());
    }
}
