//! The crash-injection hook for the crash-recovery tests (`docs/engine.md`).
//!
//! TEST SWITCH, compiled in only with the cargo feature `crash-injection` (off by default,
//! never in a release build): when the environment variable `SOFTPOS_CRASH_AT` names a crash
//! point, the process kills itself with SIGKILL right after the engine persists that point,
//! exactly as a power cut would. It is read once when the engine is built, and only by the
//! engine. Points: the journal states (`created`, `card-read`, `pin-done`, `sent`, `answered`,
//! `done`, `reversal-pending`, `advice-pending`), `answer-received` (the host's answer is in,
//! the journal still says `sent`) and the settlement points (`settlement-sent`,
//! `settlement-answered`). `SOFTPOS_CRASH_SKIP=N` lets the first N hits pass.
//!
//! Without the feature the hook reads no environment variable and never fires.

/// The environment variable naming the crash point.
pub const CRASH_AT_VAR: &str = "SOFTPOS_CRASH_AT";
/// The environment variable giving how many hits pass before the crash.
pub const CRASH_SKIP_VAR: &str = "SOFTPOS_CRASH_SKIP";

pub use hook::CrashHook;

#[cfg(feature = "crash-injection")]
mod hook {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::{CRASH_AT_VAR, CRASH_SKIP_VAR};

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
}

#[cfg(not(feature = "crash-injection"))]
mod hook {
    /// The crash hook of a build without the `crash-injection` feature: it never fires.
    #[derive(Debug, Default)]
    pub struct CrashHook;

    impl CrashHook {
        /// A disarmed hook: this build reads no crash-injection variable.
        pub fn from_env() -> Self {
            Self
        }

        /// A hook that never fires.
        pub fn disarmed() -> Self {
            Self
        }

        /// Does nothing.
        #[inline]
        pub fn at(&self, _point: &str) {}
    }
}

#[cfg(all(test, not(feature = "crash-injection")))]
mod tests {
    use super::*;

    #[test]
    fn without_the_feature_the_hook_holds_nothing_and_never_fires() {
        // No state: there is no crash point to read, store or match.
        assert_eq!(size_of::<CrashHook>(), 0);
        let hook = CrashHook::from_env();
        for point in ["created", "sent", "answer-received", "settlement-sent"] {
            hook.at(point);
        }
    }
}
