//! The crash-injection hook for the crash-recovery tests (`docs/engine.md`).
//!
//! TEST SWITCH: when the environment variable `SOFTPOS_CRASH_AT` names a crash point, the
//! process kills itself with SIGKILL right after the engine persists that point, exactly as a
//! power cut would. It is read once when the engine is built, and only by the engine. Points:
//! the journal states (`created`, `card-read`, `pin-done`, `sent`, `answered`, `done`,
//! `reversal-pending`, `advice-pending`) and `answer-received` (the host's answer is in, the
//! journal still says `sent`). `SOFTPOS_CRASH_SKIP=N` lets the first N hits pass.

use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the crash point.
pub const CRASH_AT_VAR: &str = "SOFTPOS_CRASH_AT";
/// The environment variable giving how many hits pass before the crash.
pub const CRASH_SKIP_VAR: &str = "SOFTPOS_CRASH_SKIP";

/// The armed crash point, if any.
#[derive(Debug, Default)]
pub struct CrashHook {
    point: Option<String>,
    skip: AtomicU32,
}

impl CrashHook {
    /// Reads `SOFTPOS_CRASH_AT` and `SOFTPOS_CRASH_SKIP`.
    pub fn from_env() -> Self {
        let point = std::env::var(CRASH_AT_VAR).ok().filter(|p| !p.is_empty());
        let skip = std::env::var(CRASH_SKIP_VAR)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if let Some(p) = &point {
            tracing::warn!(point = %p, "crash-injection hook armed (test switch)");
        }
        Self {
            point,
            skip: AtomicU32::new(skip),
        }
    }

    /// A hook that never fires.
    pub fn disarmed() -> Self {
        Self::default()
    }

    /// Kills the process with SIGKILL if `point` is the armed point.
    pub fn at(&self, point: &str) {
        if self.point.as_deref() != Some(point) {
            return;
        }
        let passed = self
            .skip
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if passed {
            return;
        }
        eprintln!("softpos: crash hook: SIGKILL at {point}");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // `kill` is missing or failed: still die without cleanup.
        std::process::abort();
    }
}
